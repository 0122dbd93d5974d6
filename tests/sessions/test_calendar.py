"""Calendar feeds (API.md "Calendar"; `calendar/{token}.ics`, `me/`, `me/calendar/rotate/`).

A feed URL is a bearer secret that ends up in third-party calendar apps, so besides being valid
iCalendar (stable UIDs, growing SEQUENCE, STATUS:CANCELLED, UTC times with the zone named) it must
carry no clinical content and, in a therapist's feed, no more of a client than "First L.".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.utils import timezone
from icalendar import Calendar

from clients.models import Client
from practice.auth import calendar_token
from practice.models import Practice, Service, Therapist, User
from practice.services import set_working_hours
from sessions.scheduling.models import Appointment
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    ServiceFactory,
    TherapistFactory,
)

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
ROTATE = "/api/v1/me/calendar/rotate/"
APPOINTMENTS = "/api/v1/appointments/"


@dataclass
class Setup:
    practice: Practice
    therapist: Therapist
    service: Service
    client: Client


@pytest.fixture
def setup(practice, therapist) -> Setup:
    """The `therapist` member working 09:00-17:00 daily; a client with much to keep private."""
    row = therapist.user.therapist
    service = ServiceFactory(practice=practice, name="Deep tissue back massage")
    row.services.add(service)
    set_working_hours(
        therapist=row,
        intervals=[{"weekday": day, "start": time(9), "end": time(17)} for day in range(7)],
    )
    client = ClientFactory(
        practice=practice,
        first_name="Alexandra",
        last_name="Whitfield",
        email="alexandra.whitfield@example.com",
        phone="+44 7700 900999",
        date_of_birth=datetime(1961, 2, 3, tzinfo=UTC).date(),
        health_flags=["osteoporosis", "anticoagulants"],
    )
    ComplaintFactory(client=client, notes="Herniated disc at L5/S1 with radiating leg pain.")
    return Setup(practice, row, service, client)


def at(practice: Practice, days: int, hour: int) -> datetime:
    day = timezone.now().astimezone(practice.tz).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=practice.tz).astimezone(UTC)


def feed_url(member) -> str:
    response = member.api.get(ME)
    assert response.status_code == 200
    url = response.json()["calendar_url"]
    assert url is not None
    return url


def path_of(url: str) -> str:
    return urlparse(url).path


def fetch(anon, url: str):
    response = anon.get(path_of(url))
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/calendar")
    return response


def events(response) -> dict[str, object]:
    """VEVENTs by UID."""
    calendar = Calendar.from_ical(response.content)
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def uid_of(response, start: datetime) -> str:
    [uid] = [uid for uid, e in events(response).items() if e.decoded("dtstart") == start]
    return uid


def book_via_api(member, setup: Setup, start: datetime) -> int:
    response = member.api.post(
        APPOINTMENTS,
        {
            "service": setup.service.pk,
            "therapist": setup.therapist.pk,
            "client": setup.client.pk,
            "start": start.isoformat(),
        },
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


# --- where the URL comes from -------------------------------------------------------------------


def test_me_has_a_calendar_url_for_therapists_and_clients_only(members):
    urls = {role: member.api.get(ME).json()["calendar_url"] for role, member in members.items()}

    assert urls["front_desk"] is None
    for role in ("owner", "therapist", "client"):
        assert urls[role].startswith(f"{settings.BASE_URL}/api/v1/calendar/")
        assert urls[role].endswith(".ics")
    assert len({urls["owner"], urls["therapist"], urls["client"]}) == 3


def test_the_feed_needs_no_login_but_the_right_url(anon, therapist, setup):
    AppointmentFactory(
        practice=setup.practice,
        client=setup.client,
        therapist=setup.therapist,
        service=setup.service,
    )

    response = fetch(anon, feed_url(therapist))

    assert len(events(response)) == 1


# --- the iCalendar itself -----------------------------------------------------------------------


def test_the_feed_is_icalendar_with_utc_times_and_the_practice_zone_named(anon, therapist, setup):
    appointment = AppointmentFactory(
        practice=setup.practice,
        client=setup.client,
        therapist=setup.therapist,
        service=setup.service,
        start=at(setup.practice, 4, 10),
    )

    response = fetch(anon, feed_url(therapist))

    calendar = Calendar.from_ical(response.content)
    assert str(calendar["version"]) == "2.0"
    assert str(calendar["prodid"])
    assert str(calendar["x-wr-timezone"]) == "Europe/London"
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"])
    assert event.decoded("dtstart") == appointment.start
    assert event.decoded("dtend") == appointment.end
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert str(event["status"]) == "CONFIRMED"
    assert int(event["sequence"]) == 0
    text = response.content.decode()
    assert re.search(r"^DTSTART:\d{8}T\d{6}Z\r?$", text, re.MULTILINE), text
    assert re.search(r"^DTEND:\d{8}T\d{6}Z\r?$", text, re.MULTILINE), text
    assert "TZID=" not in text  # UTC throughout; the zone is named once, for display


def test_uid_stays_and_sequence_grows_through_reschedule_and_cancel(anon, owner, therapist, setup):
    url = feed_url(therapist)
    first_start = at(setup.practice, 4, 10)
    appointment = book_via_api(owner, setup, first_start)

    booked = events(fetch(anon, url))
    [uid] = booked
    assert int(booked[uid]["sequence"]) == 0

    moved_start = at(setup.practice, 5, 14)
    moved = owner.api.post(
        f"{APPOINTMENTS}{appointment}/reschedule/", {"start": moved_start.isoformat()}
    )
    assert moved.status_code == 200, moved.content
    rescheduled = events(fetch(anon, url))
    assert list(rescheduled) == [uid]
    assert int(rescheduled[uid]["sequence"]) > int(booked[uid]["sequence"])
    assert rescheduled[uid].decoded("dtstart") == moved_start
    assert str(rescheduled[uid]["status"]) == "CONFIRMED"

    cancelled = owner.api.post(
        f"{APPOINTMENTS}{appointment}/cancel/", {"reason": "Flare-up of sciatica"}
    )
    assert cancelled.status_code == 200, cancelled.content
    after_cancel = fetch(anon, url)
    final = events(after_cancel)
    assert list(final) == [uid]
    assert int(final[uid]["sequence"]) > int(rescheduled[uid]["sequence"])
    assert str(final[uid]["status"]) == "CANCELLED"
    assert int(final[uid]["sequence"]) == Appointment.objects.get(pk=appointment).sequence
    assert "sciatica" not in after_cancel.content.decode()  # a cancel reason may be clinical


def test_uids_are_distinct_per_appointment(anon, therapist, setup):
    for days in (3, 4, 5):
        AppointmentFactory(
            practice=setup.practice,
            client=setup.client,
            therapist=setup.therapist,
            service=setup.service,
            start=at(setup.practice, days, 10),
        )

    first, second = (
        events(fetch(anon, feed_url(therapist))),
        events(fetch(anon, feed_url(therapist))),
    )

    assert len(first) == 3
    assert set(first) == set(second)


# --- who sees what ------------------------------------------------------------------------------


def test_a_therapists_feed_shows_first_name_and_last_initial_and_nothing_clinical(
    anon, therapist, setup
):
    AppointmentFactory(
        practice=setup.practice,
        client=setup.client,
        therapist=setup.therapist,
        service=setup.service,
    )

    response = fetch(anon, feed_url(therapist))

    [event] = events(response).values()
    assert "Alexandra W." in str(event["summary"])
    # Unfold long lines before searching, so a private word split across lines is still found.
    text = response.content.decode().replace("\r\n ", "").replace("\n ", "")
    for private in (
        "Whitfield",
        "alexandra.whitfield@example.com",
        "7700 900999",
        "1961",
        "osteoporosis",
        "anticoagulants",
        "Herniated",
        "L5/S1",
    ):
        assert private not in text, private


def test_a_therapists_feed_has_only_their_own_appointments(anon, therapist, setup):
    colleague = TherapistFactory(practice=setup.practice)
    mine = AppointmentFactory(
        practice=setup.practice,
        client=setup.client,
        therapist=setup.therapist,
        service=setup.service,
    )
    AppointmentFactory(
        practice=setup.practice,
        client=ClientFactory(practice=setup.practice, first_name="Bartholomew"),
        therapist=colleague,
        service=setup.service,
    )

    response = fetch(anon, feed_url(therapist))

    [event] = events(response).values()
    assert event.decoded("dtstart") == mine.start
    assert "Bartholomew" not in response.content.decode()


def test_a_clients_feed_has_only_their_own_appointments(anon, client_member, setup):
    own = client_member.user.client
    mine = AppointmentFactory(
        practice=setup.practice, client=own, therapist=setup.therapist, service=setup.service
    )
    AppointmentFactory(
        practice=setup.practice,
        client=setup.client,
        therapist=setup.therapist,
        service=setup.service,
    )

    response = fetch(anon, feed_url(client_member))

    [event] = events(response).values()
    assert event.decoded("dtstart") == mine.start
    assert "Deep tissue back massage" in str(event["summary"])
    assert setup.therapist.user.first_name in str(event["summary"])
    assert "Alexandra" not in response.content.decode()


def test_a_clients_feed_shows_their_cancelled_appointment_as_cancelled(anon, client_member, setup):
    own = client_member.user.client
    AppointmentFactory(
        practice=setup.practice,
        client=own,
        therapist=setup.therapist,
        service=setup.service,
        status="cancelled",
        sequence=1,
    )

    [event] = events(fetch(anon, feed_url(client_member))).values()

    assert str(event["status"]) == "CANCELLED"
    assert int(event["sequence"]) == 1


def test_another_practices_appointments_never_appear(anon, therapist, setup, other_practice):
    foreign_client = ClientFactory(practice=other_practice, first_name="Zebedee")
    AppointmentFactory(practice=other_practice, client=foreign_client)

    response = fetch(anon, feed_url(therapist))

    assert events(response) == {}
    assert "Zebedee" not in response.content.decode()


# --- rotating and tampering ---------------------------------------------------------------------


def test_rotating_retires_the_old_url_and_issues_a_working_new_one(anon, therapist, owner, setup):
    AppointmentFactory(
        practice=setup.practice,
        client=setup.client,
        therapist=setup.therapist,
        service=setup.service,
    )
    old = feed_url(therapist)
    owners = feed_url(owner)
    fetch(anon, old)

    version = therapist.user.calendar_version

    rotated = therapist.api.post(ROTATE)

    assert rotated.status_code == 200, rotated.content
    assert User.objects.get(pk=therapist.user.pk).calendar_version == version + 1
    new = rotated.json()["calendar_url"]
    assert new != old
    assert feed_url(therapist) == new
    gone = anon.get(path_of(old))
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert len(events(fetch(anon, new))) == 1
    fetch(anon, owners)  # another user's feed is untouched


def test_rotating_needs_a_login(anon):
    assert anon.post(ROTATE).status_code == 401


def test_a_tampered_token_is_404(anon, therapist, setup):
    token = path_of(feed_url(therapist)).removeprefix("/api/v1/calendar/").removesuffix(".ics")
    value, signature = token.rsplit(":", 1)
    user_id, version = value.split(".")
    forged_signature = signature[:-1] + ("A" if signature[-1] != "A" else "B")

    for bad in (
        f"{value}:{forged_signature}",  # a changed signature
        f"{int(user_id) + 1}.{version}:{signature}",  # another user's id under this signature
        f"{user_id}.{int(version) + 1}:{signature}",  # a version that was never issued
        value,  # no signature at all
        "nonsense",
    ):
        response = anon.get(f"/api/v1/calendar/{bad}.ics")
        assert response.status_code == 404, bad
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("who", ["front_desk", "deactivated"])
def test_a_validly_signed_token_of_someone_without_a_feed_is_404(
    anon, front_desk, therapist, setup, who
):
    if who == "front_desk":
        user = front_desk.user
    else:
        user = therapist.user
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.refresh_from_db()

    response = anon.get(f"/api/v1/calendar/{calendar_token(user)}.ics")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
