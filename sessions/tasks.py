"""Celery tasks of the sessions app: thin, idempotent, acting on state kept in the database."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from sessions.idempotency import KEEP_HOURS
from sessions.models import IdempotencyRecord


@shared_task
def purge_idempotency_records() -> int:
    """Idempotency keys are kept KEEP_HOURS (>= 24 h, API.md), then dropped."""
    cutoff = timezone.now() - timedelta(hours=KEEP_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
