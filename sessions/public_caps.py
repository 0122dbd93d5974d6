"""Caps on live public bookings, so a script cannot hoard a practice's diary (OWASP API6).

The public page books without an account, so a rate limit alone does not stop a slow script from
holding every free slot: what it may *hold* is capped too. A booking made through
`public/{slug}/bookings/` is refused while the same email, or the same caller address, already holds
PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL / _PER_IP live public bookings (future, not cancelled) in that
practice. Staff, client-account and API-key bookings are not counted and never refused here.

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

from practice.errors import Throttled
from practice.models import Practice
from sessions.models import Appointment, Source, Status


def live_public_bookings(practice: Practice, now: datetime) -> QuerySet[Appointment]:
    return Appointment.objects.filter(
        practice=practice, source=Source.PUBLIC, start__gt=now
    ).exclude(status=Status.CANCELLED)


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


def check_public_booking_caps(*, practice: Practice, email: str, client_ip: str | None) -> None:
    """Raise 429 `throttled` if this email or address already holds its live public bookings.

    Call inside the booking's transaction, before anything is written."""
    if not connection.in_atomic_block:
        raise RuntimeError("check_public_booking_caps must run inside the booking transaction")
    email = email.strip().lower()
    _lock(f"{practice.pk}:email:{email}", f"{practice.pk}:ip:{client_ip}")
    now = timezone.now()
    caps = [(settings.PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL, Q(client__email__iexact=email), "email")]
    if client_ip is not None:
        caps.append(
            (settings.PUBLIC_BOOKING_MAX_LIVE_PER_IP, Q(booked_from_ip=client_ip), "address")
        )
    for cap, held_by, what in caps:
        if not cap:  # 0 turns a cap off
            continue
        held = live_public_bookings(practice, now).filter(held_by)
        found = held.aggregate(count=Count("id"), first=Min("start"))
        if found["count"] >= cap:
            raise Throttled(
                f"This {what} already holds {cap} upcoming online bookings. Cancel one with its "
                "manage link, or contact the practice to book more.",
                retry_after=int((found["first"] - now).total_seconds()) + 1,
            )
