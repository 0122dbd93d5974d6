"""The demo practice of `make run` (API.md "Setting up"): what a newcomer sees first."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from clients.models import Complaint
from practice.models import Practice
from sessions.billing.models import Invoice, Payment
from sessions.records.models import TherapistAlert

pytestmark = pytest.mark.django_db


def test_the_demo_opens_with_bookable_clients_and_no_red_flag_waiting():
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)  # idempotent: a second run finds it

    practice = Practice.objects.get(slug="demo")
    complaints = Complaint.objects.filter(client__practice=practice)
    assert complaints.count() == 2
    assert set(complaints.values_list("status", flat=True)) == {"active"}
    assert not TherapistAlert.objects.exists()


def test_the_demo_has_money_an_issued_and_a_paid_invoice():
    call_command("load_demo", verbosity=0)
    practice = Practice.objects.get(slug="demo")
    assert practice.currency == "GBP"
    statuses = sorted(Invoice.objects.filter(practice=practice).values_list("status", flat=True))
    assert statuses == ["issued", "paid"]
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [1, 2]
    assert Payment.objects.filter(practice=practice).count() == 2
