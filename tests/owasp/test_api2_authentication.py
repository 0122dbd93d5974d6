"""OWASP API2:2023 Broken Authentication.

Backcare's credentials are bearer tokens issued at login (stored as SHA-256, expiring after
AUTH_TOKEN_TTL_HOURS, revoked by logout) and practice API keys (stored as SHA-256, revocable at
once). Login answers the same 400 `invalid_credentials` for an unknown email, a wrong password and a
disabled account, so it cannot be used to find accounts; guessing is rate limited: failed logins
per email and address (5/min), failed logins per email from every address (50/hour), and requests
per address (30/min; IPv6 per /64; a forged X-Forwarded-For is ignored unless NUM_PROXIES says a
proxy sets it), answering 429 `throttled` with Retry-After even for the right password. Only
failures count per email, so a stranger's wrong passwords do not lock the owner out (issue 13.6).

Hole found and fixed here: the per-address login limit counted each IPv6 address alone, so a
caller with a /64 (the usual assignment) could rotate addresses and never meet it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from practice import services as practice_services
from practice.auth import calendar_token, hash_secret
from practice.models import ApiKey, AuthToken, User
from sessions.records.course_models import CourseMeasure, CourseMeasureRequest
from sessions.records.intake import current_form
from sessions.records.models import IntakeRequest
from sessions.scheduling.booking import Actor, book_appointment
from sessions.scheduling.models import (
    Appointment,
    ReminderKind,
    ReminderStatus,
    Source,
    WaitlistOffer,
)
from sessions.scheduling.reminders import unsubscribe_token
from tests.conftest import login_client
from tests.contract.routes import RECIPES, ROUTES
from tests.factories import (
    PASSWORD,
    CalendarLinkFactory,
    ClientFactory,
    CourseFactory,
    ReminderFactory,
    WaitlistEntryFactory,
)
from tests.owasp.test_api5_function_authorization import served_operations
from tests.sessions.booking_setup import local, make_bookable

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/token/"


def login(api, email: str, password: str, ip: str = "192.0.2.1", **extra):
    return api.post(LOGIN, {"email": email, "password": password}, REMOTE_ADDR=ip, **extra)


def assert_401(response) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "not_authenticated"


def test_an_expired_token_is_refused(owner):
    AuthToken.objects.filter(user=owner.user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert_401(owner.api.get("/api/v1/me/"))


def test_tokens_expire_after_the_configured_lifetime(anon, owner, settings):
    settings.AUTH_TOKEN_TTL_HOURS = 2
    response = login(anon, "owner@north.test", PASSWORD)
    token = AuthToken.objects.order_by("-id").first()

    assert response.status_code == 200
    lifetime = token.expires_at - timezone.now()
    assert timedelta(hours=1, minutes=59) < lifetime <= timedelta(hours=2)


def test_logout_revokes_the_token_at_once(owner):
    assert owner.api.post("/api/v1/auth/logout/").status_code == 204

    assert_401(owner.api.get("/api/v1/me/"))
    assert_401(owner.api.post("/api/v1/auth/logout/"))


def test_unknown_email_wrong_password_and_disabled_account_get_one_answer(anon, owner, therapist):
    therapist.user.is_active = False
    therapist.user.save()

    answers = [
        login(anon, "nobody@north.test", "whatever-123", ip="192.0.2.10"),
        login(anon, "owner@north.test", "wrong-password", ip="192.0.2.11"),
        login(anon, "therapist@north.test", PASSWORD, ip="192.0.2.12"),
    ]

    assert {a.status_code for a in answers} == {400}
    assert len({a.content for a in answers}) == 1


def test_brute_force_on_one_email_is_429_even_with_the_right_password(anon, owner):
    for n in range(5):
        login(anon, "owner@north.test", f"guess-{n}", ip="198.51.100.9")

    refused = login(anon, "OWNER@north.test", PASSWORD, ip="198.51.100.9")

    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert AuthToken.objects.filter(user=owner.user).count() == 1  # only the fixture's


def test_a_strangers_failures_do_not_lock_the_owner_out(anon, owner):
    # Issue 13.6: five wrong passwords from any address blocked the right one for a minute.
    for n in range(10):
        login(anon, "owner@north.test", f"guess-{n}", ip="198.51.100.9")

    assert login(anon, "owner@north.test", PASSWORD, ip="192.0.2.200").status_code == 200


def test_guesses_spread_over_addresses_meet_the_per_email_cap(anon, owner, rates):
    rates(login_email_all="6/hour")
    for n in range(6):
        login(anon, "owner@north.test", f"guess-{n}", ip=f"198.51.100.{n}")

    refused = login(anon, "owner@north.test", PASSWORD, ip="198.51.100.99")

    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"


def test_brute_force_from_one_address_is_429_across_emails(anon, owner):
    for n in range(30):
        login(anon, f"user{n}@north.test", "guess", ip="203.0.113.77")

    refused = login(anon, "owner@north.test", PASSWORD, ip="203.0.113.77")

    assert refused.status_code == 429
    assert login(anon, "owner@north.test", PASSWORD, ip="203.0.113.78").status_code == 200


def test_brute_force_from_one_ipv6_64_is_429_whatever_the_address(anon, owner):
    for n in range(30):
        login(anon, f"user{n}@north.test", "guess", ip=f"2001:db8:aa:bb::{n + 1:x}")

    refused = login(anon, "owner@north.test", PASSWORD, ip="2001:db8:aa:bb:1:2:3:4")

    assert refused.status_code == 429
    assert login(anon, "owner@north.test", PASSWORD, ip="2001:db8:aa:cc::1").status_code == 200


def test_a_forged_forwarded_for_does_not_escape_the_address_limit(anon, owner):
    for n in range(30):
        login(
            anon, f"u{n}@north.test", "guess", ip="203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.1.{n}.1"
        )

    assert login(anon, "owner@north.test", PASSWORD, ip="203.0.113.5").status_code == 429


def test_a_revoked_api_key_is_refused_at_once(owner):
    from rest_framework.test import APIClient

    created = owner.api.post("/api/v1/api-keys/", {"name": "Website"}, format="json").json()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
    assert api.get("/api/v1/services/").status_code == 200

    assert owner.api.delete(f"/api/v1/api-keys/{created['id']}/").status_code in (200, 204)

    assert_401(api.get("/api/v1/services/"))
    assert ApiKey.objects.get(pk=created["id"]).revoked_at is not None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer a b",
        "Bearer bct_forged",
        "Bearer bck_forged",
        "Token abc",
        "Basic Zm9vOmJhcg==",
    ],
)
def test_forged_or_malformed_credentials_are_401(anon, owner, header):
    anon.credentials(HTTP_AUTHORIZATION=header)

    assert_401(anon.get("/api/v1/me/"))


def test_credentials_are_stored_hashed(owner):
    row = AuthToken.objects.get(user=owner.user)
    assert owner.token not in {row.key_hash}
    assert len(row.key_hash) == 64


# --- A GET never changes state (issue 13.1's class) ----------------------------------------------
# A mail scanner fetching a link, a browser prefetching one, a crawler: GETs happen without anyone
# meaning them. Generated over the URL conf: every GET route, as every caller, with real records
# and real secret links, writes nothing to the database but the access log (DOMAIN.md 8) and an
# API key's `last_used_at`.

ALLOWED_WRITES = ('INSERT INTO "practice_auditevent"', 'UPDATE "practice_apikey"')
CALLERS = ("owner", "therapist", "front_desk", "client", "api_key", "anonymous")


def _writes(queries) -> list[str]:
    found = []
    for query in queries:
        sql = query["sql"].lstrip()
        if sql.upper().startswith(("INSERT", "UPDATE", "DELETE")) and not sql.startswith(
            ALLOWED_WRITES
        ):
            found.append(sql[:120])
    return found


@pytest.fixture
def live_links(practice, members, owner, anon, django_capture_on_commit_callbacks, settings):
    """Real secrets for every route whose credential is in the URL, and a record for each id."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bookable = make_bookable(practice, members["therapist"].user)
    _, manage = book_appointment(
        practice=practice,
        service=bookable.service,
        therapist=bookable.therapist,
        client=bookable.client,
        start=local(practice, 3, 10),
        actor=Actor(kind=Source.PUBLIC),
        with_manage_link=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        anon.post(
            "/api/v1/auth/register/",
            {
                "practice": "north",
                "email": "linker@example.com",
                "password": "lumbar-support-42",
                "first_name": "L",
                "last_name": "K",
            },
        )
    ClientFactory(practice=practice, email="linker@example.com")
    registrant = User.objects.get(email="linker@example.com")
    follow_up_token = "fu_probe-token"
    ReminderFactory(
        client=bookable.client,
        practice=practice,
        appointment=None,
        kind=ReminderKind.FOLLOW_UP,
        scheduled_for=timezone.now() - timedelta(hours=1),
        token_hash=hash_secret(follow_up_token),
        status=ReminderStatus.SENT,
        sent_at=timezone.now(),
    )
    # Issue 17: the booking above is the client's first visit, so it has an intake request; its
    # link as the message would carry it, and an intake for the logged-in client's `me/intake/`.
    intake_token = "in_probe-token"
    ReminderFactory(
        client=bookable.client,
        practice=practice,
        appointment=Appointment.objects.get(client=bookable.client),
        kind=ReminderKind.INTAKE_REQUEST,
        scheduled_for=timezone.now() - timedelta(hours=1),
        token_hash=hash_secret(intake_token),
        status=ReminderStatus.SENT,
        sent_at=timezone.now(),
    )
    IntakeRequest.objects.create(
        practice=practice,
        client=members["client"].user.client,
        form=current_form(practice=practice),
    )
    outcomes_token = "oc_probe-token"
    course = CourseFactory(client=bookable.client, therapist=bookable.therapist)
    measure = CourseMeasure.objects.create(
        course=course, visit_number=4, instruments=["rmdq"], due_at=timezone.now()
    )
    CourseMeasureRequest.objects.create(
        measure=measure,
        reminder=ReminderFactory(
            client=bookable.client,
            practice=practice,
            appointment=None,
            kind=ReminderKind.MEASURES_DUE,
            scheduled_for=timezone.now() - timedelta(hours=1),
            token_hash=hash_secret(outcomes_token),
            status=ReminderStatus.SENT,
            sent_at=timezone.now(),
        ),
    )
    offer_token = "wl_probe-token"
    WaitlistOffer.objects.create(
        entry=WaitlistEntryFactory(client=bookable.client, service=bookable.service),
        therapist=bookable.therapist,
        start=local(practice, 4, 10),
        token_hash=hash_secret(offer_token),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    own_calendar = CalendarLinkFactory(therapist=members["therapist"].user.therapist)
    ids = {
        route.prefix: RECIPES[route.model](
            practice, members, client=members["client"].user.client, size=1
        )[0].pk
        for route in ROUTES
        if route.model in RECIPES
    }
    week = {
        "service": bookable.service.pk,
        "start": local(practice, 1, 0).date().isoformat(),
        "end": local(practice, 7, 0).date().isoformat(),
    }
    return {
        "ids": ids,
        "tokens": {
            "/api/v1/public/bookings/{}/": manage,
            "/api/v1/public/bookings/{}/cancel/": manage,
            "/api/v1/public/bookings/{}/reschedule/": manage,
            "/static/{}": "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
            "/api/v1/public/unsubscribe/{}/": unsubscribe_token(bookable.client),
            "/api/v1/public/follow-ups/{}/": follow_up_token,
            "/api/v1/public/intake/{}/": intake_token,
            "/api/v1/public/outcomes/{}/": outcomes_token,
            "/api/v1/calendar/{}.ics": calendar_token(members["therapist"].user),
            "/api/v1/public/waitlist-offers/{}/claim/": offer_token,
        },
        # Paths with two ids of different records (issue 20.4: a therapist's outside calendar).
        "paths": {
            "/api/v1/therapists/{}/calendars/{}/": (
                f"/api/v1/therapists/{own_calendar.therapist_id}/calendars/{own_calendar.pk}/"
            ),
        },
        "queries": {
            "/api/v1/auth/verify-email/": {
                "token": practice_services.start_email_verification(user_id=registrant.pk)
            },
            "/api/v1/auth/password-reset/confirm/": {
                "token": practice_services.start_password_reset(user_id=owner.user.pk)
            },
            "/api/v1/auth/email-change/confirm/": {
                "token": practice_services.start_email_change(
                    user_id=owner.user.pk, new_email="o2@north.test"
                )
            },
            "/api/v1/availability/": week,
            "/api/v1/public/{}/availability/": week,
        },
    }


def _concrete(path: str, links: dict) -> str:
    if path in links["paths"]:
        return links["paths"][path]
    if path in links["tokens"]:
        return path.replace("{}", str(links["tokens"][path]))
    if path.startswith("/api/v1/public/{}/"):
        return path.replace("{}", "north", 1)
    prefix = path.removeprefix("/api/v1/").split("/", 1)[0]
    return path.replace("{}", str(links["ids"].get(prefix, 999999)))


def get_operations() -> list[str]:
    return sorted(op.split(" ", 1)[1] for op in served_operations() if op.startswith("GET "))


@pytest.mark.parametrize("path", get_operations())
def test_no_get_changes_state(path, live_links, members, owner):
    key = owner.api.post("/api/v1/api-keys/", {"name": "probe"}, format="json").json()["key"]
    url = _concrete(path, live_links)
    query = live_links["queries"].get(path, {})
    answered = set()
    for caller in CALLERS:
        api = APIClient()
        if caller == "api_key":
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        elif caller != "anonymous":
            api = login_client(members[caller].user)[0]
        with CaptureQueriesContext(connection) as captured:
            response = api.get(url, query)
        assert response.status_code < 500, (caller, url, response.content)
        assert _writes(captured.captured_queries) == [], (caller, url, response.status_code)
        answered.add(response.status_code)
    # The route reached something: at least one caller got past authentication and lookups
    # (`/metrics` answers only its own METRICS_TOKEN, API8).
    assert answered & {200, 302} or path == "/metrics", (url, answered)


# --- Identity is never linked on an email alone (issue 13.1) --------------------------------------


def test_registering_a_clients_email_does_not_take_over_their_record(
    anon, practice, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    victim = ClientFactory(
        practice=practice, email="victim@example.com", health_flags=["pregnancy"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        registered = anon.post(
            "/api/v1/auth/register/",
            {
                "practice": "north",
                "email": "victim@example.com",
                "password": "attacker-password-1",
                "first_name": "A",
                "last_name": "B",
            },
        )
    attacker = APIClient()
    attacker.credentials(HTTP_AUTHORIZATION=f"Bearer {registered.json()['token']}")
    token = mail.outbox[0].body.split("token=", 1)[1].split()[0]

    prefetched = anon.get("/api/v1/auth/verify-email/", {"token": token})  # a mail scanner
    confirmed = anon.post("/api/v1/auth/verify-email/", {"token": token})  # a careless click

    assert prefetched.status_code == 200
    assert confirmed.status_code == 400
    assert attacker.get("/api/v1/me/").json()["client"] is None
    victim.refresh_from_db()
    assert victim.user is None
