"""A second submit is 409 however the two race (issue 17 "Bad input and abuse"): real threads on
real PostgreSQL, each on its own connection; the row lock on the intake lets one submission write
its complaint, outcomes and consents, and the other finds it submitted."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.core import mail

from clients.models import Complaint, Consent, Outcome
from sessions.records.models import IntakeRequest
from tests.sessions.test_booking_races import race
from tests.sessions.test_intake import ALL, book, url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_eight_racing_submits_of_one_intake_write_it_once(owner, bookable):
    book(owner, bookable)
    # Committed for real here: the booking's dispatch after commit sent the link at once.
    (message,) = mail.outbox
    token = re.search(r"/api/v1/public/intake/([^/\s]+)/", message.body).group(1)

    outcomes = race(
        [lambda api: api.post(url(token) + "submit/", ALL, format="json")] * THREADS, owner.token
    )

    assert Counter((o.status, o.code) for o in outcomes) == Counter(
        {(200, None): 1, (409, "invalid_transition"): THREADS - 1}
    )
    assert IntakeRequest.objects.get().status == "submitted"
    assert Complaint.objects.count() == 1
    assert Consent.objects.count() == 2
    assert Outcome.objects.count() == 3
