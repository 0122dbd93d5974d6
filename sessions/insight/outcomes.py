"""Outcomes report (issue 21.1): per instrument, the share of complaints reaching a meaningful
improvement and the median local days and visits it took, overall, by therapist, by duration
category at the baseline and by region. A complaint counts when its baseline (first score of the
instrument) falls in the period and it was measured again; a group of fewer than 5 shows its
counts with `share: null` and `small_group: true`. No client is named: only counts and medians.

One SQL statement (`series.judged_series` + per-complaint aggregation) and one for the therapists'
names; grouping and medians run in Python over one row per complaint and instrument.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from clients import instruments
from clients.domain import DurationCategory, duration_category
from clients.models import Complaint
from clients.selectors import practice_thresholds
from practice.models import Practice, Therapist
from practice.vocabulary import REGIONS
from sessions.insight.period import SMALL_GROUP_BELOW, Period, is_small, median, share
from sessions.insight.series import (
    aware,
    db_time,
    fetch,
    judged_series,
    therapist_of,
    visits_between,
)

COMPLAINT = Complaint._meta.db_table
INSTRUMENTS = tuple(instruments.RULES)


@dataclass
class Tally:
    """One group's counts: complaints measured again, those that improved meaningfully, and the
    days and visits each improved one took; `baseline_only` complaints were never measured again."""

    complaints: int = 0
    improved: int = 0
    baseline_only: int = 0
    days: list[int] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        small = is_small(self.complaints)
        return {
            "complaints": self.complaints,
            "improved": self.improved,
            "baseline_only": self.baseline_only,
            "share": share(self.improved, self.complaints),
            "small_group": small,
            "median_days": None if small else median(self.days),
            "median_visits": None if small else median(self.visits),
        }


@dataclass(frozen=True)
class Row:
    instrument: str
    therapist_id: int | None
    duration: str
    regions: tuple[str, ...]
    measured_again: bool
    days: int | None
    visits: int | None


def outcome_rows(practice: Practice, period: Period) -> list[Row]:
    """One row per complaint and instrument with its baseline in the period (one query)."""
    head, params = judged_series(practice_id=practice.pk, thresholds=practice_thresholds(practice))
    only = "WHERE p.therapist_id = %s" if period.therapist_id is not None else ""
    sql = f"""{head},
per_complaint AS (
    SELECT j.complaint_id, j.instrument, MIN(j.baseline_at) AS baseline_at, COUNT(*) AS readings,
           MIN(CASE WHEN j.meaningful = 1 AND (j.position > 1 OR j.instrument = 'groc')
                    THEN j.measured_at END) AS reached_at
    FROM judged j GROUP BY j.complaint_id, j.instrument
),
placed AS (
    SELECT pc.complaint_id, pc.instrument, pc.baseline_at, pc.readings, pc.reached_at,
           c.onset_date, c.regions, ({therapist_of("pc")}) AS therapist_id
    FROM per_complaint pc JOIN {COMPLAINT} c ON c.id = pc.complaint_id
    WHERE pc.baseline_at >= %s AND pc.baseline_at < %s
)
SELECT p.instrument, p.therapist_id, p.onset_date, p.regions, p.readings, p.baseline_at,
       p.reached_at,
       CASE WHEN p.reached_at IS NULL THEN NULL
            ELSE ({visits_between("p", "baseline_at", "reached_at")}) END AS visits
FROM placed p {only}"""
    params += [db_time(period.start), db_time(period.end)]
    if period.therapist_id is not None:
        params.append(period.therapist_id)
    return [_row(raw, period) for raw in fetch(sql, params)]


def _row(raw: tuple, period: Period) -> Row:
    instrument, therapist_id, onset, regions, readings, baseline_at, reached_at, visits = raw
    baseline_day = aware(baseline_at).astimezone(period.tz).date()
    if isinstance(onset, str):
        onset = date.fromisoformat(onset)
    if isinstance(regions, str):
        regions = json.loads(regions)
    names = tuple(sorted({entry.get("region") for entry in regions or () if entry.get("region")}))
    days = None
    if reached_at is not None:
        days = (aware(reached_at).astimezone(period.tz).date() - baseline_day).days
    return Row(
        instrument=instrument,
        therapist_id=therapist_id,
        duration=duration_category(onset, baseline_day),
        regions=names,
        measured_again=instrument == "groc" or readings > 1,
        days=days,
        visits=visits,
    )


def _count(tally: Tally, row: Row) -> None:
    if not row.measured_again:
        tally.baseline_only += 1
        return
    tally.complaints += 1
    if row.days is not None:
        tally.improved += 1
        tally.days.append(row.days)
        tally.visits.append(int(row.visits or 0))


def outcomes_report(practice: Practice, period: Period) -> dict[str, Any]:
    """Issue 21.1, as JSON-ready data (two queries)."""
    rows = outcome_rows(practice, period)
    names = therapist_names(practice)
    overall: dict[str, Tally] = defaultdict(Tally)
    by: dict[str, dict[str, dict[Any, Tally]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        _count(overall[row.instrument], row)
        keys: dict[str, tuple[Any, ...]] = {
            "therapist": (row.therapist_id,),
            "duration": (row.duration,),
            "region": row.regions,
        }
        for axis, values in keys.items():
            for value in values:
                _count(by[row.instrument][axis].setdefault(value, Tally()), row)
    report = []
    for instrument in INSTRUMENTS:
        if instrument not in overall:
            continue
        groups = by[instrument]
        report.append(
            {
                "instrument": instrument,
                "overall": overall[instrument].as_dict(),
                "by_therapist": [
                    {"therapist": key, "therapist_name": names.get(key, "unassigned")}
                    | tally.as_dict()
                    for key, tally in sorted(
                        groups["therapist"].items(), key=lambda item: (item[0] is None, item[0])
                    )
                ],
                "by_duration": [
                    {"duration_category": key} | groups["duration"][key].as_dict()
                    for key in DurationCategory.values
                    if key in groups["duration"]
                ],
                "by_region": [
                    {"region": key} | groups["region"][key].as_dict()
                    for key in sorted(groups["region"], key=_region_order)
                ],
            }
        )
    return {"period": period.as_dict(), "rules": rules(practice), "instruments": report}


def _region_order(name: str) -> tuple[int, str]:
    return (REGIONS.index(name) if name in REGIONS else len(REGIONS), name)


def rules(practice: Practice) -> dict[str, Any]:
    """The thresholds the figures were judged by, so a reader knows what `improved` means."""
    thresholds = practice_thresholds(practice)
    return {
        "mcid": {
            name: float(value) if value is not None else None
            for name, value in thresholds.mcid.items()
        },
        "meaningful_percent": float(thresholds.meaningful_percent),
        "small_group_below": SMALL_GROUP_BELOW,
    }


def therapist_names(practice: Practice) -> dict[int | None, str]:
    """Therapists' display names by id (staff, never clients); one query."""
    names: dict[int | None, str] = {None: "unassigned"}
    for therapist in Therapist.objects.filter(practice=practice).select_related("user"):
        names[therapist.pk] = str(therapist)
    return names
