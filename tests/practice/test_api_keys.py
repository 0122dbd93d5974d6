"""Practice API keys (API.md "Integrations", the role table's API key row).

A key is shown once and stored as a SHA-256; it is sent as a Bearer token and reaches the
scheduling scope of its own practice only: services, therapists, availability, appointments and
clients' contact details. Every refusal is checked in the database too: a 403 or 400 that still
wrote a row, or a revoked key that still works, is the bug class guarded here.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from clients.models import Client
from practice.models import ApiKey, Practice, Service
from sessions.scheduling.models import Appointment, Source, Status
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ServiceFactory,
    TherapistFactory,
    WebhookSubscriptionFactory,
)
from tests.sessions.booking_setup import Bookable, local, make_bookable

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/api-keys/"


@pytest.fixture
def bookable(practice, therapist) -> Bookable:
    return make_bookable(practice, therapist.user)


def create_key(owner, name: str = "Website") -> dict:
    response = owner.api.post(KEYS, {"name": name})
    assert response.status_code == 201, response.content
    return response.json()


def key_client(secret: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


@pytest.fixture
def key(owner) -> dict:
    """A key created by the owner through the API: its answer, `key` included."""
    return create_key(owner)


@pytest.fixture
def integration(key) -> APIClient:
    return key_client(key["key"])


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code, response.json()


# --- creating keys: shown once, stored as a hash ----------------------------------------------


def test_owner_creates_a_key_and_sees_it_once(owner, practice):
    response = owner.api.post(KEYS, {"name": "Booking widget"})

    assert response.status_code == 201, response.content
    payload = response.json()
    secret = payload["key"]
    assert secret.startswith("bck_")
    assert len(secret) > 40
    assert payload["name"] == "Booking widget"
    assert payload["prefix"] == secret[:10]
    assert payload["revoked_at"] is None
    assert payload["last_used_at"] is None
    row = ApiKey.objects.get(pk=payload["id"])
    assert row.practice == practice
    assert row.created_by == owner.user
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(value) for value in ApiKey.objects.filter(pk=row.pk).values().get().values()]
    assert not any(secret in value for value in stored)


def test_later_reads_never_show_the_key(owner, key):
    listed = owner.api.get(KEYS)
    detail = owner.api.get(f"{KEYS}{key['id']}/")

    assert listed.status_code == 200
    assert detail.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [key["id"]]
    for response in (listed, detail):
        assert key["key"] not in response.content.decode()
    assert "key" not in listed.json()["results"][0]
    assert "key" not in detail.json()
    assert detail.json()["prefix"] == key["prefix"]


def test_two_keys_are_different_secrets(owner):
    first, second = create_key(owner, "One"), create_key(owner, "Two")

    assert first["key"] != second["key"]
    assert ApiKey.objects.count() == 2


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "x" * 101}, {"name": "Widget", "practice": 999}],
    ids=["missing", "blank", "too-long", "unknown-field"],
)
def test_invalid_key_request_is_400_and_creates_nothing(owner, body):
    response = owner.api.post(KEYS, body)

    assert_error(response, 400, "invalid")
    assert not ApiKey.objects.exists()


# --- authenticating ----------------------------------------------------------------------------


def test_key_authenticates_as_a_bearer_token(integration, practice):
    ServiceFactory(practice=practice, name="Deep tissue")

    response = integration.get("/api/v1/services/")

    assert response.status_code == 200, response.content
    assert [s["name"] for s in response.json()["results"]] == ["Deep tissue"]


def test_unknown_key_is_401(practice):
    response = key_client("bck_" + "A" * 43).get("/api/v1/services/")

    assert_error(response, 401, "not_authenticated")


def test_using_a_key_records_last_used_at(owner, key, integration):
    before = timezone.now()

    assert integration.get("/api/v1/services/").status_code == 200

    used = ApiKey.objects.get(pk=key["id"]).last_used_at
    assert used is not None
    assert before <= used <= timezone.now()
    assert owner.api.get(f"{KEYS}{key['id']}/").json()["last_used_at"] is not None


def test_last_used_at_is_written_at_most_once_a_minute(key, integration):
    integration.get("/api/v1/services/")
    first = ApiKey.objects.get(pk=key["id"]).last_used_at

    integration.get("/api/v1/services/")
    assert ApiKey.objects.get(pk=key["id"]).last_used_at == first

    stale = timezone.now() - timedelta(minutes=5)
    ApiKey.objects.filter(pk=key["id"]).update(last_used_at=stale)
    integration.get("/api/v1/services/")
    assert ApiKey.objects.get(pk=key["id"]).last_used_at > stale


# --- revoking ---------------------------------------------------------------------------------


def test_revoked_key_is_401_at_once_and_the_row_stays(owner, key, integration):
    assert integration.get("/api/v1/services/").status_code == 200

    response = owner.api.delete(f"{KEYS}{key['id']}/")

    assert response.status_code == 204, response.content
    assert_error(integration.get("/api/v1/services/"), 401, "not_authenticated")
    row = ApiKey.objects.get(pk=key["id"])
    assert row.revoked_at is not None
    assert owner.api.get(f"{KEYS}{key['id']}/").json()["revoked_at"] is not None


def test_revoking_one_key_leaves_the_others_working(owner, key, integration):
    other = create_key(owner, "Other")

    owner.api.delete(f"{KEYS}{other['id']}/")

    assert integration.get("/api/v1/services/").status_code == 200
    assert_error(key_client(other["key"]).get("/api/v1/services/"), 401, "not_authenticated")


# --- who manages keys -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_the_owner_manages_keys(members, key, role):
    api = members[role].api

    assert_error(api.get(KEYS), 403, "permission_denied")
    assert_error(api.get(f"{KEYS}{key['id']}/"), 403, "permission_denied")
    assert_error(api.post(KEYS, {"name": "Mine"}), 403, "permission_denied")
    assert_error(api.delete(f"{KEYS}{key['id']}/"), 403, "permission_denied")
    assert ApiKey.objects.count() == 1
    assert ApiKey.objects.get(pk=key["id"]).revoked_at is None


def test_another_practices_owner_cannot_see_or_revoke_a_key(other_owner, key, integration):
    assert other_owner.api.get(KEYS).json()["results"] == []
    assert_error(other_owner.api.get(f"{KEYS}{key['id']}/"), 404, "not_found")
    assert_error(other_owner.api.delete(f"{KEYS}{key['id']}/"), 404, "not_found")
    assert ApiKey.objects.get(pk=key["id"]).revoked_at is None
    assert integration.get("/api/v1/services/").status_code == 200


# --- the scheduling scope -----------------------------------------------------------------------


def test_key_reads_services_therapists_and_working_hours(integration, bookable):
    services = integration.get("/api/v1/services/")
    therapists = integration.get("/api/v1/therapists/")
    hours = integration.get(f"/api/v1/therapists/{bookable.therapist.pk}/working-hours/")

    assert services.status_code == 200
    assert [s["id"] for s in services.json()["results"]] == [bookable.service.pk]
    assert therapists.status_code == 200
    assert bookable.therapist.pk in [t["id"] for t in therapists.json()["results"]]
    assert hours.status_code == 200, hours.content
    assert len(hours.json()) == 7


def test_key_reads_but_never_changes_services_and_therapists(integration, bookable):
    service = bookable.service

    created = integration.post("/api/v1/services/", {"name": "Free", "duration_minutes": 30})
    changed = integration.patch(f"/api/v1/services/{service.pk}/", {"price": "1.00"})
    moved = integration.patch(
        f"/api/v1/therapists/{bookable.therapist.pk}/", {"online_bookable": False}
    )

    for response in (created, changed, moved):
        assert_error(response, 403, "permission_denied")
    assert Service.objects.count() == 1
    service.refresh_from_db()
    bookable.therapist.refresh_from_db()
    assert service.price == 60
    assert bookable.therapist.online_bookable is True


def test_key_reads_availability(integration, bookable):
    day = local(bookable.practice, 3, 9).astimezone(bookable.practice.tz).date()

    response = integration.get(
        "/api/v1/availability/",
        {"service": bookable.service.pk, "start": day.isoformat(), "end": day.isoformat()},
    )

    assert response.status_code == 200, response.content
    slots = response.json()["slots"]
    assert slots
    assert {slot["therapist"] for slot in slots} == {bookable.therapist.pk}


CONTACT = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "1"}


def test_key_creates_a_client_with_contact_details_only(integration, practice):
    response = integration.post("/api/v1/clients/", CONTACT)

    assert response.status_code == 201, response.content
    payload = response.json()
    for field in ("health_flags", "health_flag_regions", "date_of_birth"):
        assert field not in payload
    client = Client.objects.get(pk=payload["id"])
    assert client.practice == practice
    assert (client.first_name, client.email) == ("Ada", "ada@example.com")
    assert client.health_flags == []
    assert client.date_of_birth is None


@pytest.mark.parametrize(
    "extra",
    [
        {"health_flags": ["osteoporosis"]},
        {"health_flag_regions": {"osteoporosis": ["lumbar"]}},
        {"date_of_birth": "1980-01-01"},
    ],
    ids=["health_flags", "health_flag_regions", "date_of_birth"],
)
def test_key_cannot_write_health_fields_of_a_client(integration, practice, extra):
    response = integration.post("/api/v1/clients/", {**CONTACT, **extra})

    assert_error(response, 400, "invalid")
    assert [e["field"] for e in response.json()["errors"]] == list(extra)
    assert not Client.objects.exists()


def test_key_never_reads_health_fields_of_a_client(integration, practice):
    client = ClientFactory(practice=practice, health_flags=["osteoporosis"])

    detail = integration.get(f"/api/v1/clients/{client.pk}/")
    listed = integration.get("/api/v1/clients/")

    assert detail.status_code == 200
    assert listed.status_code == 200
    for payload in (detail.json(), *listed.json()["results"]):
        assert payload["email"] == client.email
        for field in ("health_flags", "health_flag_regions", "date_of_birth"):
            assert field not in payload
    assert "osteoporosis" not in detail.content.decode() + listed.content.decode()


def test_key_cannot_patch_health_flags_onto_a_client(integration, practice):
    client = ClientFactory(practice=practice)

    response = integration.patch(f"/api/v1/clients/{client.pk}/", {"health_flags": ["pregnancy"]})

    assert_error(response, 400, "invalid")
    client.refresh_from_db()
    assert client.health_flags == []


def book(api: APIClient, setup: Bookable, start, **extra):
    return api.post(
        "/api/v1/appointments/",
        {
            "service": setup.service.pk,
            "therapist": setup.therapist.pk,
            "client": setup.client.pk,
            "start": start.isoformat(),
            **extra,
        },
    )


def test_key_books_an_appointment_as_the_api(integration, bookable):
    start = local(bookable.practice, 3, 10)

    response = book(integration, bookable, start)

    assert response.status_code == 201, response.content
    assert response.json()["source"] == "api"
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert appointment.booked_by is None
    assert appointment.source == Source.API
    assert appointment.start == start
    assert appointment.events.get().actor is None
    assert appointment.events.get().actor_kind == "api"


def test_key_cancels_and_reschedules_an_appointment(integration, bookable):
    first = book(integration, bookable, local(bookable.practice, 3, 10)).json()
    second = book(integration, bookable, local(bookable.practice, 3, 12)).json()
    new_start = local(bookable.practice, 4, 11)

    cancelled = integration.post(f"/api/v1/appointments/{first['id']}/cancel/", {"reason": "ill"})
    moved = integration.post(
        f"/api/v1/appointments/{second['id']}/reschedule/", {"start": new_start.isoformat()}
    )

    assert cancelled.status_code == 200, cancelled.content
    assert moved.status_code == 200, moved.content
    assert Appointment.objects.get(pk=first["id"]).status == Status.CANCELLED
    rescheduled = Appointment.objects.get(pk=second["id"])
    assert rescheduled.start == new_start
    assert rescheduled.status == Status.BOOKED


def test_key_lists_and_reads_appointments(integration, bookable):
    booked = book(integration, bookable, local(bookable.practice, 3, 10)).json()

    listed = integration.get("/api/v1/appointments/")
    detail = integration.get(f"/api/v1/appointments/{booked['id']}/")

    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["results"]] == [booked["id"]]
    assert detail.status_code == 200


@pytest.mark.parametrize("action", ["check-in", "complete", "no-show"])
def test_key_cannot_make_treatment_room_moves(integration, bookable, action):
    booked = book(integration, bookable, local(bookable.practice, 3, 10)).json()

    response = integration.post(f"/api/v1/appointments/{booked['id']}/{action}/")

    assert_error(response, 403, "permission_denied")
    assert Appointment.objects.get(pk=booked["id"]).status == Status.BOOKED


FORBIDDEN_READS = [
    "notes/",
    "complaints/",
    "session-plans/",
    "outcomes/",
    "consents/",
    "reminders/",
    "techniques/",
    "staff/",
    "api-keys/",
    "webhooks/",
    "audit-events/",
    "me/",
    "practice/",
]


@pytest.mark.parametrize("path", FORBIDDEN_READS)
def test_key_is_403_outside_the_scheduling_scope(integration, path):
    response = integration.get(f"/api/v1/{path}")

    assert_error(response, 403, "permission_denied")


def test_key_cannot_export_a_client_record(integration, practice):
    client = ClientFactory(practice=practice)

    assert_error(integration.get(f"/api/v1/clients/{client.pk}/export/"), 403, "permission_denied")


def test_key_cannot_manage_integrations_or_the_practice(integration, key, practice):
    new_key = integration.post(KEYS, {"name": "Escalation"})
    revoke = integration.delete(f"{KEYS}{key['id']}/")
    hook = integration.post(
        "/api/v1/webhooks/", {"url": "https://hooks.example.com/x", "events": ["client.created"]}
    )
    policy = integration.patch("/api/v1/practice/", {"name": "Taken over"})
    logout = integration.post("/api/v1/auth/logout/")
    rotate = integration.post("/api/v1/me/calendar/rotate/")

    for response in (new_key, revoke, hook, policy, logout, rotate):
        assert_error(response, 403, "permission_denied")
    assert ApiKey.objects.count() == 1
    assert ApiKey.objects.get(pk=key["id"]).revoked_at is None
    assert not practice.webhooks.exists()
    assert Practice.objects.get(pk=practice.pk).name == "North Back Clinic"
    assert integration.get("/api/v1/services/").status_code == 200


# --- the key's practice ---------------------------------------------------------------------------


def test_key_sees_only_its_own_practice(integration, bookable, other_practice):
    foreign_client = ClientFactory(practice=other_practice)
    foreign_service = ServiceFactory(practice=other_practice)
    foreign_therapist = TherapistFactory(practice=other_practice)
    foreign_appointment = AppointmentFactory(client=foreign_client)

    services = integration.get("/api/v1/services/").json()["results"]
    clients = integration.get("/api/v1/clients/").json()["results"]
    appointments = integration.get("/api/v1/appointments/").json()["results"]

    assert [s["id"] for s in services] == [bookable.service.pk]
    assert [c["id"] for c in clients] == [bookable.client.pk]
    assert appointments == []
    for path in (
        f"clients/{foreign_client.pk}/",
        f"services/{foreign_service.pk}/",
        f"therapists/{foreign_therapist.pk}/",
        f"appointments/{foreign_appointment.pk}/",
    ):
        assert_error(integration.get(f"/api/v1/{path}"), 404, "not_found")


def test_key_cannot_book_with_another_practices_ids(integration, bookable, other_practice):
    foreign_client = ClientFactory(practice=other_practice)
    foreign_service = ServiceFactory(practice=other_practice)
    start = local(bookable.practice, 3, 10)

    with_client = book(integration, bookable, start, client=foreign_client.pk)
    with_service = book(integration, bookable, start, service=foreign_service.pk)

    assert_error(with_client, 400, "invalid")
    assert [e["field"] for e in with_client.json()["errors"]] == ["client"]
    assert_error(with_service, 400, "invalid")
    assert [e["field"] for e in with_service.json()["errors"]] == ["service"]
    assert not Appointment.objects.exists()


def test_key_cannot_move_another_practices_appointment(integration, bookable, other_practice):
    foreign = AppointmentFactory(client=ClientFactory(practice=other_practice))
    new_start = local(bookable.practice, 4, 11)

    cancelled = integration.post(f"/api/v1/appointments/{foreign.pk}/cancel/", {})
    moved = integration.post(
        f"/api/v1/appointments/{foreign.pk}/reschedule/", {"start": new_start.isoformat()}
    )
    patched = integration.patch(f"/api/v1/clients/{foreign.client_id}/", {"first_name": "X"})

    for response in (cancelled, moved, patched):
        assert_error(response, 404, "not_found")
    foreign.refresh_from_db()
    assert foreign.status == Status.BOOKED
    assert foreign.client.first_name != "X"


def test_key_cannot_read_another_practices_availability(integration, bookable, other_practice):
    foreign_service = ServiceFactory(practice=other_practice)
    day = local(bookable.practice, 3, 9).date().isoformat()

    response = integration.get(
        "/api/v1/availability/", {"service": foreign_service.pk, "start": day, "end": day}
    )

    assert_error(response, 400, "invalid")


def test_another_practices_key_sees_nothing_of_this_one(other_owner, bookable):
    foreign = key_client(create_key(other_owner)["key"])

    assert foreign.get("/api/v1/services/").json()["results"] == []
    assert_error(foreign.get(f"/api/v1/clients/{bookable.client.pk}/"), 404, "not_found")
    assert_error(book(foreign, bookable, local(bookable.practice, 3, 10)), 400, "invalid")
    assert not Appointment.objects.exists()


def test_a_webhook_of_the_practice_is_not_reachable_by_its_key(integration, practice):
    hook = WebhookSubscriptionFactory(practice=practice)

    assert_error(integration.get(f"/api/v1/webhooks/{hook.pk}/"), 403, "permission_denied")
    assert_error(integration.delete(f"/api/v1/webhooks/{hook.pk}/"), 403, "permission_denied")
    assert practice.webhooks.filter(pk=hook.pk).exists()


# --- rate limits --------------------------------------------------------------------------------


@pytest.fixture
def key_rate(monkeypatch):
    """Three requests a minute per key; DRF reads rates once, into this class attribute."""
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "api_key": "3/min", "user": "1000/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_a_key_over_its_rate_is_429_with_retry_after(key_rate, integration):
    for _ in range(3):
        assert integration.get("/api/v1/services/").status_code == 200

    response = integration.get("/api/v1/services/")

    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_a_throttled_key_leaves_other_keys_and_members_alone(key_rate, owner, integration):
    other = key_client(create_key(owner, "Other")["key"])
    for _ in range(3):
        integration.get("/api/v1/services/")
    assert integration.get("/api/v1/services/").status_code == 429

    assert other.get("/api/v1/services/").status_code == 200
    assert owner.api.get("/api/v1/services/").status_code == 200


def test_keys_of_different_practices_have_their_own_limits(key_rate, other_owner, integration):
    foreign = key_client(create_key(other_owner)["key"])
    for _ in range(3):
        assert foreign.get("/api/v1/services/").status_code == 200

    assert integration.get("/api/v1/services/").status_code == 200
    assert foreign.get("/api/v1/services/").status_code == 429


def test_keys_do_not_share_the_per_user_limit(monkeypatch, therapist, other_owner, integration):
    """An API key's principal has no user id: in the per-user bucket all keys would be one."""
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "api_key": "100/min", "user": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    foreign = key_client(create_key(other_owner)["key"])

    for _ in range(3):
        assert integration.get("/api/v1/services/").status_code == 200
        assert foreign.get("/api/v1/services/").status_code == 200

    for _ in range(2):  # members keep their per-user limit
        assert therapist.api.get("/api/v1/services/").status_code == 200
    assert therapist.api.get("/api/v1/services/").status_code == 429


def test_a_throttled_booking_writes_nothing(key_rate, integration, bookable):
    for _ in range(3):
        integration.get("/api/v1/services/")

    response = book(integration, bookable, local(bookable.practice, 3, 10))

    assert_error(response, 429, "throttled")
    assert not Appointment.objects.exists()
