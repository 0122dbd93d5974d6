"""Rooms (issue 20.1): a service that needs a room is offered and booked only with a free suitable
room, turnover buffer included; the booking holds the room, a reschedule keeps or reassigns it;
practices without rooms book exactly as before. The owner manages `rooms/`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from practice.models import Practice, Room, Service, Therapist
from sessions.scheduling.models import Appointment, Status
from tests.factories import ClientFactory, RoomFactory, ServiceFactory, TherapistFactory
from tests.sessions.test_availability_api import at, get, local_day, slots, work

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"
ROOMS = "/api/v1/rooms/"


@dataclass
class Clinic:
    practice: Practice
    first: Therapist
    second: Therapist
    service: Service
    room: Room


@pytest.fixture
def clinic(practice, therapist) -> Clinic:
    """Two therapists working 09:00-12:00 and 13:00-17:00, one room, a 60-minute service (+15
    turnover) that needs a room."""
    first = therapist.user.therapist
    second = TherapistFactory(practice=practice)
    service = ServiceFactory(practice=practice, duration_minutes=60, buffer_minutes=15)
    service.needs_room = True
    service.save()
    for someone in (first, second):
        someone.services.add(service)
        work(someone)
    return Clinic(practice, first, second, service, RoomFactory(practice=practice, name="Blue"))


def book(api, clinic: Clinic, therapist: Therapist, start, client=None):
    client = client or ClientFactory(practice=clinic.practice)
    return api.post(
        APPOINTMENTS,
        {
            "service": clinic.service.pk,
            "therapist": therapist.pk,
            "client": client.pk,
            "start": start.isoformat(),
        },
    )


def starts_of(response, therapist: Therapist) -> set[str]:
    return {s["start"] for s in slots(response) if s["therapist"] == therapist.pk}


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- availability and booking -------------------------------------------------------------------


def test_a_booking_takes_the_room_and_its_turnover_from_every_therapist(owner, clinic):
    day = local_day(clinic.practice, 3)
    booked = book(owner.api, clinic, clinic.first, at(clinic.practice, day, 10))
    assert booked.status_code == 201, booked.content
    assert booked.json()["room"] == clinic.room.pk

    offered = starts_of(get(owner.api, clinic.service, day), clinic.second)

    # The room is in use 10:00-11:15 (60 minutes and 15 of turnover), and a session at 09:00
    # would need it until 10:15 for its own turnover.
    for blocked in ((9, 0), (9, 30), (10, 0), (10, 45), (11, 0)):
        assert iso(at(clinic.practice, day, *blocked)) not in offered
    assert iso(at(clinic.practice, day, 13)) in offered
    # The next day, nothing of this.
    assert iso(at(clinic.practice, day + timedelta(days=1), 9)) in starts_of(
        get(owner.api, clinic.service, day + timedelta(days=1)), clinic.second
    )


def test_with_the_only_room_taken_the_other_therapist_is_refused_and_nothing_is_written(
    owner, clinic
):
    start = at(clinic.practice, local_day(clinic.practice, 3), 14)
    assert book(owner.api, clinic, clinic.first, start).status_code == 201

    refused = book(owner.api, clinic, clinic.second, start)

    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_unavailable"
    assert Appointment.objects.filter(therapist=clinic.second).count() == 0


def test_a_second_room_lets_both_therapists_work_at_once(owner, clinic):
    green = RoomFactory(practice=clinic.practice, name="Green")
    start = at(clinic.practice, local_day(clinic.practice, 3), 14)

    one = book(owner.api, clinic, clinic.first, start)
    two = book(owner.api, clinic, clinic.second, start)

    assert (one.status_code, two.status_code) == (201, 201)
    assert {one.json()["room"], two.json()["room"]} == {clinic.room.pk, green.pk}


def test_room_tags_and_named_rooms_choose_the_suitable_rooms(owner, clinic):
    stones = RoomFactory(practice=clinic.practice, name="Stones", equipment=["hot_stones"])
    response = owner.api.patch(
        f"/api/v1/services/{clinic.service.pk}/", {"room_tags": ["hot_stones"]}, format="json"
    )
    assert response.status_code == 200, response.content
    start = at(clinic.practice, local_day(clinic.practice, 3), 14)

    assert book(owner.api, clinic, clinic.first, start).json()["room"] == stones.pk
    # Only the stones room suits: the Blue room being free does not help the second therapist.
    assert book(owner.api, clinic, clinic.second, start).status_code == 409

    owner.api.patch(
        f"/api/v1/services/{clinic.service.pk}/",
        {"room_tags": [], "rooms": [clinic.room.pk]},
        format="json",
    )
    assert book(owner.api, clinic, clinic.second, start).json()["room"] == clinic.room.pk


def test_a_service_needing_a_room_in_a_practice_without_one_offers_nothing(owner, clinic):
    Room.objects.all().delete()

    assert slots(get(owner.api, clinic.service, local_day(clinic.practice, 3))) == []


def test_a_practice_without_rooms_books_as_before(owner, bookable):
    start = at(bookable.practice, local_day(bookable.practice, 3), 10)
    response = owner.api.post(
        APPOINTMENTS,
        {
            "service": bookable.service.pk,
            "therapist": bookable.therapist.pk,
            "client": bookable.client.pk,
            "start": start.isoformat(),
        },
    )

    assert response.status_code == 201
    assert response.json()["room"] is None


def test_a_retired_room_is_no_longer_offered_but_its_bookings_keep_it(owner, clinic):
    day = local_day(clinic.practice, 3)
    kept = book(owner.api, clinic, clinic.first, at(clinic.practice, day, 10)).json()

    assert owner.api.delete(f"{ROOMS}{clinic.room.pk}/").status_code == 204

    assert slots(get(owner.api, clinic.service, day)) == []
    assert Appointment.objects.get(pk=kept["id"]).room_id == clinic.room.pk
    assert owner.api.get(f"{ROOMS}{clinic.room.pk}/").json()["active"] is False


# --- reschedule ---------------------------------------------------------------------------------


def reschedule(api, appointment_id: int, start, therapist: Therapist | None = None):
    body = {"start": start.isoformat()}
    if therapist is not None:
        body["therapist"] = therapist.pk
    return api.post(f"{APPOINTMENTS}{appointment_id}/reschedule/", body)


def test_a_reschedule_keeps_its_room_when_it_is_free(owner, clinic):
    RoomFactory(practice=clinic.practice, name="A first-choice room")  # would be picked first
    day = local_day(clinic.practice, 3)
    moved = book(owner.api, clinic, clinic.first, at(clinic.practice, day, 10)).json()
    Appointment.objects.filter(pk=moved["id"]).update(room=clinic.room)

    # Moving within its own turnover: its old time does not block itself.
    response = reschedule(owner.api, moved["id"], at(clinic.practice, day, 10, 30))

    assert response.status_code == 200, response.content
    assert Appointment.objects.get(pk=moved["id"]).room_id == clinic.room.pk


def test_a_reschedule_takes_another_room_when_its_own_is_taken(owner, clinic):
    green = RoomFactory(practice=clinic.practice, name="Green")
    day = local_day(clinic.practice, 3)
    moved = book(owner.api, clinic, clinic.first, at(clinic.practice, day, 10)).json()
    assert moved["room"] == clinic.room.pk
    other = book(owner.api, clinic, clinic.second, at(clinic.practice, day, 14)).json()
    assert other["room"] == clinic.room.pk

    response = reschedule(owner.api, moved["id"], at(clinic.practice, day, 14))

    assert response.status_code == 200, response.content
    assert Appointment.objects.get(pk=moved["id"]).room_id == green.pk
    assert response.json()["history"][-1]["changes"]["room"] == [clinic.room.pk, green.pk]


def test_a_reschedule_with_no_room_free_is_refused_and_keeps_the_old_time(owner, clinic):
    day = local_day(clinic.practice, 3)
    moved = book(owner.api, clinic, clinic.first, at(clinic.practice, day, 10)).json()
    book(owner.api, clinic, clinic.second, at(clinic.practice, day, 14))

    response = reschedule(owner.api, moved["id"], at(clinic.practice, day, 14))

    assert response.status_code == 409
    row = Appointment.objects.get(pk=moved["id"])
    assert (row.start, row.room_id, row.status) == (
        at(clinic.practice, day, 10),
        clinic.room.pk,
        Status.BOOKED,
    )


# --- rooms/ and the service's room fields ------------------------------------------------------


def test_the_owner_sets_up_rooms_with_equipment_tags(owner):
    created = owner.api.post(
        ROOMS, {"name": "Garden", "equipment": ["table", "hot_stones", "table"]}, format="json"
    )

    assert created.status_code == 201, created.content
    assert created.json()["equipment"] == ["hot_stones", "table"]
    assert owner.api.get(ROOMS).json()["results"][0]["name"] == "Garden"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Garden", "equipment": ["Hot Stones"]},
        {"name": "Garden", "equipment": "table"},
        {"name": "Garden", "equipment": [f"t{i}" for i in range(21)]},
        {"name": ""},
        {"name": "Garden", "capacity": 2},
        # Found by the schema fuzzer: DRF read 0 as false and a tag 0 as "0".
        {"name": "Garden", "active": 0},
        {"name": "Garden", "active": "false"},
        {"name": "Garden", "equipment": [0]},
    ],
)
def test_bad_room_bodies_are_a_400_and_write_nothing(owner, body):
    response = owner.api.post(ROOMS, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Room.objects.exists()


def test_a_room_name_is_unique_in_the_practice(owner, practice):
    RoomFactory(practice=practice, name="Garden")

    response = owner.api.post(ROOMS, {"name": "Garden"}, format="json")

    assert response.status_code == 400
    assert Room.objects.count() == 1


def test_therapists_read_rooms_but_only_the_owner_writes_them(therapist, practice):
    RoomFactory(practice=practice)

    assert therapist.api.get(ROOMS).status_code == 200
    assert therapist.api.post(ROOMS, {"name": "Mine"}, format="json").status_code == 403


def test_a_service_may_not_name_another_practices_room(owner, other_practice, clinic):
    theirs = RoomFactory(practice=other_practice)

    response = owner.api.patch(
        f"/api/v1/services/{clinic.service.pk}/", {"rooms": [theirs.pk]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("rooms")
    assert not clinic.service.rooms.exists()


def test_naming_rooms_makes_a_new_service_need_one(owner, practice):
    room = RoomFactory(practice=practice)

    response = owner.api.post(
        "/api/v1/services/",
        {"name": "Hot stones", "duration_minutes": 60, "rooms": [room.pk], "pressure_level": 4},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["needs_room"] is True
    assert Service.objects.get(name="Hot stones").rooms.get() == room


def test_another_practice_cannot_see_or_retire_a_room(other_owner, clinic):
    assert other_owner.api.get(f"{ROOMS}{clinic.room.pk}/").status_code == 404
    assert other_owner.api.delete(f"{ROOMS}{clinic.room.pk}/").status_code == 404
    assert Room.objects.get(pk=clinic.room.pk).active


def test_availability_with_rooms_costs_one_query_more(owner, clinic, django_assert_max_num_queries):
    for offset in range(1, 14, 2):
        day = local_day(clinic.practice, offset)
        book(owner.api, clinic, clinic.first, at(clinic.practice, day, 10))
    first = local_day(clinic.practice, 1)

    # auth 1 + service 1 + hours/overrides 1 + time off 1 + rooms 1 + appointments 1
    with django_assert_max_num_queries(6):
        response = get(owner.api, clinic.service, first, first + timedelta(days=13))

    assert slots(response)
