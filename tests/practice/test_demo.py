"""The demo practice of `make run` (API.md "Setting up"): what a newcomer sees first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from clients.models import Complaint
from practice.models import Practice, Room, Service
from sessions.billing.models import (
    CancellationFee,
    ClientPackage,
    Invoice,
    InvoiceLine,
    PackageUse,
    Payment,
)
from sessions.insight.operations import operations_report
from sessions.insight.outcomes import outcomes_report
from sessions.insight.period import Period
from sessions.insight.precedes import precedes_report
from sessions.records.course_models import Course, CourseMeasure
from sessions.records.models import IntakeRequest, TherapistAlert
from sessions.scheduling.models import Appointment
from sessions.scheduling.selectors import free_slots

pytestmark = pytest.mark.django_db


def test_the_demo_opens_with_bookable_clients_and_no_red_flag_waiting():
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)  # idempotent: a second run finds it

    practice = Practice.objects.get(slug="demo")
    complaints = Complaint.objects.filter(client__practice=practice)
    front = complaints.filter(client__email__in=["ana.silva@example.com", "ben.okafor@example.com"])
    assert front.count() == 2  # the two clients who arrive with a complaint on file
    assert set(complaints.values_list("status", flat=True)) == {"active"}
    assert not TherapistAlert.objects.exists()


def test_the_demos_first_upcoming_appointment_has_a_pending_intake():
    call_command("load_demo", verbosity=0)
    upcoming = Appointment.objects.filter(practice__slug="demo", start__gte=timezone.now())
    first = upcoming.order_by("start").first()
    assert first is not None
    assert IntakeRequest.objects.get(appointment=first).status == "pending"


def test_the_demo_has_a_course_mid_way_with_measures_due():
    call_command("load_demo", verbosity=0)

    course = Course.objects.get(practice__slug="demo")
    statuses = list(
        course.visits.order_by("appointment__start").values_list("appointment__status", flat=True)
    )
    assert statuses[:4] == ["completed"] * 4
    assert set(statuses[4:]) <= {"booked"}
    (measure,) = CourseMeasure.objects.filter(course=course)
    assert (measure.visit_number, measure.status) == (4, "due")
    assert course.instruments == ["rmdq", "psfs", "groc"]


def test_the_demo_has_a_package_in_use_and_a_waived_fee():
    call_command("load_demo", verbosity=0)

    practice = Practice.objects.get(slug="demo")
    sold = ClientPackage.objects.get(practice=practice)
    assert (sold.sessions_total, sold.sessions_remaining) == (5, 4)
    covered = InvoiceLine.objects.get(appointment=PackageUse.objects.get().appointment)
    assert covered.total == 0
    assert "covered by package" in covered.description
    fee = CancellationFee.objects.get(practice=practice)
    assert fee.is_waived
    assert fee.line.total == 0


def test_the_demo_has_history_for_every_report():
    """Issue 21: each report of the demo practice shows something (its charts are not empty)."""
    call_command("load_demo", verbosity=0)
    practice = Practice.objects.get(slug="demo")
    today = timezone.localdate()
    period = Period(first=today - timedelta(days=180), last=today, tz=practice.tz)

    outcomes = outcomes_report(practice, period)["instruments"]
    assert {entry["instrument"] for entry in outcomes} >= {"nprs", "rmdq"}
    nprs = next(entry for entry in outcomes if entry["instrument"] == "nprs")["overall"]
    assert nprs["complaints"] >= 5
    assert 0 < nprs["improved"] < nprs["complaints"]
    groups = precedes_report(practice, period, "nprs")["groups"]
    assert groups["improved"]["techniques"]
    assert groups["improved"]["complaints"] + groups["not_improved"]["complaints"] >= 10
    operations = operations_report(practice, period)
    assert operations["totals"]["visits"] > 50
    assert operations["totals"]["no_shows"] > 0
    assert operations["messages"]["follow_ups"]["answered"] > 0
    assert all(t["utilisation"] for t in operations["therapists"])


def test_the_demo_has_rooms_and_a_deep_tissue_service_booked_in_one():
    call_command("load_demo", verbosity=0)
    practice = Practice.objects.get(slug="demo")
    deep = Service.objects.get(practice=practice, name="Deep tissue (60 min)")
    monday = timezone.localdate(timezone=practice.tz) + timedelta(days=7)
    monday -= timedelta(days=monday.weekday())

    found = free_slots(practice=practice, service=deep, first=monday, last=monday)

    assert Room.objects.filter(practice=practice).count() == 2
    assert deep.needs_room
    assert deep.pressure_level == 4
    assert found
    assert all(len(slot.rooms) == 2 for slot in found)


def test_the_demo_has_money_an_issued_and_a_paid_invoice():
    call_command("load_demo", verbosity=0)
    practice = Practice.objects.get(slug="demo")
    assert practice.currency == "GBP"
    # Drafts beside them: the package sold, the visit it covered, the waived no-show fee.
    issued = Invoice.objects.filter(practice=practice).exclude(status="draft")
    assert sorted(issued.values_list("status", flat=True)) == ["issued", "paid"]
    assert sorted(issued.values_list("number", flat=True)) == [1, 2]
    assert Payment.objects.filter(practice=practice).count() == 2
