"""The outcome series of every complaint, judged in one SQL statement (DOMAIN.md 3 "Change logic").

`judged_series()` is the common head (a `WITH` of CTEs) of the outcome reports: each score of a
complaint beside its baseline, its improvement and whether that improvement is meaningful under the
practice's thresholds, the same rules as `clients.instruments.change` (a property test holds the
two together). It is plain SQL that SQLite and Postgres both run (window functions, `VALUES`), so
the reports aggregate in the database, whatever its size, and the suite runs on either.

The reading rules are the progress selector's (`clients.selectors.complaint_progress`): superseded
scores are left out, NPRS counts only readings of `now` (not pain after a session), ODI is judged on
its percentage, GROC already rates change, so its baseline is 0 and its clock starts at the
complaint's first score of any instrument.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime

from clients import instruments
from clients.models import Outcome
from sessions.records.models import Note, SessionPlan
from sessions.scheduling.models import Appointment

OUTCOME = Outcome._meta.db_table
APPOINTMENT = Appointment._meta.db_table
PLAN = SessionPlan._meta.db_table
NOTE = Note._meta.db_table


SERIES_SQL = """
WITH rules (instrument, mcid, mdc, sign) AS (VALUES {rules}),
scored AS (
    SELECT o.id, o.complaint_id, o.instrument, o.measured_at,
           CASE WHEN o.instrument = 'odi' THEN o.score_percent ELSE o.score END AS value,
           MIN(o.measured_at) OVER (PARTITION BY o.complaint_id) AS first_any
    FROM {outcome} o
    WHERE o.practice_id = %s AND o.superseded_at IS NULL
      AND (o.instrument <> 'nprs' OR o.context = 'now')
),
series AS (
    SELECT s.complaint_id, s.instrument, s.measured_at, s.value, s.first_any,
           ROW_NUMBER() OVER (PARTITION BY s.complaint_id, s.instrument
                              ORDER BY s.measured_at, s.id) AS position,
           ROW_NUMBER() OVER (PARTITION BY s.complaint_id, s.instrument
                              ORDER BY s.measured_at DESC, s.id DESC) AS from_last,
           FIRST_VALUE(s.value) OVER (PARTITION BY s.complaint_id, s.instrument
                                      ORDER BY s.measured_at, s.id) AS first_value,
           FIRST_VALUE(s.measured_at) OVER (PARTITION BY s.complaint_id, s.instrument
                                            ORDER BY s.measured_at, s.id) AS first_at
    FROM scored s
    WHERE s.value IS NOT NULL {only}
),
based AS (
    SELECT se.complaint_id, se.instrument, se.measured_at, se.position, se.from_last,
           CASE WHEN se.instrument = 'groc' THEN se.first_any ELSE se.first_at END AS baseline_at,
           CASE WHEN se.instrument = 'groc' THEN 0 ELSE se.first_value END AS base,
           se.value
    FROM series se
),
judged AS (
    SELECT b.complaint_id, b.instrument, b.measured_at, b.position, b.from_last,
           b.baseline_at, b.base, r.sign * (b.value - b.base) AS improvement,
           CASE WHEN r.sign * (b.value - b.base) >= r.mcid
                  OR (b.base <> 0 AND r.sign * (b.value - b.base) >= r.mdc
                      AND 2000 * r.sign * (b.value - b.base) >= (20 * %s - 1) * ABS(b.base))
                THEN 1 ELSE 0 END AS meaningful
    FROM based b JOIN rules r ON r.instrument = b.instrument
)"""


def judged_series(
    *, practice_id: int, thresholds: instruments.Thresholds, instrument: str | None = None
) -> tuple[str, list[Any]]:
    """`WITH rules, scored, series, judged AS (...)` and its parameters. `judged` has one row per
    usable score: complaint_id, instrument, measured_at, position (1 = baseline), from_last
    (1 = latest), baseline_at, base, improvement, meaningful (1/0)."""
    rules_rows = []
    params: list[Any] = []
    for name, rule in instruments.RULES.items():
        mcid = thresholds.mcid.get(name, rule.mcid)
        rules_rows.append("(%s, %s, %s, %s)")
        # A missing MCID never matches (no improvement reaches it); GROC's MDC is moot: its
        # baseline is 0, so the percentage rule never applies to it.
        params += [
            name,
            # floats: SQLite's driver would bind a Decimal as text, which never compares as a number
            float(mcid) if mcid is not None else 1e6,
            float(rule.mdc) if rule.mdc is not None else 0.0,
            1 if rule.higher_is_better else -1,
        ]
    only = "AND s.instrument = %s" if instrument else ""
    params.append(practice_id)
    if instrument:
        params.append(instrument)
    params.append(int(thresholds.meaningful_percent))
    sql = SERIES_SQL.format(rules=", ".join(rules_rows), outcome=OUTCOME, only=only)
    # The percentage rule is `round_half_up(improvement / |baseline| * 100, 1) >= P`, which is
    # `improvement * 2000 >= (20 P - 1) * |baseline|`: exact, with no division or rounding in SQL.
    return sql, params


def sessions_of(alias: str) -> str:
    """A derived table `named` of the appointments whose session plan or note names
    `{alias}.complaint_id`: read through the plans' and notes' complaint indexes, so each
    complaint costs two index lookups, not a walk over the appointments."""
    return (
        f"(SELECT sp.appointment_id FROM {PLAN} sp WHERE sp.complaint_id = {alias}.complaint_id "
        f"UNION ALL SELECT n.appointment_id FROM {NOTE} n "
        f"WHERE n.complaint_id = {alias}.complaint_id) named "
        f"JOIN {APPOINTMENT} a ON a.id = named.appointment_id"
    )


def therapist_of(alias: str) -> str:
    """Who a complaint is counted for: the therapist of its first (not cancelled) session."""
    return (
        f"SELECT a.therapist_id FROM {sessions_of(alias)} WHERE a.status <> 'cancelled' "
        "ORDER BY a.start, a.id LIMIT 1"
    )


def visits_between(alias: str, since: str, until: str) -> str:
    """How many completed sessions of the complaint started in [`since`, `until`)."""
    return (
        f"SELECT COUNT(DISTINCT a.id) FROM {sessions_of(alias)} WHERE a.status = 'completed' "
        f"AND a.start >= {alias}.{since} AND a.start < {alias}.{until}"
    )


def fetch(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def db_time(value: datetime) -> Any:
    """A bound for raw SQL, as the ORM would write it (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def aware(value: Any) -> datetime:
    """A timestamp read back by raw SQL (SQLite answers text), as an aware UTC datetime."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"not a timestamp: {value!r}")
        value = parsed
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
