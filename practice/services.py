"""Writes of the practice app: setting up practices and staff, logging in, registering clients."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from practice.auth import API_KEY_PREFIX, hash_secret, issue_token, new_secret
from practice.errors import IdentityNotProven, Invalid, InvalidCredentials, NotFound
from practice.models import (
    ApiKey,
    AuthToken,
    EmailVerification,
    Membership,
    Practice,
    Role,
    Service,
    TaxRate,
    Therapist,
    TimeOff,
    User,
    WorkingHours,
    validate_timezone,
)
from practice.queueing import registered_task
from practice.signals import email_changed, email_verified

# Path words under public/ that a practice slug would shadow.
RESERVED_SLUGS = {"bookings", "follow-ups", "unsubscribe", "waitlist-offers"}


def _check_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise Invalid.on("password", " ".join(error.messages), code="weak_password") from None


def _normalize_email(email: str) -> str:
    return User.objects.normalize_email(email).strip().lower()


def _send_after_commit(task_name: str, **kwargs: object) -> None:
    """Queue a mail task of this app once the transaction commits (the secret is made there)."""

    def send() -> None:
        registered_task(f"practice.tasks.{task_name}").delay(**kwargs)

    transaction.on_commit(send)


def _email_unavailable() -> Invalid:
    """One answer for an email taken in this practice, in another, by staff or by a client."""
    return Invalid.on(
        "email",
        "This email cannot be used for a new account. If it is yours, log in or reset the"
        " password.",
        code="unique",
    )


def _expired_signups() -> QuerySet[User]:
    """Client accounts whose email was never proven within UNVERIFIED_ACCOUNT_TTL_HOURS."""
    cutoff = timezone.now() - timedelta(hours=settings.UNVERIFIED_ACCOUNT_TTL_HOURS)
    return User.objects.filter(
        email_verified_at__isnull=True,
        date_joined__lt=cutoff,
        membership__role=Role.CLIENT,
        client__isnull=True,  # a staff-made record linked by hand is not a squatted sign-up
    )


def _release_expired_signup(email: str) -> None:
    """An unproven sign-up holding `email` past its time gives the address back (issue 13.7)."""
    _expired_signups().filter(email=email).delete()


@transaction.atomic
def delete_unverified_accounts() -> int:
    """Beat, hourly: delete client accounts never verified in time; their tokens go with them."""
    _, by_model = _expired_signups().delete()
    return by_model.get(User._meta.label, 0)


@transaction.atomic
def create_user_in_practice(
    *,
    practice: Practice,
    email: str,
    password: str | None,
    role: str,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """A user with one role in `practice`; owners and therapists also get a Therapist row."""
    email = _normalize_email(email)
    user = User(email=email, first_name=first_name, last_name=last_name)
    # Everything else first (issue 13.7): a weak password is refused the same way whether or not
    # the email is taken, so the answer to a probe with a weak password tells nothing.
    if password is None:
        user.set_unusable_password()
    else:
        _check_password(password, user)
        user.set_password(password)
    _release_expired_signup(email)
    if User.objects.filter(email=email).exists():
        raise _email_unavailable()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent request took the email between the check and the insert
        raise _email_unavailable() from None
    Membership.objects.create(user=user, practice=practice, role=role)
    if role in (Role.OWNER, Role.THERAPIST):
        Therapist.objects.create(practice=practice, user=user)
    return user


@transaction.atomic
def create_practice(
    *,
    slug: str,
    name: str,
    timezone_name: str,
    owner_email: str,
    owner_password: str,
    owner_first_name: str = "",
    owner_last_name: str = "",
) -> Practice:
    """API.md "Setting up": a practice and its owner (also a therapist); all or nothing."""
    try:
        validate_timezone(timezone_name)
    except ValidationError:
        raise Invalid.on("timezone", f"Unknown time zone '{timezone_name}'.") from None
    if slug in RESERVED_SLUGS:
        raise Invalid.on("slug", f"The slug '{slug}' is reserved.", code="reserved")
    if Practice.objects.filter(slug=slug).exists():
        raise Invalid.on("slug", f"The slug '{slug}' is taken.", code="unique")
    practice = Practice(slug=slug, name=name, timezone=timezone_name)
    try:
        practice.full_clean()
    except ValidationError as error:
        raise Invalid(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        ) from None
    practice.save()
    create_user_in_practice(
        practice=practice,
        email=owner_email,
        password=owner_password,
        role=Role.OWNER,
        first_name=owner_first_name,
        last_name=owner_last_name,
    )
    return practice


def log_in(*, email: str, password: str) -> tuple[User, str]:
    """One answer for an unknown email and a wrong password (no account enumeration).

    Django's ModelBackend hashes the password even for an unknown email, so timing tells nothing.
    """
    user = authenticate(username=_normalize_email(email), password=password)
    if user is None or not hasattr(user, "membership"):
        raise InvalidCredentials()
    if _expired_signups().filter(pk=user.pk).exists():
        raise InvalidCredentials()  # an expired sign-up is as good as gone (removed hourly)
    return user, issue_token(user)


@transaction.atomic
def set_working_hours(*, therapist: Therapist, intervals: list[dict]) -> list[WorkingHours]:
    """Replace a therapist's week (API.md "Working hours"); intervals of a day may not overlap."""
    by_day: dict[int, list[tuple[time, time]]] = {}
    for index, interval in enumerate(intervals):
        if interval["end"] <= interval["start"]:
            raise Invalid.on(f"{index}.end", "End must be after start.")
        by_day.setdefault(interval["weekday"], []).append((interval["start"], interval["end"]))
    for weekday, day in by_day.items():
        day.sort()
        for (_, previous_end), (next_start, _) in itertools.pairwise(day):
            if next_start < previous_end:
                raise Invalid.on(
                    "weekday", f"Intervals on weekday {weekday} overlap.", code="overlap"
                )
    WorkingHours.objects.filter(therapist=therapist).delete()
    return WorkingHours.objects.bulk_create(
        WorkingHours(practice_id=therapist.practice_id, therapist=therapist, **interval)
        for interval in sorted(intervals, key=lambda i: (i["weekday"], i["start"]))
    )


@transaction.atomic
def register_client_user(
    *,
    practice_slug: str,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    phone: str = "",
) -> tuple[User, str]:
    """A client signs up to a practice (API.md `auth/register/`).

    The account gets its client record only once the email is verified (a link sent by email): then
    an existing record with that email is linked, or a new one is created. Until then nothing tells
    the registrant whether the practice knew the email.
    """
    practice = Practice.objects.filter(slug=practice_slug).first()
    if practice is None:
        raise Invalid.on("practice", "No practice with this slug.", code="does_not_exist")
    user = create_user_in_practice(
        practice=practice,
        email=email,
        password=password,
        role=Role.CLIENT,
        first_name=first_name,
        last_name=last_name,
    )
    _send_after_commit("send_email_verification", user_id=user.pk, phone=phone)
    return user, issue_token(user)


def start_email_verification(*, user_id: int, phone: str = "") -> str | None:
    """Create a verification and return its secret; the secret never travels through the broker."""
    user = User.objects.select_related("membership").filter(pk=user_id).first()
    if user is None or user.email_verified_at is not None or not hasattr(user, "membership"):
        return None
    return _new_link(user=user, purpose=EmailVerification.Purpose.SIGNUP, phone=phone)


def _new_link(*, user: User, purpose: str, phone: str = "", new_email: str = "") -> str:
    """A single-use emailed link of `purpose`; earlier unused links of that purpose stop working."""
    secret, token_hash = new_secret("ev_")
    now = timezone.now()
    EmailVerification.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(
        used_at=now
    )
    ttl = (
        timedelta(hours=settings.PASSWORD_RESET_TTL_HOURS)
        if purpose == EmailVerification.Purpose.PASSWORD_RESET
        else timedelta(hours=settings.EMAIL_VERIFICATION_TTL_HOURS)
    )
    EmailVerification.objects.create(
        user=user,
        practice_id=user.membership.practice_id,
        purpose=purpose,
        token_hash=token_hash,
        phone=phone,
        new_email=new_email,
        expires_at=now + ttl,
    )
    return secret


def verification_link(token: str) -> str:
    return f"{settings.BASE_URL}/api/v1/auth/verify-email/?token={token}"


def _live_link(token: str, purpose: str, *, lock: bool) -> EmailVerification:
    links = EmailVerification.objects.select_related("user__membership", "practice")
    if lock:  # the link row only: its user's membership is an outer join Postgres cannot lock
        links = links.select_for_update(of=("self",))
    link = links.filter(token_hash=hash_secret(token[:200]), purpose=purpose).first()
    if link is None or link.used_at or link.expires_at <= timezone.now():
        raise NotFound("This link is invalid or has expired.")
    return link


def pending_link(*, token: str, purpose: str) -> EmailVerification:
    """What a link would confirm, changing nothing: its GET, which mail scanners also fetch."""
    return _live_link(token, purpose, lock=False)


# Wrong dates of birth one link takes before it is spent (a new sign-up link can be requested).
MAX_CONFIRM_ATTEMPTS = 5


def verify_email(*, token: str, date_of_birth: date | None = None) -> User:
    """Confirm a sign-up (POST only; API.md `auth/register/`): mark the email verified; the clients
    app then links the record with that email or creates one.

    Linking a record that already holds clinical data needs the client's date of birth (issue
    13.1): owning the mailbox alone must not hand a stranger's password someone's health record.
    A wrong date counts against the link; at MAX_CONFIRM_ATTEMPTS it is spent.
    """
    try:
        with transaction.atomic():
            link = _live_link(token, EmailVerification.Purpose.SIGNUP, lock=True)
            now = timezone.now()
            user = link.user
            email_verified.send(
                sender=User,
                user=user,
                practice=link.practice,
                phone=link.phone,
                date_of_birth=date_of_birth,
            )
            link.used_at = now
            link.save(update_fields=["used_at"])
            user.email_verified_at = now
            user.save(update_fields=["email_verified_at"])
            return user
    except IdentityNotProven:
        with transaction.atomic():
            failed = _live_link(token, EmailVerification.Purpose.SIGNUP, lock=True)
            failed.failed_attempts += 1
            if failed.failed_attempts >= MAX_CONFIRM_ATTEMPTS:
                failed.used_at = timezone.now()
            failed.save(update_fields=["failed_attempts", "used_at"])
        raise


# --- Password change and reset, email change (issue 13.7, 13.2) ----------------------------------


@transaction.atomic
def change_password(
    *, user: User, current_password: str, new_password: str, keep: AuthToken
) -> None:
    """A logged-in user sets a new password; every other token of theirs stops working."""
    if not user.check_password(current_password):
        raise Invalid.on(
            "current_password", "The current password is wrong.", code="wrong_password"
        )
    _check_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user.auth_tokens.filter(revoked_at__isnull=True).exclude(pk=keep.pk).update(
        revoked_at=timezone.now()
    )


def request_password_reset(*, email: str) -> None:
    """Send a single-use reset link if the email names an active member; the same answer either
    way (no account enumeration). The secret is made by the task, never put on the broker."""
    user = User.objects.filter(email=_normalize_email(email), is_active=True).first()
    if user is None or not hasattr(user, "membership"):
        return
    user_id = user.pk
    _send_after_commit("send_password_reset", user_id=user_id)


def start_password_reset(*, user_id: int) -> str | None:
    user = User.objects.select_related("membership").filter(pk=user_id, is_active=True).first()
    if user is None or not hasattr(user, "membership"):
        return None
    return _new_link(user=user, purpose=EmailVerification.Purpose.PASSWORD_RESET)


def password_reset_link(token: str) -> str:
    return f"{settings.BASE_URL}/api/v1/auth/password-reset/confirm/?token={token}"


@transaction.atomic
def reset_password(*, token: str, new_password: str) -> User:
    """Spend a reset link: set the password, revoke every token (whoever held one is out)."""
    link = _live_link(token, EmailVerification.Purpose.PASSWORD_RESET, lock=True)
    user = link.user
    _check_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    now = timezone.now()
    link.used_at = now
    link.save(update_fields=["used_at"])
    user.auth_tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
    return user


@transaction.atomic
def request_email_change(*, user: User, password: str, new_email: str) -> None:
    """An email change takes effect only once the new address is proven (issue 13.2): until then
    the account, its client record and public-booking matches keep the old one."""
    if not user.check_password(password):
        raise Invalid.on("password", "The password is wrong.", code="wrong_password")
    new_email = _normalize_email(new_email)
    if new_email == user.email:
        raise Invalid.on("email", "This is already the account's email.", code="unchanged")
    if User.objects.filter(email=new_email).exists():
        raise _email_unavailable()
    user_id = user.pk
    _send_after_commit("send_email_change", user_id=user_id, new_email=new_email)


def start_email_change(*, user_id: int, new_email: str) -> str | None:
    user = User.objects.select_related("membership").filter(pk=user_id, is_active=True).first()
    if user is None or not hasattr(user, "membership"):
        return None
    return _new_link(user=user, purpose=EmailVerification.Purpose.EMAIL_CHANGE, new_email=new_email)


def email_change_link(token: str) -> str:
    return f"{settings.BASE_URL}/api/v1/auth/email-change/confirm/?token={token}"


@transaction.atomic
def confirm_email_change(*, token: str) -> User:
    """Spend an email-change link: the account's email (and, through the signal, its client
    record's) becomes the proven one."""
    link = _live_link(token, EmailVerification.Purpose.EMAIL_CHANGE, lock=True)
    user = link.user
    if User.objects.filter(email=link.new_email).exclude(pk=user.pk).exists():
        raise _email_unavailable()
    now = timezone.now()
    previous = user.email
    user.email = link.new_email
    user.email_verified_at = now
    user.save(update_fields=["email", "email_verified_at"])
    link.used_at = now
    link.save(update_fields=["used_at"])
    email_changed.send(sender=User, user=user, previous=previous)
    return user


@transaction.atomic
def change_staff_role(*, membership: Membership, role: str) -> None:
    """A practice keeps at least one owner; a new therapist or owner gets a Therapist row."""
    if membership.role == Role.OWNER and role != Role.OWNER:
        owners = Membership.objects.select_for_update().filter(
            practice_id=membership.practice_id, role=Role.OWNER
        )
        if len(owners) <= 1:
            raise Invalid.on("role", "A practice needs at least one owner.", code="last_owner")
    membership.role = role
    membership.save(update_fields=["role"])
    if role in (Role.OWNER, Role.THERAPIST):
        # A member moved back to seeing clients is bookable again (their row may be deactivated).
        Therapist.objects.update_or_create(
            user=membership.user,
            defaults={"active": True},
            create_defaults={"practice_id": membership.practice_id, "active": True},
        )
    else:
        Therapist.objects.filter(user=membership.user).update(active=False)


@transaction.atomic
def remove_staff(*, membership: Membership) -> None:
    """Removing a member disables their login and tokens; their records keep their author."""
    if membership.role == Role.OWNER:
        owners = Membership.objects.select_for_update().filter(
            practice_id=membership.practice_id, role=Role.OWNER
        )
        if len(owners) <= 1:
            raise Invalid("A practice needs at least one owner.")
    user = membership.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.auth_tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    Therapist.objects.filter(user=user).update(active=False)
    membership.delete()


def _touch(model: type[Service] | type[Therapist], ids: set[int]) -> None:
    """Both ends of a changed offer link show it (`services` / `therapists`), so both move for
    `?updated_since=` sync."""
    if ids:
        model.objects.filter(pk__in=ids).update(updated_at=timezone.now())


@transaction.atomic
def create_service(
    *, practice: Practice, fields: dict, therapists: list[Therapist] | None
) -> Service:
    """A bookable service (API.md "Who offers a service"): created without `therapists`, it is
    offered by every active therapist of the practice at that moment, so that a solo practice
    can book it at once."""
    service = Service.objects.create(practice=practice, **fields)
    if therapists is None:
        therapists = list(Therapist.objects.filter(practice=practice, active=True))
    Therapist.services.through.objects.bulk_create(
        Therapist.services.through(therapist_id=therapist.pk, service_id=service.pk)
        for therapist in therapists
    )
    _touch(Therapist, {therapist.pk for therapist in therapists})
    return service


@transaction.atomic
def update_service(
    *, service: Service, fields: dict, therapists: list[Therapist] | None
) -> Service:
    """Change a service; `therapists`, when given, replaces who offers it (left out: unchanged)."""
    for name, value in fields.items():
        setattr(service, name, value)
    service.save()
    if therapists is not None:
        offering = service.therapists  # type: ignore[attr-defined]  # reverse side of the M2M
        before = set(offering.values_list("pk", flat=True))
        offering.set(therapists)
        _touch(Therapist, before ^ {therapist.pk for therapist in therapists})
    return service


@transaction.atomic
def update_therapist(
    *, therapist: Therapist, fields: dict, services: list[Service] | None
) -> Therapist:
    """Change a therapist's profile; `services`, when given, replaces what they offer (the same
    link as a service's `therapists`, API.md "Who offers a service")."""
    for name, value in fields.items():
        setattr(therapist, name, value)
    therapist.save()
    if services is not None:
        before = set(therapist.services.values_list("pk", flat=True))
        therapist.services.set(services)
        _touch(Service, before ^ {service.pk for service in services})
    return therapist


# --- staff, practice settings, calendar links --------------------------------------------------


@transaction.atomic
def update_staff_member(
    *, membership: Membership, fields: dict[str, str], role: str | None = None
) -> Membership:
    """Rename a member of staff (`first_name`, `last_name`) and change their role (owner only,
    API.md "Staff"); the email and password are set at creation only."""
    for field, value in fields.items():
        setattr(membership.user, field, value)
    membership.user.save(update_fields=[*fields] or None)
    if role is not None:
        change_staff_role(membership=membership, role=role)
    return membership


@transaction.atomic
def update_practice(*, practice: Practice, fields: dict[str, object]) -> Practice:
    """The owner changes the practice's name and policies (API.md "Practice")."""
    for field, value in fields.items():
        setattr(practice, field, value)
    practice.save()
    return practice


def rotate_calendar_url(*, user: User) -> User:
    """A new calendar feed URL; the old one stops working at once (API.md "Calendar")."""
    User.objects.filter(pk=user.pk).update(calendar_version=F("calendar_version") + 1)
    user.refresh_from_db(fields=["calendar_version"])
    return user


def retire_service(*, service: Service) -> Service:
    """Past bookings keep pointing at a service: it is retired (inactive), never deleted."""
    service.active = False
    service.save(update_fields=["active"])
    return service


# --- tax rates (issue 19.1) ---------------------------------------------------------------------


@transaction.atomic
def create_tax_rate(*, practice: Practice, fields: dict[str, object]) -> TaxRate:
    """A named tax rate services can carry; invoice lines copy it, so it may change later."""
    return TaxRate.objects.create(practice=practice, **fields)


@transaction.atomic
def update_tax_rate(*, tax_rate: TaxRate, fields: dict[str, object]) -> TaxRate:
    """Change a rate: lines already written keep the name and percent they copied."""
    for name, value in fields.items():
        setattr(tax_rate, name, value)
    tax_rate.save()
    return tax_rate


@transaction.atomic
def retire_tax_rate(*, tax_rate: TaxRate) -> TaxRate:
    """Services may still point at a rate: it is retired (inactive), never deleted."""
    tax_rate.active = False
    tax_rate.save(update_fields=["active", "updated_at"])
    return tax_rate


# --- time off ----------------------------------------------------------------------------------


@transaction.atomic
def create_time_off(*, practice: Practice, fields: dict[str, object]) -> TimeOff:
    return TimeOff.objects.create(practice=practice, **fields)


@transaction.atomic
def update_time_off(*, time_off: TimeOff, fields: dict[str, object]) -> TimeOff:
    for field, value in fields.items():
        setattr(time_off, field, value)
    time_off.save()
    return time_off


def remove_time_off(*, time_off: TimeOff) -> None:
    """Removed time off frees working time (sessions offers it to the waitlist on delete)."""
    time_off.delete()


# --- API keys ----------------------------------------------------------------------------------


def create_api_key(*, practice: Practice, name: str, created_by: User) -> tuple[ApiKey, str]:
    """A new practice API key and its secret, which is shown once and stored only as a hash."""
    secret, key_hash = new_secret(API_KEY_PREFIX)
    key = ApiKey.objects.create(
        practice=practice, name=name, key_hash=key_hash, prefix=secret[:10], created_by=created_by
    )
    return key, secret


def revoke_api_key(*, key: ApiKey) -> None:
    """Revoked at once; the row stays for the record (and the audit log's `api_key`)."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
