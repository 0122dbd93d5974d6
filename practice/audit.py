"""The audit log's one writer (DOMAIN.md 8 "Audit controls"): every AuditEvent row, whether a
request's read or write (`practice.tenancy.log_access`), a clinical override, a matrix change or
a system job's erasure, is written by `audit()`."""

from __future__ import annotations

from collections.abc import Iterable

from practice.models import ApiKey, AuditEvent, Practice, User


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
) -> AuditEvent:
    """One row naming `record_ids`. `client_ids` say whose records these are: one client is kept
    in the indexed `client_id` (for `clients/{id}/access-log/`), several are listed."""
    clients = sorted({pk for pk in client_ids if pk is not None})
    return AuditEvent.objects.create(
        practice_id=practice if isinstance(practice, int) else practice.pk,
        actor=actor,
        role=role,
        api_key=api_key,
        action=action,
        record_type=record_type,
        record_ids=AuditEvent.encode(list(record_ids)),
        client_id=clients[0] if len(clients) == 1 else None,
        client_ids=AuditEvent.encode(clients) if clients else "",
        ip_address=ip_address,
    )
