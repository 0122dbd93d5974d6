"""The tenant and its people: users, practices, roles, therapists, services, tokens, audit."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from practice.config_versions import new_config_version
from practice.currencies import CURRENCIES
from practice.retention import Jurisdiction


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        return self.create_user(email, password, is_staff=True, is_superuser=True, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in, by email. What they may do comes from their Membership."""

    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Bumped by `me/calendar/rotate/`: feed URLs signed with an older value stop working.
    calendar_version = models.PositiveIntegerField(default=0)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not an IANA time zone.", code="invalid_timezone")


class Practice(models.Model):
    """A clinic or a solo therapist's business; every other record belongs to one.

    Policy defaults are API.md "Practice policy".
    """

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    booking_horizon_days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    min_notice_minutes = models.PositiveIntegerField(
        default=120, validators=[MaxValueValidator(60 * 24 * 30)]
    )
    slot_step_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    cancellation_window_hours = models.PositiveSmallIntegerField(
        default=24, validators=[MaxValueValidator(24 * 14)]
    )
    reminder_hours_before = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 14)]
    )
    follow_up_hours_after = models.PositiveSmallIntegerField(
        default=48, validators=[MinValueValidator(1), MaxValueValidator(24 * 14)]
    )
    rebook_nudge_days = models.PositiveSmallIntegerField(
        default=28, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    odi_licensed = models.BooleanField(default=False)
    online_booking = models.BooleanField(default=True)
    # Whether clients may cancel themselves inside the cancellation window (else they call).
    clients_may_cancel_late = models.BooleanField(default=False)
    # DOMAIN.md 7 "cancellation window": a late cancellation costs 50-100 % of the service price,
    # a no-show the full fee; the fee line can be waived by an owner (issue 19.5).
    late_cancel_fee_percent = models.PositiveSmallIntegerField(
        default=50, validators=[MaxValueValidator(100)]
    )
    no_show_fee_percent = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)]
    )
    # DOMAIN.md 4: gluteal work needs a signed sensitive-area consent where the regulator asks.
    sensitive_area_consent_required = models.BooleanField(default=True)
    # How long a waitlist offer's claim link stays valid.
    waitlist_offer_minutes = models.PositiveSmallIntegerField(
        default=120, validators=[MinValueValidator(5), MaxValueValidator(60 * 24 * 7)]
    )
    # How long deletions stay in the `deleted/` feed for `?updated_since=` sync (a client that
    # last synced longer ago than this must sync from scratch).
    sync_horizon_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    # DOMAIN.md 4 "Retention": the clock of clinical records follows the practice's jurisdiction.
    jurisdiction = models.CharField(
        max_length=20, choices=Jurisdiction.choices, default=Jurisdiction.UNSPECIFIED
    )
    # DOMAIN.md 8: a covered entity when it sends standard electronic transactions (claims).
    hipaa_covered = models.BooleanField(default=False)
    # DOMAIN.md 3: minimal clinically important differences per instrument (score units; ODI in
    # %-points) and Ostelo's 30 % rule; sources disagree, so each practice may set its own.
    mcid_nprs = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    mcid_odi = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    mcid_rmdq = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(24)]
    )
    mcid_psfs = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    mcid_groc = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(7)]
    )
    meaningful_percent = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    # DOMAIN.md 6 escalation: a follow-up pain at or above this alerts the therapist, and so does
    # a rise of `alert_pain_rise` or more over pain before the session (or the last pain recorded).
    alert_follow_up_pain = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    alert_pain_rise = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # Issue 19.1: the one ISO 4217 currency the practice invoices and takes payments in.
    currency = models.CharField(max_length=3, choices=[(c, c) for c in CURRENCIES], default="EUR")
    # Printed on invoices and receipts (issue 19.2): where the practice is, its tax/VAT number.
    address = models.CharField(max_length=300, blank=True)
    tax_number = models.CharField(max_length=40, blank=True)
    # DOMAIN.md 6 dose table: no meaningful change by this week or this visit of a course of
    # care means it is `not_responding` (review the plan or refer; issue 18.3).
    course_review_weeks = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(1), MaxValueValidator(52)]
    )
    course_review_visits = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(1), MaxValueValidator(52)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Which version of the booking configuration (services, therapists, hours, overrides, rooms,
    # who offers what, write-back calendars) the practice is at: moved on by database triggers on
    # each write to those tables, whatever wrote it, and never back (`practice.config_versions`).
    # Server-owned: no serializer names it.
    config_version = models.BigIntegerField(default=new_config_version, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(booking_horizon_days__gte=1, booking_horizon_days__lte=365),
                name="practice_horizon_range",
            ),
            models.CheckConstraint(
                condition=Q(late_cancel_fee_percent__lte=100, no_show_fee_percent__lte=100),
                name="practice_fee_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    OWNER = "owner"
    THERAPIST = "therapist"
    FRONT_DESK = "front_desk"
    CLIENT = "client"


STAFF_ROLES = (Role.OWNER, Role.THERAPIST, Role.FRONT_DESK)
# Not a membership role: what a request authenticated by a practice API key acts as.
API_KEY_ROLE = "api_key"
CLINICAL_ROLES = (Role.OWNER, Role.THERAPIST)


class Membership(models.Model):
    """A user's one role in one practice (API.md "Tenancy and roles")."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="membership")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["practice", "role"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.role} @ {self.practice})"


class Therapist(models.Model):
    """A member of staff who sees clients; owners usually are one too."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="therapists")
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="therapist")
    bio = models.TextField(blank=True, max_length=2000)
    # Professional body / licence number printed on insurance receipts (issue 19.2).
    registration_number = models.CharField(max_length=60, blank=True)
    online_bookable = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    services: models.ManyToManyField = models.ManyToManyField(
        "Service", blank=True, related_name="therapists"
    )
    # Hands-on limits (issue 20.2, docs/scheduling.md): minutes of treatment per practice-local
    # day and week (none: no limit), and a rest after each deep session (a service whose
    # `pressure_level` is 4 or 5, DOMAIN.md "Walton pressure scale").
    max_daily_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(1440)]
    )
    max_weekly_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10080)]
    )
    recovery_minutes = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(240)]
    )
    updated_at = models.DateTimeField(auto_now=True)  # incremental sync (`?updated_since=`)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.user.full_name or self.user.email


class TaxRate(models.Model):
    """A named tax (VAT, GST, sales tax) a service's price carries (issue 19.1).

    `inclusive`: the price already includes the tax (usual for consumer prices in the EU, AU);
    otherwise the tax is added on top. Invoice lines copy name, percent and inclusive, so changing
    a rate never changes an issued invoice."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="tax_rates")
    name = models.CharField(max_length=60)
    percent = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    inclusive = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)  # incremental sync (`?updated_since=`)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "name"], name="tax_rate_name_unique"),
            models.CheckConstraint(
                condition=Q(percent__gte=0, percent__lte=100), name="tax_rate_percent_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.percent}%"


class Service(models.Model):
    """What can be booked."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    duration_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    buffer_minutes = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(240)]
    )
    price = models.DecimalField(
        max_digits=8, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    # Issue 19.1: the tax the price carries; none means the price is tax-free.
    tax_rate = models.ForeignKey(
        TaxRate, null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    online_bookable = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    # Rooms (issue 20.1): a service that needs a room is booked only with a free suitable one:
    # one of `rooms`, or one whose equipment holds every tag of `room_tags`, or (neither given)
    # any active room of the practice. Services that need none book as before.
    needs_room = models.BooleanField(default=False)
    rooms: models.ManyToManyField = models.ManyToManyField(
        "Room", blank=True, related_name="services"
    )
    room_tags = models.JSONField(default=list, blank=True)
    # Walton 1..5 (DOMAIN.md): how hard the session is on the therapist; 4 and 5 are followed by
    # the therapist's `recovery_minutes`. None: not a deep session.
    pressure_level = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    updated_at = models.DateTimeField(auto_now=True)  # incremental sync (`?updated_since=`)

    DEEP_PRESSURE = 4  # this pressure level and above is a deep session

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "name"], name="service_name_unique"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5), name="service_duration_min"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="service_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class WorkingHours(models.Model):
    """One interval of a therapist's week, in the practice's local time (API.md "Working hours")."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="working_hours_order"),
        ]


class TimeOff(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="time_off_order"),
        ]
        indexes = [models.Index(fields=["therapist", "start"])]


class Room(models.Model):
    """A treatment room: one treatment at a time (issue 20.1). Appointments of services that need
    a room hold one; on Postgres an exclusion constraint (scheduling migration 0002) forbids two
    live appointments of one room whose occupied ranges (with the turnover buffer) overlap."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=100)
    equipment = models.JSONField(default=list, blank=True)  # tags, e.g. ["table", "hot_stones"]
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "name"], name="room_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class DateOverride(models.Model):
    """One date's hours of a therapist, in the practice's local time, replacing the weekly hours
    of that date (issue 20.3): a longer or shorter day, extra hours, or (no start and end) a day
    off. The rows of one date never overlap (`practice.services.add_date_override`)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(
        Therapist, on_delete=models.CASCADE, related_name="date_overrides"
    )
    date = models.DateField()
    start = models.TimeField(null=True, blank=True)
    end = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__isnull=True, end__isnull=True)
                | Q(start__isnull=False, end__isnull=False, end__gt=F("start")),
                name="date_override_hours",
            ),
        ]
        indexes = [models.Index(fields=["therapist", "date"])]


class AuthToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once, at login."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)


class EmailVerification(models.Model):
    """A single-use link sent by email; following it proves the address (hash stored only).

    `purpose`: `signup` proves a registering client's email (and links their record), `email_change`
    proves `new_email` before it replaces the account's, `password_reset` lets the address's owner
    set a new password. The link's GET only shows what confirming would do; confirming is a POST.
    """

    class Purpose(models.TextChoices):
        SIGNUP = "signup"
        EMAIL_CHANGE = "email_change"
        PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a password

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_verifications")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.SIGNUP)
    new_email = models.EmailField(blank=True)  # email_change only
    token_hash = models.CharField(max_length=64, unique=True)
    phone = models.CharField(
        max_length=32, blank=True
    )  # from the sign-up form, for the client record
    # Wrong dates of birth given with this link; at MAX_CONFIRM_ATTEMPTS the link is spent.
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class AuditAction(models.TextChoices):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"


class AuditEvent(models.Model):
    """Append-only access log of clinical records (DOMAIN.md 8, "Audit controls").

    One row per request: a list page of 100 clients is one row naming 100 records, so logging costs
    a list endpoint one small INSERT. `record_ids` is stored as ",1,2,3," so that "who read record
    2" is a portable LIKE lookup (`records_containing`).
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    # Who else: the role acted in, and the API key when no person did (DOMAIN.md 8 "who").
    role = models.CharField(max_length=20, blank=True, default="")
    api_key = models.ForeignKey(
        "ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    record_type = models.CharField(max_length=40)
    record_ids = models.TextField()
    # The client whose record this is, when every record named belongs to one client (details,
    # writes, exports: indexed for `clients/{id}/access-log/`); a page showing several clients
    # leaves it null and names them in `client_ids` (",3,7,"). A plain integer, not a foreign key:
    # the log outlives a purged client (HIPAA keeps audit documentation 6 years, DOMAIN.md 4).
    client_id = models.PositiveIntegerField(null=True, blank=True)
    client_ids = models.TextField(blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["practice", "record_type", "at"]),
            models.Index(fields=["practice", "client_id", "at"], name="audit_client_at_idx"),
        ]

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit events are append-only.")

    @staticmethod
    def encode(ids: list[int]) -> str:
        return "," + ",".join(str(pk) for pk in ids) + ","

    @property
    def ids(self) -> list[int]:
        return [int(pk) for pk in self.record_ids.strip(",").split(",") if pk]

    @classmethod
    def records_containing(cls, record_id: int) -> models.Q:
        return models.Q(record_ids__contains=f",{int(record_id)},")

    @classmethod
    def concerning_client(cls, client_id: int) -> models.Q:
        """Events about one client: the indexed column, or a page that showed them among others."""
        return models.Q(client_id=client_id) | models.Q(
            client_id__isnull=True, client_ids__contains=f",{int(client_id)},"
        )


class ApiKey(models.Model):
    """A practice key for integrations (API.md "Integrations"): scheduling scope only.

    Sent as `Authorization: Bearer bck_...`; only its SHA-256 is kept, the key is shown once.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)  # the first characters, to tell keys apart
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


# Record types whose hard deletions are kept as tombstones (`deleted/`); the scheduling ones also
# send a `<type>.deleted` webhook event.
TOMBSTONE_TYPES = (
    "alert",
    "amendment",
    "appointment",
    "appointment_event",
    "cancellation_fee",
    "client",
    "client_package",
    "complaint",
    "complaint_clearance",
    "consent",
    "consent_signature",
    "course",
    "course_measure",
    "course_review",
    "course_visit",
    "follow_up_answer",
    "health_flag_proposal",
    "intake",
    "invoice",
    "invoice_line",
    "legal_hold_change",
    "measure_request",
    "medical_clearance",
    "note",
    "outcome",
    "package_use",
    "payment",
    "plan_item",
    "red_flag_answer",
    "reminder",
    "session_plan",
    "time_off",
    "waitlist_entry",
    "waitlist_offer",
)
SCHEDULING_TOMBSTONE_TYPES = ("appointment", "client", "time_off", "waitlist_entry")

WEBHOOK_EVENTS = (
    "appointment.created",
    "appointment.updated",
    "appointment.cancelled",
    "client.created",
    "waitlist.offered",
    "invoice.issued",
    "payment.recorded",
    *(f"{record_type}.deleted" for record_type in SCHEDULING_TOMBSTONE_TYPES),
)


class Tombstone(models.Model):
    """A hard-deleted record, by type and id only, so that `?updated_since=` sync sees removals
    (erasure, purge, removed time off) too; kept for the practice's `sync_horizon_days`."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    record_type = models.CharField(max_length=20, choices=[(t, t) for t in TOMBSTONE_TYPES])
    record_id = models.BigIntegerField()
    deleted_at = models.DateTimeField(default=timezone.now)

    sync_field = "deleted_at"  # what `?updated_since=` filters on (practice.sync)

    class Meta:
        ordering = ["deleted_at", "id"]
        indexes = [models.Index(fields=["practice", "deleted_at"])]


class WebhookSubscription(models.Model):
    """Where a practice's events go. The signing secret is derived from SECRET_KEY and a random
    salt kept here, so the secret itself is stored nowhere and shown once, at creation."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField()
    secret_salt = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class WebhookEvent(models.Model):
    """The outbox: written in the transaction of the change, delivered by Celery afterwards."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=40)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    response_snippet = models.CharField(max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due_idx",
            )
        ]
