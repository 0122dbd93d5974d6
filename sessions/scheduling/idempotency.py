"""`Idempotency-Key` on creating POSTs (API.md "Conventions").

The same key with the same body answers the first (successful) response again; with a different
body, 409 `idempotency_key_reused`. The record is written in the booking's transaction, so a key is
kept exactly when its booking is; a purge task drops records after IDEMPOTENCY_KEEP_HOURS (>= 24).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from practice.errors import DomainError, IdempotencyKeyReused, Invalid
from practice.models import Practice
from sessions.scheduling.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
KEEP_HOURS = 48


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
    secret back into it on replay."""
    key = request.META.get(HEADER)
    if not key:
        return create()
    if len(key) > 200:
        raise Invalid.on("Idempotency-Key", "At most 200 characters.")
    fingerprint = _fingerprint(request)
    replay = _replay(practice, principal, key, fingerprint, restore)
    if replay is not None:
        return replay
    try:
        with transaction.atomic():
            response = create()
            if 200 <= response.status_code < 300:
                IdempotencyRecord.objects.create(
                    practice=practice,
                    principal=principal,
                    key=key,
                    request_hash=fingerprint,
                    status_code=response.status_code,
                    response=json.loads(
                        json.dumps(redact(response) if redact else response.data, default=str)
                    ),
                )
            return response
    except (DomainError, IntegrityError):
        # A concurrent request with the same key may have won; if so, answer what it answered.
        replay = _replay(practice, principal, key, fingerprint, restore)
        if replay is not None:
            return replay
        raise
