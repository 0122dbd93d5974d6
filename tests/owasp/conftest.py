"""What the OWASP suites share: a practice that takes public bookings, and generous rate limits
where a test is about something else than the rate limit itself."""

from __future__ import annotations

from datetime import time

import pytest
from rest_framework.throttling import SimpleRateThrottle

from practice.services import set_working_hours
from tests.factories import ServiceFactory, TherapistFactory
from tests.sessions.booking_setup import Bookable, make_bookable


@pytest.fixture
def bookable(practice, therapist) -> Bookable:
    return make_bookable(practice, therapist.user)


@pytest.fixture
def public_setup(practice):
    """An online-bookable therapist working 09:00-17:00 every day, offering 60 min (+15 buffer)."""
    therapist = TherapistFactory(practice=practice)
    service = ServiceFactory(practice=practice, duration_minutes=60, buffer_minutes=15)
    therapist.services.add(service)
    set_working_hours(
        therapist=therapist,
        intervals=[{"weekday": day, "start": time(9), "end": time(17)} for day in range(7)],
    )
    return therapist, service


@pytest.fixture
def rates(monkeypatch):
    """Set some throttle rates for one test: `rates(public_booking="1000/hour")`."""

    def set_rates(**scopes: str) -> None:
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **scopes}
        )

    return set_rates
