"""factory_boy factories: one per model, each producing a valid row of one practice."""

from __future__ import annotations

import datetime as dt

import factory
from django.apps import apps
from django.db.models import Max
from django.utils import timezone

from clients.models import Client, Complaint, Consent, ErasureRequest, Outcome
from practice.models import (
    AuditEvent,
    DateOverride,
    Membership,
    Practice,
    Role,
    Room,
    Service,
    Therapist,
    TimeOff,
    Tombstone,
    User,
    WorkingHours,
)
from techniques.models import Technique

PASSWORD = "correct-horse-battery"


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice

    slug = factory.Sequence(lambda n: f"practice-{n}")
    name = factory.Sequence(lambda n: f"Practice {n}")
    timezone = "Europe/London"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):
        if create:
            self.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    practice = factory.SubFactory(PracticeFactory)
    role = Role.OWNER


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Back massage {n}")
    duration_minutes = 60
    buffer_minutes = 15
    price = 60


class TherapistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Therapist

    practice = factory.SubFactory(PracticeFactory)
    user = factory.LazyAttribute(
        lambda o: MembershipFactory(practice=o.practice, role=Role.THERAPIST).user
    )


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    equipment = factory.LazyFunction(list)


class DateOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DateOverride

    therapist = factory.SubFactory(TherapistFactory)
    practice = factory.SelfAttribute("therapist.practice")
    date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=3))
    start = dt.time(12)
    end = dt.time(20)


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours

    therapist = factory.SubFactory(TherapistFactory)
    practice = factory.SelfAttribute("therapist.practice")
    weekday = 0
    start = dt.time(9)
    end = dt.time(17)


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    therapist = factory.SubFactory(TherapistFactory)
    practice = factory.SelfAttribute("therapist.practice")
    start = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=3))
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(hours=4))
    reason = "Course"


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    practice = factory.SubFactory(PracticeFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"client{n}@example.com")
    phone = "+44 7700 900123"
    date_of_birth = dt.date(1980, 5, 17)
    health_flags = factory.LazyFunction(list)


class ComplaintFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Complaint

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    regions = factory.LazyFunction(lambda: [{"region": "lumbar", "side": "left"}])
    onset_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=10))
    onset_type = "gradual"
    mechanism = "lifting"
    pain_now = 6


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    kind = "general"
    version = "2026-01"
    method = "written"
    signed_at = factory.LazyFunction(timezone.now)


class OutcomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Outcome

    complaint = factory.SubFactory(ComplaintFactory)
    client = factory.SelfAttribute("complaint.client")
    practice = factory.SelfAttribute("complaint.practice")
    instrument = "nprs"
    answers = factory.LazyFunction(lambda: {"pain": 5})
    score = 5
    recorded_at = factory.LazyFunction(timezone.now)
    measured_at = factory.SelfAttribute("recorded_at")


class TechniqueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Technique

    practice = factory.SubFactory(PracticeFactory)
    code = factory.Sequence(lambda n: f"custom_{n}")
    name = factory.Sequence(lambda n: f"Custom technique {n}")
    description = "A practice's own technique."
    usual_pressure_min = 2
    usual_pressure_max = 3
    usual_minutes_min = 2
    usual_minutes_max = 5


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    practice = factory.SubFactory(PracticeFactory)
    action = "read"
    record_type = "client"
    record_ids = ",1,"


class TombstoneFactory(factory.django.DjangoModelFactory):
    """A deleted appointment's trace; `record_id` is set to the row's own id so that suites that
    look for a made row's `id` in a list find it."""

    class Meta:
        model = Tombstone
        skip_postgeneration_save = True

    practice = factory.SubFactory(PracticeFactory)
    record_type = "appointment"
    record_id = 0

    @factory.post_generation
    def same_id(self, create, extracted, **kwargs):
        if create and not self.record_id:
            Tombstone.objects.filter(pk=self.pk).update(record_id=self.pk)
            self.record_id = self.pk


class ErasureRequestFactory(factory.django.DjangoModelFactory):
    """A stored answer to an erasure request (sessions.records.privacy writes the real ones)."""

    class Meta:
        model = ErasureRequest

    practice = factory.SubFactory(PracticeFactory)
    client_number = factory.Sequence(lambda n: 10_000 + n)
    requested_by_role = "owner"
    received_at = factory.LazyFunction(timezone.now)
    due_by = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=30))
    completed_at = factory.LazyFunction(timezone.now)
    outcome = "erased"
    explanation = "Your record has been erased."


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A booked appointment written directly (no slot rules): for list, scope and feed tests."""

    class Meta:
        model = "scheduling.Appointment"

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    therapist = factory.SubFactory(TherapistFactory, practice=factory.SelfAttribute("..practice"))
    service = factory.SubFactory(ServiceFactory, practice=factory.SelfAttribute("..practice"))
    # Two hours apart, cycling through ~33 days: a long suite must not push later tests'
    # appointments past a clearance's or a package's window (each test makes far fewer than 400).
    start = factory.Sequence(
        lambda n: (
            timezone.now().replace(minute=0, second=0, microsecond=0)
            + dt.timedelta(days=2, hours=2 * (n % 400))
        )
    )
    end = factory.LazyAttribute(
        lambda o: o.start + dt.timedelta(minutes=o.service.duration_minutes)
    )
    blocked_until = factory.LazyAttribute(
        lambda o: o.end + dt.timedelta(minutes=o.service.buffer_minutes)
    )
    source = "staff"


class SessionPlanFactory(factory.django.DjangoModelFactory):
    """A plan for an appointment (no items: the service checks items; this is for scope tests)."""

    class Meta:
        model = "records.SessionPlan"

    appointment = factory.SubFactory(AppointmentFactory)
    client = factory.SelfAttribute("appointment.client")
    practice = factory.SelfAttribute("appointment.practice")
    goals = factory.LazyFunction(lambda: ["pain_relief"])


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "records.Note"

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    author = factory.LazyAttribute(
        lambda o: MembershipFactory(practice=o.practice, role=Role.THERAPIST).user
    )
    subjective = "Lower back stiff after gardening."
    pain_before = 6
    pain_after = 3


class ReminderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "scheduling.Reminder"

    appointment = factory.SubFactory(AppointmentFactory)
    client = factory.SelfAttribute("appointment.client")
    practice = factory.SelfAttribute("appointment.practice")
    kind = "reminder"
    channel = "email"
    scheduled_for = factory.LazyAttribute(lambda o: o.appointment.start - dt.timedelta(hours=24))


class TherapistAlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "records.TherapistAlert"

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    kind = "follow_up_pain"
    message = "Follow-up pain 9/10."


class ApiKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "practice.ApiKey"

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Website {n}")
    key_hash = factory.Sequence(lambda n: f"{n:064x}")
    prefix = "bck_test"


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "practice.WebhookSubscription"

    practice = factory.SubFactory(PracticeFactory)
    url = "https://hooks.example.com/backcare"
    events = factory.LazyFunction(lambda: ["appointment.created"])
    secret_salt = factory.Sequence(lambda n: f"salt{n}")


class WaitlistEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "scheduling.WaitlistEntry"

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    service = factory.SubFactory(ServiceFactory, practice=factory.SelfAttribute("..practice"))
    first_day = factory.LazyFunction(timezone.localdate)
    last_day = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=14))


class IntakeFormFactory(factory.django.DjangoModelFactory):
    """A published intake form version (issue 17)."""

    class Meta:
        model = "records.IntakeForm"

    practice = factory.SubFactory(PracticeFactory)
    # The practice's next version: a global sequence collided with the default form (version 1)
    # that a first booking publishes, whenever this factory had not yet run in the session.
    version = factory.LazyAttribute(
        lambda form: (
            (
                apps.get_model("records", "IntakeForm")
                .objects.filter(practice=form.practice)
                .aggregate(latest=Max("version"))["latest"]
                or 0
            )
            + 1
        )
    )
    title = "Before your first visit"
    consent_documents = factory.LazyFunction(
        lambda: [{"kind": "general", "version": "1", "title": "Consent", "text": "I agree."}]
    )
    questions = factory.LazyFunction(list)


class CalendarLinkFactory(factory.django.DjangoModelFactory):
    """An outside calendar (issue 20.4); an `ics` subscription unless told otherwise."""

    class Meta:
        model = "scheduling.CalendarLink"

    therapist = factory.SubFactory(TherapistFactory)
    practice = factory.SelfAttribute("therapist.practice")
    kind = "ics"
    url = factory.Sequence(lambda n: f"https://calendar.example.com/busy-{n}.ics")
    next_sync_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(minutes=5))


class BusyBlockFactory(factory.django.DjangoModelFactory):
    """A busy time synced from an outside calendar: availability reads it like time off."""

    class Meta:
        model = "scheduling.BusyBlock"

    link = factory.SubFactory(CalendarLinkFactory)
    therapist = factory.SelfAttribute("link.therapist")
    start = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=3))
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(hours=1))


class PackageFactory(factory.django.DjangoModelFactory):
    """A package product (issue 19.4) covering one service of its practice."""

    class Meta:
        model = "billing.Package"
        skip_postgeneration_save = True

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Ten sessions {n}")
    sessions = 10
    price = 500
    expiry_days = 365

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create:
            self.services.set(extracted or [ServiceFactory(practice=self.practice)])


class ClientPackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.ClientPackage"

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    package = factory.SubFactory(PackageFactory, practice=factory.SelfAttribute("..practice"))
    sessions_total = 10
    sessions_remaining = 10
    price = 500
    currency = "EUR"
    expires_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=365))


class CancellationFeeFactory(factory.django.DjangoModelFactory):
    """A no-show fee without its invoice line (the fee tests charge real ones)."""

    class Meta:
        model = "billing.CancellationFee"

    appointment = factory.SubFactory(AppointmentFactory, status="no_show")
    client = factory.SelfAttribute("appointment.client")
    practice = factory.SelfAttribute("appointment.practice")
    kind = "no_show"
    percent = 100
    amount = 60
    currency = "EUR"


class TaxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "practice.TaxRate"

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"VAT {n}")
    percent = 20
    inclusive = True


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An issued invoice of one 60.00 EUR line (numbered from 1000 up so that it never meets the
    practice's sequence), written directly: for list, scope and feed tests."""

    class Meta:
        model = "billing.Invoice"
        skip_postgeneration_save = True

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    currency = "EUR"
    status = "issued"
    number = factory.Sequence(lambda n: 1000 + n)
    issued_at = factory.LazyFunction(timezone.now)
    subtotal = 60
    tax_total = 0
    total = 60

    @factory.post_generation
    def lines(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.lines.create(
                description="Back massage", unit_price=60, net=60, tax=0, total=60, quantity=1
            )


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.Payment"
        skip_postgeneration_save = True

    invoice = factory.SubFactory(InvoiceFactory)
    practice = factory.SelfAttribute("invoice.practice")
    client = factory.SelfAttribute("invoice.client")
    method = "cash"
    amount = 20
    currency = "EUR"
    received_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def counted(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:  # the invoice's `paid` agrees with its payments
            type(self.invoice).objects.filter(pk=self.invoice_id).update(
                paid=self.invoice.paid + self.amount
            )


class CourseFactory(factory.django.DjangoModelFactory):
    """A course of care written directly (no booking rules), with `visits` linked appointments."""

    class Meta:
        model = "records.Course"
        skip_postgeneration_save = True

    client = factory.SubFactory(ClientFactory)
    practice = factory.SelfAttribute("client.practice")
    complaint = factory.SubFactory(ComplaintFactory, client=factory.SelfAttribute("..client"))
    therapist = factory.SubFactory(TherapistFactory, practice=factory.SelfAttribute("..practice"))
    service = factory.SubFactory(ServiceFactory, practice=factory.SelfAttribute("..practice"))
    goals = factory.LazyFunction(lambda: ["pain_relief"])
    planned_visits = 2
    start_date = factory.LazyFunction(timezone.localdate)
    expected_end = factory.LazyAttribute(lambda o: o.start_date + dt.timedelta(weeks=1))
    instruments = factory.LazyFunction(lambda: ["rmdq", "psfs", "groc"])

    @factory.post_generation
    def visits(self, create, extracted, **kwargs):
        """Weekly visits a month ahead, written directly: not through AppointmentFactory, whose
        shared sequence moves every later factory appointment's time (tests pin days by it)."""
        if not create:
            return
        appointment, visit = (
            apps.get_model("scheduling", "Appointment"),
            apps.get_model("records", "CourseVisit"),
        )
        base = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(
            days=30, hours=2 * (self.pk % 40)
        )
        length = dt.timedelta(minutes=self.service.duration_minutes)
        for week in range(extracted if extracted is not None else self.planned_visits):
            start = base + dt.timedelta(weeks=week)
            row = appointment.objects.create(
                practice=self.practice,
                client=self.client,
                therapist=self.therapist,
                service=self.service,
                start=start,
                end=start + length,
                blocked_until=start + length + dt.timedelta(minutes=self.service.buffer_minutes),
                source="staff",
            )
            visit.objects.create(course=self, appointment=row)
