"""`GET availability/` (API.md "Booking"): bookable slots of a service on the practice's local days,
inside working hours, outside time off and other appointments (with buffers), within notice and
horizon; bad ranges and unknown services are a 400; a bounded number of queries whatever the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from practice.models import Practice, Service, Therapist
from practice.services import set_working_hours
from sessions.scheduling.models import Status
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ServiceFactory,
    TherapistFactory,
    TimeOffFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/availability/"

# Mornings and afternoons: several intervals a day, in the practice's wall-clock time.
SPLIT_DAY = [(time(9), time(12)), (time(13), time(17))]
MORNINGS = [f"{h:02d}:{m:02d}" for h in (9, 10, 11) for m in (0, 15, 30, 45)][:9]  # 09:00-11:00
AFTERNOONS = [f"{h:02d}:{m:02d}" for h in (13, 14, 15, 16) for m in (0, 15, 30, 45)][:13]


@dataclass
class Setup:
    practice: Practice
    therapist: Therapist
    service: Service


def work(therapist: Therapist, intervals=SPLIT_DAY, weekdays=range(7)) -> None:
    set_working_hours(
        therapist=therapist,
        intervals=[
            {"weekday": day, "start": start, "end": end}
            for day in weekdays
            for start, end in intervals
        ],
    )


@pytest.fixture
def setup(practice, therapist) -> Setup:
    """A therapist working 09:00-12:00 and 13:00-17:00 every day, offering 60 min (+15 buffer)."""
    row = therapist.user.therapist
    service = ServiceFactory(practice=practice, duration_minutes=60, buffer_minutes=15)
    row.services.add(service)
    work(row)
    return Setup(practice, row, service)


def local_day(practice: Practice, days: int) -> date:
    return timezone.now().astimezone(practice.tz).date() + timedelta(days=days)


def at(practice: Practice, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=practice.tz).astimezone(UTC)


def get(api, service, first: date, last: date | None = None, **extra):
    params = {"service": getattr(service, "pk", service), "start": first, "end": last or first}
    params.update({k: getattr(v, "pk", v) for k, v in extra.items()})
    return api.get(URL, {k: str(v) for k, v in params.items()})


def slots(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["slots"]


def walls(response, practice: Practice, day: date | None = None, therapist=None) -> list[str]:
    """Local wall-clock starts ("HH:MM"), optionally of one local day and one therapist."""
    out = []
    for slot in slots(response):
        local = datetime.fromisoformat(slot["start"]).astimezone(practice.tz)
        if day is not None and local.date() != day:
            continue
        if therapist is not None and slot["therapist"] != therapist.pk:
            continue
        out.append(local.strftime("%H:%M"))
    return out


def assert_invalid(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert field in {error["field"] for error in body["errors"]}, body
    assert all({"field", "code", "detail"} <= set(error) for error in body["errors"])


# --- where slots are ----------------------------------------------------------------------------


def test_slots_lie_within_working_hours_in_local_time(owner, setup):
    day = local_day(setup.practice, 7)

    response = get(owner.api, setup.service, day)

    assert walls(response, setup.practice) == MORNINGS + AFTERNOONS
    for slot in slots(response):
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        assert start.tzinfo is not None  # ISO 8601 with an offset on the way out
        assert end - start == timedelta(minutes=60)
        assert slot["therapist"] == setup.therapist.pk
        assert start.astimezone(setup.practice.tz).date() == day


def test_each_weekday_has_its_own_intervals(owner, setup):
    """Monday two intervals, Wednesday three, every other day off."""
    set_working_hours(
        therapist=setup.therapist,
        intervals=[
            {"weekday": 0, "start": time(8), "end": time(10)},
            {"weekday": 0, "start": time(15), "end": time(16)},
            {"weekday": 2, "start": time(9), "end": time(10)},
            {"weekday": 2, "start": time(12), "end": time(13, 30)},
            {"weekday": 2, "start": time(18), "end": time(19)},
        ],
    )
    first = local_day(setup.practice, 3)
    week = [first + timedelta(days=n) for n in range(7)]

    response = get(owner.api, setup.service, first, week[-1])

    by_weekday = {d.weekday(): walls(response, setup.practice, d) for d in week}
    assert by_weekday == {
        0: ["08:00", "08:15", "08:30", "08:45", "09:00", "15:00"],
        1: [],
        2: ["09:00", "12:00", "12:15", "12:30", "18:00"],
        3: [],
        4: [],
        5: [],
        6: [],
    }


def test_days_are_the_practice_local_days(owner, setup):
    """Sydney is 10-11 h ahead of UTC: its 09:00 is the previous day in UTC, still its own day."""
    setup.practice.timezone = "Australia/Sydney"
    setup.practice.save(update_fields=["timezone"])
    day = local_day(setup.practice, 7)

    response = get(owner.api, setup.service, day)

    assert walls(response, setup.practice) == MORNINGS + AFTERNOONS
    first = datetime.fromisoformat(slots(response)[0]["start"])
    assert first == at(setup.practice, day, 9)
    assert first.astimezone(UTC).date() == day - timedelta(days=1)


def test_time_off_removes_the_slots_it_overlaps(owner, setup):
    day = local_day(setup.practice, 7)
    TimeOffFactory(
        therapist=setup.therapist,
        start=at(setup.practice, day, 10),
        end=at(setup.practice, day, 11),
    )

    response = get(owner.api, setup.service, day)

    # 09:00-10:00 ends as the time off begins; 11:00 starts as it ends; time off has no buffer.
    assert walls(response, setup.practice) == ["09:00", "11:00", *AFTERNOONS]


def test_an_appointment_removes_slots_with_the_buffer_on_both_sides(owner, setup):
    day = local_day(setup.practice, 7)
    start = at(setup.practice, day, 14)
    AppointmentFactory(
        practice=setup.practice,
        client=ClientFactory(practice=setup.practice),
        therapist=setup.therapist,
        service=setup.service,
        start=start,
    )

    response = get(owner.api, setup.service, day)

    # 13:00-14:00 would leave no turnover before 14:00; 15:00 ends the visit, 15:15 its buffer.
    assert walls(response, setup.practice, day) == [
        *MORNINGS,
        "15:15",
        "15:30",
        "15:45",
        "16:00",
    ]


def test_a_cancelled_appointment_frees_its_slots(owner, setup):
    day = local_day(setup.practice, 7)
    AppointmentFactory(
        practice=setup.practice,
        client=ClientFactory(practice=setup.practice),
        therapist=setup.therapist,
        service=setup.service,
        start=at(setup.practice, day, 14),
        status=Status.CANCELLED,
    )

    response = get(owner.api, setup.service, day)

    assert walls(response, setup.practice) == MORNINGS + AFTERNOONS


def test_another_therapists_appointment_takes_nothing_from_this_one(owner, setup):
    day = local_day(setup.practice, 7)
    colleague = TherapistFactory(practice=setup.practice)
    AppointmentFactory(
        practice=setup.practice,
        client=ClientFactory(practice=setup.practice),
        therapist=colleague,
        service=setup.service,
        start=at(setup.practice, day, 14),
    )

    response = get(owner.api, setup.service, day)

    assert walls(response, setup.practice) == MORNINGS + AFTERNOONS


def test_min_notice_hides_slots_that_start_too_soon(owner, setup):
    day = local_day(setup.practice, 2)
    target = at(setup.practice, day, 13, 30)
    # Earliest bookable instant a few minutes before 13:30 local, so 13:15 is too soon.
    notice = (target - timezone.now() - timedelta(minutes=7)) // timedelta(minutes=1)
    setup.practice.min_notice_minutes = notice
    setup.practice.save(update_fields=["min_notice_minutes"])

    response = get(owner.api, setup.service, day - timedelta(days=1), day)

    assert walls(response, setup.practice, day - timedelta(days=1)) == []
    assert walls(response, setup.practice, day) == AFTERNOONS[2:]  # from 13:30


def test_the_booking_horizon_ends_the_slots(owner, setup):
    setup.practice.booking_horizon_days = 3
    setup.practice.save(update_fields=["booking_horizon_days"])
    first, last = local_day(setup.practice, 1), local_day(setup.practice, 6)

    response = get(owner.api, setup.service, first, last)

    horizon = timezone.now() + timedelta(days=3)
    starts = [datetime.fromisoformat(slot["start"]) for slot in slots(response)]
    assert starts
    assert all(start < horizon for start in starts)
    assert walls(response, setup.practice, local_day(setup.practice, 2)) == MORNINGS + AFTERNOONS
    for later in range(4, 7):
        assert walls(response, setup.practice, local_day(setup.practice, later)) == []


# --- which therapists ---------------------------------------------------------------------------


def test_every_therapist_offering_the_service_has_slots_and_the_filter_keeps_one(owner, setup):
    colleague = TherapistFactory(practice=setup.practice)
    colleague.services.add(setup.service)
    work(colleague, intervals=[(time(9), time(10))])
    day = local_day(setup.practice, 7)

    both = get(owner.api, setup.service, day)
    one = get(owner.api, setup.service, day, therapist=colleague)

    assert {slot["therapist"] for slot in slots(both)} == {setup.therapist.pk, colleague.pk}
    assert walls(both, setup.practice, therapist=colleague) == ["09:00"]
    assert walls(one, setup.practice) == ["09:00"]
    assert {slot["therapist"] for slot in slots(one)} == {colleague.pk}
    starts = [(s["start"], s["therapist"]) for s in slots(both)]
    assert starts == sorted(starts, key=lambda s: (datetime.fromisoformat(s[0]), s[1]))


def test_a_therapist_not_offering_the_service_has_no_slots(owner, setup):
    bystander = TherapistFactory(practice=setup.practice)
    work(bystander)  # works every day, but not this service
    day = local_day(setup.practice, 7)

    unfiltered = get(owner.api, setup.service, day)
    filtered = get(owner.api, setup.service, day, therapist=bystander)

    assert {slot["therapist"] for slot in slots(unfiltered)} == {setup.therapist.pk}
    assert slots(filtered) == []


def test_an_inactive_therapist_has_no_slots(owner, setup):
    setup.therapist.active = False
    setup.therapist.save(update_fields=["active"])

    response = get(owner.api, setup.service, local_day(setup.practice, 7))

    assert slots(response) == []


# --- bad input ----------------------------------------------------------------------------------


def test_a_range_of_62_days_is_accepted_and_63_is_a_400(owner, setup):
    first = local_day(setup.practice, 1)

    assert get(owner.api, setup.service, first, first + timedelta(days=61)).status_code == 200
    assert_invalid(get(owner.api, setup.service, first, first + timedelta(days=62)), "end")


def test_an_end_before_the_start_is_a_400(owner, setup):
    first = local_day(setup.practice, 5)

    assert_invalid(get(owner.api, setup.service, first, first - timedelta(days=1)), "end")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2027-13-01"}, "start"),
        ({"end": "tomorrow"}, "end"),
        ({"service": "abc"}, "service"),
        ({"service": None}, "service"),
        ({"start": None}, "start"),
        ({"therapist": "x"}, "therapist"),
    ],
)
def test_malformed_or_missing_parameters_are_a_400(owner, setup, params, field):
    day = local_day(setup.practice, 5)
    query = {"service": setup.service.pk, "start": day.isoformat(), "end": day.isoformat()}
    query.update(params)

    response = owner.api.get(URL, {k: v for k, v in query.items() if v is not None})

    assert_invalid(response, field)


def test_an_unknown_service_is_a_400(owner, setup):
    assert_invalid(get(owner.api, 987654, local_day(setup.practice, 5)), "service")


def test_another_practices_service_is_a_400_and_shows_none_of_its_slots(
    owner, setup, other_practice
):
    foreign_therapist = TherapistFactory(practice=other_practice)
    foreign = ServiceFactory(practice=other_practice)
    foreign_therapist.services.add(foreign)
    work(foreign_therapist)

    response = get(owner.api, foreign, local_day(setup.practice, 5))

    assert_invalid(response, "service")
    assert "slots" not in response.json()


def test_an_inactive_service_is_a_400(owner, setup):
    setup.service.active = False
    setup.service.save(update_fields=["active"])

    assert_invalid(get(owner.api, setup.service, local_day(setup.practice, 5)), "service")


@pytest.mark.parametrize("whose", ["unknown", "foreign"])
def test_an_unknown_or_foreign_therapist_is_a_400(owner, setup, other_practice, whose):
    therapist = 987654 if whose == "unknown" else TherapistFactory(practice=other_practice).pk

    response = get(owner.api, setup.service, local_day(setup.practice, 5), therapist=therapist)

    assert_invalid(response, "therapist")


def test_anonymous_callers_get_401(anon, setup):
    response = get(anon, setup.service, local_day(setup.practice, 5))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- roles --------------------------------------------------------------------------------------


def test_a_client_sees_only_online_bookable_services_and_therapists(
    owner, front_desk, client_member, setup
):
    in_person = ServiceFactory(practice=setup.practice, online_bookable=False)
    setup.therapist.services.add(in_person)
    offline = TherapistFactory(practice=setup.practice, online_bookable=False)
    offline.services.add(setup.service)
    work(offline)
    day = local_day(setup.practice, 7)

    assert_invalid(get(client_member.api, in_person, day), "service")
    assert slots(get(owner.api, in_person, day))
    assert slots(get(front_desk.api, in_person, day))
    seen_by_client = {s["therapist"] for s in slots(get(client_member.api, setup.service, day))}
    seen_by_staff = {s["therapist"] for s in slots(get(front_desk.api, setup.service, day))}
    assert seen_by_client == {setup.therapist.pk}
    assert seen_by_staff == {setup.therapist.pk, offline.pk}


# --- cost ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 62])
def test_slot_computation_takes_a_fixed_number_of_queries_whatever_the_range(
    owner, setup, django_assert_max_num_queries, days
):
    """Budget: 1 auth (token + user + membership + practice joined) + 1 service lookup
    + 3 for the slots (working hours, time off, appointments) = 5, for 1 day as for 62."""
    colleagues = [TherapistFactory(practice=setup.practice) for _ in range(3)]
    for colleague in [setup.therapist, *colleagues]:
        colleague.services.add(setup.service)
        work(colleague)
        client = ClientFactory(practice=setup.practice)
        for offset in range(1, days + 1, 3):
            AppointmentFactory(
                practice=setup.practice,
                client=client,
                therapist=colleague,
                service=setup.service,
                start=at(setup.practice, local_day(setup.practice, offset), 10),
            )
            TimeOffFactory(
                therapist=colleague,
                start=at(setup.practice, local_day(setup.practice, offset), 15),
                end=at(setup.practice, local_day(setup.practice, offset), 16),
            )
    first = local_day(setup.practice, 1)

    with django_assert_max_num_queries(5):
        response = get(owner.api, setup.service, first, first + timedelta(days=days - 1))

    assert len({s["therapist"] for s in slots(response)}) == 4
    taken = at(setup.practice, first, 10).isoformat()
    assert all(s["start"] != taken for s in slots(response))


def test_the_therapist_filter_costs_at_most_one_more_query(
    owner, setup, django_assert_max_num_queries
):
    """Budget: 5 as above + 1 to resolve the therapist id within the practice = 6."""
    first = local_day(setup.practice, 1)

    with django_assert_max_num_queries(6):
        response = get(
            owner.api, setup.service, first, first + timedelta(days=61), therapist=setup.therapist
        )

    assert slots(response)


# --- daylight saving ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "change"),
    [
        (datetime(2027, 3, 1, 12, tzinfo=UTC), date(2027, 3, 28)),  # BST begins
        (datetime(2027, 10, 1, 12, tzinfo=UTC), date(2027, 10, 31)),  # BST ends
    ],
)
def test_a_dst_week_in_london_keeps_nine_to_five_local(owner, setup, monkeypatch, clock, change):
    """The slot clock is pinned (only where slots read it) to a month before each 2027 change, so
    the week is always inside the horizon: an unpinned test of the next autumn change would fall
    outside the 365-day maximum for a few days each year."""
    monkeypatch.setattr(
        "sessions.scheduling.selectors.timezone", SimpleNamespace(now=lambda: clock)
    )
    work(setup.therapist, intervals=[(time(9), time(17))])
    first, last = change - timedelta(days=3), change + timedelta(days=3)

    response = get(owner.api, setup.service, first, last)

    nine_to_four = [f"{9 + q // 4:02d}:{q % 4 * 15:02d}" for q in range(29)]  # starts 09:00-16:00
    days = [first + timedelta(days=n) for n in range(7)]
    assert {d: walls(response, setup.practice, d) for d in days} == dict.fromkeys(
        days, nine_to_four
    )
    assert len(slots(response)) == 7 * 29
    # In real time the day's first slot moves by the hour the clocks move.
    first_of_day: dict[date, datetime] = {}
    for slot in slots(response):
        start = datetime.fromisoformat(slot["start"])
        first_of_day.setdefault(start.astimezone(setup.practice.tz).date(), start.astimezone(UTC))
    shift = (first_of_day[first] + timedelta(days=6)) - first_of_day[last]
    assert shift == (timedelta(hours=1) if change.month == 3 else -timedelta(hours=1))
