"""Registration's verification email goes through a real Celery worker and a real Redis broker.

Eager mode only emulates a worker; this runs one (celery.contrib.testing.worker.start_worker, the
embedded worker Celery documents for integration tests) in a thread of this process, so the
locmem outbox it writes to is the one the test reads. The test is transactional: the worker
thread has its own database connection and sees only committed rows.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db import connection

from clients.models import Client
from config.celery import app
from practice.models import EmailVerification, User

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@dataclass
class WorkerRun:
    """Per task the worker thread finished: its name, and whether its DB connection was closed."""

    finished: list[tuple[str, bool]] = field(default_factory=list)

    def record(self, sender=None, **kwargs) -> None:
        # Runs in the worker thread, after Celery's Django fixup (connected when the worker
        # started) has had its turn: `connection` here is that thread's own connection.
        self.finished.append((sender.name, connection.connection is None))


@pytest.fixture
def celery_worker(settings, transactional_db):
    """A worker thread consuming the project's broker (REDIS_URL), with eager mode switched off."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert app.conf.broker_url == settings.REDIS_URL
    run = WorkerRun()
    app.conf.task_always_eager = False
    # Database connections are per thread: Celery's Django fixup (installed on config.celery.app)
    # closes the worker thread's connection after every task, so nothing holds a transaction open
    # when the test database is flushed, and the pool gets the connection back for the drop.
    try:
        # No result backend is configured, so the ping round trip start_worker offers is skipped;
        # start_worker still waits until the consumer is ready.
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False):
            task_postrun.connect(run.record, weak=False)
            yield run
    finally:
        task_postrun.disconnect(run.record)
        app.conf.task_always_eager = True


def test_registering_sends_the_verification_email_through_the_worker(celery_worker, anon, practice):
    response = anon.post(
        "/api/v1/auth/register/",
        {
            "practice": "north",
            "email": "dana@example.com",
            "password": "lumbar-support-42",
            "first_name": "Dana",
            "last_name": "Reyes",
            "phone": "+44 7700 900456",
        },
    )
    assert response.status_code == 201

    assert wait_for(lambda: len(mail.outbox) == 1), "the worker sent no email"
    assert wait_for(lambda: celery_worker.finished)
    assert celery_worker.finished == [("practice.tasks.send_email_verification", True)]
    message = mail.outbox[0]
    assert message.to == ["dana@example.com"]
    verification = EmailVerification.objects.get(user__email="dana@example.com")
    assert verification.practice == practice
    assert verification.phone == "+44 7700 900456"
    assert verification.used_at is None

    link = re.search(r"https?://\S+/api/v1/auth/verify-email/\?token=\S+", message.body)
    assert link, message.body
    url = urlsplit(link.group(0))
    assert anon.get(f"{url.path}?{url.query}").status_code == 200  # shows, changes nothing
    verified = anon.post(url.path, {"token": url.query.removeprefix("token=")})
    assert verified.status_code == 200
    assert User.objects.get(email="dana@example.com").email_verified_at is not None
    assert Client.objects.get(user__email="dana@example.com").phone == "+44 7700 900456"
