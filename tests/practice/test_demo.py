"""The demo practice of `make run` (API.md "Setting up"): what a newcomer sees first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from clients.models import Complaint
from practice.models import Practice, Room, Service
from sessions.records.models import TherapistAlert
from sessions.scheduling.selectors import free_slots

pytestmark = pytest.mark.django_db


def test_the_demo_opens_with_bookable_clients_and_no_red_flag_waiting():
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)  # idempotent: a second run finds it

    practice = Practice.objects.get(slug="demo")
    complaints = Complaint.objects.filter(client__practice=practice)
    assert complaints.count() == 2
    assert set(complaints.values_list("status", flat=True)) == {"active"}
    assert not TherapistAlert.objects.exists()


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
