"""Write-back of appointments to a therapist's CalDAV calendars (issue 20.4), through an outbox.

A booking, move or cancellation marks one `CalendarWrite` row per write-back link due, in the
booking's own transaction (`queue_write_back`, called by `booking.announce`); after commit a task
pushes them. Nothing here can block or fail a booking: the network is only touched by the sender,
which PUTs the appointment as it is then ("Massage appointment", its times, UID = the feed's UID;
no clinical content) or DELETEs it (cancelled, or moved to another therapist), and on failure
records `last_error` and retries with backoff, giving up after MAX_ATTEMPTS.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from caldav.lib.error import NotFoundError
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from icalendar import Calendar, Event

from practice.models import Therapist
from practice.queueing import claim_batch, enqueue_after_commit
from sessions.scheduling.calendar import appointment_uid
from sessions.scheduling.models import (
    Appointment,
    CalendarKind,
    CalendarLink,
    CalendarWrite,
    Status,
)
from sessions.scheduling.outside_calendars import SyncError, caldav_calendar

LEASE = timedelta(minutes=2)
BATCH = 50
MAX_ATTEMPTS = 12  # 1, 2, 4 ... 60 minutes apart: about seven hours of trying


def _write_back_links(therapist: Any) -> QuerySet[CalendarLink]:
    return CalendarLink.objects.filter(
        therapist_id=therapist, write_back=True, kind=CalendarKind.CALDAV
    )


def writes_back(therapist: OuterRef) -> Exists:
    """Whether any calendar of the therapist takes write-back, as an annotation."""
    return Exists(_write_back_links(therapist))


def with_write_back(therapists: QuerySet[Therapist]) -> QuerySet[Therapist]:
    """Therapists annotated `writes_back` (above). A booking of a therapist known to have none
    (the usual case) asks nothing more (issue 22.1)."""
    return therapists.annotate(writes_back=writes_back(OuterRef("pk")))


def queue_write_back(appointment: Appointment, *, new: bool) -> None:
    """In the caller's transaction: mark the appointment due on each write-back link of its
    therapist (and, for a changed appointment, on links it was written to before: a move to
    another therapist removes it there). One query for a therapist without such links, none for
    a new appointment of a therapist read through `with_write_back` without them."""
    if new and getattr(appointment.therapist, "writes_back", None) is False:
        return  # a new appointment was written to no link before either
    now = timezone.now()
    link_ids = list(_write_back_links(appointment.therapist_id).values_list("pk", flat=True))
    if link_ids:
        CalendarWrite.objects.bulk_create(
            [CalendarWrite(link_id=pk, appointment=appointment, due_at=now) for pk in link_ids],
            update_conflicts=True,
            unique_fields=["link", "appointment"],
            update_fields=["due_at", "attempts"],
        )
    earlier = 0
    if not new:
        earlier = (
            CalendarWrite.objects.filter(appointment=appointment)
            .exclude(link_id__in=link_ids)
            .update(due_at=now, attempts=0)
        )
    if link_ids or earlier:
        enqueue_after_commit("sessions.tasks.push_calendar_writes")


def claim_due_writes(now: datetime | None = None, batch: int = BATCH) -> list[int]:
    now = now or timezone.now()
    return claim_batch(
        model=CalendarWrite,
        due=Q(due_at__lte=now, lease_until__isnull=True),
        order_by="due_at",
        claimed={"lease_until": now + LEASE},
        lapsed=Q(lease_until__lt=now),
        released={"lease_until": None},
        batch=batch,
    )


def event_ical(appointment: Appointment) -> str:
    """The appointment as the therapist's calendar holds it: time and a neutral title only."""
    calendar = Calendar()
    calendar.add("prodid", "-//Backcare//Write-back//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", appointment_uid(appointment.pk, appointment.practice.slug))
    event.add("sequence", appointment.sequence)
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", appointment.start.astimezone(UTC))
    event.add("dtend", appointment.end.astimezone(UTC))
    event.add("summary", "Massage appointment")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical().decode()


def _push(write: CalendarWrite) -> None:
    appointment, link = write.appointment, write.link
    calendar = caldav_calendar(link)
    remove = (
        appointment.status == Status.CANCELLED
        or appointment.therapist_id != link.therapist_id
        or not link.write_back
    )
    if remove:
        uid = appointment_uid(appointment.pk, appointment.practice.slug)
        with contextlib.suppress(NotFoundError):  # never written, or already removed there
            calendar.event_by_uid(uid).delete()
    else:
        calendar.save_event(ical=event_ical(appointment))


def push_write(write_id: int) -> str:
    """Send one claimed write: 'written', 'retry', 'failed' or 'skipped'."""
    write = (
        CalendarWrite.objects.select_related("link", "appointment__practice")
        .filter(pk=write_id, lease_until__isnull=False)
        .first()
    )
    if write is None:
        return "skipped"
    claimed_due = write.due_at
    try:
        _push(write)
    except Exception as error:  # recorded on the row; a calendar's trouble never stops the rest
        message = str(error) if isinstance(error, SyncError) else type(error).__name__
        return _record_failure(write, f"The appointment could not be written back: {message}")
    now = timezone.now()
    # Changed again while we pushed: stays due, and the next push sends the newer state.
    CalendarWrite.objects.filter(pk=write.pk, due_at=claimed_due).update(
        due_at=None, attempts=0, last_error="", written_at=now, lease_until=None
    )
    CalendarWrite.objects.filter(pk=write.pk).update(lease_until=None)
    return "written"


def _record_failure(write: CalendarWrite, error: str) -> str:
    attempts = write.attempts + 1
    now = timezone.now()
    give_up = attempts >= MAX_ATTEMPTS
    CalendarWrite.objects.filter(pk=write.pk).update(
        attempts=F("attempts") + 1,
        last_error=error[:500],
        lease_until=None,
        due_at=None if give_up else now + timedelta(minutes=min(2 ** (attempts - 1), 60)),
    )
    return "failed" if give_up else "retry"


def push_due_writes() -> dict[int, str]:
    """Claim and push every due write (one batch)."""
    return {write_id: push_write(write_id) for write_id in claim_due_writes()}
