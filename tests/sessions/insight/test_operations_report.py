"""Operations report (issue 21.3): two ISO weeks across the change to summer time, by hand."""

from __future__ import annotations

from datetime import time

import pytest

from practice.models import Therapist, TimeOff, WorkingHours
from sessions.scheduling.models import Reminder
from tests.factories import ClientFactory, TherapistFactory
from tests.sessions.insight.data import appointment, local

pytestmark = pytest.mark.django_db

# Monday 23 March to Sunday 5 April 2026: ISO weeks 13 and 14; clocks go forward on the 29th.
URL = "/api/v1/reports/operations/?start=2026-03-23&end=2026-04-05"


def message(visit, kind, scheduled, status="sent", answered=None) -> Reminder:
    return Reminder.objects.create(
        practice=visit.practice,
        client=visit.client,
        appointment=visit,
        kind=kind,
        channel="email",
        scheduled_for=scheduled,
        status=status,
        answered_at=answered,
    )


@pytest.fixture
def known(practice, owner):
    a = Therapist.objects.get(user=owner.user)
    for weekday in range(5):
        WorkingHours.objects.create(
            practice=practice, therapist=a, weekday=weekday, start=time(9), end=time(13)
        )
    # Sundays 00:00-04:00: on 29 March 01:00-02:00 never happens, so that day has 3 hours.
    WorkingHours.objects.create(
        practice=practice, therapist=a, weekday=6, start=time(0), end=time(4)
    )
    TimeOff.objects.create(  # overlaps Tuesday 31 March's hours by 11:00-13:00
        practice=practice,
        therapist=a,
        start=local("2026-03-31", "11:00"),
        end=local("2026-03-31", "15:00"),
    )
    x, y, z, w, v, u = (ClientFactory(practice=practice) for _ in range(6))
    appointment(practice, a, y, local("2026-03-02"))  # before the period: y returns
    x1 = appointment(practice, a, x, local("2026-03-23"))
    w1 = appointment(practice, a, w, local("2026-03-24"), status="no_show")
    z1 = appointment(practice, a, z, local("2026-03-25"), status="cancelled", late=True)
    y1 = appointment(practice, a, y, local("2026-03-26"))
    appointment(practice, a, v, local("2026-03-30"))
    appointment(practice, a, x, local("2026-04-02"), status="booked")  # x rebooked in 10 days
    appointment(practice, a, v, local("2026-04-14"))  # 15 days on: not a rebooking
    b = TherapistFactory(practice=practice)
    appointment(practice, b, u, local("2026-04-05", "23:00"), minutes=30)  # Sunday, BST
    appointment(practice, b, u, local("2026-04-06", "00:30"), status="booked")  # Monday
    message(w1, "reminder", local("2026-03-23"))
    message(y1, "reminder", local("2026-03-25"))
    message(z1, "reminder", local("2026-03-24"), status="failed")
    message(x1, "follow_up", local("2026-03-25"), answered=local("2026-03-25", "12:00"))
    message(y1, "follow_up", local("2026-03-28"))
    return a, b


def test_utilisation_per_iso_week_uses_local_working_minutes(owner, known):
    a, b = known
    body = owner.api.get(URL).json()

    rows = {row["therapist"]: row for row in body["therapists"]}
    weeks = {week["week"]: week for week in rows[a.pk]["weeks"]}
    # Week 13: 5 x 240 + 180 (the short Sunday); booked 60 + 60 (no-show) + 60, cancelled not.
    assert (weeks["2026-W13"]["working_minutes"], weeks["2026-W13"]["booked_minutes"]) == (
        1380,
        180,
    )
    assert weeks["2026-W13"]["utilisation"] == 0.13
    # Week 14: 5 x 240 + 240 - 120 time off; booked 60 + 60.
    assert (weeks["2026-W14"]["working_minutes"], weeks["2026-W14"]["booked_minutes"]) == (
        1320,
        120,
    )
    assert weeks["2026-W14"]["utilisation"] == 0.091
    # B has no working hours: minutes booked (Sunday 23:00 local), no utilisation.
    assert rows[b.pk]["booked_minutes"] == 30
    assert rows[b.pk]["utilisation"] is None


def test_rates_rebooking_and_new_versus_returning(owner, known):
    a, b = known
    body = owner.api.get(URL).json()
    rows = {row["therapist"]: row for row in body["therapists"]}
    mine = rows[a.pk]
    assert {
        k: mine[k]
        for k in (
            "appointments",
            "no_shows",
            "no_show_rate",
            "late_cancellations",
            "late_cancellation_rate",
            "visits",
            "rebooked",
            "rebooking_rate",
            "new_clients",
            "returning_clients",
        )
    } == {
        "appointments": 6,
        "no_shows": 1,
        "no_show_rate": 0.167,
        "late_cancellations": 1,
        "late_cancellation_rate": 0.167,
        "visits": 3,  # x, y, v
        "rebooked": 1,  # x, 10 days later; v's next is 15 days on
        "rebooking_rate": 0.333,
        "new_clients": 2,  # x, v
        "returning_clients": 1,  # y
    }
    # B: the Sunday 23:00 (BST) visit is in the period, Monday's 00:30 is not, and rebooks it.
    assert (rows[b.pk]["appointments"], rows[b.pk]["visits"], rows[b.pk]["rebooked"]) == (1, 1, 1)
    totals = body["totals"]
    assert (totals["appointments"], totals["visits"], totals["new_clients"]) == (7, 4, 3)
    assert (totals["booked_minutes"], totals["working_minutes"]) == (330, 2700)
    assert totals["utilisation"] == 0.122
    assert totals["rebooking_rate"] == 0.5


def test_reminder_and_follow_up_response_rates(owner, known):
    messages = owner.api.get(URL).json()["messages"]
    assert messages["reminders"] == {"sent": 2, "failed": 1, "kept": 1, "kept_rate": 0.5}
    assert messages["follow_ups"] == {"sent": 2, "failed": 0, "answered": 1, "response_rate": 0.5}


def test_therapist_filter_narrows_every_figure(owner, known):
    _a, b = known
    body = owner.api.get(URL + f"&therapist={b.pk}").json()
    assert [row["therapist"] for row in body["therapists"]] == [b.pk]
    assert body["totals"]["appointments"] == 1
    assert body["messages"]["reminders"]["sent"] == 0


def test_queries_stay_few(owner, known, django_assert_max_num_queries):
    owner.api.get(URL)
    # authentication 1, working hours and time off 1, appointments 1, messages 1, access log 1
    with django_assert_max_num_queries(5):
        assert owner.api.get(URL).status_code == 200


def test_a_therapists_own_report_stays_within_six_queries(
    therapist, practice, django_assert_max_num_queries
):
    therapist.api.get(URL)
    # the same, plus finding the caller's own therapist record
    for report in ("operations", "outcomes", "what-precedes-improvement"):
        with django_assert_max_num_queries(6):
            assert therapist.api.get(f"/api/v1/reports/{report}/").status_code == 200
