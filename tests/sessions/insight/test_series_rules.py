"""The SQL that judges every score (sessions/insight/series.py) says what
`clients.instruments.change` says, for any baseline and latest score and practice thresholds:
one rule, written twice (Python for one complaint, SQL for all), held together here."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients import instruments
from clients.models import Outcome
from clients.selectors import practice_thresholds
from sessions.insight.series import fetch, judged_series
from tests.sessions.insight.data import complaint, local, score

pytestmark = pytest.mark.django_db

tenths = st.integers(min_value=0, max_value=100).map(lambda n: Decimal(n) / 10)
SCALES = {
    "nprs": st.integers(0, 10).map(Decimal),
    "rmdq": st.integers(0, 24).map(Decimal),
    "odi": st.integers(0, 1000).map(lambda n: Decimal(n) / 10),
    "psfs": tenths,
    "groc": st.integers(-7, 7).map(Decimal),
}


@st.composite
def cases(draw):
    instrument = draw(st.sampled_from(sorted(SCALES)))
    return (
        instrument,
        draw(SCALES[instrument]),
        draw(SCALES[instrument]),
        draw(st.integers(1, 12)),
        draw(st.sampled_from([20, 30, 50])),
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases())
def test_sql_meaningful_matches_the_python_rule(practice, case):
    instrument, baseline, latest, mcid, percent = case
    setattr(practice, f"mcid_{instrument}", mcid)
    practice.meaningful_percent = percent
    practice.save()
    c = complaint(practice, onset=date(2026, 1, 1))
    if instrument == "groc":
        score(c, local("2026-03-02"), 5)  # GROC's clock; its own baseline is 0
    else:
        score(c, local("2026-03-02"), baseline, instrument=instrument)
    score(c, local("2026-03-09"), latest, instrument=instrument)
    head, params = judged_series(
        practice_id=practice.pk, thresholds=practice_thresholds(practice), instrument=instrument
    )
    tail = " SELECT meaningful FROM judged WHERE from_last = 1"
    rows = fetch(head + tail, params)
    expected = instruments.change(
        instrument,
        Decimal(0) if instrument == "groc" else baseline,
        latest,
        practice_thresholds(practice),
    )
    Outcome.objects.filter(complaint=c).delete()
    c.delete()
    c.client.delete()
    assert rows == [(1 if expected.meaningful else 0,)], (case, expected)
