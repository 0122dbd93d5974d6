"""Fixtures of the scheduling and clinical tests."""

import pytest

from tests.sessions.booking_setup import Bookable, make_bookable


@pytest.fixture
def bookable(practice, therapist) -> Bookable:
    return make_bookable(practice, therapist.user)
