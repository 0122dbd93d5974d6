"""Hands-on limits (issue 20.2): a therapist's treatment minutes per practice-local day and week,
and a recovery gap after a deep session (a service of `pressure_level` 4-5, DOMAIN.md Walton scale).
Availability stops offering what would break them and booking refuses it (409)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from practice.models import Therapist
from sessions.scheduling.models import Appointment
from tests.factories import ServiceFactory
from tests.sessions.booking_setup import Bookable
from tests.sessions.test_availability_api import at, get, local_day, slots

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"


def limit(therapist: Therapist, **fields) -> None:
    Therapist.objects.filter(pk=therapist.pk).update(**fields)
    therapist.refresh_from_db()


def book(api, setup: Bookable, start, service=None):
    return api.post(
        APPOINTMENTS,
        {
            "service": (service or setup.service).pk,
            "therapist": setup.therapist.pk,
            "client": setup.client.pk,
            "start": start.isoformat(),
        },
    )


def offered(api, setup: Bookable, day: date, service=None) -> set[str]:
    return {s["start"] for s in slots(get(api, service or setup.service, day))}


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def next_monday(setup: Bookable) -> date:
    day = local_day(setup.practice, 2)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def test_a_full_day_is_offered_no_more_and_the_next_day_is(owner, bookable):
    limit(bookable.therapist, max_daily_minutes=120)
    day = local_day(bookable.practice, 3)
    assert book(owner.api, bookable, at(bookable.practice, day, 9)).status_code == 201
    assert offered(owner.api, bookable, day)  # 60 of 120 minutes used: more is offered
    assert book(owner.api, bookable, at(bookable.practice, day, 11)).status_code == 201

    assert offered(owner.api, bookable, day) == set()
    refused = book(owner.api, bookable, at(bookable.practice, day, 14))
    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_unavailable"
    assert Appointment.objects.count() == 2
    assert offered(owner.api, bookable, day + timedelta(days=1))


def test_the_daily_limit_counts_the_sessions_minutes_not_their_turnover(owner, bookable):
    limit(bookable.therapist, max_daily_minutes=105)  # 60 + 45: a 45-minute session still fits
    short = ServiceFactory(practice=bookable.practice, duration_minutes=45, buffer_minutes=15)
    bookable.therapist.services.add(short)
    day = local_day(bookable.practice, 3)
    book(owner.api, bookable, at(bookable.practice, day, 9))

    assert offered(owner.api, bookable, day, short)
    assert offered(owner.api, bookable, day) == set()  # another 60 would make 120


def test_a_full_week_is_offered_no_more_until_the_next_monday(owner, bookable):
    limit(bookable.therapist, max_weekly_minutes=120)
    monday = next_monday(bookable)
    assert book(owner.api, bookable, at(bookable.practice, monday, 10)).status_code == 201
    wednesday = monday + timedelta(days=2)
    assert book(owner.api, bookable, at(bookable.practice, wednesday, 10)).status_code == 201

    for later in range(3, 7):  # Thursday to Sunday of that week
        assert offered(owner.api, bookable, monday + timedelta(days=later)) == set()
    assert book(owner.api, bookable, at(bookable.practice, monday, 14)).status_code == 409
    assert offered(owner.api, bookable, monday + timedelta(days=7))


def test_a_deep_session_is_followed_by_the_recovery_gap(owner, bookable):
    limit(bookable.therapist, recovery_minutes=45)  # buffer is 15: recovery is the longer
    deep = ServiceFactory(
        practice=bookable.practice, duration_minutes=60, buffer_minutes=15, pressure_level=5
    )
    bookable.therapist.services.add(deep)
    day = local_day(bookable.practice, 3)
    assert book(owner.api, bookable, at(bookable.practice, day, 10), deep).status_code == 201

    after = offered(owner.api, bookable, day)
    assert iso(at(bookable.practice, day, 11, 15)) not in after  # the buffer alone would allow
    assert iso(at(bookable.practice, day, 11, 30)) not in after
    assert iso(at(bookable.practice, day, 11, 45)) in after
    assert book(owner.api, bookable, at(bookable.practice, day, 11, 15)).status_code == 409


def test_a_deep_session_is_not_offered_where_its_recovery_would_run_into_the_next(owner, bookable):
    limit(bookable.therapist, recovery_minutes=45)
    deep = ServiceFactory(
        practice=bookable.practice, duration_minutes=60, buffer_minutes=15, pressure_level=4
    )
    bookable.therapist.services.add(deep)
    day = local_day(bookable.practice, 3)
    book(owner.api, bookable, at(bookable.practice, day, 14))

    before = offered(owner.api, bookable, day, deep)

    assert iso(at(bookable.practice, day, 12, 15)) in before  # 13:15 + 45 = 14:00
    assert iso(at(bookable.practice, day, 12, 30)) not in before
    assert iso(at(bookable.practice, day, 12, 30)) in offered(owner.api, bookable, day)


def test_a_light_session_needs_no_recovery(owner, bookable):
    limit(bookable.therapist, recovery_minutes=45)
    day = local_day(bookable.practice, 3)
    book(owner.api, bookable, at(bookable.practice, day, 10))  # pressure_level unset

    assert iso(at(bookable.practice, day, 11, 15)) in offered(owner.api, bookable, day)


@pytest.mark.parametrize(
    "body",
    [
        {"max_daily_minutes": -1},
        {"max_weekly_minutes": -60},
        {"recovery_minutes": -5},
        {"max_daily_minutes": 2000},
        {"max_daily_minutes": "lots"},
    ],
)
def test_limits_below_zero_or_beyond_reason_are_a_400(owner, bookable, body):
    response = owner.api.patch(f"/api/v1/therapists/{bookable.therapist.pk}/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == next(iter(body))
    bookable.therapist.refresh_from_db()
    assert bookable.therapist.max_daily_minutes is None
    assert bookable.therapist.recovery_minutes == 0


def test_the_owner_sets_limits_and_clients_never_see_them(owner, client_member, bookable):
    response = owner.api.patch(
        f"/api/v1/therapists/{bookable.therapist.pk}/",
        {"max_daily_minutes": 300, "max_weekly_minutes": 1200, "recovery_minutes": 30},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["max_weekly_minutes"] == 1200

    seen = client_member.api.get(f"/api/v1/therapists/{bookable.therapist.pk}/").json()
    assert "max_daily_minutes" not in seen
    assert "recovery_minutes" not in seen


def test_a_pressure_level_outside_walton_1_to_5_is_a_400(owner, bookable):
    response = owner.api.patch(
        f"/api/v1/services/{bookable.service.pk}/", {"pressure_level": 6}, format="json"
    )

    assert response.status_code == 400
    bookable.service.refresh_from_db()
    assert bookable.service.pressure_level is None
