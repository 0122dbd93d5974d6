"""Publishing a task after commit without ever making a request wait on a broker that is down."""

from __future__ import annotations

from typing import Any

from django.db import transaction


def publish_after_commit(task: Any, **kwargs: Any) -> None:
    """After the current transaction commits, queue `task` once, trying the broker only once.

    The rows the task acts on are already in the database, and a beat schedule picks them up
    anyway; so a broker outage costs a minute's delay, never a failed or slow request. (Kombu
    would otherwise retry the connection for several seconds while the client waits.)
    """

    def publish() -> None:
        app = task.app
        options = {**app.conf.broker_transport_options, "max_retries": 0}
        with app.connection_for_write(transport_options=options) as connection:
            task.apply_async(kwargs=kwargs, retry=False, connection=connection)

    transaction.on_commit(publish, robust=True)
