"""Outside calendars (issue 20.4), against a real Radicale and a real HTTP server (no mocked HTTP).

Busy times synced from a CalDAV or iCalendar link take exactly the slots that the same times as
time off would take: one-off, weekly with an EXDATE and a moved occurrence, all-day (the whole
local day), another time zone, floating times; transparent and cancelled events take nothing. A
booked appointment is written back to the CalDAV calendar and removed on cancel. A calendar that is
huge, endless, slow, unreachable or invalid gives a recorded, capped sync error that backs off and
keeps the last good busy set; never a 500, never a stalled worker.
"""

from __future__ import annotations

import functools
import threading
import time as clock
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from caldav.lib.error import NotFoundError
from django.db import connection
from django.utils import timezone

from practice.models import Practice, Service, Therapist, TimeOff
from sessions.scheduling import calendar_write_back, outside_calendars
from sessions.scheduling.models import BusyBlock, CalendarLink, CalendarWrite
from tests.factories import CalendarLinkFactory, ClientFactory, ServiceFactory
from tests.sessions.calendar_servers import (
    PASSWORD,
    USER,
    IcsServer,
    Radicale,
    free_port,
    running_ics_server,
    running_radicale,
)
from tests.sessions.test_availability_api import at, get, local_day, walls, work

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def radicale(tmp_path_factory) -> Iterator[Radicale]:
    with running_radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture(scope="module")
def ics_server() -> Iterator[IcsServer]:
    with running_ics_server() as server:
        yield server


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the test servers listen on 127.0.0.1


@dataclass
class Diary:
    practice: Practice
    therapist: Therapist
    service: Service


@pytest.fixture
def diary(practice, therapist) -> Diary:
    """A therapist working 09:00-12:00 and 13:00-17:00 every day, offering 60 min (+15 buffer)."""
    row = therapist.user.therapist
    service = ServiceFactory(practice=practice, duration_minutes=60, buffer_minutes=15)
    row.services.add(service)
    work(row)
    return Diary(practice, row, service)


# --- the calendar the tests read ------------------------------------------------------------------


@dataclass
class Week:
    """Days (local, from today) of the sample calendar and the busy times it must give."""

    one_off: date
    all_day: date
    ignored: date
    series: date
    expected: set[tuple[datetime, datetime]]


def _event(uid: str, start, end, **extra) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", "Busy")
    for name, value in extra.items():
        event.add(name.replace("_", "-"), value)
    return event


def sample(practice: Practice) -> tuple[list[icalendar.Event], Week]:
    """One-off (in UTC), all-day, a weekly series in New York time with one occurrence removed
    (EXDATE) and one moved (RECURRENCE-ID), a floating-time event (the practice's zone), and
    events that must block nothing: transparent, cancelled, past, beyond the horizon."""
    tz = practice.tz
    one_off, all_day, ignored, series = (local_day(practice, n) for n in (3, 4, 5, 6))
    ny = lambda day, hour: datetime.combine(day, time(hour), tzinfo=NEW_YORK)  # noqa: E731
    week = timedelta(days=7)
    events = [
        _event("one-off", at(practice, one_off, 10), at(practice, one_off, 11)),
        _event("all-day", all_day, all_day + timedelta(days=1)),
        _event(
            "weekly",
            ny(series, 9),
            ny(series, 10),
            rrule={"FREQ": "WEEKLY", "COUNT": 4},
            exdate=ny(series + week, 9),
        ),
        _event(
            "weekly",
            ny(series + 2 * week, 11),
            ny(series + 2 * week, 12),
            recurrence_id=ny(series + 2 * week, 9),
        ),
        _event(
            "floating",
            datetime.combine(ignored, time(15)),
            datetime.combine(ignored, time(16)),
        ),
        _event("free", at(practice, ignored, 10), at(practice, ignored, 11), transp="TRANSPARENT"),
        _event("off", at(practice, ignored, 13), at(practice, ignored, 14), status="CANCELLED"),
        _event(
            "past", at(practice, one_off, 10) - 30 * week, at(practice, one_off, 11) - 30 * week
        ),
        _event("far", at(practice, one_off, 10) + 80 * week, at(practice, one_off, 11) + 80 * week),
    ]
    local = lambda day, hour: datetime.combine(day, time(hour), tzinfo=tz)  # noqa: E731
    expected = {
        (at(practice, one_off, 10), at(practice, one_off, 11)),
        (local(all_day, 0), local(all_day + timedelta(days=1), 0)),
        (ny(series, 9), ny(series, 10)),
        (ny(series + 2 * week, 11), ny(series + 2 * week, 12)),
        (ny(series + 3 * week, 9), ny(series + 3 * week, 10)),
        (local(ignored, 15), local(ignored, 16)),
    }
    return events, Week(one_off, all_day, ignored, series, expected)


def as_ics(events: list[icalendar.Event]) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Backcare tests//EN")
    calendar.add("version", "2.0")
    for event in events:
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def put_into(calendar, events: list[icalendar.Event]) -> None:
    """Into a CalDAV calendar: one resource per UID (a series with its moved occurrence)."""
    by_uid: dict[str, list[icalendar.Event]] = {}
    for event in events:
        by_uid.setdefault(str(event["UID"]), []).append(event)
    for group in by_uid.values():
        calendar.save_event(ical=as_ics(group).decode())


def sync(link: CalendarLink) -> str:
    """What the beat job does for one link: claim it (SKIP LOCKED, leased), then sync it."""
    outside_calendars.request_sync(link=link)
    assert link.pk in outside_calendars.claim_due_links()
    return outside_calendars.sync_link(link.pk)


def blocks(link: CalendarLink) -> set[tuple[datetime, datetime]]:
    return {(b.start, b.end) for b in BusyBlock.objects.filter(link=link)}


def caldav_link(diary: Diary, calendar, **extra) -> CalendarLink:
    return outside_calendars.create_link(
        therapist=diary.therapist,
        kind="caldav",
        url=str(calendar.url),
        username=USER,
        password=PASSWORD,
        **extra,
    )


def ics_link(diary: Diary, url: str) -> CalendarLink:
    return outside_calendars.create_link(therapist=diary.therapist, kind="ics", url=url)


# --- busy times take exactly the right slots ------------------------------------------------------


def test_radicale_busy_times_take_exactly_the_slots_the_same_time_off_would(owner, diary, radicale):
    events, week = sample(diary.practice)
    calendar = radicale.new_calendar()
    put_into(calendar, events)
    first, last = week.one_off, week.series + timedelta(days=21)
    before = walls(get(owner.api, diary.service, first, last), diary.practice)
    link = caldav_link(diary, calendar)

    assert sync(link) == "synced"

    assert blocks(link) == week.expected
    with_busy = walls(get(owner.api, diary.service, first, last), diary.practice)
    # The same times as time off give the same slots: busy blocks are time off.
    BusyBlock.objects.filter(link=link).delete()
    for start, end in week.expected:
        TimeOff.objects.create(
            practice=diary.practice, therapist=diary.therapist, start=start, end=end
        )
    assert walls(get(owner.api, diary.service, first, last), diary.practice) == with_busy
    assert with_busy != before
    response = get(owner.api, diary.service, week.all_day)
    assert walls(response, diary.practice) == []  # an all-day event: the whole local day
    one_off = walls(get(owner.api, diary.service, week.one_off), diary.practice)
    assert not {"09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45"} & set(one_off)
    assert {"09:00", "11:00"} <= set(
        one_off
    )  # as with time off: ends as it starts, starts at its end
    ignored = walls(get(owner.api, diary.service, week.ignored), diary.practice)
    assert {"09:00", "10:00", "13:00"} <= set(ignored)  # transparent and cancelled: free
    assert "15:00" not in ignored  # the floating-time event, read in the practice's zone


def test_an_ics_subscription_gives_the_same_busy_times_and_uses_its_etag(diary, ics_server):
    events, week = sample(diary.practice)
    ics_server.files["/etag.ics"] = as_ics(events)
    link = ics_link(diary, ics_server.url("/etag.ics"))

    assert sync(link) == "synced"
    assert blocks(link) == week.expected
    assert sync(link) == "unchanged"  # If-None-Match answered 304
    asked = [tag for path, tag in ics_server.requests if path == "/etag.ics"]
    assert asked[0] == ""
    assert asked[-1].startswith('"')
    assert blocks(link) == week.expected

    ics_server.files["/etag.ics"] = as_ics(events[:1])
    assert sync(link) == "synced"
    assert blocks(link) == {
        (at(diary.practice, week.one_off, 10), at(diary.practice, week.one_off, 11))
    }
    link.refresh_from_db()
    assert link.last_error == ""
    assert link.last_synced_at is not None
    assert link.next_sync_at > timezone.now() + timedelta(minutes=4)


def test_a_caldav_sync_token_delta_changes_only_what_changed(diary, radicale):
    events, week = sample(diary.practice)
    calendar = radicale.new_calendar()
    put_into(calendar, events)
    link = caldav_link(diary, calendar)
    assert sync(link) == "synced"
    link.refresh_from_db()
    assert link.sync_token

    calendar.event_by_uid("one-off").delete()
    moved = at(diary.practice, week.ignored, 9)
    calendar.save_event(ical=as_ics([_event("new", moved, moved + timedelta(hours=1))]).decode())
    assert sync(link) == "synced"

    gone = (at(diary.practice, week.one_off, 10), at(diary.practice, week.one_off, 11))
    assert blocks(link) == (week.expected - {gone}) | {(moved, moved + timedelta(hours=1))}
    refreshed = CalendarLink.objects.get(pk=link.pk)
    assert refreshed.sync_token != link.sync_token


# --- write-back -------------------------------------------------------------------------------


def test_a_booked_appointment_is_written_back_to_radicale_and_removed_on_cancel(
    owner, diary, radicale
):
    calendar = radicale.new_calendar()
    link = caldav_link(diary, calendar, write_back=True)
    client = ClientFactory(practice=diary.practice, first_name="Zebedee", last_name="Quill")
    start = at(diary.practice, local_day(diary.practice, 3), 10)

    response = owner.api.post(
        "/api/v1/appointments/",
        {
            "service": diary.service.pk,
            "therapist": diary.therapist.pk,
            "client": client.pk,
            "start": start.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    appointment_id = response.json()["id"]
    assert set(calendar_write_back.push_due_writes().values()) == {"written"}

    uid = f"appointment-{appointment_id}@{diary.practice.slug}.backcare"
    written = calendar.event_by_uid(uid).data
    assert "Massage appointment" in written
    assert "Zebedee" not in written
    assert "Quill" not in written
    assert diary.service.name not in written
    assert "DTSTART:" + start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") in written
    # Read back by the next sync, it is not busy time: the appointment holds its own time.
    assert sync(link) == "synced"
    assert blocks(link) == set()

    later = start + timedelta(hours=1)
    moved = owner.api.post(
        f"/api/v1/appointments/{appointment_id}/reschedule/",
        {"start": later.isoformat()},
        format="json",
    )
    assert moved.status_code == 200, moved.content
    assert set(calendar_write_back.push_due_writes().values()) == {"written"}
    rewritten = calendar.event_by_uid(uid).data
    assert "DTSTART:" + later.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") in rewritten

    cancelled = owner.api.post(
        f"/api/v1/appointments/{appointment_id}/cancel/", {"reason": "ill"}, format="json"
    )
    assert cancelled.status_code == 200, cancelled.content
    assert set(calendar_write_back.push_due_writes().values()) == {"written"}
    with pytest.raises(NotFoundError):
        calendar.event_by_uid(uid)
    assert CalendarWrite.objects.get(link=link).due_at is None


def test_a_failing_write_back_never_blocks_booking_and_is_recorded(owner, diary, radicale):
    calendar = radicale.new_calendar()
    link = caldav_link(diary, calendar, write_back=True)
    outside_calendars.update_link(link=link, fields={}, password="wrong-password")

    response = owner.api.post(
        "/api/v1/appointments/",
        {
            "service": diary.service.pk,
            "therapist": diary.therapist.pk,
            "client": ClientFactory(practice=diary.practice).pk,
            "start": at(diary.practice, local_day(diary.practice, 3), 13).isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201
    assert set(calendar_write_back.push_due_writes().values()) == {"retry"}
    write = CalendarWrite.objects.get(link=link)
    assert write.attempts == 1
    assert "could not be written back" in write.last_error
    assert write.due_at > timezone.now()  # backs off
    assert write.lease_until is None


# --- bad calendars: recorded, capped, backed off; the last good busy set stays ------------------


@functools.cache
def _million_events() -> bytes:
    now = timezone.now().astimezone(UTC).replace(microsecond=0)
    flood = _event(
        "flood", now, now + timedelta(seconds=1), rrule={"FREQ": "SECONDLY", "COUNT": 1_000_000}
    )
    return as_ics([flood])


@functools.cache
def _too_many_events() -> bytes:
    start = timezone.now().astimezone(UTC).replace(microsecond=0) + timedelta(days=2)
    return as_ics(
        [
            _event(f"e{n}", start + timedelta(hours=n), start + timedelta(hours=n, minutes=30))
            for n in range(5001)
        ]
    )


BAD = {
    "endless": ("/endless.ics", "larger than"),  # 52 MB, streamed: abandoned at the 5 MB cap
    "trickle": ("/trickle.ics", "too long"),  # a byte every 0.2 s for two minutes
    "million": ("/million.ics", "more than 5000 events"),  # FREQ=SECONDLY, COUNT=1,000,000
    "too-many": ("/many.ics", "more than 5000 events"),
    "invalid": ("/garbage.ics", "not valid iCalendar"),
    "missing": ("/nothing-here.ics", "HTTP 404"),
    "unreachable": (None, "could not be fetched"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_calendar_is_a_recorded_capped_error_and_the_last_good_busy_set_stays(
    settings, diary, ics_server, case
):
    settings.CALENDAR_TIMEOUT_SECONDS = 1  # the trickle: 3 s at most for a whole download
    events, week = sample(diary.practice)
    ics_server.files["/good.ics"] = as_ics(events)
    ics_server.files["/million.ics"] = _million_events()
    ics_server.files["/many.ics"] = _too_many_events()
    ics_server.files["/garbage.ics"] = b"BEGIN:VCALENDAR\r\nthis is not\x00 iCalendar"
    link = ics_link(diary, ics_server.url("/good.ics"))
    assert sync(link) == "synced"
    path, error = BAD[case]
    url = ics_server.url(path) if path else f"http://127.0.0.1:{free_port()}/closed.ics"
    CalendarLink.objects.filter(pk=link.pk).update(url=url)

    started = clock.monotonic()
    outcomes = [sync(link), sync(link)]
    took = clock.monotonic() - started

    assert outcomes == ["failed", "failed"]
    assert took < 20  # never a stalled worker
    link.refresh_from_db()
    assert error in link.last_error
    assert link.failures == 2
    assert link.lease_until is None
    # 5 minutes x 2^2: the second failure waits longer than the first would have.
    assert link.next_sync_at > timezone.now() + timedelta(minutes=19)
    assert blocks(link) == week.expected  # the last good busy set


def test_a_url_is_checked_again_at_every_fetch(settings, diary, ics_server):
    events, week = sample(diary.practice)
    ics_server.files["/rebound.ics"] = as_ics(events)
    link = ics_link(diary, ics_server.url("/rebound.ics"))
    assert sync(link) == "synced"
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False  # as if the name now resolved to 127.0.0.1

    assert sync(link) == "failed"

    link.refresh_from_db()
    assert "non-public address" in link.last_error
    assert blocks(link) == week.expected


def test_a_calendar_with_a_wrong_password_is_a_recorded_error(diary, radicale):
    calendar = radicale.new_calendar()
    link = caldav_link(diary, calendar)
    outside_calendars.update_link(link=link, fields={}, password="not-it")

    assert sync(link) == "failed"

    link.refresh_from_db()
    assert link.last_error
    assert link.failures == 1


def test_a_claimed_link_is_not_claimed_again_until_its_lease_lapses(diary):
    link = ics_link(diary, "https://calendar.example.com/a.ics")

    assert outside_calendars.claim_due_links() == [link.pk]
    assert outside_calendars.claim_due_links() == []
    assert outside_calendars.claim_due_links(now=timezone.now() + timedelta(minutes=6)) == [link.pk]


# --- cost -----------------------------------------------------------------------------------------


def test_busy_blocks_cost_availability_no_query(owner, diary, django_assert_max_num_queries):
    """Budget as without outside calendars: 1 auth + 1 service + 3 for the slots (time off and
    busy blocks are one UNION query)."""
    link = ics_link(diary, "https://calendar.example.com/a.ics")
    first = local_day(diary.practice, 1)
    BusyBlock.objects.bulk_create(
        BusyBlock(
            link=link,
            therapist=diary.therapist,
            start=at(diary.practice, first + timedelta(days=n % 40), 9 + n % 8),
            end=at(diary.practice, first + timedelta(days=n % 40), 9 + n % 8, 30),
        )
        for n in range(200)
    )

    with django_assert_max_num_queries(5):
        response = get(owner.api, diary.service, first, first + timedelta(days=40))

    assert "09:00" not in walls(response, diary.practice, first)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_dispatchers_never_claim_one_link_twice():
    """Eight dispatchers claim 40 due links at once (SELECT ... FOR UPDATE SKIP LOCKED): every
    link is claimed by exactly one of them."""
    links = CalendarLinkFactory.create_batch(40, next_sync_at=timezone.now() - timedelta(minutes=1))
    barrier = threading.Barrier(8)

    def dispatcher() -> list[int]:
        try:
            barrier.wait()
            return outside_calendars.claim_due_links(batch=10)
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        claims = [pool.submit(dispatcher) for _ in range(8)]
        claimed = [pk for claim in claims for pk in claim.result()]

    assert sorted(claimed) == sorted(link.pk for link in links)
