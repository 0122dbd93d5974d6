"""The demo practice of `make run` (API.md "Setting up"): what a newcomer sees first."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from clients.models import Complaint
from practice.models import Practice
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
    first = Appointment.objects.filter(practice__slug="demo").order_by("start").first()
    assert first is not None
    assert IntakeRequest.objects.get(appointment=first).status == "pending"
