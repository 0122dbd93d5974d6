"""The audit log's one writer (DOMAIN.md 8 "Audit controls"): every AuditEvent row, whether a
request's read or write (`practice.tenancy.log_access`), a clinical override, a matrix change or
a system job's erasure, is written by `audit()`."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import cast

from django.db import connection, models
from django.utils import timezone

from practice.models import ApiKey, AuditEvent, Practice, User

# The columns every row is written with, in the order of `_insert_sql`'s placeholders.
_COLUMNS = (
    "practice_id", "actor_id", "role", "api_key_id", "action", "record_type", "record_ids",
    "client_id", "client_ids", "ip_address", "at",
)  # fmt: skip


@cache
def _fields() -> list[models.Field]:
    return [cast(models.Field, AuditEvent._meta.get_field(name)) for name in _COLUMNS]


@cache
def _insert_sql(*, not_waiting_for_disk: bool) -> str:
    """One plain INSERT (no RETURNING, no model instance): every API response writes one, and
    the ORM's save path cost more than the statement (issue 22.2).

    `not_waiting_for_disk` (PostgreSQL, a read outside any transaction): the row commits in its
    own statement with `synchronous_commit` off for that transaction alone (`set_config(...,
    true)` inside the INSERT, so no session state is left for a pooler to hand on). The row is
    committed, visible and kept through any restart of the app, its workers, the broker or a
    clean Postgres restart before the response leaves; only the WAL flush is not waited for,
    which on a busy disk was the largest cost of a list (a flush per read). The one failure that
    can lose it is a crash of the Postgres server itself within `wal_writer_delay` (3 x 200 ms
    at most) of the commit, the window PostgreSQL documents for asynchronous commit."""
    quote = connection.ops.quote_name
    fields = _fields()
    columns = ", ".join(quote(str(field.column)) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    table = quote(AuditEvent._meta.db_table)
    if not_waiting_for_disk:
        return (
            f"INSERT INTO {table} ({columns}) SELECT {values} "  # noqa: S608 - names from _meta
            "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS not_waiting"
        )
    return f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608 - names from _meta


def audit(
    *,
    practice: Practice | int,
    action: str,
    record_type: str,
    record_ids: Iterable[int],
    actor: User | None = None,
    role: str = "",
    api_key: ApiKey | None = None,
    client_ids: Iterable[int | None] = (),
    ip_address: str | None = None,
) -> None:
    """One row naming `record_ids`. `client_ids` say whose records these are: one client is kept
    in the indexed `client_id` (for `clients/{id}/access-log/`), several are listed.

    Written in the caller's transaction when there is one (a write's row commits with the write);
    a read outside one commits it on its own before the response is sent (`_insert_sql`)."""
    clients = sorted({pk for pk in client_ids if pk is not None})
    values = (
        practice if isinstance(practice, int) else practice.pk,
        actor.pk if actor is not None else None,
        role,
        api_key.pk if api_key is not None else None,
        action,
        record_type,
        AuditEvent.encode(list(record_ids)),
        clients[0] if len(clients) == 1 else None,
        AuditEvent.encode(clients) if clients else "",
        ip_address,
        timezone.now(),
    )
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(_fields(), values, strict=True)
    ]
    # Inside a transaction (every write's), the row commits with it, as durably as the write.
    not_waiting = connection.vendor == "postgresql" and not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(not_waiting_for_disk=not_waiting), params)
