"""`Idempotency-Key` on creating POSTs (API.md "Conventions").

The same key with the same body answers the first (successful) response again; with a different
body, 409 `idempotency_key_reused`. The record is written in the booking's transaction, so a key is
kept exactly when its booking is; a purge task drops records after IDEMPOTENCY_KEEP_HOURS (>= 24).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar, cast

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from practice.errors import IdempotencyKeyReused, Invalid
from practice.models import Practice
from sessions.scheduling.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
KEEP_HOURS = 48
P = ParamSpec("P")
R = TypeVar("R")


# Set while `idempotent` runs its `create` in the key's transaction: see `write_atomically`.
_IN_KEY_TRANSACTION: ContextVar[bool] = ContextVar("in_key_transaction", default=False)


def write_atomically(service: Callable[P, R]) -> Callable[P, R]:
    """`transaction.atomic` for a service that the key's transaction may already hold: there it
    takes no savepoint of its own (issue 22.1: a SAVEPOINT and a RELEASE per booking), since that
    transaction is rolled back whole on any error. Elsewhere (a caller's transaction that may
    catch the error and go on, a test's) it is the usual savepoint."""

    @functools.wraps(service)
    def atomically(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction.atomic(savepoint=not _IN_KEY_TRANSACTION.get()):
            return service(*args, **kwargs)

    return atomically


@contextmanager
def _key_transaction() -> Iterator[None]:
    marked = _IN_KEY_TRANSACTION.set(True)
    try:
        with transaction.atomic():
            yield
    finally:
        _IN_KEY_TRANSACTION.reset(marked)


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


# A response holding a secret (a manage link) is stored without it and given a fresh one on replay
# (issue 13.10): a secret is kept only as a hash, here as everywhere else.
Redact = Callable[[Response], dict[str, Any]]
Restore = Callable[[dict[str, Any]], dict[str, Any]]


def _replay(
    practice: Practice, principal: str, key: str, fingerprint: str, restore: Restore | None
) -> Response | None:
    record = IdempotencyRecord.objects.filter(
        practice=practice, principal=principal, key=key
    ).first()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    body = restore(dict(record.response)) if restore is not None else record.response
    response = Response(body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


class _KeyTaken(Exception):
    """The key was stored by an earlier request: undo this attempt and answer that one."""


def _store(
    *,
    practice: Practice,
    principal: str,
    key: str,
    fingerprint: str,
    response: Response,
    redact: Redact | None,
) -> bool:
    """Keep the first answer under the key: one `INSERT ... ON CONFLICT DO NOTHING RETURNING`
    (issue 22.1), so the lookup is folded into the insert. False when the key was already taken
    (also by a concurrent request: the insert waits for it on the unique index)."""
    body = json.loads(json.dumps(redact(response) if redact else response.data, default=str))
    fields = IdempotencyRecord._meta
    values = {
        "practice_id": practice.pk,
        "principal": principal,
        "key": key,
        "request_hash": fingerprint,
        "status_code": response.status_code,
        "response": body,
        "created_at": timezone.now(),
    }
    concrete = {name: cast(Field, fields.get_field(name)) for name in values}
    params = [concrete[name].get_db_prep_save(value, connection) for name, value in values.items()]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in concrete.values())
    unique = ", ".join(quote(name) for name in ("practice_id", "principal", "key"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(str(fields.db_table))} ({columns}) "  # noqa: S608 - names from _meta
            f"VALUES ({', '.join(['%s'] * len(params))}) "
            f"ON CONFLICT ({unique}) DO NOTHING RETURNING 1",
            params,
        )
        return cursor.fetchone() is not None


def idempotent(
    request: Request,
    *,
    practice: Practice,
    principal: str,
    create: Callable[[], Response],
    redact: Redact | None = None,
    restore: Restore | None = None,
) -> Response:
    """Run `create` at most once per (practice, principal, key) and body.

    `redact` gives what to store of a response that carries a secret, `restore` puts a fresh
    secret back into it on replay.

    The first answer is looked for only when this attempt cannot stand (issue 22.1): `create` runs
    first, and its success is kept by one insert that does nothing if the key is taken; then the
    attempt is rolled back and the stored answer replayed (or 409 for another body). A failure
    (an error or a non-2xx answer) also looks for a stored answer before it is given. So a key
    that holds an answer always replays it, and a first booking costs one query for its key."""
    key = request.META.get(HEADER)
    if not key:
        return create()
    if len(key) > 200:
        raise Invalid.on("Idempotency-Key", "At most 200 characters.")
    fingerprint = _fingerprint(request)
    try:
        with _key_transaction():
            response = create()
            if not 200 <= response.status_code < 300:
                if not IdempotencyRecord.objects.filter(
                    practice=practice, principal=principal, key=key
                ).exists():
                    return response
                raise _KeyTaken()  # the stored answer stands, not this attempt
            stored = _store(
                practice=practice,
                principal=principal,
                key=key,
                fingerprint=fingerprint,
                response=response,
                redact=redact,
            )
            if not stored:
                raise _KeyTaken()
            return response
    except Exception:
        # A retry whose first attempt stands (its slot is taken by itself, say), or a concurrent
        # request with the same key that won: answer what that one answered.
        replay = _replay(practice, principal, key, fingerprint, restore)
        if replay is not None:
            return replay
        raise
