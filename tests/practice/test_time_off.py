"""A therapist's time off (API.md "Time off": `time-off/` therapist, start, end, reason)."""

from __future__ import annotations

import datetime as dt

import pytest

from practice.models import TimeOff
from tests.factories import TimeOffFactory

TIME_OFF = "/api/v1/time-off/"
UTC = dt.UTC


def body_for(member, **overrides) -> dict:
    return {
        "therapist": member.user.therapist.pk,
        "start": "2030-07-01T09:00:00+01:00",
        "end": "2030-07-05T17:00:00+01:00",
        "reason": "Course",
        **overrides,
    }


def time_off_of(member, **fields) -> TimeOff:
    therapist = member.user.therapist
    return TimeOffFactory(therapist=therapist, practice=therapist.practice, **fields)


def test_owner_records_time_off_stored_in_utc(owner, therapist):
    response = owner.api.post(TIME_OFF, body_for(therapist))

    assert response.status_code == 201
    row = TimeOff.objects.get(pk=response.json()["id"])
    assert row.therapist == therapist.user.therapist
    assert row.practice == therapist.user.therapist.practice
    assert row.start == dt.datetime(2030, 7, 1, 8, tzinfo=UTC)
    assert row.end == dt.datetime(2030, 7, 5, 16, tzinfo=UTC)
    assert row.reason == "Course"
    returned = dt.datetime.fromisoformat(response.json()["start"])
    assert returned.utcoffset() is not None
    assert returned == row.start


def test_staff_list_the_practices_time_off(members, other_owner):
    mine = time_off_of(members["therapist"])
    time_off_of(other_owner)

    for role in ("owner", "therapist", "front_desk"):
        response = members[role].api.get(TIME_OFF)
        assert response.status_code == 200
        assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_time_off_is_filtered_by_therapist(owner, therapist):
    theirs = time_off_of(therapist)
    time_off_of(owner)

    response = owner.api.get(TIME_OFF, {"therapist": therapist.user.therapist.pk})

    assert [row["id"] for row in response.json()["results"]] == [theirs.pk]


def test_time_off_is_filtered_by_start(owner, therapist):
    early = time_off_of(therapist, start=dt.datetime(2030, 1, 10, 9, tzinfo=UTC))
    late = time_off_of(therapist, start=dt.datetime(2030, 3, 10, 9, tzinfo=UTC))

    after = owner.api.get(TIME_OFF, {"start__gte": "2030-02-01T00:00:00Z"})
    before = owner.api.get(TIME_OFF, {"start__lte": "2030-02-01T00:00:00Z"})

    assert [row["id"] for row in after.json()["results"]] == [late.pk]
    assert [row["id"] for row in before.json()["results"]] == [early.pk]


def test_time_off_is_listed_in_start_order(owner, therapist):
    late = time_off_of(therapist, start=dt.datetime(2030, 3, 10, 9, tzinfo=UTC))
    early = time_off_of(therapist, start=dt.datetime(2030, 1, 10, 9, tzinfo=UTC))

    response = owner.api.get(TIME_OFF)

    assert [row["id"] for row in response.json()["results"]] == [early.pk, late.pk]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end": "2030-06-30T09:00:00+01:00"}, "end"),
        ({"end": "2030-07-01T09:00:00+01:00"}, "end"),  # zero length
        ({"start": "2030-07-01T09:00:00"}, "start"),  # naive
        ({"end": "2030-07-05T17:00:00"}, "end"),  # naive
        ({"start": "next monday"}, "start"),
        ({"therapist": 999999}, "therapist"),
        ({"practice": 1}, "practice"),
    ],
)
def test_invalid_time_off_is_400_and_creates_nothing(owner, therapist, overrides, field):
    response = owner.api.post(TIME_OFF, body_for(therapist, **overrides))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert not TimeOff.objects.exists()


def test_moving_the_end_before_the_start_is_400(owner, therapist):
    row = time_off_of(therapist)

    response = owner.api.patch(
        f"{TIME_OFF}{row.pk}/", {"end": (row.start - dt.timedelta(hours=1)).isoformat()}
    )

    assert response.status_code == 400
    assert TimeOff.objects.get(pk=row.pk).end == row.end


def test_another_practices_therapist_does_not_exist_in_a_body(owner, other_owner):
    response = owner.api.post(TIME_OFF, body_for(other_owner))

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["therapist"]
    assert not TimeOff.objects.exists()


def test_a_therapist_records_their_own_time_off(therapist):
    response = therapist.api.post(TIME_OFF, body_for(therapist))

    assert response.status_code == 201
    assert TimeOff.objects.get().therapist == therapist.user.therapist


def test_a_therapist_may_not_record_time_off_for_someone_else(owner, therapist):
    response = therapist.api.post(TIME_OFF, body_for(owner))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not TimeOff.objects.exists()


def test_a_therapist_may_not_change_or_delete_someone_elses_time_off(owner, therapist):
    row = time_off_of(owner)

    changed = therapist.api.patch(f"{TIME_OFF}{row.pk}/", {"reason": "Mine now"})
    deleted = therapist.api.delete(f"{TIME_OFF}{row.pk}/")

    assert changed.status_code == deleted.status_code == 403
    row.refresh_from_db()
    assert row.reason == "Course"


def test_a_therapist_may_not_hand_their_time_off_to_someone_else(owner, therapist):
    row = time_off_of(therapist)

    response = therapist.api.patch(f"{TIME_OFF}{row.pk}/", {"therapist": owner.user.therapist.pk})

    assert response.status_code == 403
    row.refresh_from_db()
    assert row.therapist == therapist.user.therapist


def test_a_therapist_changes_and_deletes_their_own_time_off(therapist):
    row = time_off_of(therapist)

    changed = therapist.api.patch(f"{TIME_OFF}{row.pk}/", {"reason": "Conference"})
    assert changed.status_code == 200
    assert TimeOff.objects.get(pk=row.pk).reason == "Conference"

    deleted = therapist.api.delete(f"{TIME_OFF}{row.pk}/")
    assert deleted.status_code == 204
    assert not TimeOff.objects.filter(pk=row.pk).exists()


def test_front_desk_records_time_off_for_any_therapist(front_desk, owner):
    response = front_desk.api.post(TIME_OFF, body_for(owner))

    assert response.status_code == 201
    assert TimeOff.objects.get().therapist == owner.user.therapist


def test_a_client_has_no_access_to_time_off(client_member, therapist):
    row = time_off_of(therapist)

    listing = client_member.api.get(TIME_OFF)
    created = client_member.api.post(TIME_OFF, body_for(therapist))

    assert listing.status_code == created.status_code == 403
    assert list(TimeOff.objects.values_list("pk", flat=True)) == [row.pk]


def test_another_practices_time_off_is_404(owner, other_owner):
    row = time_off_of(other_owner)

    assert owner.api.get(f"{TIME_OFF}{row.pk}/").status_code == 404
    assert owner.api.patch(f"{TIME_OFF}{row.pk}/", {"reason": "x"}).status_code == 404
    assert owner.api.delete(f"{TIME_OFF}{row.pk}/").status_code == 404
    row.refresh_from_db()
    assert row.reason == "Course"


@pytest.mark.parametrize("value", ["2026-03-01T10:00:00-23:00", "2026-03-01T10:00:00+19:15"])
def test_time_off_filters_take_any_iso_offset(owner, value):
    # Issue 13.11: `?start__gte=` with a -23:00 offset was a 500 on PostgreSQL (offsets beyond
    # 15:59); every time filter now goes through practice.filters.IsoDateTimeFilter.
    response = owner.api.get("/api/v1/time-off/", {"start__gte": value})

    assert response.status_code == 200
    assert response.json()["results"] == []
