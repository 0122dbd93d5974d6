"""`reports_*` figures (issue 21): each insight report timed beside the equivalent single
hand-written SQL aggregate, in the same run, over 100,000 appointments, 20,000 complaints and
60,000 outcomes (bulk-written; Postgres only, as the baselines use `percentile_cont`,
`GROUPING SETS` and `generate_series`).

The endpoint side is `GET /api/v1/reports/<name>/` as the owner, through django.test.Client (the
whole stack: authentication, permissions, the selector, Python grouping, JSON, the audit row); the
baseline is one SQL statement computing the same figures (groups, shares' counts and medians) in
the database, run through a cursor. Rounds alternate which goes first; the figure is the median
milliseconds of each side, `ratio = value / baseline`, passing when `ratio <= 3` and the request
makes at most 6 queries. Before timing, the headline counts of both sides must agree.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock

from django.db import connection, transaction
from django.test import Client as TestClient

from bench.measure import BenchError, get_ok
from bench.results import Figure
from bench.seed import SeededPractice
from clients.models import Client, Complaint, Outcome
from clients.selectors import practice_thresholds
from practice.models import Service, Therapist, WorkingHours
from practice.services import create_user_in_practice
from sessions.insight.series import (
    APPOINTMENT,
    PLAN,
    judged_series,
    therapist_of,
    visits_between,
)
from sessions.scheduling.models import Appointment
from techniques.models import Technique

APPOINTMENTS, COMPLAINTS, OUTCOMES = 100_000, 20_000, 60_000
THERAPISTS = 25  # x 500 weekdays x 8 hourly slots = 100,000 appointments, none overlapping
DAYS = 700  # the reports' period: the last 700 local days (under the two-year limit)
TARGET, MAX_QUERIES = 3.0, 6
REPORTS = ("outcomes", "what-precedes-improvement", "operations")


@dataclass(frozen=True)
class Seeded:
    start: str
    end: str
    appointments: int
    complaints: int
    outcomes: int


SEED_SQL = [
    "SELECT setseed(0.21)",
    # 100,000 past appointments: every weekday hour 9-16 of every therapist, a client at random.
    """
    INSERT INTO treatment_appointment (practice_id, client_id, therapist_id, service_id, start,
        "end", blocked_until, status, late_cancellation, cancellation_reason, source, sequence,
        created_at, updated_at)
    SELECT %(practice)s, x.client_id, x.therapist_id, %(service)s, x.at, x.at + interval '1 hour',
           x.at + interval '1 hour',
           CASE WHEN x.r < 0.8 THEN 'completed' WHEN x.r < 0.86 THEN 'no_show'
                ELSE 'cancelled' END,
           x.r > 0.95, '', 'staff', 0, now(), now()
    FROM (
        SELECT (d::date + make_time(h, 0, 0)) AT TIME ZONE %(tz)s AS at, t AS therapist_id,
               (%(clients)s::int[])[1 + floor(random() * %(client_count)s)::int] AS client_id,
               random() AS r
        FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
        CROSS JOIN generate_series(9, 16) h
        CROSS JOIN unnest(%(therapists)s::int[]) t
        WHERE extract(isodow FROM d) < 6
        ORDER BY 1, 2
        LIMIT %(appointments)s
    ) x
    """,
    """
    CREATE TEMP TABLE bench_pick ON COMMIT DROP AS
    SELECT id AS appointment_id, client_id, start, row_number() OVER (ORDER BY random()) AS n
    FROM treatment_appointment WHERE practice_id = %(practice)s AND status = 'completed'
    """,
    # 20,000 complaints, each starting at one of those visits.
    """
    CREATE TEMP TABLE bench_course ON COMMIT DROP AS
    SELECT nextval(pg_get_serial_sequence('clients_complaint', 'id')) AS complaint_id, p.*,
           4 + floor(random() * 6)::int AS pain,
           (ARRAY['lumbar', 'thoracic', 'cervical', 'sacral_si', 'gluteal'])
               [1 + floor(random() * 5)::int] AS region,
           (ARRAY[10, 50, 200])[1 + floor(random() * 3)::int] AS onset_days
    FROM bench_pick p WHERE p.n <= %(complaints)s
    """,
    """
    INSERT INTO clients_complaint (id, practice_id, client_id, regions, onset_date,
        onset_precision, onset_type, episode, mechanism, pain_now, notes, red_flags, status,
        clearance_note, referral_urgency, age_red_flags, created_at, updated_at)
    SELECT complaint_id, %(practice)s, client_id,
           jsonb_build_array(jsonb_build_object('region', region, 'side', 'left')),
           (start - onset_days * interval '1 day')::date, 'day', 'gradual', 'first', 'lifting',
           pain, '', '{}', 'active', '', '', '[]', now(), now()
    FROM bench_course
    """,
    # 60,000 NPRS scores: baseline an hour before the first visit, then two and four weeks on.
    """
    INSERT INTO clients_outcome (practice_id, client_id, complaint_id, instrument, answers,
        score, context, source, measured_at, recorded_at)
    SELECT %(practice)s, c.client_id, c.complaint_id, 'nprs', jsonb_build_object('pain', v.pain),
           v.pain, 'now', 'recorded', v.at, v.at
    FROM bench_course c CROSS JOIN LATERAL (
        SELECT greatest(0, c.pain - k * floor(random() * 2.5 + c.n * 0)::int) AS pain,
               c.start - interval '1 hour' + k * interval '14 days' AS at
        FROM generate_series(0, 2) k
    ) v
    """,
    # A session plan for each first visit, and a second visit's plan for half of them.
    """
    CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
    SELECT nextval(pg_get_serial_sequence('treatment_sessionplan', 'id')) AS plan_id, x.*
    FROM (
        SELECT c.complaint_id, c.client_id, c.appointment_id FROM bench_course c
        UNION ALL
        SELECT c.complaint_id, c.client_id, p.appointment_id
        FROM bench_course c JOIN bench_pick p ON p.n = c.n + %(complaints)s
        WHERE c.n %% 2 = 1
    ) x
    """,
    """
    INSERT INTO treatment_sessionplan (id, practice_id, client_id, appointment_id, complaint_id,
        name, goals, home_care, created_at, updated_at)
    SELECT plan_id, %(practice)s, client_id, appointment_id, complaint_id, '', '[]', '', now(),
           now()
    FROM bench_plan
    """,
    """
    INSERT INTO treatment_planitem (plan_id, position, technique_id, region, side, minutes,
        pressure, notes, override_reason, overridden)
    SELECT b.plan_id, k, (%(techniques)s::int[])[1 + floor(random() * 6 + k * 0)::int], 'lumbar',
           '', (ARRAY[10, 15, 20])[1 + floor(random() * 3)::int], 1 + floor(random() * 5)::int,
           '', '', '[]'
    FROM bench_plan b CROSS JOIN generate_series(0, 1) k
    """,
    # A follow-up after every tenth visit, six in ten answered.
    """
    INSERT INTO treatment_reminder (practice_id, client_id, appointment_id, kind, channel,
        scheduled_for, status, attempts, last_error, sent_at, answered_at, created_at)
    SELECT %(practice)s, client_id, id, 'follow_up', 'email', "end" + interval '48 hours',
           'sent', 0, '', "end" + interval '48 hours',
           CASE WHEN random() < 0.6 THEN "end" + interval '50 hours' END, now()
    FROM treatment_appointment
    WHERE practice_id = %(practice)s AND status = 'completed' AND id %% 10 = 0
    """,
    "ANALYZE",
]


def seed_insight(seeded: SeededPractice) -> Seeded:
    """Therapists with working hours, then everything else generated inside Postgres
    (`generate_series`, `INSERT ... SELECT`): far faster than building 300,000 objects."""
    practice = seeded.practice
    tz = practice.tz
    today = datetime.now(tz).date()
    first = today - timedelta(days=DAYS)
    therapists = [
        Therapist.objects.get(
            user=create_user_in_practice(
                practice=practice,
                email=f"bench-t{n}@bench.test",
                password="bench-password-21",
                role="therapist",
                first_name="Bench",
                last_name=f"Therapist {n}",
            )
        ).pk
        for n in range(THERAPISTS)
    ]
    WorkingHours.objects.bulk_create(
        WorkingHours(practice=practice, therapist_id=t, weekday=d, start=clock(9), end=clock(17))
        for t in therapists
        for d in range(5)
    )
    service = Service.objects.create(
        practice=practice, name="Bench 60", duration_minutes=60, buffer_minutes=0, price=60
    )
    clients = list(Client.objects.filter(practice=practice).values_list("pk", flat=True))
    techniques = list(
        Technique.objects.filter(practice=practice).order_by("pk").values_list("pk", flat=True)
    )[:6]
    params = {
        "practice": practice.pk,
        "service": service.pk,
        "tz": str(tz),
        "first": first,
        "last": today - timedelta(days=1),
        "therapists": therapists,
        "clients": clients,
        "client_count": len(clients),
        "techniques": techniques,
        "appointments": APPOINTMENTS,
        "complaints": COMPLAINTS,
    }
    # What the figures run before this one wrote (the seed's complaints, courses, intakes) is
    # not the insight seed's: count what the statements add.
    complaints = Complaint.objects.filter(practice=practice)
    outcomes = Outcome.objects.filter(practice=practice)
    before = complaints.count(), outcomes.count()
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in SEED_SQL:
            cursor.execute(statement, params)
    counts = (
        Appointment.objects.filter(practice=practice, service=service).count(),
        complaints.count() - before[0],
        outcomes.count() - before[1],
    )
    if counts != (APPOINTMENTS, COMPLAINTS, OUTCOMES):
        raise BenchError(f"seeded {counts}, not {(APPOINTMENTS, COMPLAINTS, OUTCOMES)}")
    return Seeded(
        start=(first + timedelta(days=1)).isoformat(),
        end=today.isoformat(),
        appointments=counts[0],
        complaints=counts[1],
        outcomes=counts[2],
    )


# --- the baselines: one statement each --------------------------------------------------------

OUTCOMES_TAIL = """,
per_complaint AS (
    SELECT j.complaint_id, j.instrument, MIN(j.baseline_at) AS baseline_at, COUNT(*) AS readings,
           MIN(CASE WHEN j.meaningful = 1 AND (j.position > 1 OR j.instrument = 'groc')
                    THEN j.measured_at END) AS reached_at
    FROM judged j GROUP BY j.complaint_id, j.instrument
),
placed AS (
    SELECT pc.*, c.onset_date, c.regions, ({therapist}) AS therapist_id
    FROM per_complaint pc JOIN clients_complaint c ON c.id = pc.complaint_id
    WHERE pc.baseline_at >= %s AND pc.baseline_at < %s
),
facts AS (
    SELECT p.instrument, p.therapist_id, p.regions,
           CASE WHEN (p.baseline_at AT TIME ZONE %s)::date - p.onset_date < 42 THEN 'acute'
                WHEN (p.baseline_at AT TIME ZONE %s)::date - p.onset_date < 84 THEN 'subacute'
                ELSE 'chronic' END AS duration,
           (p.instrument = 'groc' OR p.readings > 1) AS again,
           (p.reached_at AT TIME ZONE %s)::date - (p.baseline_at AT TIME ZONE %s)::date AS days,
           CASE WHEN p.reached_at IS NULL THEN NULL ELSE ({visits}) END AS visits
    FROM placed p
)
SELECT f.instrument, f.therapist_id, f.duration, NULL AS region,
       GROUPING(f.therapist_id) + GROUPING(f.duration) AS overall,
       COUNT(*) FILTER (WHERE f.again), COUNT(f.days) FILTER (WHERE f.again),
       COUNT(*) FILTER (WHERE NOT f.again),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.days),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.visits)
FROM facts f
GROUP BY GROUPING SETS ((f.instrument), (f.instrument, f.therapist_id), (f.instrument, f.duration))
UNION ALL
SELECT f.instrument, NULL, NULL, r.region, 0,
       COUNT(*) FILTER (WHERE f.again), COUNT(f.days) FILTER (WHERE f.again),
       COUNT(*) FILTER (WHERE NOT f.again),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.days),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.visits)
FROM facts f
CROSS JOIN LATERAL (SELECT DISTINCT e->>'region' AS region
                    FROM jsonb_array_elements(f.regions) e) r
GROUP BY f.instrument, r.region"""

PRECEDES_TAIL = """,
windows AS (
    SELECT j.complaint_id, MIN(j.baseline_at) AS baseline_at, MAX(j.measured_at) AS latest_at,
           MAX(CASE WHEN j.from_last = 1 THEN j.meaningful ELSE 0 END) AS improved
    FROM judged j GROUP BY j.complaint_id HAVING COUNT(*) >= 2
),
placed AS (
    SELECT w.* FROM windows w WHERE w.baseline_at >= %s AND w.baseline_at < %s
),
visits AS (
    SELECT p.complaint_id, sp.id AS plan_id FROM placed p
    JOIN {plan} sp ON sp.complaint_id = p.complaint_id
    JOIN {appointment} a ON a.id = sp.appointment_id
    WHERE a.status = 'completed' AND a.start >= p.baseline_at AND a.start < p.latest_at
),
courses AS (
    SELECT p.complaint_id, p.improved, COUNT(DISTINCT v.plan_id) AS sessions,
           COALESCE(SUM(i.minutes), 0) AS minutes, AVG(i.pressure) AS pressure
    FROM placed p LEFT JOIN visits v ON v.complaint_id = p.complaint_id
    LEFT JOIN treatment_planitem i ON i.plan_id = v.plan_id
    GROUP BY p.complaint_id, p.improved
),
used AS (
    SELECT DISTINCT p.complaint_id, p.improved, t.code FROM placed p
    JOIN visits v ON v.complaint_id = p.complaint_id
    JOIN treatment_planitem i ON i.plan_id = v.plan_id
    JOIN techniques_technique t ON t.id = i.technique_id
)
SELECT c.improved, NULL AS code, COUNT(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY c.sessions),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY c.minutes),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY c.pressure)
FROM courses c GROUP BY c.improved
UNION ALL
SELECT u.improved, u.code, COUNT(*), NULL, NULL, NULL FROM used u GROUP BY u.improved, u.code"""

OPERATIONS_SQL = """
WITH days AS (SELECT d::date AS day FROM generate_series(%(first)s::date, %(last)s::date,
                                                         interval '1 day') d),
shifts AS (
    SELECT wh.therapist_id, d.day, (d.day + wh.start) AT TIME ZONE %(tz)s AS begins,
           (d.day + wh."end") AT TIME ZONE %(tz)s AS ends
    FROM days d JOIN practice_workinghours wh ON wh.weekday = EXTRACT(ISODOW FROM d.day) - 1
    WHERE wh.practice_id = %(practice)s
),
work AS (
    SELECT s.therapist_id, to_char(s.day, 'IYYY-"W"IW') AS week,
           SUM(EXTRACT(EPOCH FROM s.ends - s.begins) - COALESCE((
               SELECT SUM(EXTRACT(EPOCH FROM LEAST(s.ends, t."end") - GREATEST(s.begins, t.start)))
               FROM practice_timeoff t WHERE t.therapist_id = s.therapist_id
                 AND t.start < s.ends AND t."end" > s.begins), 0)) / 60 AS minutes
    FROM shifts s GROUP BY 1, 2
),
booked AS (
    SELECT a.therapist_id, to_char((a.start AT TIME ZONE %(tz)s)::date, 'IYYY-"W"IW') AS week,
           SUM(EXTRACT(EPOCH FROM a."end" - a.start) / 60)
               FILTER (WHERE a.status <> 'cancelled') AS minutes,
           COUNT(*) AS appointments,
           COUNT(*) FILTER (WHERE a.status = 'no_show') AS no_shows,
           COUNT(*) FILTER (WHERE a.late_cancellation) AS late,
           COUNT(*) FILTER (WHERE a.status = 'completed') AS visits,
           COUNT(*) FILTER (WHERE a.status = 'completed' AND EXISTS (
               SELECT 1 FROM treatment_appointment b WHERE b.client_id = a.client_id
                 AND b.id <> a.id AND b.status <> 'cancelled' AND b.start > a."end"
                 AND b.start <= a."end" + interval '14 days')) AS rebooked,
           COUNT(*) FILTER (WHERE a.status = 'completed' AND NOT EXISTS (
               SELECT 1 FROM treatment_appointment b WHERE b.client_id = a.client_id
                 AND b.id <> a.id AND b.status = 'completed' AND b.start < a.start)) AS new
    FROM treatment_appointment a
    WHERE a.practice_id = %(practice)s AND a.start >= %(start)s AND a.start < %(end)s
    GROUP BY 1, 2
)
SELECT COALESCE(w.therapist_id, b.therapist_id), COALESCE(w.week, b.week), w.minutes,
       b.minutes, b.appointments, b.no_shows, b.late, b.visits, b.rebooked, b.new,
       (SELECT COUNT(*) FILTER (WHERE r.answered_at IS NOT NULL) FROM treatment_reminder r
        WHERE r.practice_id = %(practice)s AND r.kind = 'follow_up' AND r.status = 'sent'
          AND r.scheduled_for >= %(start)s AND r.scheduled_for < %(end)s) AS answered
FROM work w FULL OUTER JOIN booked b ON b.therapist_id = w.therapist_id AND b.week = w.week"""


def _baseline(practice, report: str, first: datetime, end: datetime, days: tuple) -> tuple:
    """(sql, params) of the report's single hand-written statement."""
    tz = str(practice.tz)
    if report == "operations":
        params = {
            "first": days[0],
            "last": days[1],
            "tz": tz,
            "practice": practice.pk,
            "start": first,
            "end": end,
        }
        return OPERATIONS_SQL, params
    instrument = "nprs" if report == "what-precedes-improvement" else None
    head, params = judged_series(
        practice_id=practice.pk, thresholds=practice_thresholds(practice), instrument=instrument
    )
    if report == "outcomes":
        tail = OUTCOMES_TAIL.format(
            therapist=therapist_of("pc"), visits=visits_between("p", "baseline_at", "reached_at")
        )
        return head + tail, [*params, first, end, tz, tz, tz, tz]
    return head + PRECEDES_TAIL.format(plan=PLAN, appointment=APPOINTMENT), [*params, first, end]


def _check(report: str, body: dict, rows: list[tuple]) -> None:
    """The headline counts of the endpoint and of the baseline agree."""
    if report == "outcomes":
        mine = body["instruments"][0]["overall"]
        theirs = next(r for r in rows if r[0] == "nprs" and r[4] == 2)
        same = (mine["complaints"], mine["improved"]) == (theirs[5], theirs[6])
    elif report == "what-precedes-improvement":
        groups = body["groups"]
        totals = {bool(r[0]): r[2] for r in rows if r[1] is None}
        same = (groups["improved"]["complaints"], groups["not_improved"]["complaints"]) == (
            totals.get(True, 0),
            totals.get(False, 0),
        )
    else:
        same = body["totals"]["visits"] == sum(r[7] or 0 for r in rows)
    if not same:
        raise BenchError(f"reports_{report}: the baseline's counts differ from the endpoint's")


def _queries_of(client: TestClient, url: str) -> list[str]:
    """The statements one request runs (counted at the cursor: Django resets its own query log
    when a request starts, which would hide them from CaptureQueriesContext)."""
    seen: list[str] = []

    def count(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        get_ok(client, url)
    return seen


def _timed(action) -> float:
    gc.collect()
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def measure_reports(seeded: SeededPractice, data: Seeded, *, rounds: int, say) -> list[Figure]:
    client = TestClient(headers={"Authorization": f"Bearer {seeded.token}"})
    practice = seeded.practice
    tz = practice.tz
    first = datetime.combine(datetime.fromisoformat(data.start).date(), clock(0), tzinfo=tz)
    end = datetime.combine(
        datetime.fromisoformat(data.end).date() + timedelta(days=1), clock(0), tzinfo=tz
    )
    figures = []
    for report in REPORTS:
        url = f"/api/v1/reports/{report}/?start={data.start}&end={data.end}"
        sql, params = _baseline(practice, report, first, end, (data.start, data.end))

        def baseline(sql=sql, params=params) -> list[tuple]:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

        body = get_ok(client, url)
        _check(report, body, baseline())
        queries = _queries_of(client, url)
        samples = []
        for number in range(rounds):
            if number % 2:
                theirs = _timed(baseline)
                mine = _timed(lambda url=url: get_ok(client, url))
            else:
                mine = _timed(lambda url=url: get_ok(client, url))
                theirs = _timed(baseline)
            samples.append((mine, theirs))
        value = statistics.median(m for m, _ in samples)
        base = statistics.median(b for _, b in samples)
        name = f"reports_{report.replace('-', '_')}"
        say(
            f"  {name}: {value:.0f} ms vs {base:.0f} ms for one SQL statement, "
            f"{len(queries)} queries"
        )
        figures.append(
            Figure(
                name=name,
                value=value,
                baseline=base,
                ratio=value / base,
                target=TARGET,
                unit="ms",
                passes_when=f"ratio <= {TARGET} and queries <= {MAX_QUERIES}",
                passed=value / base <= TARGET and len(queries) <= MAX_QUERIES,
                extra={
                    "queries": len(queries),
                    "appointments": data.appointments,
                    "complaints": data.complaints,
                    "outcomes": data.outcomes,
                },
            )
        )
    return figures
