"""Outside calendars (issue 20.4): a therapist's other calendars, synced into busy blocks that
availability treats like time off.

A link is an iCalendar URL (read only; fetched with ETag/If-None-Match) or a CalDAV calendar (the
`caldav` library; a sync-token delta where the server offers one, else a time-range REPORT). Events
are expanded with `recurring-ical-events` (RRULE, EXDATE, moved RECURRENCE-IDs) over now .. the
booking horizon; times keep their zone, floating times and all-day events are read in the
practice's zone (an all-day event blocks the whole local day); TRANSP:TRANSPARENT, cancelled events
and Backcare's own written-back appointments are not busy.

Every fetch passes the webhook URL rules again (`practice.webhooks.check_url`: DNS can change) and
is capped: bytes read (streamed, abandoned past the cap), events expanded, seconds per request. A
failed sync records `last_error`, backs off exponentially and keeps the last good busy set: blocks
are replaced only by a successful sync, in one transaction. A beat job claims due links with SKIP
LOCKED (`claim_due_links`), so two workers never sync one link at once.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import logging
import time as monotonic
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events
from caldav.davclient import DAVClient
from caldav.lib.error import DAVError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from practice.models import Practice, Therapist
from practice.queueing import claim_batch, enqueue_after_commit
from practice.webhooks import UnsafeURL, check_url, vetted_opener
from sessions.scheduling.availability import Interval
from sessions.scheduling.models import BusyBlock, CalendarKind, CalendarLink

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 100
MAX_BACKOFF = timedelta(hours=6)
FULL_EXPANSION_EVERY = timedelta(days=1)  # the window moves: re-expand everything daily
CHUNK = 64 * 1024
OWN_UID_SUFFIX = ".backcare"  # sessions.scheduling.calendar.appointment_uid


class SyncError(Exception):
    """A sync that did not succeed; its message becomes the link's `last_error`."""


# --- the app password, encrypted at rest --------------------------------------------------------


def _fernet() -> Fernet:
    key = settings.CALENDAR_ENCRYPTION_KEY
    if not key:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"backcare:calendar-passwords"
        ).derive(settings.SECRET_KEY.encode())
        key = base64.urlsafe_b64encode(derived).decode()
    return Fernet(key)


def encrypt_password(password: str) -> str:
    return _fernet().encrypt(password.encode()).decode() if password else ""


def decrypt_password(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SyncError(
            "The stored password cannot be decrypted (the encryption key changed): enter it again."
        ) from None


# --- links: the writes behind therapists/{id}/calendars/ ---------------------------------------


def check_calendar_url(url: str) -> None:
    """The webhook rules (http(s), public addresses unless WEBHOOK_ALLOW_PRIVATE_HOSTS)."""
    check_url(url)


@transaction.atomic
def create_link(
    *,
    therapist: Therapist,
    kind: str,
    url: str,
    name: str = "",
    username: str = "",
    password: str = "",
    write_back: bool = False,
) -> CalendarLink:
    """Link a calendar (issue 20.4): the URL passes the webhook SSRF rules (the serializer has
    checked it); the password is stored encrypted; the first sync is due at once."""
    link = CalendarLink.objects.create(
        practice_id=therapist.practice_id,
        therapist=therapist,
        kind=kind,
        url=url,
        name=name,
        username=username,
        password_encrypted=encrypt_password(password),
        write_back=write_back and kind == CalendarKind.CALDAV,
        next_sync_at=timezone.now(),
    )
    sync_soon()
    return link


@transaction.atomic
def update_link(
    *, link: CalendarLink, fields: dict[str, Any], password: str | None = None
) -> CalendarLink:
    """Change a link; a new URL or credentials forget the sync state and sync again now (the
    busy set stays until that sync succeeds)."""
    resync = any(f in fields for f in ("url", "username")) or password is not None
    changed = set(fields) | {"write_back"}
    for name, value in fields.items():
        setattr(link, name, value)
    if password is not None:
        link.password_encrypted = encrypt_password(password)
        changed.add("password_encrypted")
    link.write_back = link.write_back and link.kind == CalendarKind.CALDAV
    if resync:
        link.etag, link.sync_token, link.expanded_at = "", "", None
        link.next_sync_at, link.failures = timezone.now(), 0
        changed |= {"etag", "sync_token", "expanded_at", "next_sync_at", "failures"}
        sync_soon()
    # Only these columns: a sync in flight owns the lease and the sync state it will write
    # (and `record_success` drops what it read from a URL or account that changed meanwhile).
    link.save(update_fields=sorted(changed))
    return link


@transaction.atomic
def delete_link(*, link: CalendarLink) -> None:
    """Unlink: the link's busy blocks and pending write-backs go with it."""
    link.delete()


@transaction.atomic
def request_sync(*, link: CalendarLink) -> CalendarLink:
    """Sync this link at the next dispatch (now), whatever its backoff."""
    link.next_sync_at = timezone.now()
    link.save(update_fields=["next_sync_at"])
    sync_soon()
    return link


def sync_soon() -> None:
    enqueue_after_commit("sessions.tasks.sync_outside_calendars")


# --- expansion: iCalendar data -> busy intervals -------------------------------------------------


def _aware(value: date | datetime, tz: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    return datetime.combine(value, time.min, tzinfo=tz)  # an all-day event: local midnight


def _is_busy(event: Any) -> bool:  # an icalendar Event
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    uid = str(event.get("UID", ""))
    # Backcare's own appointments written back: the appointment itself already holds its time.
    return not (uid.startswith("appointment-") and uid.endswith(OWN_UID_SUFFIX))


def _interval(event: Any, tz: tzinfo) -> Interval | None:  # an icalendar Event
    start_value = event["DTSTART"].dt
    if "DTEND" in event:
        end_value = event["DTEND"].dt
    elif "DURATION" in event:
        end_value = start_value + event["DURATION"].dt
    elif isinstance(start_value, datetime):
        return None  # a point in time blocks nothing
    else:
        end_value = start_value + timedelta(days=1)
    start, end = _aware(start_value, tz), _aware(end_value, tz)
    return Interval(start, end) if end > start else None


def expand(data: bytes, *, window: Interval, tz: tzinfo, max_events: int) -> list[Interval]:
    """The busy intervals that iCalendar `data` holds inside `window`, at most `max_events`
    occurrences (more is a SyncError: a FREQ=SECONDLY rule must not stall a worker)."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as error:
        raise SyncError(f"The calendar is not valid iCalendar data ({error})."[:300]) from None
    if sum(1 for _ in itertools.islice(calendar.walk("VEVENT"), max_events + 1)) > max_events:
        raise SyncError(f"The calendar holds more than {max_events} events.")
    busy: list[Interval] = []
    try:
        occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).after(window.start)
        for seen, event in enumerate(occurrences, start=1):
            if seen > max_events:
                raise SyncError(f"The calendar expands to more than {max_events} events.")
            interval = _interval(event, tz)
            if interval is None or not _is_busy(event):
                continue
            if interval.start >= window.end:
                break  # occurrences come in start order
            busy.append(interval)
    except SyncError:
        raise
    except Exception as error:  # a library's complaint about bad data is the calendar's error
        raise SyncError(f"The calendar's events cannot be read ({error})."[:300]) from None
    return busy


def sync_window(practice: Practice, now: datetime) -> Interval:
    """Now .. the booking horizon (and a day, for zones far from UTC)."""
    return Interval(now, now + timedelta(days=practice.booking_horizon_days + 1))


# --- fetching -----------------------------------------------------------------------------------


def _read_capped(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise SyncError(f"The calendar is larger than {limit} bytes.")
    chunks, total = [], 0
    while chunk := response.read1(CHUNK):  # what has come, not a full CHUNK: a trickle ends
        total += len(chunk)
        if total > limit:
            raise SyncError(f"The calendar is larger than {limit} bytes.")
        if monotonic.monotonic() > deadline:
            raise SyncError("The calendar took too long to download.")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_ics(url: str, etag: str) -> tuple[bytes | None, str]:
    """GET an iCalendar URL: (body, ETag), or (None, etag) when unchanged (304). The SSRF check
    runs now and the connection goes to the vetted address; redirects are not followed."""
    timeout = settings.CALENDAR_TIMEOUT_SECONDS
    try:
        opener = vetted_opener(url)
    except UnsafeURL as error:
        raise SyncError(str(error)) from None
    headers = {"User-Agent": "Backcare-Calendar/1", "Accept": "text/calendar"}
    if etag:
        headers["If-None-Match"] = etag
    request = urllib.request.Request(url, headers=headers)  # noqa: S310  # http(s), checked
    try:
        with opener.open(request, timeout=timeout) as response:
            body = _read_capped(
                response, settings.CALENDAR_MAX_BYTES, monotonic.monotonic() + 3 * timeout
            )
            return body, response.headers.get("ETag", "")[:300]
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return None, etag
        raise SyncError(f"The calendar answered HTTP {error.code}.") from None
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise SyncError(f"The calendar could not be fetched: {error}"[:300]) from None


def caldav_calendar(link: CalendarLink) -> Any:  # caldav.Calendar: its stubs mix sync and async
    """The link's CalDAV calendar, after the SSRF check of its URL (again, at every use)."""
    try:
        check_url(link.url)
    except UnsafeURL as error:
        raise SyncError(str(error)) from None
    client = DAVClient(
        url=link.url,
        username=link.username or None,
        password=decrypt_password(link.password_encrypted) or None,
        timeout=settings.CALENDAR_TIMEOUT_SECONDS,
        enable_rfc6764=False,  # no DNS SRV discovery: the URL given is the one checked
        require_tls=False,  # the URL rules decide; tests run a loopback server over http
    )
    return client.calendar(url=link.url)


# --- a sync ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a successful sync found: blocks per calendar object (href; "" for a whole .ics)."""

    blocks: dict[str, list[Interval]] = field(default_factory=dict)
    full: bool = True  # replace every block of the link (else only the hrefs named)
    removed: set[str] = field(default_factory=set)
    unchanged: bool = False
    etag: str = ""
    sync_token: str = ""


def _sync_ics(link: CalendarLink, window: Interval, now: datetime) -> Outcome:
    fresh = link.expanded_at is not None and now - link.expanded_at < FULL_EXPANSION_EVERY
    body, etag = fetch_ics(link.url, link.etag if fresh else "")
    if body is None:
        return Outcome(unchanged=True, etag=etag)
    busy = expand(body, window=window, tz=link.practice.tz, max_events=settings.CALENDAR_MAX_EVENTS)
    return Outcome(blocks={"": busy}, etag=etag)


def _object_busy(
    objects: Iterable[Any], window: Interval, tz: tzinfo, budget: list[int]
) -> dict[str, list[Interval]]:
    """Expand each CalDAV object; `budget` is [bytes left, events left] across the sync."""
    blocks: dict[str, list[Interval]] = {}
    for obj in objects:
        data = obj.data.encode() if isinstance(obj.data, str) else (obj.data or b"")
        budget[0] -= len(data)
        if budget[0] < 0:
            raise SyncError(f"The calendar is larger than {settings.CALENDAR_MAX_BYTES} bytes.")
        busy = expand(data, window=window, tz=tz, max_events=budget[1]) if data else []
        budget[1] -= len(busy)
        blocks[str(obj.url.canonical())] = busy
    return blocks


def _sync_caldav(link: CalendarLink, window: Interval, now: datetime) -> Outcome:
    calendar = caldav_calendar(link)
    tz = link.practice.tz
    budget = [settings.CALENDAR_MAX_BYTES, settings.CALENDAR_MAX_EVENTS]
    fresh = link.expanded_at is not None and now - link.expanded_at < FULL_EXPANSION_EVERY
    if link.sync_token and fresh:
        try:  # only what changed since the last sync
            delta = calendar.objects_by_sync_token(
                sync_token=link.sync_token, load_objects=True, disable_fallback=True
            )
        except DAVError:
            delta = None  # the token expired: a full sync below
        if delta is not None:
            removed = {str(url) for url in delta.deleted_urls}
            changed = [obj for obj in delta.objects if str(obj.url.canonical()) not in removed]
            if len(changed) > budget[1]:
                raise SyncError(f"The calendar holds more than {budget[1]} events.")
            return Outcome(
                blocks=_object_busy(changed, window, tz, budget),
                full=False,
                removed=removed,
                sync_token=str(delta.sync_token or ""),
            )
    # The whole window: a time-range REPORT, then a token (etags only) for the next deltas.
    objects = calendar.search(start=window.start, end=window.end, event=True, expand=False)
    if len(objects) > settings.CALENDAR_MAX_EVENTS:
        raise SyncError(f"The calendar holds more than {settings.CALENDAR_MAX_EVENTS} events.")
    blocks = _object_busy(objects, window, tz, budget)
    try:
        token = str(calendar.objects_by_sync_token(disable_fallback=True).sync_token or "")
    except DAVError:
        token = ""  # no sync-collection here: every sync is a time-range REPORT
    return Outcome(blocks=blocks, sync_token=token)


def sync_link(link_id: int) -> str:
    """Sync one claimed link: 'synced', 'unchanged', 'failed' or 'skipped' (not claimed)."""
    link = (
        CalendarLink.objects.select_related("practice")
        .filter(pk=link_id, lease_until__isnull=False)
        .first()
    )
    if link is None:
        return "skipped"
    now = timezone.now()
    window = sync_window(link.practice, now)
    try:
        if link.kind == CalendarKind.ICS:
            outcome = _sync_ics(link, window, now)
        else:
            outcome = _sync_caldav(link, window, now)
    except SyncError as error:
        record_failure(link, str(error))
        return "failed"
    except Exception as error:  # a library's or server's surprise: recorded, never a lost worker
        logger.warning("calendar link %s: sync failed", link.pk, exc_info=True)
        record_failure(link, f"The calendar could not be synced ({type(error).__name__}).")
        return "failed"
    record_success(link, outcome, now)
    return "unchanged" if outcome.unchanged else "synced"


def _next_sync(now: datetime, failures: int = 0) -> datetime:
    interval = timedelta(minutes=settings.CALENDAR_SYNC_MINUTES)
    return now + min(interval * 2**failures, max(MAX_BACKOFF, interval))


def _unchanged(link: CalendarLink) -> QuerySet[CalendarLink]:
    """The link, if it still points where this sync read from."""
    return CalendarLink.objects.filter(
        pk=link.pk,
        url=link.url,
        username=link.username,
        password_encrypted=link.password_encrypted,
    )


@transaction.atomic
def record_success(link: CalendarLink, outcome: Outcome, now: datetime) -> None:
    """Replace the busy set (all of it, or the changed objects' blocks) and mark the link synced,
    in one transaction; the busy set changes only here."""
    if not _unchanged(link).select_for_update().exists():
        CalendarLink.objects.filter(pk=link.pk).update(lease_until=None)
        return  # unlinked, or pointed elsewhere, meanwhile: this outcome is stale
    changes: dict[str, Any] = {
        "last_synced_at": now,
        "last_error": "",
        "failures": 0,
        "next_sync_at": _next_sync(now),
        "lease_until": None,
        "etag": outcome.etag,
    }
    if not outcome.unchanged:
        blocks = BusyBlock.objects.filter(link=link)
        if not outcome.full:
            blocks = blocks.filter(href__in=[*outcome.removed, *outcome.blocks])
        blocks.delete()
        BusyBlock.objects.bulk_create(
            BusyBlock(
                link=link, therapist_id=link.therapist_id, start=b.start, end=b.end, href=href
            )
            for href, busy in outcome.blocks.items()
            for b in busy
        )
        changes["sync_token"] = outcome.sync_token
        if outcome.full:
            changes["expanded_at"] = now
    CalendarLink.objects.filter(pk=link.pk).update(**changes)


def record_failure(link: CalendarLink, error: str) -> None:
    """Keep the busy set; record the error and back off: 2, 4, 8 ... sync intervals (6 h max)."""
    now = timezone.now()
    failures = link.failures + 1
    recorded = _unchanged(link).update(
        last_error=error.replace("\x00", "")[:500],
        failures=failures,
        next_sync_at=_next_sync(now, failures),
        lease_until=None,
    )
    if not recorded:  # pointed elsewhere meanwhile: not this URL's failure; free the lease
        CalendarLink.objects.filter(pk=link.pk).update(lease_until=None)


def claim_due_links(now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Due links, locked with SKIP LOCKED and leased: a link is synced by one worker at a time."""
    now = now or timezone.now()
    return claim_batch(
        model=CalendarLink,
        due=Q(next_sync_at__lte=now, lease_until__isnull=True),
        order_by="next_sync_at",
        claimed={"lease_until": now + LEASE},
        lapsed=Q(lease_until__lt=now),
        released={"lease_until": None},
        batch=batch,
    )
