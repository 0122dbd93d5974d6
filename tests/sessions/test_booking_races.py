"""However many requests race for one slot, exactly one gets it (API.md "Booking").

Real concurrency on real PostgreSQL: 50 threads, each on its own database connection, released
together by a barrier. The Python check in the booking service sees the slot free in every one of
them; only the exclusion constraint (migration 0002) can make exactly one commit, and its refusal
must come back as 409 `slot_unavailable`, never a 500.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from clients.models import Client
from sessions.scheduling.models import Appointment, AppointmentEvent, Status
from tests.factories import AppointmentFactory, ClientFactory
from tests.sessions.booking_setup import Bookable, local

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/appointments/"
THREADS = 50


@pytest.fixture(autouse=True)
def _room_in_the_pool():
    """A pool big enough for every thread at once, so that all 50 race rather than 20 at a time.

    With the default DB_POOL_MAX (20) the test would still be correct (each thread returns its
    connection when done, the rest wait), but fewer requests would overlap. The pool is built from
    the settings on first use, so it is closed and rebuilt around the test.
    """
    if connection.vendor != "postgresql":
        yield
        return
    options = connection.settings_dict["OPTIONS"]["pool"]
    before = dict(options)
    connection.close()
    connection.close_pool()
    options["max_size"] = THREADS + 10
    options["timeout"] = 60
    yield
    connection.close()
    connection.close_pool()
    options.clear()
    options.update(before)


@dataclass
class Outcome:
    status: int
    code: str | None = None
    error: str | None = None


def race(requests: list[Callable[[APIClient], object]], token: str) -> list[Outcome]:
    """Run each request in its own thread (own connection), all released at once."""
    barrier = threading.Barrier(len(requests))
    outcomes: list[Outcome | None] = [None] * len(requests)

    def run(index: int) -> None:
        api = APIClient(raise_request_exception=False)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            barrier.wait(timeout=60)
            response = requests[index](api)
            payload = response.json() if response.content else {}
            outcomes[index] = Outcome(response.status_code, payload.get("code"))
        except Exception as error:  # any exception is a failed request here
            outcomes[index] = Outcome(-1, error=repr(error))
        finally:
            connection.close()  # give this thread's connection back to the pool

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a racing request never finished"
    return [outcome for outcome in outcomes if outcome is not None]


def tally(outcomes: list[Outcome]) -> Counter:
    return Counter((o.status, o.code) for o in outcomes)


def one_winner(status: int) -> Counter:
    """One success, every other request 409 `slot_unavailable`: no 500, no other answer."""
    return Counter({(status, None): 1, (409, "slot_unavailable"): THREADS - 1})


def booking(setup: Bookable, client: Client, start: datetime) -> Callable[[APIClient], object]:
    data = {
        "service": setup.service.pk,
        "therapist": setup.therapist.pk,
        "client": client.pk,
        "start": start.isoformat(),
    }
    return lambda api: api.post(URL, data)


def test_fifty_bookings_of_one_slot_one_wins(owner, bookable):
    start = local(bookable.practice, 3, 10)
    clients = ClientFactory.create_batch(THREADS, practice=bookable.practice)

    outcomes = race([booking(bookable, client, start) for client in clients], owner.token)

    assert len(outcomes) == THREADS
    assert tally(outcomes) == one_winner(201)
    live = Appointment.objects.exclude(status=Status.CANCELLED)
    assert live.count() == 1
    assert live.get().start == start
    assert AppointmentEvent.objects.count() == 1  # the losers left no history behind


def test_fifty_bookings_of_overlapping_starts_one_wins(owner, bookable):
    # With 60 minutes and 15 of turnover, each of these overlaps every other one.
    starts = [local(bookable.practice, 3, 10, minute) for minute in (0, 15, 30, 45)]
    clients = ClientFactory.create_batch(THREADS, practice=bookable.practice)

    outcomes = race(
        [booking(bookable, client, starts[i % 4]) for i, client in enumerate(clients)],
        owner.token,
    )

    assert tally(outcomes) == one_winner(201)
    assert Appointment.objects.exclude(status=Status.CANCELLED).count() == 1


def test_fifty_reschedules_onto_one_free_slot_one_wins(owner, bookable):
    target = local(bookable.practice, 3, 10)
    appointments = [
        AppointmentFactory(
            client=bookable.client,
            therapist=bookable.therapist,
            service=bookable.service,
            start=local(bookable.practice, 4 + i, 10),
        )
        for i in range(THREADS)
    ]
    originals = {a.pk: a.start for a in appointments}

    def reschedule(appointment: Appointment) -> Callable[[APIClient], object]:
        url = f"{URL}{appointment.pk}/reschedule/"
        return lambda api: api.post(url, {"start": target.isoformat()})

    outcomes = race([reschedule(a) for a in appointments], owner.token)

    assert tally(outcomes) == one_winner(200)
    at_target = Appointment.objects.filter(start=target)
    assert at_target.count() == 1
    winner = at_target.get()
    assert winner.sequence == 1
    # The losers kept their old times: a failed move frees nothing.
    for appointment in Appointment.objects.exclude(pk=winner.pk):
        assert appointment.start == originals[appointment.pk]
        assert appointment.sequence == 0
    assert Appointment.objects.count() == THREADS


def test_a_booking_and_a_reschedule_racing_for_one_slot_one_wins(owner, bookable):
    target = local(bookable.practice, 3, 10)
    movers = [
        AppointmentFactory(
            client=bookable.client,
            therapist=bookable.therapist,
            service=bookable.service,
            start=local(bookable.practice, 4 + i, 10),
        )
        for i in range(THREADS // 2)
    ]
    clients = ClientFactory.create_batch(THREADS // 2, practice=bookable.practice)
    requests: list[Callable[[APIClient], object]] = []
    for mover, client in zip(movers, clients, strict=True):
        url = f"{URL}{mover.pk}/reschedule/"
        requests.append(lambda api, url=url: api.post(url, {"start": target.isoformat()}))
        requests.append(booking(bookable, client, target))

    outcomes = race(requests, owner.token)

    statuses = Counter(o.status for o in outcomes)
    assert statuses[200] + statuses[201] == 1, tally(outcomes)
    assert statuses[409] == THREADS - 1, tally(outcomes)
    assert {o.code for o in outcomes if o.status == 409} == {"slot_unavailable"}
    assert Appointment.objects.filter(start=target).exclude(status=Status.CANCELLED).count() == 1


# --- the database, not Python, holds the rule ----------------------------------------------


def _row(setup: Bookable, start: datetime, **kwargs) -> Appointment:
    end = start + timedelta(minutes=60)
    return Appointment.objects.create(
        practice=setup.practice,
        client=setup.client,
        therapist=kwargs.pop("therapist", setup.therapist),
        service=setup.service,
        start=start,
        end=end,
        blocked_until=end + timedelta(minutes=15),
        source="staff",
        **kwargs,
    )


def test_the_database_refuses_an_overlapping_live_appointment(bookable):
    start = local(bookable.practice, 3, 10)
    _row(bookable, start)

    with pytest.raises(IntegrityError, match="appointment_no_overlap"), transaction.atomic():
        _row(bookable, start + timedelta(minutes=30))  # written past every check in Python

    assert Appointment.objects.count() == 1


def test_the_database_refuses_moving_a_row_onto_another(bookable):
    first = _row(bookable, local(bookable.practice, 3, 10))
    second = _row(bookable, local(bookable.practice, 3, 14))

    second.start, second.end = first.start, first.end
    second.blocked_until = first.blocked_until
    with pytest.raises(IntegrityError, match="appointment_no_overlap"), transaction.atomic():
        second.save()


def test_the_database_allows_what_does_not_collide(bookable, practice):
    start = local(bookable.practice, 3, 10)
    _row(bookable, start)
    other_therapist = practice.therapists.exclude(pk=bookable.therapist.pk).first()

    _row(bookable, start, status=Status.CANCELLED)  # a cancelled one holds no time
    _row(bookable, start + timedelta(minutes=75))  # starts as the first one's turnover ends
    _row(bookable, start, therapist=other_therapist)  # another therapist's diary

    assert Appointment.objects.count() == 4


def test_cancelling_frees_the_time_for_a_new_row_and_reviving_it_is_refused(bookable):
    start = local(bookable.practice, 3, 10)
    old = _row(bookable, start)
    old.status = Status.CANCELLED
    old.save()
    _row(bookable, start)

    old.status = Status.BOOKED
    with pytest.raises(IntegrityError, match="appointment_no_overlap"), transaction.atomic():
        old.save()
