"""`manage.py load_demo`: the demo practice of API.md "Setting up", created once, idempotent."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from clients.models import Client, Complaint, Instrument
from clients.services import create_complaint, record_outcome
from practice.models import Practice, Service, TaxRate, Therapist
from practice.services import (
    create_practice,
    create_room,
    create_service,
    create_tax_rate,
    create_user_in_practice,
    set_working_hours,
)
from sessions.billing import invoices, payments
from sessions.billing.fees import waive_fee
from sessions.billing.models import CancellationFee
from sessions.billing.packages import create_package, sell_package
from sessions.management.demo_history import add_history
from sessions.records.course_models import Course, CourseVisit
from sessions.records.courses import request_measures
from sessions.scheduling.booking import Actor, book_appointment, book_visits, move_appointment
from sessions.scheduling.models import Appointment, Source, Status
from sessions.scheduling.selectors import free_slots

SLUG = "demo"
OWNER_EMAIL = "owner@demo.test"
OWNER_PASSWORD = "backcare-demo"  # noqa: S105 - the documented demo login
CLIENTS = [
    ("Ana", "Silva", "ana.silva@example.com", ["osteoporosis"]),
    ("Ben", "Okafor", "ben.okafor@example.com", []),
    ("Chloe", "Martin", "chloe.martin@example.com", ["pregnancy"]),
    ("David", "Kim", "david.kim@example.com", []),
]


class Command(BaseCommand):
    help = "Create the demo practice (owner@demo.test / backcare-demo) if it does not exist."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not Practice.objects.filter(slug=SLUG).exists():
            practice = create_practice(
                slug=SLUG,
                name="Demo Back Care Clinic",
                timezone_name="Europe/London",
                owner_email=OWNER_EMAIL,
                owner_password=OWNER_PASSWORD,
                owner_first_name="Olivia",
                owner_last_name="Owner",
            )
            _add_staff(practice)
            _add_services_and_hours(practice)
            _add_rooms_and_limits(practice)
            _add_clients(practice)
            add_history(practice)  # past weeks, so every report has something to show
            _book_first_visit(practice)
            _add_course(practice)
            _add_money(practice)
            _add_package_and_waived_fee(practice)
            created = "Created"
        else:
            created = "Found"
        self.stdout.write(
            f"{created} demo practice '{SLUG}': log in as {OWNER_EMAIL} / {OWNER_PASSWORD} "
            f"(also therapist@demo.test and desk@demo.test, same password)."
        )


def _add_staff(practice: Practice) -> None:
    create_user_in_practice(
        practice=practice,
        email="therapist@demo.test",
        password=OWNER_PASSWORD,
        role="therapist",
        first_name="Theo",
        last_name="Therapist",
    )
    create_user_in_practice(
        practice=practice,
        email="desk@demo.test",
        password=OWNER_PASSWORD,
        role="front_desk",
        first_name="Fran",
        last_name="Desk",
    )


def _add_services_and_hours(practice: Practice) -> None:
    # Created after the staff and without `therapists`: every active therapist offers
    # them (API.md "Who offers a service"), as for an owner creating one through the API.
    create_service(
        practice=practice,
        fields={
            "name": "Back massage (60 min)",
            "duration_minutes": 60,
            "buffer_minutes": 15,
            "price": 65,
        },
        therapists=None,
    )
    create_service(
        practice=practice,
        fields={
            "name": "First visit (90 min)",
            "duration_minutes": 90,
            "buffer_minutes": 15,
            "price": 85,
        },
        therapists=None,
    )
    week = [{"weekday": day, "start": time(9), "end": time(12, 30)} for day in range(5)]
    week += [{"weekday": day, "start": time(13, 30), "end": time(17)} for day in range(5)]
    for therapist in Therapist.objects.filter(practice=practice):
        set_working_hours(therapist=therapist, intervals=week)


def _add_rooms_and_limits(practice: Practice) -> None:
    """Issue 20: two treatment rooms, a deep-tissue service that needs one with a table, and the
    therapists' hands-on limits (docs/scheduling.md). The other services need no room."""
    for name in ("Garden room", "Quiet room"):
        create_room(practice=practice, fields={"name": name, "equipment": ["table"]})
    create_service(
        practice=practice,
        fields={
            "name": "Deep tissue (60 min)",
            "duration_minutes": 60,
            "buffer_minutes": 15,
            "price": 75,
            "room_tags": ["table"],
            "pressure_level": 4,
        },
        therapists=None,
    )
    Therapist.objects.filter(practice=practice).update(
        max_daily_minutes=300, max_weekly_minutes=1200, recovery_minutes=30
    )


def _add_clients(practice: Practice) -> None:
    owner = practice.memberships.get(role="owner").user
    for index, (first, last, email, flags) in enumerate(CLIENTS):
        client = Client.objects.create(
            practice=practice,
            first_name=first,
            last_name=last,
            email=email,
            phone=f"+44 7700 900{index:03d}",
            health_flags=flags,
            # Under 50: the demo opens with no age-based red flag (docs/clinical.md §2a).
            date_of_birth=date(1984 + index * 3, 1 + index, 10),
        )
        if index < 2:  # two clients arrive with a lumbar complaint already on file
            create_complaint(
                practice=practice,
                client=client,
                created_by=owner,
                regions=[{"region": "lumbar", "side": "left" if index else "bilateral"}],
                onset_date=timezone.localdate() - timedelta(days=30 + 60 * index),
                onset_type="gradual",
                mechanism="sustained_posture" if index else "lifting",
                pain_now=6 + index,
                red_flags=dict.fromkeys(("saddle_numbness", "cancer_history"), "no"),
            )


def _book_first_visit(practice: Practice) -> None:
    """The first upcoming appointment: a new client's first visit, whose intake request (issue
    17) waits as `pending`, with its link in the outbox."""
    service = Service.objects.get(practice=practice, name="First visit (90 min)")
    client = Client.objects.get(practice=practice, email="david.kim@example.com")
    today = timezone.localdate(timezone=practice.tz)
    slots = free_slots(
        practice=practice, service=service, first=today, last=today + timedelta(days=14)
    )
    if not slots:
        return
    book_appointment(
        practice=practice,
        service=service,
        therapist=Therapist.objects.get(pk=slots[0].therapist),
        client=client,
        start=slots[0].start,
        actor=Actor(kind=Source.STAFF, user=practice.memberships.get(role="owner").user),
    )


def _add_course(practice: Practice) -> None:
    """Issue 18: Ben is four visits into an eight-visit weekly course; the fourth visit's
    measures (RMDQ, PSFS, GROC) are due, the rest of the course is booked."""
    owner = practice.memberships.get(role="owner").user
    complaint = Complaint.objects.get(client__practice=practice, client__first_name="Ben")
    client, tz = complaint.client, practice.tz
    therapist = Therapist.objects.get(user=owner)
    service = Service.objects.get(practice=practice, name="Back massage (60 min)")
    today = timezone.localdate(timezone=tz)
    monday = today - timedelta(days=today.weekday())
    starts = [
        datetime.combine(monday + timedelta(weeks=week, days=1), time(10), tzinfo=tz)
        for week in range(-4, 4)
    ]
    _demo_baseline(complaint, owner, at=starts[0] - timedelta(days=7))
    course = Course.objects.create(
        practice=practice,
        client=client,
        complaint=complaint,
        therapist=therapist,
        service=service,
        goals=["pain_relief", "posture"],
        planned_visits=len(starts),
        start_date=starts[0].date(),
        expected_end=starts[-1].date(),
        instruments=[Instrument.RMDQ, Instrument.PSFS, Instrument.GROC],
        home_care="Walk 20 minutes a day; cat-cow stretch morning and evening.",
        created_by=owner,
    )
    past = [
        Appointment.objects.create(
            practice=practice,
            client=client,
            therapist=therapist,
            service=service,
            start=start,
            end=start + timedelta(minutes=60),
            blocked_until=start + timedelta(minutes=75),
            status=Status.COMPLETED,
            source=Source.STAFF,
            booked_by=owner,
        )
        for start in (_free_past_start(therapist, s, minutes=60) for s in starts[:4])
    ]
    future = book_visits(
        practice=practice,
        service=service,
        therapist=therapist,
        client=client,
        starts=[s for s in starts[4:] if s > timezone.now() + timedelta(hours=3)],
        actor=Actor(kind=Source.STAFF, user=owner),
    )
    CourseVisit.objects.bulk_create(
        CourseVisit(course=course, appointment=a) for a in [*past, *future]
    )
    request_measures(course=course, appointment=past[-1], number=len(past))


def _demo_baseline(complaint: Complaint, owner: Any, *, at: datetime) -> None:
    """The course's baseline disability index and PSFS, a week before its first visit."""
    for instrument, answers in (
        (Instrument.RMDQ, {"items": [i < 12 for i in range(24)]}),
        (Instrument.PSFS, {"activities": [{"activity": "sitting at my desk", "score": 4}]}),
    ):
        record_outcome(
            practice=complaint.practice,
            client=complaint.client,
            complaint=complaint,
            instrument=instrument,
            answers=answers,
            recorded_by=owner,
            measured_at=at,
        )


def _free_past_start(therapist: Therapist, start: datetime, *, minutes: int) -> datetime:
    """`start`, or the next whole hour after it when the therapist is busy then: past visits
    are written directly, so nothing else keeps two of them apart (on Postgres the exclusion
    constraint would refuse the demo) whatever weekday the demo is loaded on."""
    while Appointment.objects.filter(
        therapist=therapist,
        start__lt=start + timedelta(minutes=minutes + 15),
        blocked_until__gt=start,
    ).exists():
        start += timedelta(hours=1)
    return start


def _past_visit(practice: Practice, client: Client, days_ago: int, status: str) -> Appointment:
    """A visit last week at 15:00, written directly (booking refuses the past), in `status`."""
    service = Service.objects.get(practice=practice, name="Back massage (60 min)")
    day = timezone.localdate() - timedelta(days=days_ago)
    therapist = Therapist.objects.filter(practice=practice).order_by("id")[0]
    start = _free_past_start(
        therapist, datetime.combine(day, time(15), tzinfo=practice.tz), minutes=60
    )
    return Appointment.objects.create(
        practice=practice,
        client=client,
        therapist=therapist,
        service=service,
        start=start,
        end=start + timedelta(minutes=60),
        blocked_until=start + timedelta(minutes=75),
        source=Source.STAFF,
        status=status,
    )


def _add_package_and_waived_fee(practice: Practice) -> None:
    """Money in the demo (issue 19): Ben bought five back massages and has used one (its invoice
    line is zero, "covered by package"); David missed a visit and the owner waived the fee."""
    owner = practice.memberships.get(role="owner").user
    actor = Actor(kind=Source.STAFF, user=owner)
    five = create_package(
        practice=practice,
        fields={
            "name": "Five back massages",
            "description": "Five 60-minute back massages, to use within six months.",
            "sessions": 5,
            "price": Decimal("300.00"),
            "expiry_days": 180,
            "services": list(Service.objects.filter(practice=practice, name__startswith="Back")),
        },
    )
    ben = Client.objects.get(practice=practice, first_name="Ben")
    sell_package(practice=practice, package=five, client=ben, by=owner)
    move_appointment(
        appointment=_past_visit(practice, ben, 7, Status.CHECKED_IN),
        to=Status.COMPLETED,
        actor=actor,
    )
    david = Client.objects.get(practice=practice, first_name="David")
    missed = move_appointment(
        appointment=_past_visit(practice, david, 6, Status.BOOKED), to=Status.NO_SHOW, actor=actor
    )
    waive_fee(
        fee=CancellationFee.objects.get(appointment=missed),
        reason="Family emergency: first missed visit",
        by=owner,
    )


def _add_money(practice: Practice) -> None:
    """Prices with VAT, and two past visits billed: one invoice paid, one issued and part-paid
    (README "Money")."""
    practice.currency = "GBP"
    practice.address = "1 Demo Street, London N1 1AA"
    practice.tax_number = "GB123456789"
    practice.save(update_fields=["currency", "address", "tax_number"])
    vat: TaxRate = create_tax_rate(
        practice=practice, fields={"name": "VAT", "percent": Decimal(20), "inclusive": True}
    )
    Service.objects.filter(practice=practice).update(tax_rate=vat)
    Therapist.objects.filter(practice=practice).update(registration_number="CNHC-0001234")
    owner = practice.memberships.get(role="owner").user
    therapist = Therapist.objects.filter(practice=practice).order_by("id")[0]
    service = Service.objects.filter(practice=practice).order_by("name")[0]
    paid_in = [Decimal(65), Decimal(20)]
    for index, client in enumerate(Client.objects.filter(practice=practice).order_by("id")[:2]):
        start = _free_past_start(
            therapist,
            (timezone.now() - timedelta(days=14 - 7 * index)).replace(
                hour=10, minute=0, second=0, microsecond=0
            ),
            minutes=service.duration_minutes,
        )
        visit = Appointment.objects.create(
            practice=practice,
            client=client,
            therapist=therapist,
            service=service,
            start=start,
            end=start + timedelta(minutes=service.duration_minutes),
            blocked_until=start + timedelta(minutes=service.duration_minutes + 15),
            status=Status.COMPLETED,
            source=Source.STAFF,
        )
        draft = invoices.invoice_appointment(appointment=visit, actor=owner)
        issued = invoices.issue_invoice(invoice=draft, actor=owner)
        payments.record_payment(
            invoice=issued,
            amount=paid_in[index],
            currency="GBP",
            method="card_terminal" if index == 0 else "cash",
            actor=owner,
        )
