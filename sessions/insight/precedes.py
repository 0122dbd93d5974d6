"""What precedes improvement (issue 21.2): for complaints with a baseline and at least one
re-measure of one instrument, the sessions between the baseline and the latest re-measure (their
session plans' techniques, total minutes and pressure), compared between the complaints whose
latest score is a meaningful improvement and those whose is not.

Figures are shares of complaints and medians over complaints, each with its count; a group of
fewer than 5 shows counts only. No client, complaint or session is named or numbered. One SQL
statement; per-complaint rows are folded in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clients.selectors import practice_thresholds
from practice.models import Practice
from sessions.insight.period import Period, is_small, median, share
from sessions.insight.series import APPOINTMENT, PLAN, db_time, fetch, judged_series, therapist_of
from sessions.records.models import PlanItem
from techniques.models import Technique

ITEM = PlanItem._meta.db_table
TECHNIQUE = Technique._meta.db_table
NOTE = (
    "Association, not proof: these complaints were not assigned to techniques at random, and "
    "clients who improve may differ in many ways from those who do not. Use it to ask better "
    "questions about your sessions, not as evidence that a technique works."
)


@dataclass
class Course:
    """One complaint's sessions between baseline and latest re-measure (never shown as such)."""

    improved: bool
    sessions: int = 0
    minutes: int = 0
    pressure_sum: int = 0
    pressure_n: int = 0
    techniques: set[str] = field(default_factory=set)


def courses(practice: Practice, period: Period, instrument: str) -> tuple[dict, dict[str, str]]:
    """Per complaint (by id, kept internal) its Course, and the names of techniques seen."""
    head, params = judged_series(
        practice_id=practice.pk, thresholds=practice_thresholds(practice), instrument=instrument
    )
    only = "WHERE p.therapist_id = %s" if period.therapist_id is not None else ""
    sql = f"""{head},
windows AS (
    SELECT j.complaint_id, MIN(j.baseline_at) AS baseline_at, MAX(j.measured_at) AS latest_at,
           MAX(CASE WHEN j.from_last = 1 THEN j.meaningful ELSE 0 END) AS improved
    FROM judged j GROUP BY j.complaint_id
    HAVING COUNT(*) >= %s
),
placed AS (
    SELECT w.complaint_id, w.baseline_at, w.latest_at, w.improved,
           ({therapist_of("w")}) AS therapist_id
    FROM windows w WHERE w.baseline_at >= %s AND w.baseline_at < %s
),
visits AS (
    SELECT p.complaint_id, sp.id AS plan_id
    FROM placed p
    JOIN {PLAN} sp ON sp.complaint_id = p.complaint_id
    JOIN {APPOINTMENT} a ON a.id = sp.appointment_id
    WHERE a.status = 'completed' AND a.start >= p.baseline_at AND a.start < p.latest_at
),
visit_counts AS (SELECT complaint_id, COUNT(*) AS n FROM visits GROUP BY complaint_id)
SELECT p.complaint_id, p.improved, COALESCE(vc.n, 0), t.code, t.name,
       SUM(i.minutes), SUM(i.pressure), COUNT(i.pressure)
FROM placed p
LEFT JOIN visit_counts vc ON vc.complaint_id = p.complaint_id
LEFT JOIN visits v ON v.complaint_id = p.complaint_id
LEFT JOIN {ITEM} i ON i.plan_id = v.plan_id
LEFT JOIN {TECHNIQUE} t ON t.id = i.technique_id
{only}
GROUP BY p.complaint_id, p.improved, vc.n, t.code, t.name"""
    # GROC rates change itself: one reading is already a re-measure (its baseline is 0).
    params += [1 if instrument == "groc" else 2, db_time(period.start), db_time(period.end)]
    if period.therapist_id is not None:
        params.append(period.therapist_id)
    found: dict[int, Course] = {}
    names: dict[str, str] = {}
    for complaint_id, improved, visits, code, name, minutes, pressure, pressed in fetch(
        sql, params
    ):
        course = found.setdefault(complaint_id, Course(improved=bool(improved), sessions=visits))
        if code is None:
            continue
        names[code] = name
        course.techniques.add(code)
        course.minutes += int(minutes or 0)
        course.pressure_sum += int(pressure or 0)
        course.pressure_n += int(pressed or 0)
    return found, names


def _group(members: list[Course], codes: list[str], names: dict[str, str]) -> dict[str, Any]:
    n = len(members)
    small = is_small(n)
    pressures = [c.pressure_sum / c.pressure_n for c in members if c.pressure_n]
    return {
        "complaints": n,
        "small_group": small,
        "median_sessions": None if small else median(c.sessions for c in members),
        "median_total_minutes": None if small else median(c.minutes for c in members),
        "median_pressure": None if small else median(pressures),
        "techniques": [
            {
                "technique": code,
                "name": names[code],
                "complaints": (used := sum(1 for c in members if code in c.techniques)),
                "share": share(used, n),
            }
            for code in codes
        ],
    }


def precedes_report(practice: Practice, period: Period, instrument: str) -> dict[str, Any]:
    """Issue 21.2, as JSON-ready data (one query)."""
    found, names = courses(practice, period, instrument)
    codes = sorted(names)
    improved = [course for course in found.values() if course.improved]
    not_improved = [course for course in found.values() if not course.improved]
    return {
        "period": period.as_dict(),
        "instrument": instrument,
        "note": NOTE,
        "definitions": {
            "improved": "the latest score of the instrument is a meaningful improvement on the "
            "baseline (the practice's MCID or percentage rule)",
            "sessions": "completed appointments whose session plan names the complaint, from the "
            "baseline up to (not including) the latest re-measure",
            "median_pressure": "median over complaints of each complaint's mean plan-item "
            "pressure (1-5)",
            "share": "complaints of the group whose sessions used the technique at least once",
        },
        "groups": {
            "improved": _group(improved, codes, names),
            "not_improved": _group(not_improved, codes, names),
        },
    }
