"""The demo practice of `make run` (API.md "Setting up"): what a newcomer sees first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from clients.models import Complaint
from practice.models import Practice
from sessions.insight.operations import operations_report
from sessions.insight.outcomes import outcomes_report
from sessions.insight.period import Period
from sessions.insight.precedes import precedes_report
from sessions.records.models import TherapistAlert

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
