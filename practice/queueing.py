"""Publishing a task after commit without ever making a request wait on a broker that is down."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def publish_after_commit(task: Any, **kwargs: Any) -> None:
    """After the current transaction commits, queue `task` once, trying the broker only once.

    The rows the task acts on are already in the database, and a beat schedule picks them up
    anyway; so a broker outage costs a minute's delay, never a failed or slow request. Connections
    come from Celery's pool (a new connection per publish costs milliseconds on every booking);
    `max_retries=0` stops kombu from retrying a dead broker for seconds while the client waits.
    """

    def publish() -> None:
        with task.app.pool.acquire(block=True, timeout=2) as connection:
            connection.ensure_connection(max_retries=0)
            task.apply_async(kwargs=kwargs, retry=False, connection=connection)

    transaction.on_commit(publish, robust=True)
