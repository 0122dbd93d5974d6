"""Tombstones: hard deletions made visible to `?updated_since=` sync (issue 14.5).

Erasure, retention purges and removed time off delete rows; a client syncing with `updated_since`
would never see them go. Every deletion of a tracked model, however it happens (a view, a
queryset delete, a cascade), leaves a row with only its type and id in `deleted/`, kept for the
practice's `sync_horizon_days`, and the scheduling types send a `<type>.deleted` webhook event.
Apps register their models here (`track_deletions`); this module imports none of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models.signals import post_delete
from django.utils import timezone

from practice.models import SCHEDULING_TOMBSTONE_TYPES, Practice, Tombstone
from practice.webhooks import record_event


def record_deletion(*, practice_id: int, record_type: str, record_id: int) -> Tombstone:
    """Keep the deleted record's type and id, and tell the webhook subscribers."""
    tombstone = Tombstone.objects.create(
        practice_id=practice_id, record_type=record_type, record_id=record_id
    )
    if record_type in SCHEDULING_TOMBSTONE_TYPES:
        record_event(
            practice=practice_id,
            type=f"{record_type}.deleted",
            data={"id": record_id, "type": record_type},
        )
    return tombstone


def _practice_goes_too(origin: object) -> bool:
    """A practice being deleted takes its records along: nothing is left to sync them to."""
    if isinstance(origin, Practice):
        return True
    return isinstance(origin, models.QuerySet) and origin.model is Practice


# model -> record type: what `track_deletions` registered (tests check every record type that
# erasure or the purge deletes is here).
TRACKED: dict[type[models.Model], str] = {}


def _practice_id(instance: models.Model, path: str) -> int:
    value: Any = instance
    for attr in path.split("."):
        value = getattr(value, attr)
    return value


def track_deletions(
    model: type[models.Model], record_type: str, practice_path: str = "practice_id"
) -> None:
    """Leave a tombstone whenever a row of `model` is deleted (post_delete also fires for
    queryset deletes and cascades, inside their transaction). `practice_path` reaches the
    practice's id from a row with no `practice` of its own (e.g. "complaint.practice_id"; the
    parent is deleted after its rows, so it is still there to read)."""
    TRACKED[model] = record_type

    def deleted(
        sender: type[models.Model], instance: Any, origin: object = None, **kwargs: Any
    ) -> None:
        if _practice_goes_too(origin):
            return
        record_deletion(
            practice_id=_practice_id(instance, practice_path),
            record_type=record_type,
            record_id=instance.pk,
        )

    post_delete.connect(deleted, sender=model, weak=False, dispatch_uid=f"tombstone-{record_type}")


def purge_old_tombstones(now: datetime | None = None) -> int:
    """Drop tombstones older than their practice's sync horizon (a daily beat task)."""
    now = now or timezone.now()
    purged = 0
    horizons = Practice.objects.filter(pk__in=Tombstone.objects.values("practice_id")).values_list(
        "pk", "sync_horizon_days"
    )
    for practice_id, days in horizons:
        purged += Tombstone.objects.filter(
            practice_id=practice_id, deleted_at__lt=now - timedelta(days=days)
        ).delete()[0]
    return purged
