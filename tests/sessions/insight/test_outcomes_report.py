"""Outcomes report (issue 21.1): every figure of a small known data set, worked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from practice.models import AuditEvent, Therapist
from tests.sessions.insight.data import complaint, local, score, session

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/outcomes/?start=2026-03-01&end=2026-04-30"


@pytest.fixture
def therapists(practice, owner, therapist):
    return (
        Therapist.objects.get(user=owner.user),
        Therapist.objects.get(user=therapist.user),
    )


@pytest.fixture
def known(practice, therapists):
    """Therapist A: five complaints measured again (two improve) and one baseline only;
    therapist B: two complaints (one improves) - too few for a percentage."""
    a, b = therapists
    # c1: 8 -> 5 a week later (3 >= MCID 2): 7 days, 2 sessions before the re-measure.
    c1 = complaint(practice, onset=date(2026, 2, 20), regions=("lumbar", "thoracic"))
    score(c1, local("2026-03-02"), 8)
    session(c1, a, local("2026-03-02", "10:00"))
    session(c1, a, local("2026-03-05", "10:00"))
    score(c1, local("2026-03-09"), 5)
    # c2: 6 -> 5 (1, 16.7 %: not yet) -> 3 (3): 14 days, 2 sessions.
    c2 = complaint(practice, onset=date(2026, 1, 2))
    score(c2, local("2026-03-03"), 6)
    session(c2, a, local("2026-03-03", "10:00"))
    score(c2, local("2026-03-10"), 5)
    session(c2, a, local("2026-03-10", "10:00"))
    score(c2, local("2026-03-17"), 3)
    # c3: 5 -> 5; c4: 4 -> 3 (1, 25 %); c5: 2 -> 1 (50 %, but within the error of 2): none.
    for hour, (onset, base, latest) in enumerate(
        ((date(2025, 11, 1), 5, 5), (date(2025, 11, 1), 4, 3), (date(2026, 3, 1), 2, 1)),
        start=10,
    ):
        c = complaint(practice, onset=onset)
        score(c, local("2026-03-04"), base)
        session(c, a, local("2026-03-04", f"{hour}:00"))
        score(c, local("2026-03-11"), latest)
    # c6: a baseline and nothing since.
    c6 = complaint(practice, onset=date(2026, 3, 1))
    score(c6, local("2026-03-06"), 7)
    session(c6, a, local("2026-03-06", "10:00"))
    # Therapist B: c7 7 -> 4 across the change to summer time (one local day), c8 7 -> 7.
    c7 = complaint(practice, onset=date(2026, 3, 20), regions=("cervical",))
    score(c7, local("2026-03-28", "22:30"), 7)
    session(c7, b, local("2026-03-29", "10:00"))
    score(c7, local("2026-03-29", "23:30"), 4)
    c8 = complaint(practice, onset=date(2026, 3, 20), regions=("cervical",))
    score(c8, local("2026-04-01"), 7)
    session(c8, b, local("2026-04-01", "10:00"))
    score(c8, local("2026-04-08"), 7)
    return a, b


def test_outcomes_count_improvement_share_days_and_visits(owner, known):
    a, b = known
    response = owner.api.get(URL)

    assert response.status_code == 200
    (nprs,) = response.json()["instruments"]
    assert nprs["instrument"] == "nprs"
    assert nprs["overall"] == {
        "complaints": 7,
        "improved": 3,
        "baseline_only": 1,
        "share": 0.429,  # 3 of 7
        "small_group": False,
        "median_days": 7.0,  # 7, 14 and 1 days
        "median_visits": 2.0,  # 2, 2 and 1 sessions
    }
    by_therapist = {row["therapist"]: row for row in nprs["by_therapist"]}
    assert by_therapist[a.pk] | {"therapist_name": ""} == {
        "therapist": a.pk,
        "therapist_name": "",
        "complaints": 5,
        "improved": 2,
        "baseline_only": 1,
        "share": 0.4,
        "small_group": False,
        "median_days": 10.5,
        "median_visits": 2.0,
    }
    # Two complaints: counts, never a percentage of fewer than 5.
    assert by_therapist[b.pk]["complaints"] == 2
    assert by_therapist[b.pk]["improved"] == 1
    assert by_therapist[b.pk]["share"] is None
    assert by_therapist[b.pk]["small_group"] is True
    assert by_therapist[b.pk]["median_days"] is None


def test_outcomes_group_by_duration_at_baseline_and_by_region(owner, known):
    (nprs,) = owner.api.get(URL).json()["instruments"]

    duration = {row["duration_category"]: row for row in nprs["by_duration"]}
    # At the baseline: c1 10 days (acute), c2 60 (subacute), c3/c4 over 84 (chronic),
    # c5 3 days, c7 8 days, c8 12 days (acute).
    assert {k: (v["complaints"], v["improved"]) for k, v in duration.items()} == {
        "acute": (4, 2),
        "subacute": (1, 1),
        "chronic": (2, 0),
    }
    assert [row["duration_category"] for row in nprs["by_duration"]] == [
        "acute",
        "subacute",
        "chronic",
    ]
    region = {row["region"]: row for row in nprs["by_region"]}
    assert [row["region"] for row in nprs["by_region"]] == ["cervical", "thoracic", "lumbar"]
    assert (region["lumbar"]["complaints"], region["lumbar"]["improved"]) == (5, 2)
    assert region["lumbar"]["share"] == 0.4
    assert (region["thoracic"]["complaints"], region["thoracic"]["small_group"]) == (1, True)
    assert region["cervical"]["share"] is None


def test_a_therapist_sees_only_their_own_figures(therapist, known):
    a, b = known
    response = therapist.api.get(URL)

    (nprs,) = response.json()["instruments"]
    assert response.json()["period"]["therapist"] == b.pk
    assert nprs["overall"]["complaints"] == 2
    assert [row["therapist"] for row in nprs["by_therapist"]] == [b.pk]
    # Asking for a colleague's figures is asking for something that does not exist for them.
    refused = therapist.api.get(URL + f"&therapist={a.pk}")
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found"


def test_owner_filters_by_therapist(owner, known):
    a, _b = known
    (nprs,) = owner.api.get(URL + f"&therapist={a.pk}").json()["instruments"]
    assert nprs["overall"]["complaints"] == 5
    assert nprs["overall"]["share"] == 0.4


def test_local_day_bounds_hold_across_summer_time(owner, practice, therapists):
    """End 30 April (BST): 23:30 local that day is inside, 00:30 on 1 May (23:30 UTC on the
    30th) is outside; start 1 April: 00:30 BST on the 1st (23:30 UTC on 31 March) is inside."""
    for at in (
        local("2026-04-30", "23:30"),
        local("2026-05-01", "00:30"),
        local("2026-04-01", "00:30"),
        local("2026-03-31", "23:30"),
    ):
        c = complaint(practice, onset=date(2026, 3, 25))
        score(c, at, 6)
        score(c, local("2026-05-20"), 6)
    (nprs,) = owner.api.get("/api/v1/reports/outcomes/?start=2026-04-01&end=2026-04-30").json()[
        "instruments"
    ]
    assert nprs["overall"]["complaints"] == 2


def test_odi_is_judged_on_its_percentage_and_groc_on_its_answer(owner, practice, therapists):
    c = complaint(practice, onset=date(2026, 3, 1))
    score(c, local("2026-03-02"), 40, instrument="odi")  # 40 % -> 28 %: 12 points >= 10
    score(c, local("2026-03-16"), 28, instrument="odi")
    g = complaint(practice, onset=date(2026, 3, 1))
    score(g, local("2026-03-02"), 6)  # the clock of GROC starts at the first score
    score(g, local("2026-03-12"), 3, instrument="groc")  # +3 = MCID: improved in 10 days
    report = owner.api.get(URL).json()["instruments"]
    by = {entry["instrument"]: entry["overall"] for entry in report}
    assert (by["odi"]["complaints"], by["odi"]["improved"]) == (1, 1)
    assert (by["groc"]["complaints"], by["groc"]["improved"]) == (1, 1)
    assert by["nprs"]["baseline_only"] == 1
    assert by["groc"]["share"] is None  # one complaint


def test_superseded_scores_and_pain_after_a_session_are_left_out(owner, practice, therapists):
    c = complaint(practice, onset=date(2026, 3, 1))
    score(c, local("2026-03-02"), 8)
    score(c, local("2026-03-02", "11:00"), 2, context="post_session")
    wrong = score(c, local("2026-03-09"), 1)
    wrong.superseded_at = local("2026-03-10")
    wrong.save()
    score(c, local("2026-03-09", "09:05"), 7)
    (nprs,) = owner.api.get(URL).json()["instruments"]
    assert (nprs["overall"]["complaints"], nprs["overall"]["improved"]) == (1, 0)


def test_the_report_read_is_in_the_access_log(owner, known):
    owner.api.get(URL)
    event = AuditEvent.objects.get(record_type="report_outcomes")
    assert (event.action, event.actor, event.role) == ("read", owner.user, "owner")


def test_report_queries_stay_few(owner, known, django_assert_max_num_queries):
    owner.api.get(URL)
    # authentication 1, the report 1, therapists' names 1, access log 1
    with django_assert_max_num_queries(6):
        assert owner.api.get(URL).status_code == 200
