"""Booking through the API (API.md "Booking"): who may book what, when, and what a refusal leaves.

Every refusal is checked twice: the answer (status, `code`, the field at fault) and the database
(no appointment and no history row written), because a 400 after a half-done write is the bug class
these tests guard.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from clients.domain import ComplaintStatus
from sessions.scheduling.models import Appointment, AppointmentEvent, Status
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    ServiceFactory,
    TherapistFactory,
)
from tests.sessions.booking_setup import Bookable, local

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"


def body(setup: Bookable, when: datetime, **overrides) -> dict:
    data = {
        "service": setup.service.pk,
        "therapist": setup.therapist.pk,
        "client": setup.client.pk,
        "start": when.isoformat(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def written() -> tuple[int, int]:
    return Appointment.objects.count(), AppointmentEvent.objects.count()


def assert_invalid(response, field: str, code: str | None = None) -> None:
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "invalid"
    fields = {error["field"]: error["code"] for error in payload["errors"]}
    assert field in fields, payload
    if code is not None:
        assert fields[field] == code, payload


# --- a booking that succeeds -------------------------------------------------------------------


def test_staff_booking_answers_201_with_the_appointment(owner, bookable):
    start = local(bookable.practice, 3, 10)

    response = owner.api.post(URL, body(bookable, start))

    assert response.status_code == 201, response.content
    payload = response.json()
    assert payload["status"] == "booked"
    assert datetime.fromisoformat(payload["start"]) == start
    assert datetime.fromisoformat(payload["end"]) == start + timedelta(minutes=60)
    assert payload["client"] == bookable.client.pk
    assert payload["therapist"] == bookable.therapist.pk
    assert payload["service"] == bookable.service.pk
    appointment = Appointment.objects.get(pk=payload["id"])
    assert appointment.practice == bookable.practice
    assert appointment.status == Status.BOOKED
    assert appointment.start == start
    assert appointment.blocked_until == start + timedelta(minutes=75)
    assert appointment.booked_by == owner.user


def test_front_desk_can_book_and_list(front_desk, bookable):
    start = local(bookable.practice, 3, 10)

    created = front_desk.api.post(URL, body(bookable, start))
    listed = front_desk.api.get(URL)

    assert created.status_code == 201, created.content
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [created.json()["id"]]


# --- taken slots: 409 slot_unavailable -----------------------------------------------------------


def test_second_booking_of_the_same_slot_is_409(owner, bookable):
    start = local(bookable.practice, 3, 10)
    assert owner.api.post(URL, body(bookable, start)).status_code == 201
    before = written()

    response = owner.api.post(
        URL, body(bookable, start, client=ClientFactory(practice=bookable.practice).pk)
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "slot_unavailable"
    assert written() == before


@pytest.mark.parametrize(
    ("hour", "minute", "free"),
    [
        (10, 45, False),  # inside the 10:00 appointment itself
        (11, 0, False),  # inside its 15 minutes of turnover (10:00-11:15)
        (11, 15, True),  # the first start after it
        (9, 0, False),  # 09:00-10:00 plus its own turnover runs into 10:00
    ],
)
def test_a_start_overlapping_an_appointment_or_its_buffer_is_409(
    owner, bookable, hour, minute, free
):
    assert owner.api.post(URL, body(bookable, local(bookable.practice, 3, 10))).status_code == 201
    before = written()

    response = owner.api.post(URL, body(bookable, local(bookable.practice, 3, hour, minute)))

    if free:
        assert response.status_code == 201, response.content
    else:
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "slot_unavailable"
        assert written() == before


def test_a_booking_whose_own_buffer_reaches_the_next_appointment_is_409(owner, bookable):
    assert owner.api.post(URL, body(bookable, local(bookable.practice, 3, 11))).status_code == 201
    before = written()

    # 10:00-11:00 plus 15 minutes of turnover runs into the 11:00 appointment.
    taken = owner.api.post(URL, body(bookable, local(bookable.practice, 3, 10)))
    # 09:45-10:45 plus turnover ends exactly at 11:00: free.
    free = owner.api.post(URL, body(bookable, local(bookable.practice, 3, 9, 45)))

    assert taken.status_code == 409, taken.content
    assert taken.json()["code"] == "slot_unavailable"
    assert free.status_code == 201, free.content
    assert written() == (before[0] + 1, before[1] + 1)


def test_a_cancelled_appointment_does_not_hold_its_slot(owner, bookable):
    start = local(bookable.practice, 3, 10)
    AppointmentFactory(
        client=bookable.client,
        therapist=bookable.therapist,
        service=bookable.service,
        start=start,
        status=Status.CANCELLED,
    )

    response = owner.api.post(URL, body(bookable, start))

    assert response.status_code == 201, response.content


# --- bad input: 400, nothing written -------------------------------------------------------------


def test_naive_start_is_400(owner, bookable):
    naive = local(bookable.practice, 3, 10).replace(tzinfo=None).isoformat()

    response = owner.api.post(URL, body(bookable, local(bookable.practice, 3, 10), start=naive))

    assert_invalid(response, "start", "naive")
    assert written() == (0, 0)


def test_start_off_the_slot_grid_is_400(owner, bookable):
    response = owner.api.post(URL, body(bookable, local(bookable.practice, 3, 10, 7)))

    assert_invalid(response, "start", "off_grid")
    assert written() == (0, 0)


def test_start_outside_working_hours_is_400(owner, bookable):
    response = owner.api.post(URL, body(bookable, local(bookable.practice, 3, 7)))

    assert_invalid(response, "start", "off_grid")
    assert written() == (0, 0)


def test_start_in_the_past_is_400(owner, bookable):
    response = owner.api.post(URL, body(bookable, local(bookable.practice, -1, 10)))

    assert_invalid(response, "start", "too_soon")
    assert written() == (0, 0)


def test_start_inside_the_minimum_notice_is_400(owner, bookable):
    # A step-aligned instant 30-45 minutes ahead: under the default 120 minutes' notice.
    now = timezone.now()
    soon = now.replace(second=0, microsecond=0) + timedelta(minutes=45 - now.minute % 15)

    response = owner.api.post(URL, body(bookable, soon))

    assert_invalid(response, "start", "too_soon")
    assert written() == (0, 0)


def test_minimum_notice_follows_the_practice_policy(owner, bookable):
    practice = bookable.practice
    practice.min_notice_minutes = 3 * 24 * 60
    practice.save()

    too_soon = owner.api.post(URL, body(bookable, local(practice, 2, 10)))
    fine = owner.api.post(URL, body(bookable, local(practice, 4, 10)))

    assert_invalid(too_soon, "start", "too_soon")
    assert fine.status_code == 201, fine.content


def test_start_beyond_the_booking_horizon_is_400(owner, bookable):
    horizon = bookable.practice.booking_horizon_days

    beyond = owner.api.post(URL, body(bookable, local(bookable.practice, horizon + 1, 10)))

    assert_invalid(beyond, "start", "beyond_horizon")
    assert written() == (0, 0)
    inside = owner.api.post(URL, body(bookable, local(bookable.practice, horizon - 1, 10)))
    assert inside.status_code == 201, inside.content


def test_therapist_who_does_not_offer_the_service_is_400(owner, bookable):
    other_service = ServiceFactory(practice=bookable.practice)

    response = owner.api.post(
        URL, body(bookable, local(bookable.practice, 3, 10), service=other_service.pk)
    )

    assert_invalid(response, "therapist")
    assert written() == (0, 0)


@pytest.mark.parametrize("field", ["service", "therapist", "client"])
def test_another_practices_ids_are_400_does_not_exist(owner, bookable, other_practice, field):
    foreign = {
        "service": lambda: ServiceFactory(practice=other_practice).pk,
        "therapist": lambda: TherapistFactory(practice=other_practice).pk,
        "client": lambda: ClientFactory(practice=other_practice).pk,
    }[field]()

    response = owner.api.post(
        URL, body(bookable, local(bookable.practice, 3, 10), **{field: foreign})
    )

    assert_invalid(response, field, "does_not_exist")
    assert written() == (0, 0)


@pytest.mark.parametrize("field", ["service", "therapist", "client"])
def test_unknown_ids_are_400(owner, bookable, field):
    response = owner.api.post(
        URL, body(bookable, local(bookable.practice, 3, 10), **{field: 987654321})
    )

    assert_invalid(response, field, "does_not_exist")
    assert written() == (0, 0)


def test_staff_must_name_the_client(owner, bookable):
    data = body(bookable, local(bookable.practice, 3, 10))
    del data["client"]

    response = owner.api.post(URL, data)

    assert_invalid(response, "client", "required")
    assert written() == (0, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "completed"), ("practice", 1), ("late_cancellation", True), ("end", "x")],
)
def test_unknown_or_server_owned_fields_are_400(owner, bookable, field, value):
    response = owner.api.post(
        URL, body(bookable, local(bookable.practice, 3, 10), **{field: value})
    )

    assert_invalid(response, field, "unknown_field")
    assert written() == (0, 0)


def test_inactive_service_is_400(owner, bookable):
    bookable.service.active = False
    bookable.service.save()

    response = owner.api.post(URL, body(bookable, local(bookable.practice, 3, 10)))

    assert response.status_code == 400, response.content
    assert written() == (0, 0)


# --- a client booking for themselves -------------------------------------------------------------


def test_a_client_books_for_themselves(client_member, bookable):
    own = client_member.user.client
    data = body(bookable, local(bookable.practice, 3, 10))
    del data["client"]

    response = client_member.api.post(URL, data)

    assert response.status_code == 201, response.content
    assert response.json()["client"] == own.pk
    appointment = Appointment.objects.get()
    assert appointment.client == own
    assert appointment.source == "client"


def test_a_client_naming_another_clients_id_is_400(client_member, bookable):
    response = client_member.api.post(URL, body(bookable, local(bookable.practice, 3, 10)))

    assert_invalid(response, "client", "does_not_exist")
    assert written() == (0, 0)


def test_a_client_with_a_referral_required_complaint_cannot_book(client_member, bookable):
    ComplaintFactory(client=client_member.user.client, status=ComplaintStatus.REFERRAL_REQUIRED)
    data = body(bookable, local(bookable.practice, 3, 10))
    del data["client"]

    response = client_member.api.post(URL, data)

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "precondition_failed"
    assert written() == (0, 0)


def test_staff_may_book_a_client_whose_complaint_needs_referral(owner, bookable):
    # The referral rule stops online self-booking only; the practice itself may still book.
    ComplaintFactory(client=bookable.client, status=ComplaintStatus.REFERRAL_REQUIRED)

    response = owner.api.post(URL, body(bookable, local(bookable.practice, 3, 10)))

    assert response.status_code == 201, response.content


def test_a_client_cannot_book_a_service_that_is_not_online_bookable(client_member, bookable):
    bookable.service.online_bookable = False
    bookable.service.save()
    data = body(bookable, local(bookable.practice, 3, 10))
    del data["client"]

    response = client_member.api.post(URL, data)

    assert response.status_code == 400, response.content
    assert written() == (0, 0)


# --- the list: cursor pages, filters, scope ---------------------------------------------------


def _appointments(setup: Bookable, count: int, **kwargs) -> list[Appointment]:
    first = local(setup.practice, 3, 10)
    return [
        AppointmentFactory(
            client=kwargs.get("client", setup.client),
            therapist=kwargs.get("therapist", setup.therapist),
            service=setup.service,
            start=first + timedelta(hours=2 * i),
            status=kwargs.get("status", Status.BOOKED),
        )
        for i in range(count)
    ]


def test_list_is_cursor_paginated(owner, bookable):
    made = _appointments(bookable, 5)

    first = owner.api.get(URL, {"page_size": 2})
    payload = first.json()

    assert first.status_code == 200
    assert set(payload) == {"next", "previous", "results"}
    assert payload["previous"] is None
    assert "cursor=" in payload["next"]
    seen = [row["id"] for row in payload["results"]]
    url = payload["next"]
    while url:
        page = owner.api.get(url).json()
        assert page["previous"] is not None
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == [a.pk for a in made]  # by start, each once


@pytest.mark.parametrize(("page_size", "status"), [(100, 200), (101, 400), (0, 400)])
def test_list_page_size_is_1_to_100(owner, bookable, page_size, status):
    _appointments(bookable, 3)

    response = owner.api.get(URL, {"page_size": page_size})

    assert response.status_code == status, response.content
    if status == 200:
        assert len(response.json()["results"]) == 3


def test_list_filters(owner, bookable, practice):
    other_client = ClientFactory(practice=practice)
    other_therapist = TherapistFactory(practice=practice)
    mine = _appointments(bookable, 3)
    theirs = _appointments(bookable, 1, client=other_client, status=Status.CANCELLED)[0]
    theirs.start = mine[-1].start + timedelta(days=1)
    theirs.end = theirs.start + timedelta(hours=1)
    theirs.blocked_until = theirs.end
    theirs.save()
    elsewhere = AppointmentFactory(
        client=other_client,
        therapist=other_therapist,
        service=bookable.service,
        start=mine[0].start,
    )

    def ids(**query) -> list[int]:
        response = owner.api.get(URL, query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(client=other_client.pk) == [elsewhere.pk, theirs.pk]
    assert ids(therapist=other_therapist.pk) == [elsewhere.pk]
    assert ids(status="cancelled") == [theirs.pk]
    assert ids(start_after=mine[1].start.isoformat()) == [mine[1].pk, mine[2].pk, theirs.pk]
    assert ids(start_before=mine[1].start.isoformat()) == [mine[0].pk, elsewhere.pk]
    assert ids(
        start_after=mine[0].start.isoformat(),
        start_before=mine[2].start.isoformat(),
        therapist=bookable.therapist.pk,
    ) == [mine[0].pk, mine[1].pk]


def test_a_client_lists_only_their_own(client_member, bookable):
    own = _appointments(bookable, 2, client=client_member.user.client)
    stranger = AppointmentFactory(
        client=bookable.client,
        therapist=bookable.therapist,
        service=bookable.service,
        start=own[-1].start + timedelta(days=1),
    )

    listed = client_member.api.get(URL)
    detail = client_member.api.get(f"{URL}{stranger.pk}/")
    filtered = client_member.api.get(URL, {"client": bookable.client.pk})

    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [a.pk for a in own]
    assert detail.status_code == 404
    assert filtered.json()["results"] == []


def test_another_practice_sees_none_of_the_appointments(other_owner, bookable):
    appointment = _appointments(bookable, 1)[0]

    assert other_owner.api.get(URL).json()["results"] == []
    assert other_owner.api.get(f"{URL}{appointment.pk}/").status_code == 404


def test_list_query_count_does_not_grow_with_page_size(
    owner, bookable, django_assert_max_num_queries
):
    client_a, client_b = bookable.client, ClientFactory(practice=bookable.practice)
    first = local(bookable.practice, 3, 10)
    for i in range(101):
        AppointmentFactory(
            client=client_a if i % 2 else client_b,
            therapist=bookable.therapist,
            service=bookable.service,
            start=first + timedelta(hours=2 * i),
        ).events.create(action="created", actor=owner.user, actor_kind="staff")
    owner.api.get(URL)  # warm per-process caches

    counts = {}
    for page_size in (1, 10, 100):
        # Token lookup, the page and its prefetched history: a per-row query would blow this.
        with django_assert_max_num_queries(6) as captured:
            response = owner.api.get(URL, {"page_size": page_size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size
        assert all(row["history"] for row in response.json()["results"])
        counts[page_size] = len(captured.captured_queries)

    assert len(set(counts.values())) == 1, counts
