"""What the sessions app asks its workers to do after a commit, by task name (sessions.tasks sits
on top: it imports the services, and nothing imports it but Celery's registry and the beat)."""

from __future__ import annotations

from datetime import datetime

from practice.queueing import enqueue_after_commit


def dispatch_reminders_soon() -> None:
    """After the current transaction commits, ask for a dispatch now (e.g. a booking inside the
    reminder window). If the broker is down the booking still stands; the beat will catch up."""
    enqueue_after_commit("sessions.tasks.dispatch_reminders")


def offer_freed_time_soon(therapist_id: int, start: datetime, end: datetime) -> None:
    """After commit, offer a time that came free to the waitlist (sessions.scheduling.waitlist)."""
    enqueue_after_commit(
        "sessions.tasks.offer_waitlist",
        therapist_id=therapist_id,
        start=start.isoformat(),
        end=end.isoformat(),
    )
