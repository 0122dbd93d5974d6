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
from functools import partial
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, prefetch_related_objects
from django.utils import timezone

from clients.domain import ComplaintStatus
from clients.models import Client, Complaint
from practice.auth import hash_secret, new_secret
from practice.errors import NotFound
from practice.models import Membership, Role
from practice.queueing import claim_batch, update_not_waiting_for_disk
from sessions.scheduling.messaging import Mailer, PermanentError, TransientError
from sessions.scheduling.models import (
    Appointment,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Status,
    WaitlistOffer,
    WaitlistStatus,
)

BATCH = 200  # rows per claim (one dispatcher transaction)
# Rows per send task: one claim, one read, one mail connection. The per-task costs (the claim's
# commit, the read's joins) were a third of a reminder's at 25 (issue 22.3); a killed worker
# strands at most this many rows in `sending` until their lease runs out, far less than LEASE.
CHUNK = 100
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
FOLLOW_UP_VALID = timedelta(days=7)
MEASURES_VALID = timedelta(days=14)  # a course's outcome request link (issue 18.2)
PENDING = (ReminderStatus.SCHEDULED, ReminderStatus.QUEUED, ReminderStatus.SENDING)
INTAKE_KINDS = (ReminderKind.INTAKE_REQUEST, ReminderKind.INTAKE_REMINDER)
INTAKE_REMINDER_BEFORE = timedelta(hours=48)  # issue 17: "reminded 48 h before if incomplete"


def _channels(client: Client) -> list[str]:
    if client.reminders_opt_out:
        return []
    return [c for c in client.reminder_channels if c != "sms" or client.phone]


def _messages(
    client: Client, kind: str, due: datetime, channels: list[str] | None = None, **about: Any
) -> list[Reminder]:
    """One message of `kind`, due at `due`, per channel of the client's (`_channels`: opt-out and
    SMS preference respected), or per channel of `channels`; `about` links it to what it is
    about (its appointment, its waitlist offer)."""
    return [
        Reminder(
            practice_id=client.practice_id,
            client=client,
            kind=kind,
            channel=channel,
            scheduled_for=due,
            **about,
        )
        for channel in (_channels(client) if channels is None else channels)
    ]


# --- the schedule follows the appointment -----------------------------------------------------


def on_booked(appointment: Appointment) -> bool:
    """A reminder `reminder_hours_before` the start, or at once inside that window (never for a
    start already past). True when something is due now, so the caller asks for a dispatch
    rather than leaving it to the next beat (a booking far ahead costs no broker round trip)."""
    return on_booked_many([appointment])


def on_booked_many(appointments: list[Appointment]) -> bool:
    """`on_booked` for several appointments (a course's visits, a series) in one insert."""
    now = timezone.now()
    reminders = []
    for appointment in appointments:
        if appointment.start <= now:
            continue
        before = timedelta(hours=appointment.practice.reminder_hours_before)
        due = max(now, appointment.start - before)
        reminders += _messages(
            appointment.client, ReminderKind.REMINDER, due, appointment=appointment
        )
    Reminder.objects.bulk_create(reminders)
    return any(reminder.scheduled_for == now for reminder in reminders)


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
    """Moved with the appointment: a reminder already sent for the old time is sent again; an
    intake reminder not yet sent moves to 48 h before the new time."""
    Reminder.objects.filter(appointment=appointment, kind=ReminderKind.REMINDER).delete()
    Reminder.objects.filter(
        appointment=appointment,
        kind=ReminderKind.INTAKE_REMINDER,
        status=ReminderStatus.SCHEDULED,
    ).update(scheduled_for=_intake_reminder_due(appointment))
    return on_booked(appointment)


# --- intake messages (issue 17): the records app decides when; the outbox sends them once --------


def _intake_reminder_due(appointment: Appointment) -> datetime:
    return max(timezone.now(), appointment.start - INTAKE_REMINDER_BEFORE)


def on_intake_requested(appointment: Appointment, *, with_reminder: bool = True) -> bool:
    """The intake link now, on each of the client's channels (opt-out respected), and, unless
    resent, a reminder 48 h before the visit (cancelled by `on_intake_done`). True when a message
    is due now (the caller asks for a dispatch)."""
    now = timezone.now()
    client, channels = appointment.client, _channels(appointment.client)
    rows = _messages(client, ReminderKind.INTAKE_REQUEST, now, channels, appointment=appointment)
    due = appointment.start - INTAKE_REMINDER_BEFORE
    if with_reminder and due > now:
        rows += _messages(
            client, ReminderKind.INTAKE_REMINDER, due, channels, appointment=appointment
        )
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return bool(channels)


def on_intake_done(appointment_id: int) -> None:
    """Submitted or done on paper: no more intake messages for this visit."""
    Reminder.objects.filter(
        appointment_id=appointment_id, kind__in=INTAKE_KINDS, status__in=PENDING
    ).update(status=ReminderStatus.CANCELLED, lease_until=None)


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
        _messages(appointment.client, ReminderKind.FOLLOW_UP, due, appointment=appointment),
        ignore_conflicts=True,
    )


def on_measures_due(*, client: Client, appointment: Appointment | None) -> list[Reminder]:
    """A course's outcome measures are due (issue 18.2): one message per channel, due now, with
    a link of its own to answer them. The caller (records) links the rows to its measure and
    asks for a dispatch after commit; an opted-out client gets nothing."""
    return Reminder.objects.bulk_create(
        _messages(client, ReminderKind.MEASURES_DUE, timezone.now(), appointment=appointment)
    )


def on_waitlist_offers(offers: list[WaitlistOffer]) -> bool:
    """One message per channel of each offer's client (opt-out and SMS preference respected),
    due now and queued in the order the offers were made, i.e. the order of the waitlist. True
    when something was scheduled, so the caller asks for a dispatch."""
    now = timezone.now()
    created = Reminder.objects.bulk_create(
        message
        for offer in offers
        for message in _messages(
            offer.entry.client, ReminderKind.WAITLIST_OFFER, now, waitlist_offer=offer
        )
    )
    return bool(created)


def queue_rebook_nudges(now: datetime | None = None) -> int:
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
        nudges = _messages(client, ReminderKind.REBOOK_NUDGE, now, _channels(client)[:1])
        Reminder.objects.bulk_create(nudges)
        created += len(nudges)
    return created


# --- dispatch -------------------------------------------------------------------------------


def claim_due_reminders(now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Claim due rows for sending: `scheduled` -> `queued`, skipping rows another dispatcher holds.

    Also returns to the queue rows whose sender's lease ran out (a killed worker).
    """
    now = now or timezone.now()
    return claim_batch(
        model=Reminder,
        due=Q(status=ReminderStatus.SCHEDULED, scheduled_for__lte=now),
        # Ties (a waitlist's offers, due at once) go in the order they were written.
        order_by=("scheduled_for", "id"),
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


def deliver_reminder(reminder_id: int) -> str:
    """Send one claimed reminder once. Returns its final status (or "skipped")."""
    return deliver_reminders([reminder_id])[reminder_id]


def deliver_reminders(ids: list[int]) -> dict[int, str]:
    """Send each claimed reminder among `ids` once; its final status by id ("skipped" for a row
    that was not `queued`: sent already, cancelled, or another worker's).

    One task takes a chunk of the dispatcher's claim: the rows are claimed and read in one go and
    the messages share one mail connection, but each row is marked `sent` as soon as its message
    is out (a commit that does not wait for the disk: see `update_not_waiting_for_disk`), so a
    worker killed mid-chunk resends nothing; the chunk's unsent rows wait in
    `sending` until their lease runs out, then go back to the queue.
    """
    results = dict.fromkeys(ids, "skipped")
    mine = _claim_for_sending(ids)
    if not mine:
        return results
    rows = list(
        Reminder.objects.select_related(
            "client", "practice", "appointment__service", "appointment__therapist__user"
        ).filter(pk__in=mine)
    )
    # The rarer kinds' relations in queries of their own, run only for a chunk that holds such
    # rows: joined into every read, they cost the planner more than the read itself.
    prefetch_related_objects(
        rows,
        "alert__therapist__user",
        "waitlist_offer__entry__service",
        "waitlist_offer__therapist__user",
    )
    with Mailer() as mailer:
        for reminder in rows:
            results[reminder.pk] = _send(reminder, mailer)
    return results


LINK_PREFIX: dict[str, str] = {
    ReminderKind.FOLLOW_UP: "fu_",
    ReminderKind.REMINDER: "bk_",
    ReminderKind.WAITLIST_OFFER: "wl_",
    ReminderKind.INTAKE_REQUEST: "in_",
    ReminderKind.INTAKE_REMINDER: "in_",
    ReminderKind.MEASURES_DUE: "oc_",
}


def waitlist_offer_is_open(offer: WaitlistOffer, now: datetime) -> bool:
    """Worth a message: not claimed, not past its claim window, its entry still waiting."""
    return (
        offer.claimed_at is None
        and offer.expires_at > now
        and offer.entry.status == WaitlistStatus.WAITING
    )


def _send(reminder: Reminder, mailer: Mailer) -> str:
    appointment = reminder.appointment
    mark = partial(update_not_waiting_for_disk, Reminder, reminder.pk)
    if reminder.kind == ReminderKind.ALERT:
        return _send_alert(reminder, mailer)
    # Unsubscribed after the dispatcher handed this row to a worker: the opt-out still wins.
    if (
        reminder.client.reminders_opt_out
        or (
            appointment is not None
            and reminder.kind in (ReminderKind.REMINDER, *INTAKE_KINDS)
            and (appointment.status != Status.BOOKED)
        )
        or (
            reminder.waitlist_offer is not None
            and not waitlist_offer_is_open(reminder.waitlist_offer, timezone.now())
        )
    ):
        mark(status=ReminderStatus.CANCELLED, lease_until=None)
        return ReminderStatus.CANCELLED
    # A link of its own in each message (stored hashed, like every secret): the follow-up's
    # question, the reminder's manage link (GET and cancel/ it, as a public booking's), or the
    # waitlist offer's claim link.
    token, token_hash = (None, None)
    if reminder.kind in LINK_PREFIX:
        token, token_hash = new_secret(LINK_PREFIX[reminder.kind])
    subject, body = compose(reminder, token=token)
    address = reminder.client.phone if reminder.channel == "sms" else reminder.client.email
    return _deliver(reminder, mailer, [address], subject, body, token_hash)


def _send_alert(reminder: Reminder, mailer: Mailer) -> str:
    """An alert goes to clinicians, whatever the client's own message preferences; it names the
    client by first name and says where to look, never what the record says."""
    alert = reminder.alert
    if alert is None:  # an `alert` row is written with its alert; nothing to say without it
        return _deliver(reminder, mailer, [], "", "", None)
    subject = f"A client needs your attention ({reminder.practice.name})"
    body = (
        f"An alert ({alert.kind.replace('_', ' ')}) about {reminder.client.first_name} needs "
        f"your attention. Open Backcare: {_link('alerts/')}"
    )
    return _deliver(reminder, mailer, alert_recipients(reminder), subject, body, None)


def alert_recipients(reminder: Reminder) -> list[str]:
    """An alert's: the treating therapist, else the practice's owners (someone clinical always
    hears). Read through the row's `alert`, so the outbox imports nothing of `records` above it."""
    alert = reminder.alert
    if alert is None:
        return []
    if alert.therapist_id is not None and alert.therapist is not None:
        return [alert.therapist.user.email]
    return list(
        Membership.objects.filter(practice_id=alert.practice_id, role=Role.OWNER)
        .order_by("id")
        .values_list("user__email", flat=True)
    )


def _deliver(
    reminder: Reminder,
    mailer: Mailer,
    addresses: list[str],
    subject: str,
    body: str,
    token_hash: str | None,
) -> str:
    mark = partial(update_not_waiting_for_disk, Reminder, reminder.pk)
    try:
        if not addresses:
            raise PermanentError("Nobody to send this to.")
        for address in addresses:
            mailer.deliver(channel=reminder.channel, to=address, subject=subject, body=body)
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
        subject, body = _compose_reminder(reminder, appointment, token)
    elif reminder.kind == ReminderKind.WAITLIST_OFFER and reminder.waitlist_offer is not None:
        offer = reminder.waitlist_offer
        offered_at = offer.start.astimezone(practice.tz).strftime("%A %d %B at %H:%M")
        subject = f"A time came free at {practice.name}"
        body = (
            f"Hello {name},\n\nA {offer.entry.service.name} on {offered_at} "
            f"({practice.timezone}) is free. The first to claim it gets it:\n"
            f"{_link(f'public/waitlist-offers/{token}/claim/')}\n"
            f"(POST to the link, or open it in the practice's booking page.) The offer ends at "
            f"{offer.expires_at.astimezone(practice.tz):%H:%M}."
        )
    elif reminder.kind in INTAKE_KINDS and appointment is not None:
        subject, body = _compose_intake(reminder, appointment, token)
    elif reminder.kind == ReminderKind.ONLINE_BLOCKED:
        subject = f"Your online booking at {practice.name}"
        body = (
            f"Hello {name},\n\nWe received an online booking request with this email address, "
            f"but nothing was booked: please contact {practice.name} to book your next session."
            "\nIf you did not make this request, you can ignore this message."
        )
    elif reminder.kind == ReminderKind.MEASURES_DUE:
        subject = f"A few questions about your progress ({practice.name})"
        body = (
            f"Hello {name},\n\nYour therapist at {practice.name} asks how your back is doing: "
            f"a few short questionnaires, about five minutes. Answer them here: "
            f"{_link(f'public/outcomes/{token}/')}\nThe link works for 14 days."
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


def _compose_reminder(
    reminder: Reminder, appointment: Appointment, token: str | None
) -> tuple[str, str]:
    """The reminder before a visit, with its manage link when the booking has one."""
    practice = reminder.practice
    local = appointment.start.astimezone(practice.tz)
    when = local.strftime("%A %d %B %Y at %H:%M") + f" ({practice.timezone})"
    subject = f"Reminder: your appointment at {practice.name}"
    body = (
        f"Hello {reminder.client.first_name},\n\nThis is a reminder of your "
        f"{appointment.service.name} with {appointment.therapist.user.first_name} at "
        f"{practice.name} on {when}.\n"
        + (
            f"To see or cancel it: {_link(f'public/bookings/{token}/')}"
            if token
            else f"To cancel or change it, contact {practice.name}."
        )
    )
    return subject, body


def _compose_intake(
    reminder: Reminder, appointment: Appointment, token: str | None
) -> tuple[str, str]:
    """The intake link: no clinical content, only where to fill the form and until when."""
    practice = reminder.practice
    when = appointment.start.astimezone(practice.tz).strftime("%A %d %B %Y at %H:%M")
    first = (
        "Before your first visit"
        if reminder.kind == ReminderKind.INTAKE_REQUEST
        else ("A reminder: before your visit")
    )
    subject = f"Your intake form for {practice.name}"
    body = (
        f"Hello {reminder.client.first_name},\n\n{first} on {when} ({practice.timezone}), "
        f"please tell us about your health and your back here:\n"
        f"{_link(f'public/intake/{token}/')}\n"
        "You can save and come back; the link works until your appointment ends."
    )
    return subject, body


# --- follow-up answers ------------------------------------------------------------------------


def appointment_for_reminder_link(token: str) -> Appointment | None:
    """The appointment whose reminder carried this manage link (`public/bookings/{token}/`)."""
    reminder = (
        Reminder.objects.select_related(
            "appointment__service", "appointment__therapist__user", "appointment__practice"
        )
        .filter(token_hash=hash_secret(token), kind=ReminderKind.REMINDER)
        .first()
    )
    return reminder.appointment if reminder else None


def waitlist_offer_for_message_link(token: str) -> WaitlistOffer | None:
    """The waitlist offer whose message carried this claim link."""
    message = (
        Reminder.objects.select_related(
            "waitlist_offer__entry__client",
            "waitlist_offer__entry__service",
            "waitlist_offer__entry__practice",
            "waitlist_offer__therapist__user",
        )
        .filter(token_hash=hash_secret(token), kind=ReminderKind.WAITLIST_OFFER)
        .first()
    )
    return message.waitlist_offer if message else None


def follow_up_for_token(token: str) -> Reminder | None:
    return (
        Reminder.objects.select_related("practice", "client", "appointment__therapist__user")
        .filter(token_hash=hash_secret(token), kind=ReminderKind.FOLLOW_UP)
        .first()
    )


def follow_up_is_open(reminder: Reminder, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return reminder.sent_at is not None and now < reminder.sent_at + FOLLOW_UP_VALID


def measures_request_for_token(token: str) -> Reminder | None:
    """The outcome request (issue 18.2) whose message carried this link, if it still works."""
    reminder = (
        Reminder.objects.select_related("practice", "client")
        .filter(token_hash=hash_secret(token), kind=ReminderKind.MEASURES_DUE)
        .first()
    )
    if reminder is None or reminder.sent_at is None:
        return None
    if timezone.now() >= reminder.sent_at + MEASURES_VALID:
        return None
    return reminder
