"""Reminders, follow-ups and rebooking nudges (API.md "Reminders and follow-ups").

The schedule is rows, written in the transaction of the appointment change that causes them. A
dispatcher (beat, every minute) claims due rows with SELECT … FOR UPDATE SKIP LOCKED and hands ids
to send tasks after commit; no task waits in the broker with an ETA. A send task claims its row
(`queued` -> `sending`, exactly one UPDATE wins), sends, then marks it `sent`: two workers, two
dispatchers or a redelivered task send a message once. A row whose sender died returns to the queue
when its lease runs out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from clients.domain import ComplaintStatus
from clients.models import Client, Complaint
from practice.auth import new_secret
from practice.errors import NotFound
from practice.queueing import claim_batch, commits_not_waiting_for_disk
from sessions.messaging import Outbox, PermanentError, TransientError
from sessions.models import (
    Appointment,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Status,
)

BATCH = 200  # rows per claim (one dispatcher transaction)
CHUNK = 25  # rows per send task: one claim, one read, one mail connection
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
FOLLOW_UP_VALID = timedelta(days=7)
PENDING = (ReminderStatus.SCHEDULED, ReminderStatus.QUEUED, ReminderStatus.SENDING)


def _channels(client: Client) -> list[str]:
    if client.reminders_opt_out:
        return []
    return [c for c in client.reminder_channels if c != "sms" or client.phone]


# --- the schedule follows the appointment -----------------------------------------------------


def on_booked(appointment: Appointment) -> bool:
    """A reminder `reminder_hours_before` the start, or at once inside that window (never for a
    start already past). True when something is due now, so the caller asks for a dispatch
    rather than leaving it to the next beat (a booking far ahead costs no broker round trip)."""
    now = timezone.now()
    if appointment.start <= now:
        return False
    due = max(now, appointment.start - timedelta(hours=appointment.practice.reminder_hours_before))
    created = Reminder.objects.bulk_create(
        Reminder(
            practice_id=appointment.practice_id,
            client_id=appointment.client_id,
            appointment=appointment,
            kind=ReminderKind.REMINDER,
            channel=channel,
            scheduled_for=due,
        )
        for channel in _channels(appointment.client)
    )
    return bool(created) and due == now


def on_online_booking_refused(client: Client) -> bool:
    """Tell a client the public page did not book them (issue 13.3). By email only: the address
    the request named is the one place the answer may go. True when a message is due now."""
    if not client.email or client.reminders_opt_out:
        return False
    Reminder.objects.create(
        practice_id=client.practice_id,
        client=client,
        kind=ReminderKind.ONLINE_BLOCKED,
        channel="email",
        scheduled_for=timezone.now(),
    )
    return True


def on_rescheduled(appointment: Appointment) -> bool:
    """Moved with the appointment: a reminder already sent for the old time is sent again."""
    Reminder.objects.filter(appointment=appointment, kind=ReminderKind.REMINDER).delete()
    return on_booked(appointment)


def on_ended(appointment: Appointment) -> None:
    """Cancelled or no-show: nothing more goes out for it."""
    Reminder.objects.filter(appointment=appointment, status__in=PENDING).update(
        status=ReminderStatus.CANCELLED, lease_until=None
    )


def on_completed(appointment: Appointment) -> None:
    """A follow-up at the later of end and completion, plus `follow_up_hours_after` (API.md)."""
    start_from = max(appointment.end, timezone.now())
    due = start_from + timedelta(hours=appointment.practice.follow_up_hours_after)
    Reminder.objects.bulk_create(
        (
            Reminder(
                practice_id=appointment.practice_id,
                client_id=appointment.client_id,
                appointment=appointment,
                kind=ReminderKind.FOLLOW_UP,
                channel=channel,
                scheduled_for=due,
            )
            for channel in _channels(appointment.client)
        ),
        ignore_conflicts=True,
    )


def schedule_rebook_nudges(now: datetime | None = None) -> int:
    """One nudge for a client with an active complaint and nothing booked, `rebook_nudge_days`
    after their last session (API.md, DOMAIN.md 6)."""
    now = now or timezone.now()
    live_future = Appointment.objects.filter(
        client=OuterRef("pk"), start__gt=now, status=Status.BOOKED
    )
    active = Complaint.objects.filter(client=OuterRef("pk"), status=ComplaintStatus.ACTIVE)
    created = 0
    candidates = Client.objects.filter(
        Exists(active), ~Exists(live_future), reminders_opt_out=False
    ).select_related("practice")
    for client in candidates.iterator():
        last = (
            Appointment.objects.filter(client=client, status=Status.COMPLETED)
            .order_by("-end")
            .first()
        )
        if last is None or last.end > now - timedelta(days=client.practice.rebook_nudge_days):
            continue
        if Reminder.objects.filter(
            client=client, kind=ReminderKind.REBOOK_NUDGE, created_at__gte=last.end
        ).exists():
            continue
        channels = _channels(client)[:1]
        Reminder.objects.bulk_create(
            Reminder(
                practice_id=client.practice_id,
                client=client,
                appointment=None,
                kind=ReminderKind.REBOOK_NUDGE,
                channel=channel,
                scheduled_for=now,
            )
            for channel in channels
        )
        created += len(channels)
    return created


# --- dispatch -------------------------------------------------------------------------------


def claim_due(now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Claim due rows for sending: `scheduled` -> `queued`, skipping rows another dispatcher holds.

    Also returns to the queue rows whose sender's lease ran out (a killed worker).
    """
    now = now or timezone.now()
    return claim_batch(
        model=Reminder,
        due=Q(status=ReminderStatus.SCHEDULED, scheduled_for__lte=now),
        order_by="scheduled_for",
        claimed={"status": ReminderStatus.QUEUED, "lease_until": now + LEASE},
        lapsed=Q(status__in=(ReminderStatus.QUEUED, ReminderStatus.SENDING), lease_until__lt=now),
        released={"status": ReminderStatus.SCHEDULED, "lease_until": None},
        batch=batch,
    )


def chunks(ids: list[int], size: int = CHUNK) -> list[list[int]]:
    """The dispatcher's claimed ids, cut into the lists one send task takes."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _claim_for_sending(ids: list[int]) -> list[int]:
    """Turn the `queued` rows among `ids` into `sending`: exactly one caller gets each row; a
    redelivered task, or a second worker handed the same ids, gets the rest (none)."""
    with transaction.atomic():
        mine = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids, status=ReminderStatus.QUEUED)
            .values_list("pk", flat=True)
        )
        Reminder.objects.filter(pk__in=mine).update(
            status=ReminderStatus.SENDING,
            lease_until=timezone.now() + LEASE,
            attempts=F("attempts") + 1,
        )
    return mine


def send_reminder(reminder_id: int) -> str:
    """Send one claimed reminder once. Returns its final status (or "skipped")."""
    return send_reminders([reminder_id])[reminder_id]


def send_reminders(ids: list[int]) -> dict[int, str]:
    """Send each claimed reminder among `ids` once; its final status by id ("skipped" for a row
    that was not `queued`: sent already, cancelled, or another worker's).

    One task takes a chunk of the dispatcher's claim: the rows are claimed and read in one go and
    the messages share one mail connection, but each row is marked `sent` as soon as its message
    is out (a commit that does not wait for the disk: see `commits_not_waiting_for_disk`), so a
    worker killed mid-chunk resends nothing; the chunk's unsent rows wait in
    `sending` until their lease runs out, then go back to the queue.
    """
    results = dict.fromkeys(ids, "skipped")
    mine = _claim_for_sending(ids)
    if not mine:
        return results
    rows = Reminder.objects.select_related(
        "client", "practice", "appointment__service", "appointment__therapist__user"
    ).filter(pk__in=mine)
    with Outbox() as outbox, commits_not_waiting_for_disk():
        for reminder in rows:
            results[reminder.pk] = _send(reminder, outbox)
    return results


def _send(reminder: Reminder, outbox: Outbox) -> str:
    appointment = reminder.appointment
    mark = Reminder.objects.filter(pk=reminder.pk).update
    # Unsubscribed after the dispatcher handed this row to a worker: the opt-out still wins.
    if reminder.client.reminders_opt_out or (
        appointment is not None
        and reminder.kind == ReminderKind.REMINDER
        and (appointment.status != Status.BOOKED)
    ):
        mark(status=ReminderStatus.CANCELLED, lease_until=None)
        return ReminderStatus.CANCELLED
    # A link of its own in each message (stored hashed, like every secret): the follow-up's
    # question, or the reminder's manage link (GET and cancel/ it, as a public booking's).
    token, token_hash = (None, None)
    if reminder.kind in (ReminderKind.FOLLOW_UP, ReminderKind.REMINDER):
        token, token_hash = new_secret("fu_" if reminder.kind == ReminderKind.FOLLOW_UP else "bk_")
    subject, body = compose(reminder, token=token)
    address = reminder.client.phone if reminder.channel == "sms" else reminder.client.email
    try:
        outbox.deliver(channel=reminder.channel, to=address, subject=subject, body=body)
    except TransientError as error:
        retry = reminder.attempts < MAX_ATTEMPTS
        status = ReminderStatus.SCHEDULED if retry else ReminderStatus.FAILED
        mark(
            status=status,
            scheduled_for=timezone.now() + timedelta(minutes=2**reminder.attempts),
            lease_until=None,
            last_error=str(error)[:500],
        )
        return status
    except PermanentError as error:
        mark(status=ReminderStatus.FAILED, lease_until=None, last_error=str(error)[:500])
        return ReminderStatus.FAILED
    # The link's token is stored with `sent`: only a delivered link ever works.
    extra = {"token_hash": token_hash} if token_hash else {}
    mark(
        status=ReminderStatus.SENT,
        sent_at=timezone.now(),
        lease_until=None,
        last_error="",
        **extra,
    )
    return ReminderStatus.SENT


# --- messages (no clinical content) -------------------------------------------------------------


def unsubscribe_token(client: Client) -> str:
    return signing.Signer(salt="backcare.unsubscribe").sign(str(client.pk))


def client_for_unsubscribe(token: str) -> Client | None:
    try:
        pk = int(signing.Signer(salt="backcare.unsubscribe").unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    return Client.objects.filter(pk=pk).first()


@transaction.atomic
def unsubscribe(*, token: str) -> Client:
    """The client of an unsubscribe link stops getting reminders; what is scheduled is cancelled
    (a row already handed to a worker is cancelled when it sees the opt-out)."""
    client = client_for_unsubscribe(token)
    if client is None:
        raise NotFound("Unknown link.")
    Client.objects.filter(pk=client.pk).update(reminders_opt_out=True)
    Reminder.objects.filter(client=client, status=ReminderStatus.SCHEDULED).update(
        status=ReminderStatus.CANCELLED
    )
    return client


def _link(path: str) -> str:
    return f"{settings.BASE_URL}/api/v1/{path}"


def compose(reminder: Reminder, *, token: str | None = None) -> tuple[str, str]:
    """The message of a reminder, follow-up or nudge; `token` is its link's (manage or answer)."""
    practice = reminder.practice
    appointment = reminder.appointment
    name = reminder.client.first_name
    unsubscribe = _link(f"public/unsubscribe/{unsubscribe_token(reminder.client)}/")
    footer = f"\n\nStop these messages: {unsubscribe}"
    if reminder.kind == ReminderKind.REMINDER and appointment is not None:
        local = appointment.start.astimezone(practice.tz)
        when = local.strftime("%A %d %B %Y at %H:%M") + f" ({practice.timezone})"
        subject = f"Reminder: your appointment at {practice.name}"
        body = (
            f"Hello {name},\n\nThis is a reminder of your {appointment.service.name} with "
            f"{appointment.therapist.user.first_name} at {practice.name} on {when}.\n"
            + (
                f"To see or cancel it: {_link(f'public/bookings/{token}/')}"
                if token
                else f"To cancel or change it, contact {practice.name}."
            )
        )
    elif reminder.kind == ReminderKind.ONLINE_BLOCKED:
        subject = f"Your online booking at {practice.name}"
        body = (
            f"Hello {name},\n\nWe received an online booking request with this email address, "
            f"but nothing was booked: please contact {practice.name} to book your next session."
            "\nIf you did not make this request, you can ignore this message."
        )
    elif reminder.kind == ReminderKind.FOLLOW_UP:
        subject = f"How is your back today? ({practice.name})"
        body = (
            f"Hello {name},\n\nHow is your back today, on a scale from 0 (no pain) to 10 (worst "
            f"imaginable)? Tell us here: {_link(f'public/follow-ups/{token}/')}\n"
            "The link works for 7 days."
        )
    else:
        subject = f"Time for your next session at {practice.name}?"
        body = (
            f"Hello {name},\n\nIt has been a while since your last session. "
            f"Book your next one with {practice.name} whenever suits you."
        )
    return subject, body + footer


# --- follow-up answers ------------------------------------------------------------------------


def appointment_for_reminder_link(token: str) -> Appointment | None:
    """The appointment whose reminder carried this manage link (`public/bookings/{token}/`)."""
    from practice.auth import hash_secret

    reminder = (
        Reminder.objects.select_related(
            "appointment__service", "appointment__therapist__user", "appointment__practice"
        )
        .filter(token_hash=hash_secret(token), kind=ReminderKind.REMINDER)
        .first()
    )
    return reminder.appointment if reminder else None


def follow_up_for_token(token: str) -> Reminder | None:
    from practice.auth import hash_secret

    return (
        Reminder.objects.select_related("practice", "client", "appointment__therapist__user")
        .filter(token_hash=hash_secret(token), kind=ReminderKind.FOLLOW_UP)
        .first()
    )


def follow_up_is_open(reminder: Reminder, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return reminder.sent_at is not None and now < reminder.sent_at + FOLLOW_UP_VALID


@transaction.atomic
def answer_follow_up(*, token: str, pain: int, comment: str = ""):
    """Store the client's pain as an NPRS outcome once (a second answer is 409), and alert the
    therapist when it is at least 2 above that session's pain_before (DOMAIN.md 6)."""
    from clients.models import Instrument
    from clients.services import record_outcome
    from practice.errors import InvalidTransition, NotFound
    from sessions.models import Note, TherapistAlert

    found = follow_up_for_token(token)
    if found is None or found.appointment is None or not follow_up_is_open(found):
        raise NotFound("This link is invalid or has expired.")
    reminder = Reminder.objects.select_for_update().get(pk=found.pk)
    if reminder.answered_at is not None:
        raise InvalidTransition("This question has already been answered.")
    # All follow-up rows of the visit (one per channel) share the one answer.
    Reminder.objects.filter(appointment=found.appointment, kind=ReminderKind.FOLLOW_UP).update(
        answered_at=timezone.now()
    )
    appointment = found.appointment
    note = Note.objects.filter(appointment=appointment).first()
    plan = getattr(appointment, "plan", None) if appointment else None
    complaint = (
        (note.complaint if note and note.complaint_id else None)
        or (plan.complaint if plan and plan.complaint_id else None)
        or Complaint.objects.filter(client=found.client, status=ComplaintStatus.ACTIVE)
        .order_by("-created_at")
        .first()
    )
    outcome = None
    if complaint is not None:
        outcome = record_outcome(
            practice=found.practice,
            client=found.client,
            complaint=complaint,
            instrument=Instrument.NPRS,
            answers={"pain": pain},
            recorded_by=None,
        )
    if note is not None and note.pain_before is not None and pain >= note.pain_before + 2:
        therapist = appointment.therapist
        TherapistAlert.objects.create(
            practice=found.practice,
            therapist=therapist,
            appointment=appointment,
            message=(
                f"Follow-up pain {pain}/10 is {pain - note.pain_before} above "
                f"pain before the session ({note.pain_before}). {comment}"
            )[:500],
        )
        transaction.on_commit(lambda: _email_alert(therapist.user.email, found.client.first_name))
    return outcome


def _email_alert(to: str, client_first_name: str) -> None:
    from django.core.mail import send_mail

    send_mail(
        subject="A follow-up needs your attention",
        message=(
            f"{client_first_name}'s follow-up pain score is well above their pain before "
            "the session. Open Backcare for details."
        ),
        from_email=None,
        recipient_list=[to],
        fail_silently=True,
    )
