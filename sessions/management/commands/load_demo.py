"""`manage.py load_demo`: the demo practice of API.md "Setting up", created once, idempotent."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from clients.models import Client
from clients.services import create_complaint
from practice.models import Practice, Service, TaxRate, Therapist
from practice.services import (
    create_practice,
    create_service,
    create_tax_rate,
    create_user_in_practice,
    set_working_hours,
)
from sessions.billing import invoices, payments
from sessions.billing.fees import waive_fee
from sessions.billing.models import CancellationFee
from sessions.billing.packages import create_package, sell_package
from sessions.scheduling.booking import Actor, move_appointment
from sessions.scheduling.models import Appointment, Source, Status

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
            _add_clients(practice)
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


def _past_visit(practice: Practice, client: Client, days_ago: int, status: str) -> Appointment:
    """A visit last week at 15:00, written directly (booking refuses the past), in `status`."""
    service = Service.objects.get(practice=practice, name="Back massage (60 min)")
    day = timezone.localdate() - timedelta(days=days_ago)
    start = datetime.combine(day, time(15), tzinfo=practice.tz)  # the morning is billed above
    return Appointment.objects.create(
        practice=practice,
        client=client,
        therapist=Therapist.objects.filter(practice=practice).order_by("id")[0],
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
        start = (timezone.now() - timedelta(days=14 - 7 * index)).replace(
            hour=10, minute=0, second=0, microsecond=0
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
