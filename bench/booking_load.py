"""booking_p95: bookings from 16 concurrent clients against gunicorn on Postgres, beside GET me/.

gunicorn (4 sync workers, as a small deployment runs it) serves the bench database on a free
loopback port, with the user throttle relaxed so the figure is the endpoint and not 429s, and Celery
publishing for real (to a queue of the bench's own: bench/server_settings.py). The bench fetches
availability once, deals distinct free slots (none overlapping another of the same therapist) out to
16 threads, each with its own HTTP connection, and times every request: the bookings, and as
the baseline the same number of authenticated GET me/ under the same 16-thread load.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings
from django.utils import timezone

from bench.measure import BenchError
from bench.processes import BIN, child_env, drop_redis_queues, free_port, running, tail
from bench.results import Figure, Skipped
from bench.schedule import Schedule
from bench.seed import SEED, SeededPractice
from clients.models import Client
from loadtest.workload import distinct_slots
from sessions.scheduling.models import Appointment

NAME = "booking_p95"
CLIENTS = 16
WORKERS = 4
TARGET = 2.5  # booking p95 at most 2.5x GET me/'s p95 (issue 22.1; 3 before)
BOOKED, CONFLICT = 201, 409


@dataclass
class Phase:
    label: str
    expected: tuple[int, ...]
    samples: list[tuple[int, float, float]] = field(default_factory=list)  # status, t0, t1
    wall: float = 0.0
    unexpected: list[str] = field(default_factory=list)

    def add(self, other: Phase) -> None:
        self.samples += other.samples
        self.wall += other.wall
        self.unexpected += other.unexpected

    @property
    def latencies_ms(self) -> list[float]:
        return [(t1 - t0) * 1000 for _, t0, t1 in self.samples]

    @property
    def statuses(self) -> Counter:
        return Counter(status for status, _, _ in self.samples)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in self.expected)

    @property
    def rps(self) -> float:
        return len(self.samples) / self.wall

    def percentile(self, fraction: float) -> float:
        """Nearest rank: the smallest latency at least `fraction` of the requests did not exceed."""
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

    def summary(self) -> str:
        statuses = ", ".join(f"{n}x {status}" for status, n in sorted(self.statuses.items()))
        return (
            f"{self.label}: {len(self.samples)} requests ({statuses}), {self.rps:.0f} req/s, "
            f"p50 {statistics.median(self.latencies_ms):.0f} ms, p95 {self.percentile(0.95):.0f} ms"
        )


def load(base: str, token: str, jobs: list[tuple], phase: Phase, clients: int = CLIENTS) -> Phase:
    """Run `jobs` (method, url, json body) from `clients` threads, each job once."""
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)
    ready = threading.Barrier(clients)

    def client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            ready.wait()
            while True:
                try:
                    method, url, body = pending.get_nowait()
                except queue.Empty:
                    return
                extra = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
                started = time.perf_counter()
                try:
                    response = http.request(method, url, json=body, headers=extra)
                    status, text = response.status_code, response.text
                except httpx.HTTPError as error:
                    status, text = 0, repr(error)
                phase.samples.append((status, started, time.perf_counter()))
                if status not in phase.expected and len(phase.unexpected) < 5:
                    phase.unexpected.append(f"{method} {url} -> {status}: {text[:300]}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if any(thread.is_alive() for thread in threads):
        raise BenchError(f"{phase.label}: clients still running after 300 s")
    phase.wall = max(t1 for _, _, t1 in phase.samples) - min(t0 for _, t0, _ in phase.samples)
    return phase


def wait_healthy(base: str, server, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"gunicorn exited with {server.returncode}:\n{tail(log)}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer /healthz in {timeout:.0f} s:\n{tail(log)}")


def deal_slots(slots: list[dict], count: int, buffer: dt.timedelta, rng) -> list[dict]:
    """Free slots none of which overlaps another of the same therapist (with the buffer), shuffled;
    if there are fewer than `count`, some are dealt twice (and those bookings answer 409)."""
    distinct = distinct_slots(slots, buffer, rng)
    dealt = distinct[:count]
    while len(dealt) < count and distinct:
        dealt.append(rng.choice(distinct))
    return dealt


@contextmanager
def serve(workers: int = WORKERS, **overrides: str | None) -> Iterator[str]:
    """gunicorn (`workers` sync workers) on a free loopback port against the bench database, its
    Celery messages going to a queue of the bench's own (deleted afterwards); yields its base URL,
    stops it on exit."""
    queue_name = f"bench-web-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-web-") as var_dir:
        log = Path(var_dir) / "gunicorn.log"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = child_env(
            var_dir,
            DJANGO_SETTINGS_MODULE="bench.server_settings",
            BENCH_CELERY_QUEUE=queue_name,
            THROTTLE_USER="100000/min",
            LOG_LEVEL="WARNING",
            **overrides,
        )
        args = [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            "1",
        ]
        try:
            with running(args, env=env, log=log) as server:
                wait_healthy(base, server, log)
                yield base
        finally:
            drop_redis_queues([queue_name])


def availability(base: str, token: str, service, first: dt.date, last: dt.date) -> list[dict]:
    """The free slots `GET availability/` offers from `first` to `last`."""
    answer = httpx.get(
        f"{base}/api/v1/availability/",
        params={"service": service.pk, "start": first.isoformat(), "end": last.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if answer.status_code != 200:
        raise BenchError(f"availability answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()["slots"]


def booking_jobs(chunk: list[dict], service, client_ids: list[int], rng) -> list[tuple]:
    """One `POST appointments/` job per slot, each for a random client of the practice."""
    return [
        (
            "POST",
            "/api/v1/appointments/",
            {
                "client": rng.choice(client_ids),
                "service": service.pk,
                "therapist": slot["therapist"],
                "start": slot["start"],
            },
        )
        for slot in chunk
    ]


def measure_booking(
    seeded: SeededPractice, schedule: Schedule, *, requests: int, say
) -> Figure | Skipped:
    if not settings.IS_POSTGRES:
        return Skipped(NAME, "needs Postgres")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    rng = random.Random(SEED + 3)
    with serve() as base:
        return _measure(base, seeded, seeded.practice, schedule.service, requests, rng, say)


def _measure(base, seeded, practice, service, requests, rng, say) -> Figure:
    today = timezone.localdate(timezone=practice.tz)
    first, last = today + dt.timedelta(days=2), today + dt.timedelta(days=61)
    warmup = 2 * CLIENTS
    slots = deal_slots(
        availability(base, seeded.token, service, first, last),
        requests + warmup,
        dt.timedelta(minutes=service.buffer_minutes),
        rng,
    )
    client_ids = list(Client.objects.filter(practice=practice).values_list("pk", flat=True))

    def bookings(chunk: list[dict]) -> list[tuple]:
        return booking_jobs(chunk, service, client_ids, rng)

    def me(count: int) -> list[tuple]:
        return [("GET", "/api/v1/me/", None)] * count

    started = timezone.now()
    # Warm every worker up on both paths (imports, URL resolution, first connections).
    warm_me = load(base, seeded.token, me(warmup), Phase("warm-up me/", (200,)))
    warm_book = load(
        base, seeded.token, bookings(slots[:warmup]), Phase("warm-up", (BOOKED, CONFLICT))
    )
    slots = slots[warmup:]
    booking = Phase("POST appointments/", (BOOKED, CONFLICT))
    baseline = Phase("GET me/", (200,))
    # Two rounds, the order flipped in the second, so drift charges both alike.
    half = requests // 2
    for number, chunk in enumerate((slots[:half], slots[half:])):
        steps = [
            lambda chunk=chunk: booking.add(
                load(base, seeded.token, bookings(chunk), Phase("", booking.expected))
            ),
            lambda chunk=chunk: baseline.add(
                load(base, seeded.token, me(len(chunk)), Phase("", baseline.expected))
            ),
        ]
        for step in steps if number == 0 else reversed(steps):
            step()

    created = Appointment.objects.filter(practice=practice, created_at__gte=started).count()
    booked = booking.statuses[BOOKED] + warm_book.statuses[BOOKED]
    if created != booked:
        raise BenchError(f"{NAME}: {booked} bookings answered 201 but {created} were written")
    for phase in (booking, baseline, warm_me, warm_book):
        for line in phase.unexpected:
            say(f"  {NAME}: unexpected answer: {line}")
    say(f"  {NAME}: {CLIENTS} clients, gunicorn --workers {WORKERS} --threads 1")
    say(f"  {NAME}: {booking.summary()}")
    say(f"  {NAME}: {baseline.summary()}")
    errors = booking.errors + baseline.errors
    value, base_p95 = booking.percentile(0.95), baseline.percentile(0.95)
    ratio = value / base_p95
    return Figure(
        name=NAME,
        value=value,
        baseline=base_p95,
        ratio=ratio,
        target=TARGET,
        unit="ms",
        passes_when=f"ratio <= {TARGET:g} and errors == 0 (ratio = value / baseline)",
        passed=ratio <= TARGET and errors == 0,
        extra={
            "booking_rps": round(booking.rps, 1),
            "baseline_rps": round(baseline.rps, 1),
            "booked": booking.statuses[BOOKED],
            "conflicts": booking.statuses[CONFLICT],
            "errors": errors,
            "clients": CLIENTS,
        },
    )
