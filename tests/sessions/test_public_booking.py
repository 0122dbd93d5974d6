"""Booking without an account (API.md "Public booking": `public/{slug}/…`, `public/bookings/…`).

What a stranger may learn is the point of these tests: only online-bookable services and
therapists, never whether an email is already a client, and through a manage link only the booking
itself. Every refusal is checked in the database too: nothing booked, no client created or changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from clients.domain import ComplaintStatus
from clients.models import Client
from practice.auth import hash_secret
from practice.models import Practice, Service, Therapist
from practice.services import set_working_hours
from practice.throttling import IdempotencyKeyRateThrottle
from sessions.api.views import PublicBookingThrottle
from sessions.scheduling.models import Appointment, IdempotencyRecord, Source, Status
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    ServiceFactory,
    TherapistFactory,
)

pytestmark = pytest.mark.django_db

SLUG = "north"  # the `practice` fixture
SERVICES = f"/api/v1/public/{SLUG}/services/"
THERAPISTS = f"/api/v1/public/{SLUG}/therapists/"
AVAILABILITY = f"/api/v1/public/{SLUG}/availability/"
BOOKINGS = f"/api/v1/public/{SLUG}/bookings/"
PUBLIC_APPOINTMENT_FIELDS = {"status", "start", "end", "service", "therapist", "late_cancellation"}


@pytest.fixture(autouse=True)
def _private_rate_limit_counters(settings):
    """Counters in this process's memory: the file or Redis cache is shared with any other test
    run on the machine, whose autouse `cache.clear()` would reset them half-way through a test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "public-booking-tests",
        }
    }
    cache.clear()
    yield
    cache.clear()


@dataclass
class Setup:
    practice: Practice
    therapist: Therapist
    service: Service


@pytest.fixture
def setup(practice) -> Setup:
    """An online-bookable therapist working 09:00-17:00 every day, offering 60 min (+15 buffer)."""
    therapist = TherapistFactory(practice=practice, bio="Sports and back massage.")
    service = ServiceFactory(
        practice=practice, name="Back massage", duration_minutes=60, buffer_minutes=15
    )
    therapist.services.add(service)
    set_working_hours(
        therapist=therapist,
        intervals=[{"weekday": day, "start": time(9), "end": time(17)} for day in range(7)],
    )
    return Setup(practice, therapist, service)


def local_day(practice: Practice, days: int) -> date:
    return timezone.now().astimezone(practice.tz).date() + timedelta(days=days)


def at(practice: Practice, days: int, hour: int, minute: int = 0) -> datetime:
    """Local wall-clock time `days` from today, as an aware UTC instant."""
    return datetime.combine(
        local_day(practice, days), time(hour, minute), tzinfo=practice.tz
    ).astimezone(UTC)


def booking(setup: Setup, start: datetime, **overrides) -> dict:
    body = {
        "service": setup.service.pk,
        "therapist": setup.therapist.pk,
        "start": start.isoformat(),
        "first_name": "Robin",
        "last_name": "Ashdown",
        "email": "robin.ashdown@example.com",
        "phone": "+44 7700 900456",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def book(api: APIClient, body: dict, ip: str = "203.0.113.10", **headers):
    return api.post(BOOKINGS, body, REMOTE_ADDR=ip, **headers)


def manage_path(response) -> str:
    url = response.json()["manage_url"]
    assert url.startswith(f"{settings.BASE_URL}/api/v1/public/bookings/")
    return urlparse(url).path


def token_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def counts() -> tuple[int, int]:
    return Client.objects.count(), Appointment.objects.count()


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert body["detail"]


def assert_invalid(response, field: str) -> None:
    assert_error(response, 400, "invalid")
    assert field in {error["field"] for error in response.json()["errors"]}, response.json()


# --- what the public sees -----------------------------------------------------------------------


def test_services_list_only_active_online_bookable_ones_of_this_practice(
    anon, setup, other_practice
):
    ServiceFactory(practice=setup.practice, name="Clinic only", online_bookable=False)
    ServiceFactory(practice=setup.practice, name="Retired", active=False)
    ServiceFactory(practice=other_practice, name="Elsewhere")

    response = anon.get(SERVICES)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": setup.service.pk,
            "name": "Back massage",
            "description": setup.service.description,
            "duration_minutes": 60,
            "price": response.json()[0]["price"],
        }
    ]
    assert float(response.json()[0]["price"]) == float(setup.service.price)


def test_therapists_list_only_active_online_bookable_ones_without_contact_details(
    anon, setup, other_practice
):
    Therapist.objects.filter(practice=setup.practice).exclude(pk=setup.therapist.pk).update(
        online_bookable=False
    )  # the owner, who is also a therapist, takes no online bookings here
    TherapistFactory(practice=setup.practice, online_bookable=False)
    TherapistFactory(practice=setup.practice, active=False)
    TherapistFactory(practice=other_practice)

    response = anon.get(THERAPISTS)

    assert response.status_code == 200
    [listed] = response.json()
    assert listed == {
        "id": setup.therapist.pk,
        "first_name": setup.therapist.user.first_name,
        "last_name": setup.therapist.user.last_name,
        "bio": "Sports and back massage.",
        "services": [setup.service.pk],
    }
    assert setup.therapist.user.email not in response.content.decode()


def test_public_availability_offers_slots_of_online_bookable_therapists(anon, setup):
    offline = TherapistFactory(practice=setup.practice, online_bookable=False)
    offline.services.add(setup.service)
    set_working_hours(
        therapist=offline,
        intervals=[{"weekday": d, "start": time(9), "end": time(17)} for d in range(7)],
    )
    day = local_day(setup.practice, 5)

    response = anon.get(AVAILABILITY, {"service": setup.service.pk, "start": day, "end": day})

    assert response.status_code == 200, response.content
    slots = response.json()["slots"]
    assert {slot["therapist"] for slot in slots} == {setup.therapist.pk}
    walls = [datetime.fromisoformat(s["start"]).astimezone(setup.practice.tz) for s in slots]
    assert walls[0].time() == time(9)
    assert walls[-1].time() == time(16)
    assert all(w.date() == day for w in walls)


def test_a_therapist_taken_offline_leaves_the_next_public_answer(anon, setup):
    """The public page keeps the practice's configuration per version too
    (practice.config_versions): a change written by a queryset update, which no service sees,
    is in the next answer."""
    day = local_day(setup.practice, 5)
    query = {"service": setup.service.pk, "start": day, "end": day}
    before = anon.get(AVAILABILITY, query)
    Therapist.objects.filter(pk=setup.therapist.pk).update(online_bookable=False)
    after = anon.get(AVAILABILITY, query)

    assert before.status_code == after.status_code == 200
    assert {slot["therapist"] for slot in before.json()["slots"]} == {setup.therapist.pk}
    assert after.json()["slots"] == []


@pytest.mark.parametrize("which", ["offline", "inactive", "foreign"])
def test_public_availability_of_a_service_not_booked_online_is_a_400(
    anon, setup, other_practice, which
):
    service = {
        "offline": lambda: ServiceFactory(practice=setup.practice, online_bookable=False),
        "inactive": lambda: ServiceFactory(practice=setup.practice, active=False),
        "foreign": lambda: ServiceFactory(practice=other_practice),
    }[which]()
    if which != "foreign":
        setup.therapist.services.add(service)
    day = local_day(setup.practice, 5)

    response = anon.get(AVAILABILITY, {"service": service.pk, "start": day, "end": day})

    assert_invalid(response, "service")


def _next_offset_change(practice: Practice) -> date:
    """The first local day, within a year, whose UTC offset differs from the day before's."""
    day = local_day(practice, 1)
    for _ in range(366):
        noon = datetime.combine(day, time(12), tzinfo=practice.tz)
        if noon.utcoffset() != (noon - timedelta(days=1)).utcoffset():
            return day
        day += timedelta(days=1)
    raise AssertionError(f"{practice.timezone} has no offset change within a year")


def test_public_availability_gives_each_slot_in_local_time_with_its_offset_across_dst(anon, setup):
    practice = setup.practice  # Europe/London: its offset changes twice a year
    practice.booking_horizon_days = 365
    practice.save(update_fields=["booking_horizon_days"])
    change = _next_offset_change(practice)
    before, after = change - timedelta(days=1), change + timedelta(days=1)

    response = anon.get(AVAILABILITY, {"service": setup.service.pk, "start": before, "end": after})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["timezone"] == "Europe/London"
    first_of_day = {}
    for slot in body["slots"]:
        local_start = datetime.fromisoformat(slot["start_local"])
        assert local_start.utcoffset() is not None, slot
        assert local_start == datetime.fromisoformat(slot["start"]), slot  # the same instant
        assert local_start.utcoffset() == local_start.astimezone(practice.tz).utcoffset()
        assert datetime.fromisoformat(slot["end_local"]) == datetime.fromisoformat(slot["end"])
        first_of_day.setdefault(local_start.date(), local_start)
    # Working hours are local: each day's first slot is 09:00 on the wall clock, in two offsets.
    assert [first.time() for first in first_of_day.values()] == [time(9)] * 3
    assert first_of_day[before].utcoffset() != first_of_day[after].utcoffset()


def test_the_availability_days_are_documented_as_the_practices_local_days(anon):
    schema = anon.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/public/{slug}/availability/"]["get"]
    parameters = {p["name"]: p["description"] for p in operation["parameters"]}
    for name in ("start", "end"):
        assert "practice's" in parameters[name], parameters[name]
        assert "time zone" in parameters[name], parameters[name]
    slot = schema["components"]["schemas"]["Slot"]
    assert {"start_local", "end_local"} <= set(slot["required"])


# --- public/{slug}/: what a booking widget shows first ---------------------------------------


def test_the_public_practice_page_answers_name_time_zone_and_booking_policy(anon, setup):
    practice = setup.practice
    practice.min_notice_minutes = 240
    practice.booking_horizon_days = 60
    practice.cancellation_window_hours = 48
    practice.save()

    response = anon.get(f"/api/v1/public/{SLUG}/")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "slug": SLUG,
        "name": "North Back Clinic",
        "timezone": "Europe/London",
        "online_booking": True,
        "min_notice_minutes": 240,
        "booking_horizon_days": 60,
        "cancellation_window_hours": 48,
        "clients_may_cancel_late": False,
        "late_cancel_fee_percent": 50,
        "no_show_fee_percent": 100,
    }


def test_the_public_practice_page_says_when_online_booking_is_off(anon, setup):
    Practice.objects.filter(pk=setup.practice.pk).update(online_booking=False)

    response = anon.get(f"/api/v1/public/{SLUG}/")

    assert response.status_code == 200, response.content
    assert response.json()["online_booking"] is False
    # ...and the booking routes themselves are closed.
    assert_error(anon.get(SERVICES), 404, "not_found")


def test_the_public_page_of_an_unknown_practice_is_a_json_404(anon, setup):
    assert_error(anon.get("/api/v1/public/no-such-practice/"), 404, "not_found")


def test_public_availability_rejects_a_range_over_62_days(anon, setup):
    day = local_day(setup.practice, 1)

    response = anon.get(
        AVAILABILITY,
        {"service": setup.service.pk, "start": day, "end": day + timedelta(days=62)},
    )

    assert_invalid(response, "end")


def test_an_unknown_practice_slug_is_404(anon, setup):
    for url in ("services/", "therapists/", "availability/"):
        assert_error(anon.get(f"/api/v1/public/nowhere/{url}"), 404, "not_found")
    assert_error(anon.post("/api/v1/public/nowhere/bookings/", {}), 404, "not_found")


def test_with_online_booking_off_every_public_page_is_404_and_nothing_is_booked(anon, setup):
    setup.practice.online_booking = False
    setup.practice.save(update_fields=["online_booking"])
    day = local_day(setup.practice, 5)
    before = counts()

    assert_error(anon.get(SERVICES), 404, "not_found")
    assert_error(anon.get(THERAPISTS), 404, "not_found")
    assert_error(
        anon.get(AVAILABILITY, {"service": setup.service.pk, "start": day, "end": day}),
        404,
        "not_found",
    )
    assert_error(book(anon, booking(setup, at(setup.practice, 5, 10))), 404, "not_found")
    assert counts() == before


# --- booking ------------------------------------------------------------------------------------


def test_a_new_email_books_and_creates_the_client(anon, setup):
    start = at(setup.practice, 5, 10)

    response = book(anon, booking(setup, start, email="  Robin.Ashdown@Example.com "))

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PUBLIC_APPOINTMENT_FIELDS | {"manage_url"}
    assert body["status"] == "booked"
    assert datetime.fromisoformat(body["start"]) == start
    assert datetime.fromisoformat(body["end"]) == start + timedelta(minutes=60)
    client = Client.objects.get()
    assert (client.first_name, client.last_name) == ("Robin", "Ashdown")
    assert client.email == "robin.ashdown@example.com"
    assert client.phone == "+44 7700 900456"
    assert client.practice == setup.practice
    appointment = Appointment.objects.get()
    assert appointment.client == client
    assert appointment.source == Source.PUBLIC
    assert appointment.booked_by is None
    assert appointment.manage_token_hash == hash_secret(token_of(manage_path(response)))


def test_a_known_email_books_for_that_client_without_changing_or_revealing_it(anon, setup):
    known = ClientFactory(
        practice=setup.practice,
        first_name="Jane",
        last_name="Doe",
        email="jane.doe@example.com",
        phone="+44 20 7946 0000",
        health_flags=["osteoporosis"],
    )
    snapshot = Client.objects.filter(pk=known.pk).values().get()

    as_known = book(
        anon,
        booking(
            setup,
            at(setup.practice, 5, 10),
            email="JANE.Doe@Example.COM",
            first_name="Mallory",
            last_name="Intruder",
            phone="+1 555 0100",
        ),
    )
    as_new = book(anon, booking(setup, at(setup.practice, 5, 14), email="new@example.com"))

    assert as_known.status_code == as_new.status_code == 201, as_known.content
    # The same answer either way: no hint that jane.doe@ is already a client.
    known_body, new_body = as_known.json(), as_new.json()
    assert set(known_body) == set(new_body)
    for field in ("start", "end", "manage_url"):
        del known_body[field], new_body[field]
    assert known_body == new_body
    assert "Jane" not in as_known.content.decode()
    assert "osteoporosis" not in as_known.content.decode()
    # Booked for the existing record, which is left exactly as it was.
    assert Appointment.objects.get(start=at(setup.practice, 5, 10)).client_id == known.pk
    assert Client.objects.filter(pk=known.pk).values().get() == snapshot
    assert Client.objects.filter(email__iexact="jane.doe@example.com").count() == 1


def test_a_client_of_another_practice_is_not_matched(anon, setup, other_practice):
    elsewhere = ClientFactory(practice=other_practice, email="robin.ashdown@example.com")

    response = book(anon, booking(setup, at(setup.practice, 5, 10)))

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get()
    assert appointment.client_id != elsewhere.pk
    assert appointment.client.practice == setup.practice


def test_a_taken_slot_is_409_slot_unavailable(anon, setup):
    start = at(setup.practice, 5, 10)
    assert book(anon, booking(setup, start)).status_code == 201
    before = counts()

    response = book(anon, booking(setup, start + timedelta(minutes=30), email="b@example.com"))

    assert_error(response, 409, "slot_unavailable")
    assert counts() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"practice": 2}, "practice"),
        ({"status": "completed"}, "status"),
        ({"client": 1}, "client"),
        ({"email": None}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"first_name": None}, "first_name"),
        ({"start": "2030-01-01T10:00:00"}, "start"),  # naive: no offset
    ],
)
def test_bad_bodies_are_400_and_nothing_is_written(anon, setup, overrides, field):
    body = booking(setup, at(setup.practice, 5, 10))
    body.update({k: v for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        body.pop(key)

    assert_invalid(book(anon, body), field)
    assert counts() == (0, 0)


def test_a_start_off_the_slot_grid_is_400(anon, setup):
    assert_invalid(book(anon, booking(setup, at(setup.practice, 5, 10, 7))), "start")
    assert counts() == (0, 0)


@pytest.mark.parametrize("which", ["offline_service", "offline_therapist", "foreign_service"])
def test_what_is_not_bookable_online_is_refused(anon, setup, other_practice, which):
    body = booking(setup, at(setup.practice, 5, 10))
    if which == "offline_service":
        offline = ServiceFactory(practice=setup.practice, online_bookable=False)
        setup.therapist.services.add(offline)
        body["service"], field = offline.pk, "service"
    elif which == "offline_therapist":
        setup.therapist.online_bookable = False
        setup.therapist.save(update_fields=["online_bookable"])
        field = "therapist"
    else:
        body["service"], field = ServiceFactory(practice=other_practice).pk, "service"

    assert_invalid(book(anon, body), field)
    assert counts() == (0, 0)


def test_a_client_whose_complaint_needs_referral_cannot_book_online(
    anon, setup, settings, django_capture_on_commit_callbacks
):
    # Issue 13.3: the public page answers as for anyone; the block reaches the client by email.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    flagged = ClientFactory(practice=setup.practice, email="flagged@example.com")
    ComplaintFactory(
        client=flagged, status=ComplaintStatus.REFERRAL_REQUIRED, notes="Saddle numbness."
    )
    before = counts()

    with django_capture_on_commit_callbacks(execute=True):
        response = book(
            anon, booking(setup, at(setup.practice, 5, 10), email="Flagged@example.com")
        )

    assert response.status_code == 201, response.content
    assert set(response.json()) == {
        "status",
        "start",
        "end",
        "service",
        "therapist",
        "late_cancellation",
        "manage_url",
    }
    assert "Saddle" not in response.content.decode()
    assert counts() == before
    assert not Appointment.objects.filter(client=flagged).exists()
    # Its manage link shows and cancels like a booking's: nothing there tells who the email is.
    shown = anon.get(manage_path(response))
    assert shown.status_code == 200
    assert shown.json()["status"] == "booked"
    cancelled = anon.post(f"{manage_path(response)}cancel/", {"reason": "Plans changed"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    [message] = [m for m in mail.outbox if m.to == ["flagged@example.com"]]
    assert "contact" in message.body
    assert "Saddle" not in message.body


def test_public_answers_do_not_depend_on_whom_the_email_belongs_to(anon, setup):
    # Issue 13.3: a taken slot answered `precondition_failed` for a client awaiting referral and
    # `slot_unavailable` for anyone else, which told a stranger about a health record.
    flagged = ClientFactory(practice=setup.practice, email="flagged@example.com")
    ComplaintFactory(client=flagged, status=ComplaintStatus.REFERRAL_REQUIRED)
    slot = at(setup.practice, 5, 10)
    assert book(anon, booking(setup, slot, email="first@example.com")).status_code == 201

    answers = [
        book(anon, booking(setup, slot, email=email), ip="203.0.113.50")
        for email in ("flagged@example.com", "stranger@example.com")
    ]

    assert answers[0].status_code == answers[1].status_code == 409
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["code"] == "slot_unavailable"
    assert Appointment.objects.count() == 1


def test_a_resolved_complaint_does_not_stop_online_booking(anon, setup):
    client = ClientFactory(practice=setup.practice, email="fine@example.com")
    ComplaintFactory(client=client, status=ComplaintStatus.RESOLVED)

    response = book(anon, booking(setup, at(setup.practice, 5, 10), email="fine@example.com"))

    assert response.status_code == 201, response.content
    assert Appointment.objects.get().client == client


# --- rate limits and retries --------------------------------------------------------------------


def rate(scope: str) -> int:
    throttle = PublicBookingThrottle()
    return throttle.parse_rate(throttle.THROTTLE_RATES[scope])[0]


def test_failed_booking_posts_are_capped_per_ip(anon, setup):
    limit = rate("public_booking_failed")
    for n in range(limit):
        # A forged X-Forwarded-For must not count as a new caller (NUM_PROXIES is 0).
        spent = book(anon, {}, ip="198.51.100.7", HTTP_X_FORWARDED_FOR=f"10.0.{n // 250}.{n % 250}")
        assert spent.status_code == 400

    refused = book(anon, booking(setup, at(setup.practice, 5, 10)), ip="198.51.100.7")

    assert_error(refused, 429, "throttled")
    assert int(refused["Retry-After"]) > 0
    assert counts() == (0, 0)
    # Reading is not booking: the same address still sees the pages.
    assert anon.get(SERVICES, REMOTE_ADDR="198.51.100.7").status_code == 200
    # Another address is not affected.
    other = book(anon, booking(setup, at(setup.practice, 5, 10)), ip="198.51.100.8")
    assert other.status_code == 201, other.content


def test_failed_attempts_do_not_use_up_the_hours_bookings(anon, setup):
    # Issue 15: a 400 or 409 used up the hour's allowance of bookings.
    for _ in range(rate("public_booking") + 2):
        assert book(anon, {}, ip="198.51.100.7").status_code == 400

    response = book(anon, booking(setup, at(setup.practice, 5, 10)), ip="198.51.100.7")

    assert response.status_code == 201, response.content


def test_bookings_made_are_capped_per_ip(anon, setup, settings):
    settings.PUBLIC_BOOKING_MAX_LIVE_PER_IP = 0
    settings.PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL = 0
    limit = rate("public_booking")
    for n in range(limit):
        made = book(
            anon, booking(setup, at(setup.practice, 3 + n // 3, 9 + 2 * (n % 3))), ip="198.51.100.7"
        )
        assert made.status_code == 201, made.content

    refused = book(anon, booking(setup, at(setup.practice, 20, 10)), ip="198.51.100.7")

    assert_error(refused, 429, "throttled")
    assert Appointment.objects.count() == limit


def test_the_same_idempotency_key_and_body_replays_the_booking_with_a_new_manage_url(anon, setup):
    # Issue 13.10: the manage link was kept in clear in the idempotency record for 48 hours. The
    # record keeps no secret; a replay answers the same booking with a freshly issued link.
    body = booking(setup, at(setup.practice, 5, 10))

    first = book(anon, body, HTTP_IDEMPOTENCY_KEY="attempt-1")
    again = book(anon, body, HTTP_IDEMPOTENCY_KEY="attempt-1")

    assert first.status_code == again.status_code == 201, again.content
    assert {k: v for k, v in again.json().items() if k != "manage_url"} == {
        k: v for k, v in first.json().items() if k != "manage_url"
    }
    assert again["Idempotent-Replayed"] == "true"
    assert counts() == (1, 1)
    assert anon.get(manage_path(again)).status_code == 200
    assert anon.get(manage_path(first)).status_code == 404  # a link is shown once
    stored = json.dumps(list(IdempotencyRecord.objects.values_list("response", flat=True)))
    assert token_of(manage_path(first)) not in stored
    assert token_of(manage_path(again)) not in stored
    assert "bk_" not in stored


def test_the_same_idempotency_key_with_another_body_is_409(anon, setup):
    assert (
        book(anon, booking(setup, at(setup.practice, 5, 10)), HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )

    response = book(anon, booking(setup, at(setup.practice, 5, 14)), HTTP_IDEMPOTENCY_KEY="k")

    assert_error(response, 409, "idempotency_key_reused")
    assert counts() == (1, 1)


# --- the manage link ----------------------------------------------------------------------------


@pytest.fixture
def booked(anon, setup) -> str:
    """A public booking five days ahead; returns its manage path."""
    ComplaintFactory(
        client=ClientFactory(practice=setup.practice, email="robin.ashdown@example.com"),
        notes="Disc bulge L4/L5, sciatica down the left leg.",
    )
    response = book(anon, booking(setup, at(setup.practice, 5, 10)))
    assert response.status_code == 201, response.content
    return manage_path(response)


def test_the_manage_link_shows_the_booking_and_nothing_clinical(anon, setup, booked):
    response = anon.get(booked)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_APPOINTMENT_FIELDS
    assert body["status"] == "booked"
    assert datetime.fromisoformat(body["start"]) == at(setup.practice, 5, 10)
    assert body["service"] == "Back massage"
    assert body["therapist"] == setup.therapist.user.full_name
    text = response.content.decode()
    for secret in ("Disc bulge", "sciatica", "robin.ashdown@example.com", "+44 7700"):
        assert secret not in text


def test_cancelling_outside_the_window_cancels(anon, setup, booked):
    response = anon.post(f"{booked}cancel/", {"reason": "Feeling better"})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["late_cancellation"] is False
    appointment = Appointment.objects.get()
    assert appointment.status == Status.CANCELLED
    assert appointment.late_cancellation is False
    assert appointment.cancellation_reason == "Feeling better"
    assert anon.get(booked).json()["status"] == "cancelled"
    assert_error(anon.post(f"{booked}cancel/", {}), 409, "invalid_transition")


def test_cancelling_inside_the_window_is_refused_unless_policy_allows(anon, setup, booked):
    # Five days ahead is inside a two-week cancellation window.
    setup.practice.cancellation_window_hours = 14 * 24
    setup.practice.save(update_fields=["cancellation_window_hours"])

    refused = anon.post(f"{booked}cancel/", {"reason": "Busy"})

    assert_error(refused, 409, "precondition_failed")
    assert Appointment.objects.get().status == Status.BOOKED

    setup.practice.clients_may_cancel_late = True
    setup.practice.save(update_fields=["clients_may_cancel_late"])
    allowed = anon.post(f"{booked}cancel/", {"reason": "Busy"})

    assert allowed.status_code == 200, allowed.content
    appointment = Appointment.objects.get()
    assert appointment.status == Status.CANCELLED
    assert appointment.late_cancellation is True


def test_cancel_rejects_unknown_fields(anon, setup, booked):
    assert_invalid(anon.post(f"{booked}cancel/", {"status": "completed"}), "status")
    assert Appointment.objects.get().status == Status.BOOKED


def test_a_bad_or_tampered_token_is_404(anon, setup, booked):
    token = token_of(booked)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    staff_booked = AppointmentFactory(
        practice=setup.practice,
        client=ClientFactory(practice=setup.practice),
        therapist=setup.therapist,
        service=setup.service,
    )
    assert staff_booked.manage_token_hash is None

    for bad in (tampered, "bk_nothing", "None", "null"):
        assert_error(anon.get(f"/api/v1/public/bookings/{bad}/"), 404, "not_found")
        assert_error(anon.post(f"/api/v1/public/bookings/{bad}/cancel/", {}), 404, "not_found")
    assert set(Appointment.objects.values_list("status", flat=True)) == {Status.BOOKED}


# --- idempotency keys are not tied to the caller's address (issue 14.7) --------------------------


def _without_link(answer) -> dict:
    return {key: value for key, value in answer.json().items() if key != "manage_url"}


def test_a_retry_from_another_network_replays_the_first_answer(anon, setup):
    body = booking(setup, at(setup.practice, 5, 10))

    on_wifi = book(anon, body, ip="203.0.113.10", HTTP_IDEMPOTENCY_KEY="phone-attempt-1")
    on_mobile = book(anon, body, ip="198.51.100.99", HTTP_IDEMPOTENCY_KEY="phone-attempt-1")

    assert on_wifi.status_code == 201, on_wifi.content
    assert on_mobile.status_code == 201, on_mobile.content
    assert on_mobile["Idempotent-Replayed"] == "true"
    # The same booking; its manage link is issued anew (issue 13.10: a link is shown once).
    assert _without_link(on_mobile) == _without_link(on_wifi)
    assert anon.get(manage_path(on_mobile)).status_code == 200
    assert counts() == (1, 1)


def test_the_same_key_with_another_body_from_another_address_is_409(anon, setup):
    first = book(anon, booking(setup, at(setup.practice, 5, 10)), HTTP_IDEMPOTENCY_KEY="k-1")
    other = book(
        anon,
        booking(setup, at(setup.practice, 5, 14), email="someone.else@example.com"),
        ip="198.51.100.99",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert first.status_code == 201
    assert_error(other, 409, "idempotency_key_reused")
    assert "manage_url" not in other.content.decode()
    assert counts() == (1, 1)


def test_new_idempotency_keys_per_address_are_rate_limited(anon, setup, monkeypatch):
    monkeypatch.setattr(IdempotencyKeyRateThrottle, "rate", "3/hour", raising=False)
    monkeypatch.setattr(PublicBookingThrottle, "rate", "100/hour", raising=False)
    for n in range(3):
        spent = book(anon, {}, ip="198.51.100.7", HTTP_IDEMPOTENCY_KEY=f"guess-{n}")
        assert spent.status_code == 400
    # A key this address already sent is a retry, not a new guess.
    assert book(anon, {}, ip="198.51.100.7", HTTP_IDEMPOTENCY_KEY="guess-0").status_code == 400

    refused = book(
        anon, booking(setup, at(setup.practice, 5, 10)), ip="198.51.100.7", HTTP_IDEMPOTENCY_KEY="x"
    )

    assert_error(refused, 429, "throttled")
    assert counts() == (0, 0)
    other = book(
        anon, booking(setup, at(setup.practice, 5, 10)), ip="198.51.100.8", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert other.status_code == 201, other.content


# --- the manage link reschedules (issue 14.6) ---------------------------------------------------


def test_rescheduling_outside_the_window_moves_the_booking(anon, setup, booked):
    new_start = at(setup.practice, 6, 14)

    response = anon.post(f"{booked}reschedule/", {"start": new_start.isoformat()}, format="json")

    assert response.status_code == 200, response.content
    assert datetime.fromisoformat(response.json()["start"]) == new_start
    assert response.json()["status"] == "booked"
    appointment = Appointment.objects.get()
    assert appointment.start == new_start
    assert appointment.end == new_start + timedelta(minutes=60)
    assert datetime.fromisoformat(anon.get(booked).json()["start"]) == new_start
    # The old time is free again on the public page.
    day = local_day(setup.practice, 5).isoformat()
    slots = anon.get(AVAILABILITY, {"service": setup.service.pk, "start": day, "end": day}).json()[
        "slots"
    ]
    assert at(setup.practice, 5, 10) in {datetime.fromisoformat(s["start"]) for s in slots}


def test_rescheduling_to_another_online_therapist(anon, setup, booked):
    other = TherapistFactory(practice=setup.practice)
    other.services.add(setup.service)
    set_working_hours(
        therapist=other,
        intervals=[{"weekday": day, "start": time(9), "end": time(17)} for day in range(7)],
    )

    response = anon.post(
        f"{booked}reschedule/",
        {"start": at(setup.practice, 5, 10).isoformat(), "therapist": other.pk},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert Appointment.objects.get().therapist == other


def test_rescheduling_inside_the_window_is_refused_unless_policy_allows(anon, setup, booked):
    setup.practice.cancellation_window_hours = 14 * 24
    setup.practice.save(update_fields=["cancellation_window_hours"])
    body = {"start": at(setup.practice, 7, 11).isoformat()}

    refused = anon.post(f"{booked}reschedule/", body, format="json")

    assert_error(refused, 409, "precondition_failed")
    assert Appointment.objects.get().start == at(setup.practice, 5, 10)

    setup.practice.clients_may_cancel_late = True
    setup.practice.save(update_fields=["clients_may_cancel_late"])
    allowed = anon.post(f"{booked}reschedule/", body, format="json")

    assert allowed.status_code == 200, allowed.content
    assert Appointment.objects.get().start == at(setup.practice, 7, 11)


def test_rescheduling_onto_a_taken_slot_is_409_and_keeps_the_booking(anon, setup, booked):
    AppointmentFactory(
        practice=setup.practice,
        client=ClientFactory(practice=setup.practice),
        therapist=setup.therapist,
        service=setup.service,
        start=at(setup.practice, 6, 14),
    )

    response = anon.post(
        f"{booked}reschedule/", {"start": at(setup.practice, 6, 14).isoformat()}, format="json"
    )

    assert_error(response, 409, "slot_unavailable")
    assert Appointment.objects.get(manage_token_hash__isnull=False).start == at(
        setup.practice, 5, 10
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "start"),
        ({"start": "2030-01-01T10:00:00"}, "start"),  # naive
        ({"start": "AT_OFF_GRID"}, "start"),
        ({"start": "AT_TOMORROW_EARLY", "status": "completed"}, "status"),
        ({"start": "AT_OK", "therapist": "OTHER_PRACTICE"}, "therapist"),
        ({"start": "AT_OK", "therapist": "NOT_ONLINE"}, "therapist"),
        ({"start": "AT_OK", "therapist": 0}, "therapist"),
    ],
)
def test_bad_reschedules_are_400_and_change_nothing(
    anon, setup, booked, other_practice, body, field
):
    values = {
        "AT_OFF_GRID": at(setup.practice, 6, 14, 7).isoformat(),
        "AT_TOMORROW_EARLY": at(setup.practice, 6, 9).isoformat(),
        "AT_OK": at(setup.practice, 6, 14).isoformat(),
        "OTHER_PRACTICE": TherapistFactory(practice=other_practice).pk,
        "NOT_ONLINE": TherapistFactory(practice=setup.practice, online_bookable=False).pk,
    }
    body = {key: values.get(value, value) for key, value in body.items()}

    response = anon.post(f"{booked}reschedule/", body, format="json")

    assert_invalid(response, field)
    appointment = Appointment.objects.get()
    assert (appointment.start, appointment.therapist) == (
        at(setup.practice, 5, 10),
        setup.therapist,
    )


def test_a_cancelled_booking_cannot_be_rescheduled(anon, setup, booked):
    assert anon.post(f"{booked}cancel/", {}, format="json").status_code == 200

    response = anon.post(
        f"{booked}reschedule/", {"start": at(setup.practice, 6, 14).isoformat()}, format="json"
    )

    assert_error(response, 409, "invalid_transition")
    assert Appointment.objects.get().start == at(setup.practice, 5, 10)


def test_a_bad_token_cannot_reschedule(anon, setup, booked):
    response = anon.post(
        "/api/v1/public/bookings/bk_nothing/reschedule/",
        {"start": at(setup.practice, 6, 14).isoformat()},
        format="json",
    )

    assert_error(response, 404, "not_found")
    assert Appointment.objects.get().start == at(setup.practice, 5, 10)


def test_a_public_booking_never_matches_a_record_whose_email_its_account_did_not_prove(
    anon, setup, client_member
):
    # Issue 13.2: an account holder who set their record's email to someone else's had that
    # person's public bookings land on their own record (the oldest match).
    linked = client_member.user.client
    Client.objects.filter(pk=linked.pk).update(email="victim@example.com")

    response = book(anon, booking(setup, at(setup.practice, 5, 10), email="victim@example.com"))

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get()
    assert appointment.client_id != linked.pk
    assert appointment.client.email == "victim@example.com"
    assert appointment.client.user is None


def test_a_public_booking_matches_a_record_whose_account_proved_the_email(
    anon, setup, client_member
):
    type(client_member.user).objects.filter(pk=client_member.user.pk).update(
        email_verified_at=timezone.now()
    )
    linked = client_member.user.client

    response = book(anon, booking(setup, at(setup.practice, 5, 10), email=linked.email))

    assert response.status_code == 201, response.content
    assert Appointment.objects.get().client_id == linked.pk
