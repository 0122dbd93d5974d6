"""scale_out: what a second process buys on this machine, for the web tier and for the workers.

- bookings/s (201s per second of wall time) of `POST appointments/` from 16 clients against
  gunicorn with 1 and then 2 sync workers (`--threads 1`), the same number of distinct free slots
  each (of therapists made for this figure, so the other booking figures keep theirs);
- reminders/s with 1 and then 2 Celery workers (`--pool=solo` each, two processes): due
  rebooking nudges claimed as the dispatcher claims them, their `send_reminders` chunks published
  only once the workers are up, timed until every one is `sent`.

The figure is the web ratio (2 workers / 1); the workers' ratio is beside it. On the 2-core box
the bench runs on, the load generator, gunicorn, Postgres and Redis share the two cores, so a
ratio well under 2 says the CPU is the limit, not a lock: the bench prints the machine's load
average and core count with it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from bench.booking_load import (
    BOOKED,
    CLIENTS,
    CONFLICT,
    Phase,
    availability,
    booking_jobs,
    deal_slots,
    load,
    serve,
)
from bench.measure import BenchError
from bench.processes import BIN, child_env, drop_redis_queues, running, tail
from bench.results import Figure, Skipped
from bench.schedule import Schedule
from bench.seed import SEED, SeededPractice
from clients.models import Client
from config.celery import app
from practice.models import Role, Therapist
from practice.services import create_user_in_practice, set_working_hours
from sessions.scheduling.models import Reminder, ReminderKind, ReminderStatus
from sessions.scheduling.reminders import chunks, claim_due_reminders

NAME = "scale_out"
# No target: the figure records what a second process buys here and what limits it (issue 22.5).
TARGET = 0.0
BOOKINGS = 160  # per run
REMINDERS = 3000  # per run
TIMEOUT = 300.0


def _fresh_therapists(seeded: SeededPractice, schedule: Schedule) -> list[int]:
    """Four therapists of the bench service working every day 07:00-21:00: calendars of their
    own, so the figure's bookings take no slot another figure deals."""
    ids = []
    with transaction.atomic():
        for number in range(4):
            user = create_user_in_practice(
                practice=seeded.practice,
                email=f"scale{number}@bench.example",
                password=None,
                role=Role.THERAPIST,
                first_name="Scale",
                last_name=f"Out {number}",
            )
            therapist = Therapist.objects.get(user=user)
            therapist.services.add(schedule.service)
            set_working_hours(
                therapist=therapist,
                intervals=[
                    {"weekday": day, "start": dt.time(7), "end": dt.time(21)} for day in range(7)
                ],
            )
            ids.append(therapist.pk)
    return ids


def _bookings_per_s(seeded, schedule, therapists, workers: int, rng, say) -> float:
    service = schedule.service
    today = timezone.localdate(timezone=seeded.practice.tz)
    offset = 2 if workers == 1 else 32  # each run its own days
    with serve(workers=workers) as base:
        offered = availability(
            base,
            seeded.token,
            service,
            today + dt.timedelta(days=offset),
            today + dt.timedelta(days=offset + 29),
        )
        mine = [slot for slot in offered if slot["therapist"] in therapists]
        warm = 2 * CLIENTS
        slots = deal_slots(mine, BOOKINGS + warm, dt.timedelta(minutes=service.buffer_minutes), rng)
        client_ids = list(
            Client.objects.filter(practice=seeded.practice).values_list("pk", flat=True)[:500]
        )
        expected = (BOOKED, CONFLICT)
        load(
            base,
            seeded.token,
            booking_jobs(slots[:warm], service, client_ids, rng),
            Phase("", expected),
        )
        phase = load(
            base,
            seeded.token,
            booking_jobs(slots[warm:], service, client_ids, rng),
            Phase(f"gunicorn --workers {workers}", expected),
        )
    for line in phase.unexpected:
        say(f"  {NAME}: unexpected answer: {line}")
    if phase.errors:
        raise BenchError(f"{NAME}: {phase.errors} unexpected answers with {workers} worker(s)")
    say(f"  {NAME}: {phase.summary()}")
    return phase.statuses[BOOKED] / phase.wall


def _seed_nudges(seeded: SeededPractice, count: int) -> list[int]:
    """`count` due rebooking nudges (email), claimed as the dispatcher claims them."""
    rng = random.Random(SEED + 9)
    clients = list(
        Client.objects.filter(practice=seeded.practice)
        .exclude(email="")
        .values_list("pk", flat=True)
    )
    now = timezone.now()
    Reminder.objects.bulk_create(
        (
            Reminder(
                practice=seeded.practice,
                client_id=rng.choice(clients),
                kind=ReminderKind.REBOOK_NUDGE,
                channel="email",
                scheduled_for=now - dt.timedelta(seconds=rng.randrange(60, 600)),
            )
            for _ in range(count)
        ),
        batch_size=1000,
    )
    claimed: list[int] = []
    while ids := claim_due_reminders():
        claimed += ids
    if len(claimed) < count:
        raise BenchError(f"{NAME}: claimed {len(claimed)} of {count} due nudges")
    return claimed


def _reminders_per_s(seeded: SeededPractice, workers: int, say) -> float:
    from sessions.tasks import send_reminders

    claimed = _seed_nudges(seeded, REMINDERS)
    queue_name = f"bench-scale-{uuid.uuid4().hex[:8]}"
    names = [f"{queue_name}-{n}@{socket.gethostname()}" for n in range(workers)]
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as var_dir:
        logs = [Path(var_dir) / f"worker{n}.log" for n in range(workers)]
        env = child_env(var_dir, EMAIL_URL="consolemail://", SMS_URL="console://")
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = False
        try:
            with ExitStack() as stack:
                procs = _start_workers(stack, queue_name, env, logs)
                # Every worker up and answering before the clock starts.
                _wait(
                    lambda: len(app.control.ping(destination=names, timeout=0.5)) == workers,
                    procs,
                    logs,
                )
                started = time.perf_counter()
                with app.producer_or_acquire() as producer:
                    for chunk in chunks(claimed):
                        send_reminders.apply_async((chunk,), queue=queue_name, producer=producer)
                _wait(
                    lambda: (
                        Reminder.objects.filter(pk__in=claimed, status=ReminderStatus.SENT).count()
                        == len(claimed)
                    ),
                    procs,
                    logs,
                )
                seconds = time.perf_counter() - started
        finally:
            app.conf.task_always_eager = eager
            drop_redis_queues([queue_name])
    rate = len(claimed) / seconds
    say(f"  {NAME}: {workers} Celery worker(s) sent {len(claimed)} reminders at {rate:.0f}/s")
    return rate


def _start_workers(stack: ExitStack, queue_name: str, env: dict, logs: list[Path]) -> list:
    """One solo Celery worker per log file, all on one queue, stopped when `stack` closes."""
    procs = []
    for number, log in enumerate(logs):
        args = [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--queues",
            queue_name,
            "--hostname",
            f"{queue_name}-{number}@%h",
            "--include",
            "bench.tasks",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        procs.append(stack.enter_context(running(args, env=env, log=log, stdout_to_log=False)))
    return procs


def _wait(done, procs: list, logs: list[Path]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if done():
            return
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise BenchError(f"a worker exited with {proc.returncode}:\n{tail(log)}")
        time.sleep(0.2)
    raise BenchError(f"{NAME}: the workers did not finish in {TIMEOUT:.0f} s:\n{tail(logs[0])}")


def measure_scale_out(seeded: SeededPractice, schedule: Schedule, *, say) -> Figure | Skipped:
    if not (settings.IS_POSTGRES and settings.REDIS_URL):
        return Skipped(NAME, "needs Postgres and Redis (DATABASE_URL, REDIS_URL)")
    rng = random.Random(SEED + 8)
    therapists = _fresh_therapists(seeded, schedule)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    web = [_bookings_per_s(seeded, schedule, therapists, n, rng, say) for n in (1, 2)]
    workers = [_reminders_per_s(seeded, n, say) for n in (1, 2)]
    load_average = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    limit = (
        f"CPU: load average {load_average:.1f} on {cores} cores, shared by the load generator, "
        "gunicorn or the workers, Postgres and Redis"
        if load_average >= cores
        else f"not the CPU alone (load average {load_average:.1f} on {cores} cores)"
    )
    say(
        f"  {NAME}: bookings/s {web[0]:.0f} -> {web[1]:.0f} ({web[1] / web[0]:.2f}x), "
        f"reminders/s {workers[0]:.0f} -> {workers[1]:.0f} ({workers[1] / workers[0]:.2f}x); "
        f"the limit: {limit}"
    )
    ratio = web[1] / web[0]
    return Figure(
        name=NAME,
        value=web[1],
        baseline=web[0],
        ratio=ratio,
        target=TARGET,
        unit="bookings/s",
        passes_when=(
            "recorded, no target (ratio = bookings/s with 2 gunicorn workers / 1; workers_ratio "
            "the same for Celery workers; limit says what held it)"
        ),
        passed=True,
        extra={
            "bookings_per_s_1_worker": round(web[0], 1),
            "bookings_per_s_2_workers": round(web[1], 1),
            "reminders_per_s_1_worker": round(workers[0], 1),
            "reminders_per_s_2_workers": round(workers[1], 1),
            "workers_ratio": round(workers[1] / workers[0], 3),
            "cores": cores,
            "load_average": round(load_average, 1),
            "limit": limit,
        },
    )
