"""OWASP API4:2023 Unrestricted Resource Consumption.

Every request's cost has a ceiling: a list page holds at most 100 rows (`?page_size=` above is a
400, on every list, cursor-paged appointments included); a body over 256 KiB is refused with 413
before it is parsed; availability covers at most 62 days; a course of care books at most 12
sessions; webhook subscriptions name at most 10 events. Callers are rate limited (429 `throttled`
with Retry-After): login per email and per address, public pages and public booking per address
(IPv6 per /64), follow-up answers per address, members per user, API keys per key. Hoarding of
slots (a resource too) is API6's.
"""

from __future__ import annotations

import pytest

from clients.models import Client
from sessions.scheduling.models import Appointment
from tests.contract.routes import ROUTES
from tests.sessions.booking_setup import local

pytestmark = pytest.mark.django_db

LIST_URLS = [route.list_url() for route in ROUTES if route.offers("list")]


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize("url", LIST_URLS)
def test_no_list_serves_more_than_100_rows_a_page(url, owner):
    too_many = owner.api.get(url, {"page_size": 101})
    huge = owner.api.get(url, {"page_size": 10**9})
    at_cap = owner.api.get(url, {"page_size": 100})

    assert too_many.status_code == huge.status_code == 400
    assert [e["field"] for e in too_many.json()["errors"]] == ["page_size"]
    assert at_cap.status_code == 200


def test_without_page_size_a_list_serves_25(owner, practice):
    from tests.factories import ClientFactory

    ClientFactory.create_batch(30, practice=practice)

    response = owner.api.get("/api/v1/clients/")

    assert len(response.json()["results"]) == 25
    assert response.json()["next"]


@pytest.mark.parametrize(
    "url", ["/api/v1/clients/", "/api/v1/auth/token/", "/api/v1/public/north/bookings/"]
)
def test_a_body_over_256_kib_is_413_and_writes_nothing(url, owner, practice):
    big = '{"first_name": "%s"}' % ("A" * (256 * 1024 + 1))

    response = owner.api.post(url, big, content_type="application/json")

    assert response.status_code == 413, response.status_code
    assert response.json()["code"] == "request_too_large"
    assert Client.objects.count() == 0


def test_availability_covers_at_most_62_days(owner, bookable):
    day = local(bookable.practice, 1, 9).date()
    query = {"service": bookable.service.pk, "start": day.isoformat()}

    too_long = owner.api.get(
        "/api/v1/availability/", {**query, "end": day.replace(year=day.year + 1).isoformat()}
    )
    public = owner.api.get(
        "/api/v1/public/north/availability/",
        {**query, "end": day.replace(year=day.year + 1).isoformat()},
    )

    assert too_long.status_code == public.status_code == 400
    assert [e["field"] for e in too_long.json()["errors"]] == ["end"]


def test_a_course_of_care_books_at_most_12_sessions(owner, bookable):
    body = {
        "service": bookable.service.pk,
        "therapist": bookable.therapist.pk,
        "client": bookable.client.pk,
        "start": local(bookable.practice, 2, 10).isoformat(),
        "every_days": 1,
        "count": 13,
    }

    response = owner.api.post("/api/v1/appointments/series/", body, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["count"]
    assert Appointment.objects.count() == 0


def test_login_failures_are_rate_limited_per_email(anon, owner, rates):
    rates(login_email_all="3/hour", login_ip="1000/min")
    for n in range(3):
        anon.post(
            "/api/v1/auth/token/",
            {"email": "owner@north.test", "password": "wrong"},
            REMOTE_ADDR=f"192.0.2.{n}",
        )

    assert_throttled(
        anon.post(
            "/api/v1/auth/token/",
            {"email": "owner@north.test", "password": "wrong"},
            REMOTE_ADDR="192.0.2.99",
        )
    )


def test_failed_public_booking_posts_are_rate_limited_per_address(anon, practice, rates):
    rates(public_booking_failed="2/hour")
    for _ in range(2):
        anon.post("/api/v1/public/north/bookings/", {}, format="json", REMOTE_ADDR="192.0.2.8")

    assert_throttled(
        anon.post("/api/v1/public/north/bookings/", {}, format="json", REMOTE_ADDR="192.0.2.8")
    )


def test_public_pages_are_rate_limited_per_ipv6_64(anon, practice, rates):
    """Regression: each address of a /64 used to have its own bucket, so rotating escaped it."""
    rates(public="3/min")
    for n in range(3):
        anon.get("/api/v1/public/north/services/", REMOTE_ADDR=f"2001:db8:5:6::{n + 1:x}")

    assert_throttled(anon.get("/api/v1/public/north/services/", REMOTE_ADDR="2001:db8:5:6:a:b:c:d"))
    assert (
        anon.get("/api/v1/public/north/services/", REMOTE_ADDR="2001:db8:5:7::1").status_code == 200
    )


def test_follow_up_answers_are_rate_limited_per_address(anon, practice, rates):
    rates(public="3/min")
    for n in range(3):
        anon.post(f"/api/v1/public/follow-ups/guess{n}/", {"pain": 3}, format="json")

    assert_throttled(anon.post("/api/v1/public/follow-ups/guess9/", {"pain": 3}, format="json"))


def test_members_are_rate_limited_per_user(owner, therapist, rates):
    rates(user="3/min")
    for _ in range(3):
        owner.api.get("/api/v1/me/")

    assert_throttled(owner.api.get("/api/v1/me/"))
    assert therapist.api.get("/api/v1/me/").status_code == 200


def test_webhook_subscriptions_name_at_most_10_events(owner):
    response = owner.api.post(
        "/api/v1/webhooks/",
        {"url": "https://93.184.215.14/in", "events": ["client.created"] * 11},
        format="json",
    )

    assert response.status_code == 400


# --- Unauthenticated 500s (issue 13.11) -----------------------------------------------------------


def test_deeply_nested_json_on_login_is_a_400_not_a_500(anon):
    body = '{"email": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = anon.post("/api/v1/auth/token/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "nested" in response.json()["detail"]


def test_json_of_ordinary_depth_still_parses(anon, owner):
    response = anon.post(
        "/api/v1/auth/token/",
        '{"email": "owner@north.test", "password": "x\\"[[[[{{{{"}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    ("start", "end"), [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")]
)
def test_availability_at_the_ends_of_the_calendar_is_a_400(anon, owner, public_setup, start, end):
    _, service = public_setup
    query = {"service": service.pk, "start": start, "end": end}

    public = anon.get("/api/v1/public/north/availability/", query)
    staff = owner.api.get("/api/v1/availability/", query)

    assert public.status_code == staff.status_code == 400
    assert public.json()["errors"][0]["code"] == "out_of_range"


@pytest.mark.parametrize("start", ["9999-12-31T20:00:00+00:00", "0001-01-01T10:00:00+00:00"])
def test_booking_at_the_ends_of_the_calendar_is_a_400(anon, owner, public_setup, start):
    therapist, service = public_setup
    body = {"service": service.pk, "therapist": therapist.pk, "start": start}
    person = {"first_name": "A", "last_name": "B", "email": "a@b.test", "phone": "+15550100"}

    public = anon.post("/api/v1/public/north/bookings/", {**body, **person}, format="json")

    assert public.status_code == 400
    assert [e["field"] for e in public.json()["errors"]] == ["start"]
    assert Appointment.objects.count() == 0
