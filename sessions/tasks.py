"""Celery tasks of the sessions app: thin, idempotent, acting on state kept in the database."""

from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone

from sessions.records import privacy
from sessions.scheduling import calendar_write_back, outside_calendars, reminders, waitlist
from sessions.scheduling.idempotency import KEEP_HOURS
from sessions.scheduling.models import IdempotencyRecord, QuietRefusal


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
        ids = reminders.claim_due_reminders()
        for chunk in reminders.chunks(ids):
            send_reminders.delay(chunk)
        claimed += len(ids)
        if len(ids) < reminders.BATCH:
            break
    return claimed


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_reminders(reminder_ids: list[int]) -> dict[int, str]:
    """Idempotent by reminder id: rows are claimed first, so running twice sends each once."""
    return reminders.deliver_reminders(reminder_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_reminder(reminder_id: int) -> str:
    """One reminder (a single id). The dispatcher sends chunks through `send_reminders`; this
    stays so that messages an earlier release queued still run after an upgrade."""
    return reminders.deliver_reminder(reminder_id)


@shared_task
def schedule_rebook_nudges() -> int:
    return reminders.queue_rebook_nudges()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def offer_waitlist(therapist_id: int, start: str, end: str) -> int:
    """A time came free: offer it to the waitlist (idempotent enough: a claimed slot is gone)."""
    offers = waitlist.offer_freed_time(
        therapist_id=therapist_id,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
    )
    return len(offers)


@shared_task
def expire_waitlist() -> int:
    return waitlist.expire_entries()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge_expired_records() -> int:
    """Daily: delete records past `retain_until`, never on legal hold (DOMAIN.md 4); running
    twice, or two at once, is harmless (sessions.records.privacy.purge_records_past_retention)."""
    return len(privacy.purge_records_past_retention().purged)


# --- outside calendars (issue 20.4) -------------------------------------------------------------


@shared_task
def sync_outside_calendars() -> int:
    """Beat, every minute (and after a link changes): claim due links (SKIP LOCKED, leased) and
    hand each to its own sync task, so one slow calendar holds up no other; push due
    write-backs that a missed after-commit publish left behind."""
    ids = outside_calendars.claim_due_links()
    for link_id in ids:
        sync_calendar_link.delay(link_id)
    push_calendar_writes.delay()
    return len(ids)


# A sync is bounded by its own caps (bytes, events, seconds per request); the time limit is the
# last guard that a worker is never held by one calendar.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=120, time_limit=150)
def sync_calendar_link(link_id: int) -> str:
    return outside_calendars.sync_link(link_id)


@shared_task(soft_time_limit=120, time_limit=150)
def push_calendar_writes() -> int:
    """Appointments to put into (or remove from) therapists' CalDAV calendars."""
    return len(calendar_write_back.push_due_writes())
