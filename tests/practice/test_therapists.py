"""Therapists and their weekly working hours (API.md `therapists/`, "Working hours")."""

from __future__ import annotations

import datetime as dt

import pytest

from practice.models import WorkingHours

WEEK = [
    {"weekday": 0, "start": "09:00", "end": "12:30"},
    {"weekday": 0, "start": "13:30", "end": "18:00"},
    {"weekday": 2, "start": "07:15", "end": "11:00"},
    {"weekday": 6, "start": "10:00", "end": "14:00"},
]


def hours_url(member) -> str:
    return f"/api/v1/therapists/{member.user.therapist.pk}/working-hours/"


def stored(member) -> list[tuple[int, dt.time, dt.time]]:
    return list(
        WorkingHours.objects.filter(therapist=member.user.therapist).values_list(
            "weekday", "start", "end"
        )
    )


@pytest.fixture
def monday_hours(therapist) -> list[tuple[int, dt.time, dt.time]]:
    WorkingHours.objects.create(
        practice_id=therapist.user.therapist.practice_id,
        therapist=therapist.user.therapist,
        weekday=0,
        start=dt.time(9),
        end=dt.time(17),
    )
    return stored(therapist)


def test_working_hours_round_trip_in_local_time(owner, therapist):
    response = owner.api.put(hours_url(therapist), WEEK)

    assert response.status_code == 200
    assert response.json() == WEEK
    assert owner.api.get(hours_url(therapist)).json() == WEEK
    # Stored as the practice's wall-clock times (Europe/London), not shifted to UTC.
    assert stored(therapist) == [
        (0, dt.time(9), dt.time(12, 30)),
        (0, dt.time(13, 30), dt.time(18)),
        (2, dt.time(7, 15), dt.time(11)),
        (6, dt.time(10), dt.time(14)),
    ]


def test_hours_come_back_ordered_by_day_and_start(owner, therapist):
    owner.api.put(hours_url(therapist), list(reversed(WEEK)))

    assert owner.api.get(hours_url(therapist)).json() == WEEK


def test_put_replaces_the_whole_week(owner, therapist, monday_hours):
    response = owner.api.put(
        hours_url(therapist), [{"weekday": 4, "start": "08:00", "end": "12:00"}]
    )

    assert response.status_code == 200
    assert stored(therapist) == [(4, dt.time(8), dt.time(12))]


def test_an_empty_list_clears_the_week(owner, therapist, monday_hours):
    response = owner.api.put(hours_url(therapist), [])

    assert response.status_code == 200
    assert response.json() == []
    assert stored(therapist) == []


def test_intervals_that_touch_are_allowed(owner, therapist):
    week = [
        {"weekday": 1, "start": "09:00", "end": "12:00"},
        {"weekday": 1, "start": "12:00", "end": "15:00"},
    ]

    response = owner.api.put(hours_url(therapist), week)

    assert response.status_code == 200
    assert len(stored(therapist)) == 2


@pytest.mark.parametrize(
    "week",
    [
        [
            {"weekday": 0, "start": "09:00", "end": "13:00"},
            {"weekday": 0, "start": "12:00", "end": "17:00"},
        ],
        [
            {"weekday": 3, "start": "08:00", "end": "18:00"},
            {"weekday": 3, "start": "10:00", "end": "11:00"},
        ],
        [
            {"weekday": 5, "start": "09:00", "end": "10:00"},
            {"weekday": 5, "start": "09:00", "end": "10:00"},
        ],
    ],
    ids=["overlapping", "contained", "duplicate"],
)
def test_overlapping_intervals_on_a_day_are_400_and_change_nothing(
    owner, therapist, monday_hours, week
):
    response = owner.api.put(hours_url(therapist), week)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]
    assert stored(therapist) == monday_hours


@pytest.mark.parametrize(
    ("interval", "field"),
    [
        ({"weekday": 0, "start": "17:00", "end": "09:00"}, "end"),
        ({"weekday": 0, "start": "09:00", "end": "09:00"}, "end"),
        ({"weekday": 7, "start": "09:00", "end": "17:00"}, "weekday"),
        ({"weekday": -1, "start": "09:00", "end": "17:00"}, "weekday"),
        ({"weekday": "monday", "start": "09:00", "end": "17:00"}, "weekday"),
        ({"weekday": 0, "start": "9am", "end": "17:00"}, "start"),
        ({"weekday": 0, "start": "25:00", "end": "26:00"}, "start"),
        ({"weekday": 0, "start": "09:00"}, "end"),
        ({"weekday": 0, "start": "09:00", "end": "17:00", "therapist": 1}, "therapist"),
    ],
)
def test_an_invalid_interval_is_400_and_changes_nothing(
    owner, therapist, monday_hours, interval, field
):
    week = [{"weekday": 1, "start": "09:00", "end": "17:00"}, interval]

    response = owner.api.put(hours_url(therapist), week)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert f"1.{field}" in [error["field"] for error in response.json()["errors"]]
    assert stored(therapist) == monday_hours


def test_a_body_that_is_not_a_list_is_400(owner, therapist, monday_hours):
    response = owner.api.put(hours_url(therapist), {"weekday": 0, "start": "09:00", "end": "17:00"})

    assert response.status_code == 400
    assert stored(therapist) == monday_hours


def test_a_therapist_sets_their_own_hours(therapist):
    response = therapist.api.put(hours_url(therapist), WEEK)

    assert response.status_code == 200
    assert len(stored(therapist)) == len(WEEK)


def test_a_therapist_may_not_set_another_therapists_hours(owner, therapist):
    before = stored(owner)

    response = therapist.api.put(hours_url(owner), WEEK)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert stored(owner) == before


def test_front_desk_reads_hours_but_may_not_set_them(front_desk, therapist, monday_hours):
    assert front_desk.api.get(hours_url(therapist)).status_code == 200

    response = front_desk.api.put(hours_url(therapist), WEEK)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert stored(therapist) == monday_hours


def test_a_client_reads_hours_but_may_not_set_them(client_member, therapist, monday_hours):
    assert client_member.api.get(hours_url(therapist)).json() == [
        {"weekday": 0, "start": "09:00", "end": "17:00"}
    ]

    response = client_member.api.put(hours_url(therapist), WEEK)

    assert response.status_code == 403
    assert stored(therapist) == monday_hours


def test_another_practices_therapist_is_404(owner, other_owner):
    before = stored(other_owner)

    assert owner.api.get(hours_url(other_owner)).status_code == 404
    response = owner.api.put(hours_url(other_owner), WEEK)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert stored(other_owner) == before


def test_every_member_lists_the_practices_therapists(members, other_owner):
    expected = {
        members["owner"].user.therapist.pk,
        members["therapist"].user.therapist.pk,
    }
    for member in members.values():
        response = member.api.get("/api/v1/therapists/")
        assert response.status_code == 200
        assert {row["id"] for row in response.json()["results"]} == expected


def test_a_client_does_not_see_therapists_email(client_member, therapist):
    response = client_member.api.get(f"/api/v1/therapists/{therapist.user.therapist.pk}/")

    assert response.status_code == 200
    assert "email" not in response.json()
    assert response.json()["first_name"] == "Therapist"


def test_put_on_a_therapist_is_405_and_not_advertised(owner, therapist):
    # The schema documented a PUT that always answered 405 (schema fuzzer): only PATCH exists.
    url = f"/api/v1/therapists/{therapist.user.therapist.pk}/"

    response = owner.api.put(url, {"bio": "x"}, format="json")

    assert response.status_code == 405
    assert "PUT" not in response["Allow"]
    assert owner.api.patch(url, {"bio": "x"}, format="json").status_code == 200


def test_working_hours_accept_and_answer_hours_and_minutes_only(owner, therapist):
    # Documented as `HH:MM` (it was `format: time`, which requires seconds); seconds are a 400.
    url = hours_url(therapist)

    assert owner.api.put(url, WEEK, format="json").status_code == 200
    with_seconds = [{"weekday": 0, "start": "09:00:00", "end": "17:00"}]
    assert owner.api.put(url, with_seconds, format="json").status_code == 400
    assert owner.api.get(url).json()[0]["start"] == "09:00"
