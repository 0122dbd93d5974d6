"""The demo practice of `make run` (API.md "Setting up"): what a newcomer sees first."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from clients.models import Complaint
from practice.models import Practice
from sessions.billing.models import CancellationFee, ClientPackage, InvoiceLine
from sessions.records.course_models import Course, CourseMeasure
from sessions.records.models import IntakeRequest, TherapistAlert
from sessions.scheduling.models import Appointment

pytestmark = pytest.mark.django_db


def test_the_demo_opens_with_bookable_clients_and_no_red_flag_waiting():
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)  # idempotent: a second run finds it

    practice = Practice.objects.get(slug="demo")
    complaints = Complaint.objects.filter(client__practice=practice)
    assert complaints.count() == 2
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
    covered = InvoiceLine.objects.get(appointment__client=sold.client)
    assert covered.total == 0
    assert "covered by package" in covered.description
    fee = CancellationFee.objects.get(practice=practice)
    assert fee.is_waived
    assert fee.line.total == 0
