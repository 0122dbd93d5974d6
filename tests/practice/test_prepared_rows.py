"""`PreparedRows` (practice/prepared.py): a query compiled once per shape answers exactly what the
queryset it was compiled from answers, for any values of that shape. Checked on the busy-times
UNION of the slot check (`sessions.scheduling.selectors._busy_query`), every combination of its
parts, over many windows, therapist and room sets and excluded appointments."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from practice.prepared import PreparedRows
from sessions.scheduling.models import Appointment, QuietRefusal, Status
from sessions.scheduling.selectors import _busy_query
from tests.factories import (
    AppointmentFactory,
    BusyBlockFactory,
    ClientFactory,
    RoomFactory,
    ServiceFactory,
    TherapistFactory,
    TimeOffFactory,
)

pytestmark = pytest.mark.django_db
BASE = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)


@pytest.fixture
def diary(practice):
    """Three therapists and two rooms, with appointments (some cancelled, some in a room), time
    off, outside busy blocks and quiet refusals spread over ten days."""
    therapists = [TherapistFactory(practice=practice) for _ in range(3)]
    rooms = [RoomFactory(practice=practice) for _ in range(2)]
    service = ServiceFactory(practice=practice, duration_minutes=60, buffer_minutes=15)
    client = ClientFactory(practice=practice)
    for n in range(30):
        start = BASE + dt.timedelta(hours=5 * n)
        AppointmentFactory(
            client=client,
            therapist=therapists[n % 3],
            service=service,
            room=rooms[n % 2] if n % 3 else None,
            start=start,
            status=Status.CANCELLED if n % 7 == 0 else Status.BOOKED,
        )
    for n, therapist in enumerate(therapists):
        TimeOffFactory(
            therapist=therapist,
            start=BASE + dt.timedelta(days=2 + n),
            end=BASE + dt.timedelta(days=2 + n, hours=4),
        )
        BusyBlockFactory(
            link__therapist=therapist,
            start=BASE + dt.timedelta(days=4 + n),
            end=BASE + dt.timedelta(days=4 + n, hours=2),
        )
        QuietRefusal.objects.create(
            practice=practice,
            client=client,
            service=service,
            therapist=therapist,
            start=BASE + dt.timedelta(days=6 + n),
            end=BASE + dt.timedelta(days=6 + n, hours=1),
            manage_token_hash=secrets.token_hex(32),
        )
    return therapists, rooms, list(Appointment.objects.values_list("pk", flat=True))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    first_hour=st.integers(min_value=-24, max_value=240),
    hours=st.integers(min_value=1, max_value=120),
    who=st.sets(st.integers(min_value=0, max_value=3), min_size=1),
    which_rooms=st.sets(st.integers(min_value=0, max_value=2), min_size=1),
    excluded=st.integers(min_value=0, max_value=40),
)
def test_the_prepared_busy_query_answers_what_the_queryset_answers(
    diary, flags, first_hour, hours, who, which_rooms, excluded
):
    therapists, rooms, appointments = diary
    with_rooms, _, _, excluding = flags
    values: dict = {
        # index 3 stands for an id no therapist has, and 2 for a room that is not there
        "therapists": [therapists[i].pk if i < 3 else 10**9 for i in sorted(who)],
        "start": BASE + dt.timedelta(hours=first_hour),
        "end": BASE + dt.timedelta(hours=first_hour + hours),
    }
    if with_rooms:
        values["rooms"] = [rooms[i].pk if i < 2 else 10**9 for i in sorted(which_rooms)]
    if excluding:
        values["exclude"] = appointments[excluded % len(appointments)]

    prepared = PreparedRows(_busy_query)
    first, again = prepared.rows(flags, **values), prepared.rows(flags, **values)

    expected = sorted(_busy_query(flags, **values), key=repr)
    assert sorted(first, key=repr) == expected
    assert sorted(again, key=repr) == expected  # the second from the compiled statement


def test_a_value_that_does_not_reach_the_sql_as_a_parameter_is_refused(practice):
    prepared = PreparedRows(lambda flags, *, therapist: Appointment.objects.values_list("pk"))
    with pytest.raises(ValueError, match="not every value"):
        prepared.rows((), therapist=1)
