"""The demo practice of `make run` (API.md "Setting up"): what a newcomer sees first."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from clients.models import Complaint
from practice.models import Practice
from sessions.billing.models import (
    CancellationFee,
    ClientPackage,
    Invoice,
    InvoiceLine,
    PackageUse,
    Payment,
)
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


def test_the_demo_has_money_an_issued_and_a_paid_invoice():
    call_command("load_demo", verbosity=0)
    practice = Practice.objects.get(slug="demo")
    assert practice.currency == "GBP"
    # Drafts beside them: the package sold, the visit it covered, the waived no-show fee.
    issued = Invoice.objects.filter(practice=practice).exclude(status="draft")
    assert sorted(issued.values_list("status", flat=True)) == ["issued", "paid"]
    assert sorted(issued.values_list("number", flat=True)) == [1, 2]
    assert Payment.objects.filter(practice=practice).count() == 2
