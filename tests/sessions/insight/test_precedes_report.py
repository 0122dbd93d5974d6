"""What precedes improvement (issue 21.2): shares and medians of a small known data set."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from practice.models import Therapist
from tests.sessions.insight.data import complaint, local, score, session

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/what-precedes-improvement/?start=2026-03-01&end=2026-04-30"


@pytest.fixture
def known(practice, owner):
    """Five complaints that improved (8 -> 4 after two weeks) and two that did not."""
    a = Therapist.objects.get(user=owner.user)
    improved_sessions = [
        [[("effleurage", 10, 2), ("kneading", 20, 4)]],
        [[("effleurage", 10, 2)], [("effleurage", 10, 2)]],
        [[("kneading", 30, 4)]],
        [[("effleurage", 15, 3), ("friction", 5, 5)]],
        [[("kneading", 10, 3)]] * 3,
    ]
    clients = []
    for number, visits in enumerate(improved_sessions):
        day = local("2026-03-02") + timedelta(days=number)
        c = complaint(practice, onset=date(2026, 2, 1))
        clients.append(c.client)
        score(c, day, 8)
        for index, items in enumerate(visits):
            session(c, a, day + timedelta(days=index, hours=1 + number), items)
        score(c, day + timedelta(days=14), 4)
        if number == 0:  # after the latest re-measure: not before it
            session(c, a, day + timedelta(days=15, hours=1), [("tapotement", 5, 3)])
        if number == 1:  # cancelled: nothing was delivered
            session(
                c, a, day + timedelta(days=5, hours=6), [("compression", 5, 3)], status="cancelled"
            )
    n1 = complaint(practice, onset=date(2026, 2, 1))
    score(n1, local("2026-03-10"), 6)
    session(n1, a, local("2026-03-11", "15:00"), [("compression", 20, 3)])
    score(n1, local("2026-03-24"), 6)
    n2 = complaint(practice, onset=date(2026, 2, 1))
    score(n2, local("2026-03-10"), 6)
    score(n2, local("2026-03-24"), 5)
    only = complaint(practice, onset=date(2026, 2, 1))  # a baseline alone: not compared
    score(only, local("2026-03-10"), 6)
    session(only, a, local("2026-03-11", "17:00"), [("stretching", 20, 3)])
    return clients


def test_improved_and_not_improved_are_compared_by_hand(owner, known):
    response = owner.api.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert "association, not proof" in body["note"].lower()
    improved = body["groups"]["improved"]
    assert (improved["complaints"], improved["small_group"]) == (5, False)
    assert improved["median_sessions"] == 1.0  # 1, 2, 1, 1, 3
    assert improved["median_total_minutes"] == 30.0  # 30, 20, 30, 20, 30
    assert improved["median_pressure"] == 3.0  # means 3, 2, 4, 4, 3
    shares = {t["technique"]: (t["complaints"], t["share"]) for t in improved["techniques"]}
    assert shares == {
        "compression": (0, 0.0),  # only in a cancelled session
        "effleurage": (3, 0.6),
        "friction": (1, 0.2),
        "kneading": (3, 0.6),
    }  # tapotement came after the re-measure, stretching with no re-measure: not listed
    other = body["groups"]["not_improved"]
    assert (other["complaints"], other["small_group"]) == (2, True)
    assert other["median_total_minutes"] is None
    compression = next(t for t in other["techniques"] if t["technique"] == "compression")
    assert (compression["complaints"], compression["share"]) == (1, None)


def test_no_client_is_named_or_numbered(owner, known):
    text = owner.api.get(URL).content.decode()
    for client in known:
        assert client.last_name not in text
    assert '"client' not in text
    assert "complaint_id" not in text


def test_instrument_is_chosen_and_checked(owner, known):
    rmdq = owner.api.get(URL + "&instrument=rmdq").json()
    assert rmdq["groups"]["improved"]["complaints"] == 0
    bad = owner.api.get(URL + "&instrument=blood_pressure")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "instrument"


def test_queries_stay_few(owner, known, django_assert_max_num_queries):
    owner.api.get(URL)
    with django_assert_max_num_queries(6):
        assert owner.api.get(URL).status_code == 200
