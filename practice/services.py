"""Writes of the practice app: setting up practices and staff, logging in, registering clients."""

from __future__ import annotations

import itertools
from datetime import time, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from practice.auth import hash_secret, issue_token, new_secret
from practice.errors import Invalid, InvalidCredentials, NotFound
from practice.models import (
    EmailVerification,
    Membership,
    Practice,
    Role,
    Service,
    Therapist,
    User,
    WorkingHours,
    validate_timezone,
)

# Path words under public/ that a practice slug would shadow.
RESERVED_SLUGS = {"bookings", "follow-ups", "unsubscribe", "waitlist-offers"}


def _check_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise Invalid.on("password", " ".join(error.messages), code="weak_password") from None


def _normalize_email(email: str) -> str:
    return User.objects.normalize_email(email).strip().lower()


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
    if User.objects.filter(email=email).exists():
        raise Invalid.on("email", "A user with this email already exists.", code="unique")
    user = User(email=email, first_name=first_name, last_name=last_name)
    if password is None:
        user.set_unusable_password()
    else:
        _check_password(password, user)
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent request took the email between the check and the insert
        raise Invalid.on("email", "A user with this email already exists.", code="unique") from None
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
    from practice.tasks import send_email_verification

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
    transaction.on_commit(lambda: send_email_verification.delay(user_id=user.pk, phone=phone))
    return user, issue_token(user)


def start_email_verification(*, user_id: int, phone: str = "") -> str | None:
    """Create a verification and return its secret; the secret never travels through the broker."""
    user = User.objects.select_related("membership").filter(pk=user_id).first()
    if user is None or user.email_verified_at is not None or not hasattr(user, "membership"):
        return None
    secret, token_hash = new_secret("ev_")
    EmailVerification.objects.create(
        user=user,
        practice_id=user.membership.practice_id,
        token_hash=token_hash,
        phone=phone,
        expires_at=timezone.now() + timedelta(hours=settings.EMAIL_VERIFICATION_TTL_HOURS),
    )
    return secret


def verification_link(token: str) -> str:
    return f"{settings.BASE_URL}/api/v1/auth/verify-email/?token={token}"


@transaction.atomic
def verify_email(*, token: str) -> User:
    """Mark the email verified; the clients app then links or creates the client record."""
    from practice.signals import email_verified

    verification = (
        EmailVerification.objects.select_for_update()
        .select_related("user", "practice")
        .filter(token_hash=hash_secret(token))
        .first()
    )
    now = timezone.now()
    if verification is None or verification.used_at or verification.expires_at <= now:
        raise NotFound("This verification link is invalid or has expired.")
    verification.used_at = now
    verification.save(update_fields=["used_at"])
    user = verification.user
    user.email_verified_at = now
    user.save(update_fields=["email_verified_at"])
    email_verified.send(
        sender=User, user=user, practice=verification.practice, phone=verification.phone
    )
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
