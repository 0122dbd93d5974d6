"""The waitlist (issue: "Waitlist"): when a slot frees up, waiting clients whose request matches
are offered it by message, in order of request, with a claim link valid for the practice's
`waitlist_offer_minutes`; the first claim books it through the normal booking rules (so the
exclusion constraint settles racing claims) and later claims get 409 `slot_unavailable`.

The messages are reminder-outbox rows (`sessions.scheduling.reminders`, kind
`waitlist_offer`): written in
the transaction of the offer, sent once by the dispatcher, retried, on the client's channels and
never to a client who opted out; one whose offer was claimed or expired meanwhile is cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from clients.models import Client
from clients.selectors import has_open_red_flag
from practice.auth import hash_secret
from practice.errors import Invalid, InvalidTransition, NotFound, SlotUnavailable
from practice.models import Practice, Therapist
from practice.webhooks import record_event
from sessions.scheduling import reminders
from sessions.scheduling.booking import Actor, book_appointment
from sessions.scheduling.models import (
    Appointment,
    Source,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from sessions.scheduling.queue import dispatch_reminders_soon
from sessions.scheduling.selectors import free_slots


def expire_entries(now: datetime | None = None) -> int:
    """Entries end with their window (the last local day has passed everywhere: +1 day)."""
    today = (now or timezone.now()).date() - timedelta(days=1)
    return WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, last_day__lt=today).update(
        status=WaitlistStatus.EXPIRED
    )


def _fits(entry: WaitlistEntry, local: datetime) -> bool:
    if not entry.first_day <= local.date() <= entry.last_day:
        return False
    if entry.earliest and local.time() < entry.earliest:
        return False
    return not (entry.latest and local.time() > entry.latest)


@transaction.atomic
def offer_freed_time(*, therapist_id: int, start: datetime, end: datetime) -> list[WaitlistOffer]:
    """Offer slots freed between start and end (a cancel, a reschedule, time off removed)."""
    therapist = Therapist.objects.select_related("practice").filter(pk=therapist_id).first()
    if therapist is None:
        return []
    practice = therapist.practice
    tz = practice.tz
    entries = WaitlistEntry.objects.select_related("client", "service", "practice").filter(
        practice=practice,
        status=WaitlistStatus.WAITING,
        service__in=therapist.services.all(),
        first_day__lte=end.astimezone(tz).date(),
        last_day__gte=start.astimezone(tz).date(),
    )
    offers = []
    slots_of: dict[int, list] = {}  # per service: free_slots is 3 queries, entries share them
    expires = timezone.now() + timedelta(minutes=practice.waitlist_offer_minutes)
    for entry in entries.order_by("created_at", "id"):
        if entry.therapist_id not in (None, therapist.pk):
            continue
        if has_open_red_flag(entry.client):  # their claim would be 409: offer it to the next
            continue
        if entry.service_id not in slots_of:
            slots_of[entry.service_id] = [
                slot
                for slot in free_slots(
                    practice=practice,
                    service=entry.service,
                    first=start.astimezone(tz).date(),
                    last=end.astimezone(tz).date(),
                    therapist_id=therapist.pk,
                )
                if start <= slot.start < end
            ]
        slots = [s for s in slots_of[entry.service_id] if _fits(entry, s.start.astimezone(tz))]
        if not slots:
            continue
        offer = WaitlistOffer.objects.create(
            entry=entry, therapist=therapist, start=slots[0].start, expires_at=expires
        )
        offers.append(offer)
        record_event(
            practice=practice,
            type="waitlist.offered",
            data={
                "entry": entry.pk,
                "client": entry.client_id,
                "service": entry.service_id,
                "therapist": therapist.pk,
                "start": offer.start,
            },
        )
    if reminders.on_waitlist_offers(offers):
        dispatch_reminders_soon()
    return offers


def offer_for_token(token: str) -> WaitlistOffer:
    offer = (
        WaitlistOffer.objects.select_related(
            "entry__client", "entry__service", "entry__practice", "therapist"
        )
        .filter(token_hash=hash_secret(token))
        .first()
    ) or reminders.waitlist_offer_for_message_link(token)
    if offer is None:
        raise NotFound("Unknown offer.")
    return offer


@transaction.atomic
def claim_offer(*, token: str) -> Appointment:
    """Book the offered slot for the waitlisted client; a slot already taken is a 409."""
    offer = offer_for_token(token)
    entry = WaitlistEntry.objects.select_for_update().get(pk=offer.entry_id)
    if offer.claimed_at is not None or entry.status != WaitlistStatus.WAITING:
        raise SlotUnavailable("This offer has already been used.")
    if offer.expires_at <= timezone.now():
        raise SlotUnavailable("This offer has expired.")
    appointment, _ = book_appointment(
        practice=entry.practice,
        service=entry.service,
        therapist=offer.therapist,
        client=entry.client,
        start=offer.start,
        actor=Actor(kind=Source.CLIENT),
    )
    WaitlistOffer.objects.filter(pk=offer.pk).update(claimed_at=timezone.now())
    entry.status = WaitlistStatus.BOOKED
    entry.appointment = appointment
    entry.save(update_fields=["status", "appointment", "updated_at"])
    return appointment


@transaction.atomic
def join_waitlist(
    *, practice: Practice, client: Client | None, fields: dict[str, Any]
) -> WaitlistEntry:
    """A client waits for a time (API.md "Waitlist"); staff name the client, a client is itself."""
    if client is None:
        raise Invalid.on("client", "This field is required.", "required")
    return WaitlistEntry.objects.create(practice=practice, client=client, **fields)


def cancel_entry(*, entry: WaitlistEntry) -> WaitlistEntry:
    """Only a waiting entry can be cancelled; any other is a 409 naming its status."""
    updated = WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistStatus.WAITING).update(
        status=WaitlistStatus.CANCELLED
    )
    if not updated:
        raise InvalidTransition(f"This entry is {entry.status}.")
    entry.refresh_from_db()
    return entry
