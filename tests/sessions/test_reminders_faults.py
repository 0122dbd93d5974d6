"""Reminders survive faults (API.md "Reminders and follow-ups": sent once, never lost, never twice).

Real services only: Postgres for the schedule, a Redis broker, real Celery worker *processes*
(`celery -A config worker`) reading the pytest test database, and a small SMTP server in this
process that counts every message it accepts. A message counts as delivered when the SMTP server
has answered 250 to its DATA, as with any mail server. Each test runs its own redis-server on a
spare port, so stopping it (or a queue left behind by a killed worker) touches nobody else.

The one window no design can close: a worker killed after the mail server accepted a message and
before the row is marked `sent` resends that message when its lease runs out (at-least-once at
that instant). The kill test therefore kills the worker while it waits for the server's answer,
the last moment at which the message is not yet delivered.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from clients.models import Client
from config.celery import app
from sessions import tasks
from sessions.scheduling import reminders
from sessions.scheduling.models import Appointment, Reminder, ReminderKind, ReminderStatus
from tests.factories import ClientFactory
from tests.sessions.booking_setup import intake_done
from tests.sessions.test_reminders import Bookable, book, local, make_bookable

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server")
needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None, reason="needs redis-server on PATH to run a Redis of its own"
)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def free_port() -> int:
    """A free port below the ephemeral range (32768+ on Linux): while our Redis is stopped, no
    outgoing connection of any process can take its port, so it restarts on the same one."""
    for _ in range(100):
        port = random.randint(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port for redis-server")


# --- a Redis of our own ---------------------------------------------------------------------------


class OwnRedis:
    """A redis-server process this test starts and stops (never the shared one)."""

    def __init__(self, log: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log
        self.process: subprocess.Popen | None = None

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.ConnectionError:
            return False

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
                [
                    *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--daemonize", "no"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        assert wait_for(self.ping, timeout=20), self.log.read_text()[-2000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis shuts down (nothing to save)
            self.process.wait(timeout=10)
        self.process = None
        assert not self.ping()

    def queue_length(self) -> int:
        return redis.Redis(port=self.port).llen("celery")


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Publish from this process to `url`, for real (the autouse fixture made Celery eager)."""

    def forget_connections() -> None:
        # What Celery itself resets after a fork: the pools are bound to the old broker URL.
        app._pool = None
        app.amqp._producer_pool = None

    saved = app.conf.broker_url
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    forget_connections()
    try:
        yield
    finally:
        app.conf.broker_url = saved
        app.conf.task_always_eager = True
        forget_connections()


# --- an SMTP server that counts deliveries --------------------------------------------------------


class SmtpSink(socketserver.ThreadingTCPServer):
    """Accepts mail on 127.0.0.1 and records the recipients of each accepted message.

    `hold_at=n` keeps the n-th message waiting for its 250 until the sender's connection drops,
    without accepting it: the moment to kill a worker "mid-send".
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, hold_at: int | None = None):
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.hold_at = hold_at
        self.held = threading.Event()
        self.held_recipients: list[str] = []
        self.delivered: list[str] = []
        self.received = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.server_address[1]}"

    def counts(self) -> Counter:
        with self.lock:
            return Counter(self.delivered)


class SmtpHandler(socketserver.StreamRequestHandler):
    server: SmtpSink

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.connection.settimeout(120)
        self.reply("220 sink ESMTP")
        recipients: list[str] = []
        while line := self.rfile.readline():
            verb = line[:4].decode().upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                with self.server.lock:
                    self.server.received += 1
                    hold = self.server.received == self.server.hold_at
                    if hold:
                        self.server.held_recipients = recipients
                if hold:
                    self.server.held.set()
                    self.rfile.read()  # until the killed sender's connection closes
                    return
                with self.server.lock:
                    self.server.delivered.extend(recipients)
                self.reply("250 accepted")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


@contextmanager
def smtp_sink(hold_at: int | None = None) -> Iterator[SmtpSink]:
    sink = SmtpSink(hold_at)
    sink.thread.start()
    try:
        yield sink
    finally:
        sink.shutdown()
        sink.server_close()


# --- real worker processes ------------------------------------------------------------------------


def database_url() -> str:
    """The pytest test database, for another process."""
    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


class Workers:
    """Celery worker processes started (and always stopped) by one test."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []

    def env(self, *, broker: str, smtp: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker,
            "EMAIL_URL": smtp,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "4",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, *, broker: str, smtp: str) -> subprocess.Popen:
        index = len(self.processes) + 1
        log = (self.tmp_path / f"worker-{index}.log").open("w")
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"),
                *("--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle"),
                *("--without-heartbeat", "--hostname", f"faults-{os.getpid()}-{index}@%h"),
            ],
            cwd=ROOT,
            env=self.env(broker=broker, smtp=smtp),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """kill -9: no warm shutdown, no ack, no chance to put anything back."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.kill(process)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}"
            for path in sorted(self.tmp_path.glob("worker-*.log"))
        )


@pytest.fixture
def workers(tmp_path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


# --- data -----------------------------------------------------------------------------------------


@pytest.fixture
def bookable(practice, therapist) -> Bookable:
    return make_bookable(practice, therapist.user.therapist)


def due_reminders(setup: Bookable, count: int) -> dict[str, int]:
    """`count` reminders due a minute ago, one client each; returns {client email: reminder id}."""
    clients = Client.objects.bulk_create(
        Client(
            practice=setup.practice,
            first_name=f"Client{n}",
            last_name="Faults",
            email=f"faults{n}@example.com",
        )
        for n in range(count)
    )
    start = timezone.now().replace(microsecond=0) + timedelta(days=2)
    appointments = Appointment.objects.bulk_create(
        Appointment(
            practice=setup.practice,
            client=client,
            therapist=setup.therapist,
            service=setup.service,
            start=start + timedelta(hours=2 * n),
            end=start + timedelta(hours=2 * n, minutes=60),
            blocked_until=start + timedelta(hours=2 * n, minutes=60),
            source="staff",
        )
        for n, client in enumerate(clients)
    )
    due = timezone.now() - timedelta(minutes=1)
    rows = Reminder.objects.bulk_create(
        Reminder(
            practice=setup.practice,
            client=appointment.client,
            appointment=appointment,
            kind=ReminderKind.REMINDER,
            channel="email",
            scheduled_for=due,
        )
        for appointment in appointments
    )
    return {row.client.email: row.pk for row in rows}


def sent_count() -> int:
    return Reminder.objects.filter(status=ReminderStatus.SENT).count()


# --- two dispatchers ------------------------------------------------------------------------------


def test_two_dispatchers_at_once_claim_disjoint_sets(bookable):
    expected = set(due_reminders(bookable, 500).values())
    start = threading.Barrier(2)
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def dispatcher(name: str) -> None:
        try:
            connection.ensure_connection()  # both connected before either starts claiming
            start.wait(timeout=10)
            while ids := reminders.claim_due_reminders(batch=10):
                claimed[name].extend(ids)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=dispatcher, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    a, b = set(claimed["a"]), set(claimed["b"])
    assert len(claimed["a"]) == len(a)
    assert len(claimed["b"]) == len(b)
    assert a.isdisjoint(b)
    assert a | b == expected
    assert a, "one dispatcher took everything: the two never ran at once"
    assert b, "one dispatcher took everything: the two never ran at once"
    assert Reminder.objects.filter(status=ReminderStatus.QUEUED).count() == 500


DISPATCHER = """
import os, sys, time
import django
django.setup()
from django.db import connection
from sessions import tasks
from sessions.scheduling import reminders
connection.ensure_connection()
tasks.send_reminder.app.connection_for_write().ensure_connection()
open(sys.argv[2], "w").close()  # ready
while not os.path.exists(sys.argv[1]):
    time.sleep(0.005)
while ids := reminders.claim_due_reminders(batch=20):
    for reminder_id in ids:
        tasks.send_reminder.delay(reminder_id)
    print(*ids, flush=True)
"""


@needs_redis_server
def test_two_dispatcher_processes_and_a_worker_send_each_reminder_once(
    bookable, own_redis, workers, tmp_path
):
    by_email = due_reminders(bookable, 300)
    go = tmp_path / "go"
    with smtp_sink() as sink:
        env = workers.env(broker=own_redis.url, smtp=sink.url)
        dispatchers = [
            subprocess.Popen(  # noqa: S603 - fixed arguments
                [sys.executable, "-c", DISPATCHER, str(go), str(tmp_path / f"ready-{n}")],
                cwd=ROOT,
                env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(2)
        ]
        workers.start(broker=own_redis.url, smtp=sink.url)
        ready = [tmp_path / f"ready-{n}" for n in range(2)]
        assert wait_for(lambda: all(path.exists() for path in ready), timeout=30)
        go.touch()
        outputs = [process.communicate(timeout=60) for process in dispatchers]

        assert [p.returncode for p in dispatchers] == [0, 0], outputs
        claimed = [[int(i) for i in out.split()] for out, _ in outputs]
        assert all(claimed), "one dispatcher claimed nothing: they never overlapped"
        assert set(claimed[0]).isdisjoint(claimed[1])
        assert sorted(claimed[0] + claimed[1]) == sorted(by_email.values())
        assert wait_for(lambda: sent_count() == 300), workers.logs()
        time.sleep(0.5)  # anything sent twice would arrive now

        assert sink.counts() == Counter(dict.fromkeys(by_email, 1))


# --- kill -9 mid-batch ----------------------------------------------------------------------------


@needs_redis_server
def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    bookable, own_redis, workers
):
    by_email = due_reminders(bookable, 500)
    with smtp_sink(hold_at=150) as sink, celery_broker(own_redis.url):
        first = workers.start(broker=own_redis.url, smtp=sink.url)
        while tasks.dispatch_reminders():  # the beat's work: claim, publish send tasks
            pass
        assert Reminder.objects.filter(status=ReminderStatus.QUEUED).count() == 500

        # The 150th message is on the wire, not yet accepted: kill -9 the worker now.
        assert sink.held.wait(timeout=90), workers.logs()
        workers.kill(first)
        (held_email,) = sink.held_recipients
        held = Reminder.objects.get(pk=by_email[held_email])
        assert held.status == ReminderStatus.SENDING
        assert sent_count() == 149  # one solo worker: each message marked before the next
        # The killed task's chunk: claimed together, the held message and those after it unsent.
        stranded = set(
            Reminder.objects.filter(status=ReminderStatus.SENDING).values_list("pk", flat=True)
        )
        assert held.pk in stranded
        assert len(stranded) <= reminders.CHUNK

        workers.start(broker=own_redis.url, smtp=sink.url)
        assert wait_for(lambda: sent_count() == 500 - len(stranded)), workers.logs()
        assert wait_for(lambda: own_redis.queue_length() == 0)
        # The killed worker's task is unacked in Redis (redelivered only after the visibility
        # timeout); its rows wait in `sending` until their lease runs out, then go back.
        unsent = Reminder.objects.exclude(status=ReminderStatus.SENT)
        assert set(unsent.values_list("pk", flat=True)) == stranded
        later = timezone.now() + reminders.LEASE + timedelta(minutes=1)
        assert sorted(reminders.claim_due_reminders(now=later)) == sorted(stranded)
        tasks.send_reminders.delay(sorted(stranded))
        assert wait_for(lambda: sent_count() == 500), workers.logs()
        time.sleep(0.5)

        assert sink.counts() == Counter(dict.fromkeys(by_email, 1))
        held.refresh_from_db()
        assert (held.status, held.attempts) == (ReminderStatus.SENT, 2)


# --- the broker down ------------------------------------------------------------------------------


@needs_redis_server
def test_with_redis_down_bookings_succeed_and_reminders_go_out_once_it_is_back(
    owner, bookable, own_redis, workers, settings
):
    bookable.practice.reminder_hours_before = 24 * 7  # every reminder below is due at once
    bookable.practice.save()
    starts = [local(bookable.practice, day, hour) for day in (2, 3, 4) for hour in range(8, 16)]
    clients = [ClientFactory(practice=bookable.practice) for _ in range(21)]
    for client in clients:
        intake_done(client)  # only the appointments' reminders are counted below
    # Everything Redis does for the web process (broker and cache) goes to the Redis we stop.
    redis_cache = {"default": {**settings.CACHES["default"], "LOCATION": own_redis.url}}
    with smtp_sink() as sink, celery_broker(own_redis.url), override_settings(CACHES=redis_cache):
        own_redis.stop()

        booked = [
            book(owner.api, bookable, start, client=client)  # asserts 201
            for start, client in zip(starts[:20], clients, strict=False)
        ]
        moved = owner.api.post(
            f"/api/v1/appointments/{booked[0]['id']}/reschedule/",
            {"start": starts[20].isoformat()},
        )
        dropped = book(owner.api, bookable, starts[21], client=clients[20])
        cancelled = owner.api.post(
            f"/api/v1/appointments/{dropped['id']}/cancel/", {"reason": "Away"}
        )

        assert moved.status_code == 200, moved.content
        assert cancelled.status_code == 200, cancelled.content
        pending = Reminder.objects.filter(status=ReminderStatus.SCHEDULED)
        assert pending.count() == 20  # the schedule is in Postgres
        assert pending.filter(scheduled_for__lte=timezone.now()).count() == 20

        own_redis.start()
        workers.start(broker=own_redis.url, smtp=sink.url)
        tasks.dispatch_reminders.delay()  # the next beat tick
        assert wait_for(lambda: sent_count() == 20), workers.logs()
        time.sleep(0.5)

        assert sink.counts() == Counter(c.email for c in clients[:20])
        assert set(
            Reminder.objects.filter(status=ReminderStatus.SENT).values_list(
                "appointment_id", flat=True
            )
        ) == {a["id"] for a in booked}
        assert Reminder.objects.get(appointment_id=dropped["id"]).status == "cancelled"
