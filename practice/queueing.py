"""Publishing a task after commit without ever making a request wait on a broker that is down.

Tasks are named, never imported: `tasks.py` modules sit on top of their app (they import services;
nothing imports them but Celery's registry and the beat schedule), so a service enqueues with
`enqueue_after_commit("sessions.tasks.dispatch_reminders")`."""

from __future__ import annotations

import logging
from typing import Any, cast

from celery import Task, current_app
from django.db import connection, models, transaction

logger = logging.getLogger(__name__)


def registered_task(name: str) -> Task:
    """The task called `name` in Celery's registry (config/__init__.py makes the project's app
    current). A web process imports no tasks module itself: the first lookup runs Celery's
    autodiscovery of each app's `tasks.py`, as a worker does at start."""
    app = current_app
    if name not in app.tasks:
        # Not `loader.import_default_modules()`: in a web process that would run Django's system
        # checks (Celery's worker fixup) inside the request that enqueues first.
        app.autodiscover_tasks(force=True)
    return app.tasks[name]


def enqueue_after_commit(task_name: str, **kwargs: Any) -> None:
    """After the current transaction commits, queue the task `task_name` once, trying the broker
    only once.

    The rows the task acts on are already in the database, and a beat schedule picks them up
    anyway; so a broker outage costs a minute's delay, never a failed or slow request. Connections
    come from Celery's pool (a new connection per publish costs milliseconds on every booking);
    `max_retries=0` stops kombu from retrying a dead broker for seconds while the client waits.
    """

    def publish() -> None:
        task = registered_task(task_name)
        with task.app.pool.acquire(block=True, timeout=2) as connection:
            connection.ensure_connection(max_retries=0)
            task.apply_async(kwargs=kwargs, retry=False, connection=connection)

    transaction.on_commit(publish, robust=True)


def claim_batch(
    *,
    model: type[models.Model],
    due: models.Q,
    order_by: str | tuple[str, ...],
    claimed: dict[str, Any],
    lapsed: models.Q,
    released: dict[str, Any],
    batch: int,
) -> list[int]:
    """Claim up to `batch` due rows for sending, skipping rows another dispatcher holds.

    First, rows whose sender's lease lapsed (a killed worker) are `released` back to the queue;
    then due rows are locked with SELECT ... FOR UPDATE SKIP LOCKED and marked `claimed`, so two
    dispatchers never hand out the same row. Shared by reminders and webhook deliveries.
    """
    with transaction.atomic():
        model._default_manager.filter(lapsed).update(**released)
        ids = list(
            model._default_manager.select_for_update(skip_locked=True)
            .filter(due)
            .order_by(*((order_by,) if isinstance(order_by, str) else order_by))
            .values_list("pk", flat=True)[:batch]
        )
        model._default_manager.filter(pk__in=ids).update(**claimed)
    return ids


def update_not_waiting_for_disk(model: type[models.Model], pk: int, **fields: Any) -> int:
    """`UPDATE` one row in a transaction of its own whose commit does not wait for the WAL to
    reach disk; the number of rows updated.

    For the marks a sender writes after each message goes out (`sent`, `failed`): a commit then
    costs one round trip instead of an fsync, which on ordinary disks is the largest cost of a
    send. A killed worker loses nothing (the server has the commit); a clean Postgres restart
    loses nothing (it flushes first). Only a Postgres *crash* within wal_writer_delay (200 ms) of a
    mark can drop it, and then that one message goes out again: at-least-once on that failure alone.

    One statement (issue 22.3, 22.5): the setting is made transaction-local by `set_config(...,
    true)` inside the UPDATE itself, so no session state is left behind (a connection pooler in
    transaction mode may hand the next statement to another server connection), and the
    statement's text is the same every time for a set of fields, so psycopg prepares it once.
    Inside a caller's transaction (tests) it is a plain ORM update: the commit is not ours.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return model._default_manager.filter(pk=pk).update(**fields)
    meta = model._meta
    quote = connection.ops.quote_name
    columns, params = [], []
    for name, value in fields.items():
        field = cast(models.Field, meta.get_field(name))
        columns.append(f"{quote(str(field.column))} = %s")
        params.append(field.get_db_prep_save(value, connection))
    table, key = quote(meta.db_table), quote(str(cast(models.Field, meta.pk).column))
    sql = (
        f"UPDATE {table} SET {', '.join(columns)} "  # noqa: S608 - names from _meta
        "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS not_waiting "
        f"WHERE {table}.{key} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk])
        return cursor.rowcount
