"""Celery tasks of the sessions app: thin, idempotent, acting on state kept in the database."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from practice.queueing import publish_after_commit
from sessions import reminders
from sessions.idempotency import KEEP_HOURS
from sessions.models import IdempotencyRecord, QuietRefusal


@shared_task
def purge_idempotency_records() -> int:
    """Idempotency keys are kept KEEP_HOURS (>= 24 h, API.md), then dropped; so are quiet
    refusals (issue 13.3) whose time has passed by as long: their manage link has nothing to do."""
    cutoff = timezone.now() - timedelta(hours=KEEP_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    QuietRefusal.objects.filter(end__lt=cutoff).delete()
    return deleted


MAX_CLAIMS_PER_TICK = 50  # 10,000 reminders a minute at most from one dispatcher


@shared_task
def dispatch_reminders() -> int:
    """Beat, every minute: claim due reminders, batch after batch until none is left, and hand
    their ids to send tasks in chunks (each claim commits before its tasks are published)."""
    claimed = 0
    for _ in range(MAX_CLAIMS_PER_TICK):
        ids = reminders.claim_due()
        for chunk in reminders.chunks(ids):
            send_reminders.delay(chunk)
        claimed += len(ids)
        if len(ids) < reminders.BATCH:
            break
    return claimed


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_reminders(reminder_ids: list[int]) -> dict[int, str]:
    """Idempotent by reminder id: rows are claimed first, so running twice sends each once."""
    return reminders.send_reminders(reminder_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_reminder(reminder_id: int) -> str:
    """One reminder (a single id). The dispatcher sends chunks through `send_reminders`; this
    stays so that messages an earlier release queued still run after an upgrade."""
    return reminders.send_reminder(reminder_id)


@shared_task
def schedule_rebook_nudges() -> int:
    return reminders.schedule_rebook_nudges()


def dispatch_soon() -> None:
    """After the current transaction commits, ask for a dispatch now (e.g. a booking inside the
    reminder window). If the broker is down the booking still stands; the beat will catch up."""
    publish_after_commit(dispatch_reminders)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def offer_waitlist(therapist_id: int, start: str, end: str) -> int:
    """A time came free: offer it to the waitlist (idempotent enough: a claimed slot is gone)."""
    from datetime import datetime

    from sessions import waitlist

    offers = waitlist.offer_freed_time(
        therapist_id=therapist_id,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
    )
    return len(offers)


@shared_task
def expire_waitlist() -> int:
    from sessions import waitlist

    return waitlist.expire_entries()


def offer_freed_time_soon(therapist_id: int, start, end) -> None:
    publish_after_commit(
        offer_waitlist, therapist_id=therapist_id, start=start.isoformat(), end=end.isoformat()
    )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge_expired_records() -> int:
    """Daily: delete records past `retain_until`, never on legal hold (DOMAIN.md 4); running
    twice, or two at once, is harmless (sessions.privacy.purge_expired_records)."""
    from sessions import privacy

    return len(privacy.purge_expired_records().purged)
