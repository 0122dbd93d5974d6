"""Courses of care (issue 18): `course_progress` counts the queries of `courses/{id}/progress/` at
40 visits against 4 (at most 6, and the same), and `course_booking` times booking a 10-visit
course in one request against 10 single bookings made one after another, in the same run."""

from __future__ import annotations

import datetime as dt
import statistics
import time

from django.test import Client as TestClient

from bench.clinical import SERIES, Clinical, queries_of
from bench.measure import BenchError, get_ok
from bench.results import Figure
from bench.schedule import Schedule
from bench.seed import SeededPractice
from clients.models import Client, Complaint

COURSE_PROGRESS_MAX_QUERIES = 6
COURSE_BOOKING_MAX_RATIO = 0.5
VISITS = 10
# Free hours of the schedule's therapists (weekdays 9-13 and 14-18, a 45-minute service with a
# 15-minute buffer), well past the seeded appointments (days -14..41).
HOURS = (9, 10, 11, 12, 14, 15, 16, 17)


def course_progress_queries(client: TestClient, clinical: Clinical, *, say) -> Figure:
    counts = {}
    for sessions in SERIES:
        url = f"/api/v1/courses/{clinical.courses[sessions]}/progress/"
        visits = len(get_ok(client, url)["visits"])
        if visits != sessions:
            raise BenchError(f"{url}: {visits} visits, not {sessions}")
        counts[sessions] = queries_of(client, url)
    value, baseline = counts[SERIES[0]], counts[SERIES[1]]
    say(
        f"  course_progress: GET courses/{{id}}/progress/ made {baseline} queries for "
        f"{SERIES[1]} visits, {value} for {SERIES[0]}"
    )
    return Figure(
        name="course_progress",
        value=value,
        baseline=baseline,
        ratio=value / baseline,
        target=COURSE_PROGRESS_MAX_QUERIES,
        unit="queries",
        passes_when=f"value <= {COURSE_PROGRESS_MAX_QUERIES} and value == baseline",
        passed=value <= COURSE_PROGRESS_MAX_QUERIES and value == baseline,
        extra={"visits": list(SERIES)},
    )


def _starts(seeded: SeededPractice, day: dt.date, hour: int) -> list[str]:
    tz = seeded.practice.tz
    return [
        dt.datetime.combine(day + dt.timedelta(weeks=week), dt.time(hour), tzinfo=tz).isoformat()
        for week in range(VISITS)
    ]


def _course(client: TestClient, body: dict, starts: list[str]) -> float:
    began = time.perf_counter()
    response = client.post(
        "/api/v1/courses/",
        {**body, "start": starts[0], "planned_visits": VISITS},
        content_type="application/json",
    )
    took = time.perf_counter() - began
    if response.status_code != 201:
        raise BenchError(f"course booking answered {response.status_code}: {response.content!r}")
    return took


def _singles(client: TestClient, body: dict, starts: list[str]) -> float:
    single = {k: body[k] for k in ("client", "therapist", "service")}
    began = time.perf_counter()
    for start in starts:
        response = client.post(
            "/api/v1/appointments/", {**single, "start": start}, content_type="application/json"
        )
        if response.status_code != 201:
            raise BenchError(f"booking answered {response.status_code}: {response.content!r}")
    return time.perf_counter() - began


def measure_course_booking(
    client: TestClient, seeded: SeededPractice, schedule: Schedule, *, rounds: int, say
) -> Figure:
    """Each round books one course and ten singles, in turn first, on hours and days no other
    round uses; the figure is the ratio of the medians."""
    practice = seeded.practice
    practice.booking_horizon_days = 365
    practice.save(update_fields=["booking_horizon_days"])
    # an active complaint of a client with no red flag open (which would block a course)
    complaint = (
        Complaint.objects.filter(practice=practice, status="active")
        .exclude(client__complaints__status="referral_required")
        .first()
    )
    if complaint is None:
        raise BenchError("no active complaint to start a course for")
    other = Client.objects.filter(practice=practice).exclude(pk=complaint.client_id).first()
    today = dt.datetime.now(tz=practice.tz).date()
    monday = today + dt.timedelta(days=56 + (7 - today.weekday()) % 7)
    body = {
        "client": complaint.client_id,
        "complaint": complaint.pk,
        "therapist": schedule.therapists[0].pk,
        "service": schedule.service.pk,
    }
    singles_body = {**body, "client": other.pk if other else complaint.client_id}
    courses, singles = [], []
    slots = [(day, hour) for day in range(5) for hour in HOURS]
    rounds = min(rounds, len(slots) // 2)
    for index in range(rounds):
        (day_a, hour_a), (day_b, hour_b) = slots[2 * index], slots[2 * index + 1]
        course_starts = _starts(seeded, monday + dt.timedelta(days=day_a), hour_a)
        single_starts = _starts(seeded, monday + dt.timedelta(days=day_b), hour_b)
        if index % 2:
            singles.append(_singles(client, singles_body, single_starts))
            courses.append(_course(client, body, course_starts))
        else:
            courses.append(_course(client, body, course_starts))
            singles.append(_singles(client, singles_body, single_starts))
    value, baseline = statistics.median(courses) * 1000, statistics.median(singles) * 1000
    ratio = value / baseline
    say(
        f"  course_booking: a {VISITS}-visit course {value:.0f} ms, {VISITS} single bookings "
        f"{baseline:.0f} ms (median of {rounds} rounds): ratio {ratio:.2f}"
    )
    return Figure(
        name="course_booking",
        value=round(value, 1),
        baseline=round(baseline, 1),
        ratio=round(ratio, 3),
        target=COURSE_BOOKING_MAX_RATIO,
        unit="ms",
        passes_when=f"ratio <= {COURSE_BOOKING_MAX_RATIO}",
        passed=ratio <= COURSE_BOOKING_MAX_RATIO,
        extra={"visits": VISITS, "rounds": rounds},
    )
