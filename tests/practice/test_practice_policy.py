"""The caller's practice and its policies (API.md `practice/`, "Practice policy")."""

from __future__ import annotations

import pytest

from practice.models import Practice

PRACTICE = "/api/v1/practice/"

DEFAULTS = {
    "booking_horizon_days": 90,
    "min_notice_minutes": 120,
    "slot_step_minutes": 15,
    "cancellation_window_hours": 24,
    "reminder_hours_before": 24,
    "follow_up_hours_after": 48,
    "rebook_nudge_days": 28,
    "odi_licensed": False,
    "online_booking": True,
    "late_cancel_fee_percent": 50,
    "no_show_fee_percent": 100,
}


def policy(practice: Practice) -> dict:
    practice = Practice.objects.get(pk=practice.pk)
    return {name: getattr(practice, name) for name in ("name", "timezone", "slug", *DEFAULTS)}


@pytest.mark.parametrize("role", ["owner", "therapist", "front_desk", "client"])
def test_every_member_reads_their_practice(members, practice, role):
    response = members[role].api.get(PRACTICE)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == practice.pk
    assert body["slug"] == "north"
    assert body["name"] == "North Back Clinic"
    assert body["timezone"] == "Europe/London"


def test_a_new_practice_has_the_documented_defaults(owner):
    body = owner.api.get(PRACTICE).json()

    assert {name: body[name] for name in DEFAULTS} == DEFAULTS


def test_each_member_sees_only_their_own_practice(owner, other_owner):
    assert owner.api.get(PRACTICE).json()["slug"] == "north"
    assert other_owner.api.get(PRACTICE).json()["slug"] == "south"


def test_owner_changes_policies(owner, practice):
    changes = {
        "name": "North Back & Spine",
        "timezone": "Europe/Dublin",
        "booking_horizon_days": 365,
        "min_notice_minutes": 0,
        "slot_step_minutes": 30,
        "cancellation_window_hours": 48,
        "reminder_hours_before": 2,
        "follow_up_hours_after": 72,
        "rebook_nudge_days": 14,
        "odi_licensed": True,
        "online_booking": False,
        "late_cancel_fee_percent": 100,
        "no_show_fee_percent": 0,
    }

    response = owner.api.patch(PRACTICE, changes)

    assert response.status_code == 200
    assert {name: response.json()[name] for name in changes} == changes
    assert {name: value for name, value in policy(practice).items() if name in changes} == changes


def test_a_partial_change_leaves_the_rest_alone(owner, practice):
    before = policy(practice)

    response = owner.api.patch(PRACTICE, {"min_notice_minutes": 60})

    assert response.status_code == 200
    assert policy(practice) == {**before, "min_notice_minutes": 60}


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_the_owner_changes_policies(members, practice, role):
    before = policy(practice)

    response = members[role].api.patch(PRACTICE, {"online_booking": False, "name": "Mine"})

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert policy(practice) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"booking_horizon_days": 366}, "booking_horizon_days"),
        ({"booking_horizon_days": 0}, "booking_horizon_days"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "europe/london"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"slot_step_minutes": 0}, "slot_step_minutes"),
        ({"min_notice_minutes": -1}, "min_notice_minutes"),
        ({"reminder_hours_before": 0}, "reminder_hours_before"),
        ({"online_booking": "sometimes"}, "online_booking"),
        ({"late_cancel_fee_percent": 101}, "late_cancel_fee_percent"),
        ({"no_show_fee_percent": -1}, "no_show_fee_percent"),
        ({"no_show_fee_percent": 12.5}, "no_show_fee_percent"),
        ({"name": ""}, "name"),
        ({"slug": "elsewhere"}, "slug"),
        ({"id": 99}, "id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"owner": 1}, "owner"),
    ],
)
def test_an_invalid_change_is_400_and_changes_nothing(owner, practice, change, field):
    before = policy(practice)

    # Beside a valid change, which must not be saved either.
    response = owner.api.patch(PRACTICE, {"min_notice_minutes": 30, **change})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert policy(practice) == before


def test_the_slug_cannot_be_changed_even_alone(owner, practice):
    response = owner.api.patch(PRACTICE, {"slug": "elsewhere"})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["slug"]
    assert Practice.objects.get(pk=practice.pk).slug == "north"


def test_anonymous_callers_get_401(anon, practice):
    assert anon.get(PRACTICE).status_code == 401
    assert anon.patch(PRACTICE, {"name": "x"}).status_code == 401
    assert Practice.objects.get(pk=practice.pk).name == "North Back Clinic"
