"""reminders_per_s: 10,000 due reminders through one real Celery worker, beside bare no-op tasks.

Needs Postgres (SKIP LOCKED, the partial index) and Redis (a real broker shared with a worker
process). The bench seeds 10,000 due reminders (email, each for a booked appointment) beside 10,000
long sent ones, shows the EXPLAIN of the dispatcher's claim query, claims every due row with
`sessions.scheduling.reminders.claim_due_reminders` and queues the `send_reminders` tasks the beat's
`dispatch_reminders` would publish (a chunk of ids each), then one `bench.noop` task per
reminder, all on a queue of its own, each batch between two `bench.mark` tasks. Only then does
it start one worker (`--pool=solo`, the console email backend writing to /dev/null): it takes
the queue in order, so the marks time each batch on the same broker and worker, without the
publishing in the way.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.measure import BenchError
from bench.processes import BIN, child_env, drop_redis_queues, running, tail
from bench.results import Figure, Skipped
from bench.schedule import BUFFER, DURATION, Schedule
from bench.seed import SEED, SeededPractice
from clients.models import Client
from config.celery import app
from sessions.scheduling.models import Appointment, Reminder, ReminderKind, ReminderStatus, Status
from sessions.scheduling.reminders import claim_due_reminders

NAME = "reminders_per_s"
TARGET = 0.8  # at least 0.8x the bare task rate (issue 22.3; 0.5 before)
INDEX = "reminder_due_idx"
HISTORY = 10_000  # sent reminders from the past year: the table is not only due rows
# The reminded appointments lie beyond every window the other figures book in: course_booking's
# ten weekly visits end by day 129; 10,000 of them, an hour apart over 3 therapists, end by day 280.
FIRST_DAY = 140
TIMEOUT = 300.0


def seed_reminders(seeded: SeededPractice, schedule: Schedule, count: int) -> None:
    rng = random.Random(SEED + 4)
    practice = seeded.practice
    now = timezone.now()
    base = dt.datetime.combine(
        timezone.localdate() + dt.timedelta(days=FIRST_DAY), dt.time(), tzinfo=dt.UTC
    )
    clients = list(
        Client.objects.filter(practice=practice).exclude(email="").values_list("pk", flat=True)
    )
    therapists = schedule.therapists
    with transaction.atomic():
        appointments = Appointment.objects.bulk_create(
            (
                Appointment(
                    practice=practice,
                    client_id=rng.choice(clients),
                    therapist=therapists[number % len(therapists)],
                    service=schedule.service,
                    start=(start := base + (number // len(therapists)) * (DURATION + BUFFER)),
                    end=start + DURATION,
                    blocked_until=start + DURATION + BUFFER,
                    status=Status.BOOKED,
                    source="staff",
                    booked_by=seeded.owner,
                )
                for number in range(count)
            ),
            batch_size=1000,
        )
        Reminder.objects.bulk_create(
            (
                Reminder(
                    practice=practice,
                    client_id=appointment.client_id,
                    appointment=appointment,
                    kind=ReminderKind.REMINDER,
                    channel="email",
                    scheduled_for=now - dt.timedelta(seconds=rng.randrange(60, 3600)),
                )
                for appointment in appointments
            ),
            batch_size=1000,
        )
        history = []
        for _ in range(HISTORY):
            sent = now - dt.timedelta(seconds=rng.randrange(3600, 365 * 24 * 3600))
            history.append(
                Reminder(
                    practice=practice,
                    client_id=rng.choice(clients),
                    appointment=None,
                    kind=ReminderKind.REBOOK_NUDGE,
                    channel="email",
                    scheduled_for=sent,
                    status=ReminderStatus.SENT,
                    attempts=1,
                    sent_at=sent,
                )
            )
        Reminder.objects.bulk_create(history, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def explain_claim() -> list[str]:
    """EXPLAIN of the SELECT … FOR UPDATE SKIP LOCKED that claim_due_reminders runs (captured from a
    call whose transaction is rolled back, so no row is claimed)."""
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        claim_due_reminders()
        transaction.set_rollback(True)
    claims = [q["sql"] for q in queries.captured_queries if "SKIP LOCKED" in q["sql"]]
    if len(claims) != 1:
        raise BenchError(
            f"{NAME}: expected one SKIP LOCKED query in claim_due_reminders, saw {len(claims)}"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {claims[0]}")
        return [claims[0]] + [row[0] for row in cursor.fetchall()]


def _wait_for(key: str, worker, log: Path, deadline: float) -> float:
    while time.monotonic() < deadline:
        at = cache.get(key)
        if at is not None:
            return at
        if worker.poll() is not None:
            raise BenchError(f"the worker exited with {worker.returncode}:\n{tail(log)}")
        time.sleep(0.05)
    raise BenchError(f"{NAME}: the worker did not get to {key} in {TIMEOUT:.0f} s:\n{tail(log)}")


def measure_reminders(
    seeded: SeededPractice, schedule: Schedule, *, count: int, say
) -> Figure | Skipped:
    if not (settings.IS_POSTGRES and settings.REDIS_URL):
        return Skipped(NAME, "needs Postgres and Redis (DATABASE_URL, REDIS_URL)")
    from bench.tasks import mark, noop
    from sessions.scheduling.reminders import chunks
    from sessions.tasks import send_reminders

    started = time.perf_counter()
    seed_reminders(seeded, schedule, count)
    say(
        f"  {NAME}: seeded {count} due reminders and {HISTORY} sent ones in "
        f"{time.perf_counter() - started:.1f}s"
    )

    sql, *plan = explain_claim()
    uses_index = any(INDEX in line for line in plan)
    say(f"  {NAME}: the claim query ({'uses' if uses_index else 'does NOT use'} {INDEX}):")
    say(f"    {sql}")
    for line in plan:
        say(f"    {line}")

    started = time.perf_counter()
    claimed: list[int] = []
    while ids := claim_due_reminders():
        claimed += ids
    claim_seconds = time.perf_counter() - started
    if len(claimed) < count:
        raise BenchError(
            f"{NAME}: claim_due_reminders claimed {len(claimed)} of {count} due reminders"
        )

    queue_name = f"bench-worker-{uuid.uuid4().hex[:8]}"
    run = uuid.uuid4().hex
    keys = {
        batch: (f"bench:{run}:{batch}:start", f"bench:{run}:{batch}:end")
        for batch in ("reminders", "noop")
    }
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        started = time.perf_counter()
        with app.producer_or_acquire() as producer:

            def queue(task, *args) -> None:
                task.apply_async(args, queue=queue_name, producer=producer)

            queue(mark, keys["reminders"][0])
            for chunk in chunks(claimed):  # what dispatch_reminders publishes
                queue(send_reminders, chunk)
            queue(mark, keys["reminders"][1])
            queue(mark, keys["noop"][0])
            for _ in claimed:
                queue(noop)
            queue(mark, keys["noop"][1])
        say(
            f"  {NAME}: claimed {len(claimed)} in {claim_seconds:.1f}s "
            f"({len(claimed) / claim_seconds:.0f}/s), queued them and {len(claimed)} no-ops in "
            f"{time.perf_counter() - started:.1f}s"
        )
        times, log = _run_worker(queue_name, keys)
    finally:
        app.conf.task_always_eager = eager
        drop_redis_queues([queue_name])
        cache.delete_many([key for pair in keys.values() for key in pair])

    sent = Reminder.objects.filter(pk__in=claimed, status=ReminderStatus.SENT).count()
    if sent != len(claimed):
        statuses = dict(
            Reminder.objects.filter(pk__in=claimed)
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        raise BenchError(
            f"{NAME}: {sent} of {len(claimed)} claimed reminders sent: {statuses}; "
            f"the worker's log ends:\n{log}"
        )
    value = len(claimed) / (times["reminders"][1] - times["reminders"][0])
    baseline = len(claimed) / (times["noop"][1] - times["noop"][0])
    say(
        f"  {NAME}: one worker (--pool=solo) sent {sent} reminders at {value:.0f}/s, "
        f"ran {len(claimed)} no-op tasks at {baseline:.0f}/s"
    )
    ratio = value / baseline
    return Figure(
        name=NAME,
        value=value,
        baseline=baseline,
        ratio=ratio,
        target=TARGET,
        unit="reminders/s",
        baseline_unit="tasks/s",
        passes_when=f"ratio >= {TARGET:g} and the claim query uses {INDEX}",
        passed=ratio >= TARGET and uses_index,
        extra={
            "reminders": sent,
            "claim_uses_index": uses_index,
            "claim_per_s": round(len(claimed) / claim_seconds),
        },
    )


def _run_worker(queue_name: str, keys: dict) -> tuple[dict[str, tuple[float, float]], str]:
    """Start the worker on the queue, wait for each batch's marks; the times and the log's end."""
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as var_dir:
        log = Path(var_dir) / "worker.log"
        env = child_env(var_dir, EMAIL_URL="consolemail://", SMS_URL="console://")
        args = [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--queues",
            queue_name,
            "--hostname",
            f"{queue_name}@%h",
            "--include",
            "bench.tasks",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        # stdout is the console email backend's: 10,000 messages, to /dev/null.
        with running(args, env=env, log=log, stdout_to_log=False) as worker:
            deadline = time.monotonic() + TIMEOUT
            times = {
                batch: (
                    _wait_for(start, worker, log, deadline),
                    _wait_for(end, worker, log, deadline),
                )
                for batch, (start, end) in keys.items()
            }
        return times, tail(log)
