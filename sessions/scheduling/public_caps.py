"""Caps on live public bookings, so a script cannot hoard a practice's diary (OWASP API6).

The public page books without an account, so a rate limit alone does not stop a slow script from
holding every free slot: what it may *hold* is capped too. A booking made through
`public/{slug}/bookings/` is refused while the same email, or the same caller address, already holds
PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL / _PER_IP live public bookings (future, not cancelled) in that
practice. A client account booking for itself (issue 13.9: a series plus singles gave one
account 12) meets the same caps, counted over the bookings the person made themselves, online or
through the account. Staff and API-key bookings are not counted and never refused here.

The answer is 429 `throttled` (API.md "Rate limits") with Retry-After the seconds until the
earliest held booking starts, when one slot of the caller's allowance comes back by itself.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from clients.models import Client
from practice.errors import Throttled
from practice.models import Practice
from sessions.scheduling.models import Appointment, QuietRefusal, Source, Status

SELF_BOOKED = (Source.PUBLIC, Source.CLIENT)


def live_self_bookings(practice: Practice, now: datetime) -> QuerySet[Appointment]:
    return Appointment.objects.filter(
        practice=practice, source__in=SELF_BOOKED, start__gt=now
    ).exclude(status=Status.CANCELLED)


def live_quiet_refusals(practice: Practice, now: datetime) -> QuerySet[QuietRefusal]:
    """Counted as bookings, so that the caps answer a blocked client like anyone (issue 13.3)."""
    return QuietRefusal.objects.filter(practice=practice, start__gt=now).exclude(
        status=Status.CANCELLED
    )


def _lock(*keys: str) -> None:
    """Serialize public bookings of one email and of one address until the transaction ends.

    Two requests counting at once would both see room for one more and both book; a transaction-
    scoped advisory lock makes the second wait for the first to commit, then count its booking.
    Locks are always taken in sorted order, so two bookings never wait for each other. SQLite
    needs none: BEGIN IMMEDIATE (config/settings.py) already lets one writer in at a time.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted(keys):
            digest = hashlib.sha256(f"backcare.public-booking:{key}".encode()).digest()
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
            )


def check_public_booking_caps(
    *, practice: Practice, email: str, client_ip: str | None, client: Client | None = None
) -> None:
    """Raise 429 `throttled` if this person (email, or client account) or address already holds
    its live self-made bookings.

    Call inside the booking's transaction, before anything is written."""
    if not connection.in_atomic_block:
        raise RuntimeError("check_public_booking_caps must run inside the booking transaction")
    email = email.strip().lower()
    person = f"client:{client.pk}" if client is not None else f"email:{email}"
    _lock(f"{practice.pk}:{person}", f"{practice.pk}:ip:{client_ip}")
    now = timezone.now()
    held_by_person = Q(client=client) if client is not None else Q(pk__in=[])
    if email:  # a blank email would match every client without one
        held_by_person |= Q(client__email__iexact=email)
    caps = [(settings.PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL, held_by_person, "email")]
    if client_ip is not None:
        caps.append(
            (settings.PUBLIC_BOOKING_MAX_LIVE_PER_IP, Q(booked_from_ip=client_ip), "address")
        )
    for cap, held_by, what in caps:
        if not cap:  # 0 turns a cap off
            continue
        held = [
            queryset.filter(held_by).aggregate(count=Count("id"), first=Min("start"))
            for queryset in (live_self_bookings(practice, now), live_quiet_refusals(practice, now))
        ]
        if sum(h["count"] for h in held) >= cap:
            first = min(h["first"] for h in held if h["first"] is not None)
            raise Throttled(
                f"This {what} already holds {cap} upcoming online bookings. Cancel one with its "
                "manage link, or contact the practice to book more.",
                retry_after=int((first - now).total_seconds()) + 1,
            )
