"""Date overrides (issue 20.3): `therapists/{id}/date-overrides/` gives one date hours of its own
(a longer, shorter or split day) or makes it a day off, over the weekly hours, in the practice's
local time and DST-correct. Overlapping overrides are a 400."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from practice.models import DateOverride
from sessions.scheduling.availability import Rules, available_slots, working_intervals
from tests.factories import DateOverrideFactory, ServiceFactory, TherapistFactory
from tests.sessions.booking_setup import Bookable
from tests.sessions.test_availability_api import at, get, local_day, slots
from tests.sessions.test_availability_rules import usual_dst_sundays

pytestmark = pytest.mark.django_db


def url(therapist) -> str:
    return f"/api/v1/therapists/{therapist.pk}/date-overrides/"


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def offered(api, setup: Bookable, day: date) -> list[str]:
    return [s["start"] for s in slots(get(api, setup.service, day))]


def add(api, therapist, day: date, start: str | None = None, end: str | None = None, **extra):
    body = {"date": day.isoformat(), "start": start, "end": end, **extra}
    return api.post(url(therapist), body, format="json")


# --- the API ------------------------------------------------------------------------------------


def test_extra_hours_on_a_date_are_offered_that_date_only(owner, bookable):
    day = local_day(bookable.practice, 3)  # weekly hours: 09:00-17:00 every day
    created = add(owner.api, bookable.therapist, day, "07:00", "20:00", note="Late clinic")
    assert created.status_code == 201, created.content
    assert created.json()["start"] == "07:00"

    starts = offered(owner.api, bookable, day)
    assert starts[0] == iso(at(bookable.practice, day, 7))
    assert starts[-1] == iso(at(bookable.practice, day, 19))
    next_day = offered(owner.api, bookable, day + timedelta(days=1))
    assert next_day[0] == iso(at(bookable.practice, day + timedelta(days=1), 9))


def test_a_shorter_split_day(owner, bookable):
    day = local_day(bookable.practice, 3)
    assert add(owner.api, bookable.therapist, day, "09:00", "10:00").status_code == 201
    assert add(owner.api, bookable.therapist, day, "15:00", "16:00").status_code == 201

    assert offered(owner.api, bookable, day) == [
        iso(at(bookable.practice, day, 9)),
        iso(at(bookable.practice, day, 15)),
    ]


def test_a_day_off_offers_nothing_and_booking_it_is_refused(owner, bookable):
    day = local_day(bookable.practice, 3)
    assert add(owner.api, bookable.therapist, day).status_code == 201

    assert offered(owner.api, bookable, day) == []
    response = owner.api.post(
        "/api/v1/appointments/",
        {
            "service": bookable.service.pk,
            "therapist": bookable.therapist.pk,
            "client": bookable.client.pk,
            "start": at(bookable.practice, day, 10).isoformat(),
        },
    )
    assert response.status_code == 400  # off the grid of that date, as outside weekly hours
    assert response.json()["errors"][0]["code"] == "off_grid"


def test_an_override_on_a_day_without_weekly_hours_opens_it(owner, practice):
    idle = TherapistFactory(practice=practice)  # no weekly hours at all
    service = ServiceFactory(practice=practice, duration_minutes=60, buffer_minutes=0)
    idle.services.add(service)
    day = local_day(practice, 4)
    add(owner.api, idle, day, "10:00", "11:00")

    found = slots(get(owner.api, service, day))

    assert [(s["start"], s["therapist"]) for s in found] == [(iso(at(practice, day, 10)), idle.pk)]


def test_removing_an_override_gives_the_date_back_to_the_week(owner, bookable):
    day = local_day(bookable.practice, 3)
    override = add(owner.api, bookable.therapist, day).json()

    assert owner.api.delete(f"{url(bookable.therapist)}{override['id']}/").status_code == 204

    assert offered(owner.api, bookable, day)[0] == iso(at(bookable.practice, day, 9))
    assert not DateOverride.objects.exists()


def test_the_list_shows_coming_overrides_in_date_order(owner, bookable):
    today = local_day(bookable.practice, 0)
    DateOverrideFactory(therapist=bookable.therapist, date=today - timedelta(days=2))
    DateOverrideFactory(therapist=bookable.therapist, date=today + timedelta(days=9))
    DateOverrideFactory(therapist=bookable.therapist, date=today + timedelta(days=4))

    listed = owner.api.get(url(bookable.therapist)).json()
    assert [row["date"] for row in listed] == [
        (today + timedelta(days=4)).isoformat(),
        (today + timedelta(days=9)).isoformat(),
    ]
    until = (today + timedelta(days=5)).isoformat()
    assert len(owner.api.get(url(bookable.therapist), {"until": until}).json()) == 1


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        (("09:00", "12:00"), ("11:00", "13:00")),
        (("09:00", "12:00"), ("08:00", "18:00")),
        (("09:00", "12:00"), (None, None)),  # a day off cannot sit beside hours
        ((None, None), ("09:00", "10:00")),
        ((None, None), (None, None)),
    ],
)
def test_overlapping_overrides_are_a_400(owner, bookable, existing, new):
    day = local_day(bookable.practice, 3)
    assert add(owner.api, bookable.therapist, day, *existing).status_code == 201

    response = add(owner.api, bookable.therapist, day, *new)

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "overlap"
    assert DateOverride.objects.count() == 1


def test_touching_intervals_do_not_overlap(owner, bookable):
    day = local_day(bookable.practice, 3)
    add(owner.api, bookable.therapist, day, "09:00", "12:00")

    assert add(owner.api, bookable.therapist, day, "12:00", "14:00").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"date": "2027-02-30"},
        {"date": "0001-01-01"},
        {"date": "2027-02-03", "start": "10:00"},
        {"date": "2027-02-03", "end": "10:00"},
        {"date": "2027-02-03", "start": "12:00", "end": "10:00"},
        {"date": "2027-02-03", "start": "25:00", "end": "26:00"},
        {"date": "2027-02-03", "weekday": 1},
        {},
    ],
)
def test_bad_override_bodies_are_a_400(owner, bookable, body):
    response = owner.api.post(url(bookable.therapist), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not DateOverride.objects.exists()


def test_a_therapist_sets_their_own_overrides_not_a_colleagues(therapist, bookable, practice):
    colleague = TherapistFactory(practice=practice)
    day = local_day(practice, 3)

    assert add(therapist.api, bookable.therapist, day).status_code == 201
    assert add(therapist.api, colleague, day).status_code == 403
    mine = DateOverride.objects.get()
    theirs = DateOverrideFactory(therapist=colleague)
    assert therapist.api.delete(f"{url(colleague)}{theirs.pk}/").status_code == 403
    assert therapist.api.delete(f"{url(bookable.therapist)}{theirs.pk}/").status_code == 404
    assert DateOverride.objects.count() == 2
    assert therapist.api.delete(f"{url(bookable.therapist)}{mine.pk}/").status_code == 204


def test_another_practices_therapist_is_a_404(other_owner, bookable):
    day = local_day(bookable.practice, 3)

    assert other_owner.api.get(url(bookable.therapist)).status_code == 404
    assert add(other_owner.api, bookable.therapist, day).status_code == 404
    assert not DateOverride.objects.exists()


def test_front_desk_reads_but_does_not_write(front_desk, bookable):
    assert front_desk.api.get(url(bookable.therapist)).status_code == 200
    day = local_day(bookable.practice, 3)
    assert add(front_desk.api, bookable.therapist, day).status_code == 403


# --- DST: an override is read like a week's hours, on its own date --------------------------------

ZONES = ("Europe/London", "America/New_York", "Australia/Sydney")
RULES = Rules(
    duration=timedelta(minutes=30),
    buffer=timedelta(0),
    step=timedelta(minutes=15),
    earliest=datetime(2000, 1, 1, tzinfo=UTC),
    latest=datetime(2100, 1, 1, tzinfo=UTC),
)
walls = st.integers(min_value=0, max_value=23 * 4 + 3).map(lambda q: time(q // 4, q % 4 * 15))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    year=st.integers(min_value=2026, max_value=2030),
    which=st.integers(min_value=0, max_value=5),
    shift=st.integers(min_value=-1, max_value=1),
    bounds=st.lists(walls, min_size=2, max_size=4, unique=True).map(sorted),
)
def test_an_override_across_dst_gives_what_those_hours_as_weekly_hours_give(
    zone, year, which, shift, bounds
):
    """On a date where clocks change (or next to one), an override of wall-clock intervals yields
    exactly the real intervals those wall-clock hours would as that weekday's weekly hours, and
    leaves the days around it to the week."""
    tz = ZoneInfo(zone)
    day = usual_dst_sundays(year)[which] + timedelta(days=shift)
    intervals = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds) - 1, 2)]
    week = [(weekday, time(9), time(17)) for weekday in range(7)]
    first, last = day - timedelta(days=1), day + timedelta(days=1)

    with_override = working_intervals(week, first, last, tz, {day: intervals})

    as_weekly = working_intervals(
        [(day.weekday(), start, end) for start, end in intervals], day, day, tz
    )
    around = working_intervals(week, first, first, tz) + working_intervals(week, last, last, tz)
    assert with_override == [*around[:1], *as_weekly, *around[1:]]


def test_an_override_on_the_new_york_spring_change_is_three_real_hours():
    tz = ZoneInfo("America/New_York")
    day = date(2027, 3, 14)  # 02:00 -> 03:00

    found = available_slots(
        hours={1: [(day.weekday(), time(9), time(17))]},
        overrides={1: {day: [(time(1), time(5))]}},
        time_off={},
        booked={},
        first=day,
        last=day,
        tz=tz,
        rules=RULES,
    )

    assert found[0].start == datetime(2027, 3, 14, 6, tzinfo=UTC)  # 01:00 EST
    assert found[-1].end == datetime(2027, 3, 14, 9, tzinfo=UTC)  # 05:00 EDT
    assert len(found) == (3 * 60 - 30) // 15 + 1
