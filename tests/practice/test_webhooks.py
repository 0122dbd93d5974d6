"""Webhooks (API.md "Webhooks", "Integrations"): subscriptions, the outbox, signed delivery.

Deliveries go to a real HTTP receiver on 127.0.0.1 (so these tests allow private hosts), and every
signature is checked with an implementation written here from the contract, not with the app's.
Time-dependent rules (backoff, the 24-hour give-up) are checked from the recorded times, or by
moving recorded times into the past, so nothing here sleeps for long.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from practice import webhooks
from practice.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from sessions.scheduling.models import Appointment, AppointmentEvent
from tests.factories import NoteFactory, WebhookSubscriptionFactory
from tests.sessions.booking_setup import Bookable, local, make_bookable

pytestmark = pytest.mark.django_db

HOOKS = "/api/v1/webhooks/"
PUBLIC_URL = "https://93.184.215.14/backcare"  # a public address: no DNS needed to vet it
ALL_EVENTS = ["appointment.cancelled", "appointment.created", "appointment.updated"]
APPOINTMENT_DATA = {
    "id",
    "status",
    "start",
    "end",
    "client",
    "therapist",
    "service",
    "late_cancellation",
}


# --- a real receiver --------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """An HTTP server in a thread: records each request, answers from a script, then 200 "ok"."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[Reply] = []
        self.url = ""
        self._lock = threading.Lock()

    def reply_with(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    reply = receiver.script.pop(0) if receiver.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST  # noqa: N815 - a followed redirect would arrive as a GET

            def log_message(self, format, *args) -> None:
                pass

        return Handler


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client that timed out leaves a broken pipe behind: expected here


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    found = Receiver()
    server = QuietServer(("127.0.0.1", 0), found.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def bookable(practice, therapist) -> Bookable:
    return make_bookable(practice, therapist.user)


# --- helpers ----------------------------------------------------------------------------------


def subscribe(owner, url: str, events: list[str] | None = None) -> dict:
    response = owner.api.post(HOOKS, {"url": url, "events": events or ALL_EVENTS})
    assert response.status_code == 201, response.content
    return response.json()


def verify(secret: str, received: Received) -> bool:
    """The receiver's side of API.md "Webhooks", written from the contract alone."""
    parts = dict(item.split("=", 1) for item in received.headers["Backcare-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def book(api, setup: Bookable, start: datetime):
    return api.post(
        "/api/v1/appointments/",
        {
            "service": setup.service.pk,
            "therapist": setup.therapist.pk,
            "client": setup.client.pk,
            "start": start.isoformat(),
        },
    )


def deliver_due(now: datetime | None = None) -> list[str]:
    """One dispatcher tick: claim what is due, send each."""
    return [webhooks.deliver(delivery_id) for delivery_id in webhooks.claim_due_deliveries(now)]


def only_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("subscription", "event").get()


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code, response.json()


# --- subscribing ------------------------------------------------------------------------------


def test_owner_subscribes_and_sees_the_secret_once(owner, practice):
    response = owner.api.post(
        HOOKS, {"url": PUBLIC_URL, "events": ["client.created", "appointment.created"]}
    )

    assert response.status_code == 201, response.content
    payload = response.json()
    secret = payload["secret"]
    assert secret.startswith("whsec_")
    assert payload["url"] == PUBLIC_URL
    assert payload["events"] == ["appointment.created", "client.created"]
    assert payload["active"] is True
    assert payload["paused"] is False
    row = WebhookSubscription.objects.get(pk=payload["id"])
    assert row.practice == practice
    assert webhooks.subscription_secret(row) == secret
    stored = WebhookSubscription.objects.filter(pk=row.pk).values().get().values()
    assert not any(secret in str(value) for value in stored)
    listed = owner.api.get(HOOKS)
    detail = owner.api.get(f"{HOOKS}{row.pk}/")
    assert [s["id"] for s in listed.json()["results"]] == [row.pk]
    for later in (listed, detail):
        assert later.status_code == 200
        assert secret not in later.content.decode()
    assert "secret" not in detail.json()
    assert "secret" not in listed.json()["results"][0]


def test_each_subscription_has_its_own_secret(owner):
    first, second = subscribe(owner, PUBLIC_URL), subscribe(owner, PUBLIC_URL)

    assert first["secret"] != second["secret"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": PUBLIC_URL, "events": ["appointment.exploded"]},
        {"url": PUBLIC_URL, "events": []},
        {"url": PUBLIC_URL},
        {"events": ["client.created"]},
        {"url": PUBLIC_URL, "events": ["client.created"], "secret": "mine"},
        {"url": PUBLIC_URL, "events": ["client.created"], "practice": 1},
    ],
    ids=["unknown-event", "no-events", "no-events-field", "no-url", "secret", "practice"],
)
def test_invalid_subscription_is_400_and_creates_nothing(owner, body):
    response = owner.api.post(HOOKS, body)

    assert_error(response, 400, "invalid")
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/hooks",
        "file:///etc/passwd",
        "gopher://93.184.215.14/",
        "javascript:alert(1)",
        "93.184.215.14/hooks",
    ],
)
def test_only_http_urls_are_accepted(owner, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the scheme is refused whatever the setting

    response = owner.api.post(HOOKS, {"url": url, "events": ["client.created"]})

    assert_error(response, 400, "invalid")
    assert [e["field"] for e in response.json()["errors"]] == ["url"]
    assert not WebhookSubscription.objects.exists()


PRIVATE_URLS = [
    "http://127.0.0.1/hooks",
    "http://127.0.0.1:8000/hooks",
    "http://[::1]/hooks",
    "http://10.0.0.1/hooks",
    "http://172.16.0.1/hooks",
    "http://192.168.1.10/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",  # shared address space: a cloud metadata host
    "http://0.0.0.0/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://localhost/hooks",  # a DNS name that resolves to loopback
    "https://localhost:8443/hooks",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_and_loopback_urls_are_refused(owner, url):
    response = owner.api.post(HOOKS, {"url": url, "events": ["client.created"]})

    assert_error(response, 400, "invalid")
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("url", "unsafe_url")]
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize("url", ["http://127.1/hooks", "http://2130706433/hooks"])
def test_shorthand_forms_of_loopback_are_refused(owner, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # refused as URLs, before any address check

    response = owner.api.post(HOOKS, {"url": url, "events": ["client.created"]})

    assert_error(response, 400, "invalid")
    assert [e["field"] for e in response.json()["errors"]] == ["url"]
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/hooks", "http://10.0.0.1/hooks", "http://localhost/hooks"]
)
def test_private_urls_are_accepted_when_the_deployment_allows_them(owner, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True

    response = owner.api.post(HOOKS, {"url": url, "events": ["client.created"]})

    assert response.status_code == 201, response.content
    assert WebhookSubscription.objects.get().url == url


def test_a_port_out_of_range_is_400_not_500(owner):
    response = owner.api.post(
        HOOKS, {"url": "https://93.184.215.14:99999/hooks", "events": ["client.created"]}
    )

    assert_error(response, 400, "invalid")
    assert not WebhookSubscription.objects.exists()


def test_patching_to_a_private_url_is_refused(owner):
    hook = subscribe(owner, PUBLIC_URL)

    response = owner.api.patch(f"{HOOKS}{hook['id']}/", {"url": "http://169.254.169.254/"})

    assert_error(response, 400, "invalid")
    assert WebhookSubscription.objects.get().url == PUBLIC_URL


def test_owner_changes_events_and_deletes_a_subscription(owner):
    hook = subscribe(owner, PUBLIC_URL, ["client.created"])

    changed = owner.api.patch(f"{HOOKS}{hook['id']}/", {"events": ["appointment.cancelled"]})
    assert changed.status_code == 200, changed.content
    assert WebhookSubscription.objects.get().events == ["appointment.cancelled"]

    assert owner.api.delete(f"{HOOKS}{hook['id']}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


# --- who manages subscriptions ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_the_owner_manages_webhooks(members, role):
    hook = WebhookSubscriptionFactory(practice=members["owner"].user.membership.practice)
    api = members[role].api
    base = f"{HOOKS}{hook.pk}/"

    responses = [
        api.get(HOOKS),
        api.get(base),
        api.post(HOOKS, {"url": PUBLIC_URL, "events": ["client.created"]}),
        api.patch(base, {"paused": True}),
        api.delete(base),
        api.get(f"{base}deliveries/"),
        api.post(f"{base}deliveries/1/redeliver/"),
    ]

    for response in responses:
        assert_error(response, 403, "permission_denied")
    assert WebhookSubscription.objects.count() == 1
    hook.refresh_from_db()
    assert hook.paused_at is None


def test_another_practices_subscription_is_404(other_owner, owner, bookable):
    hook = WebhookSubscriptionFactory(practice=bookable.practice, events=ALL_EVENTS)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    delivery = only_delivery()
    base = f"{HOOKS}{hook.pk}/"
    api = other_owner.api

    assert api.get(HOOKS).json()["results"] == []
    for response in (
        api.get(base),
        api.patch(base, {"paused": True}),
        api.delete(base),
        api.get(f"{base}deliveries/"),
        api.post(f"{base}deliveries/{delivery.pk}/redeliver/"),
    ):
        assert_error(response, 404, "not_found")
    hook.refresh_from_db()
    assert hook.paused_at is None
    delivery.refresh_from_db()
    assert delivery.attempts == 0


def test_redelivering_another_subscriptions_delivery_is_404(owner, bookable):
    WebhookSubscriptionFactory(practice=bookable.practice, events=ALL_EVENTS)
    other = WebhookSubscriptionFactory(practice=bookable.practice, events=["client.created"])
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    delivery = only_delivery()

    response = owner.api.post(f"{HOOKS}{other.pk}/deliveries/{delivery.pk}/redeliver/")

    assert_error(response, 404, "not_found")


# --- the outbox ---------------------------------------------------------------------------------


def test_a_booking_writes_one_event_and_one_delivery_per_matching_subscription(
    owner, bookable, other_practice
):
    practice = bookable.practice
    created = WebhookSubscriptionFactory(practice=practice, events=["appointment.created"])
    everything = WebhookSubscriptionFactory(practice=practice, events=[*ALL_EVENTS])
    paused = WebhookSubscriptionFactory(
        practice=practice, events=["appointment.created"], paused_at=timezone.now()
    )
    WebhookSubscriptionFactory(practice=practice, events=["client.created"])
    WebhookSubscriptionFactory(practice=practice, events=["appointment.created"], active=False)
    WebhookSubscriptionFactory(practice=other_practice, events=["appointment.created"])

    response = book(owner.api, bookable, local(practice, 3, 10))

    assert response.status_code == 201, response.content
    event = WebhookEvent.objects.get()
    assert event.practice == practice
    assert event.type == "appointment.created"
    assert event.data["id"] == response.json()["id"]
    deliveries = WebhookDelivery.objects.filter(event=event)
    # A paused subscription keeps its events: they go out when it is resumed.
    assert {d.subscription_id for d in deliveries} == {created.pk, everything.pk, paused.pk}
    assert all(d.status == DeliveryStatus.PENDING and d.attempts == 0 for d in deliveries)
    assert all(d.next_attempt_at <= timezone.now() for d in deliveries)


def test_without_subscriptions_a_booking_writes_no_event(owner, bookable):
    assert book(owner.api, bookable, local(bookable.practice, 3, 10)).status_code == 201

    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_a_refused_booking_writes_no_event(owner, bookable):
    WebhookSubscriptionFactory(practice=bookable.practice, events=ALL_EVENTS)
    start = local(bookable.practice, 3, 10)
    assert book(owner.api, bookable, start).status_code == 201

    taken = book(owner.api, bookable, start)
    off_grid = book(owner.api, bookable, local(bookable.practice, 3, 10, 7))
    after_hours = book(owner.api, bookable, local(bookable.practice, 3, 20))

    assert_error(taken, 409, "slot_unavailable")
    assert_error(off_grid, 400, "invalid")
    assert_error(after_hours, 400, "invalid")
    assert WebhookEvent.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_the_outbox_is_written_in_the_bookings_transaction(owner, bookable, monkeypatch):
    """If the outbox cannot be written, the booking is not made either (and the reverse)."""
    WebhookSubscriptionFactory(practice=bookable.practice, events=ALL_EVENTS)

    def broken(*args, **kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(WebhookDelivery.objects, "bulk_create", broken)

    with pytest.raises(RuntimeError, match="outbox unavailable"):
        book(owner.api, bookable, local(bookable.practice, 3, 10))

    assert not Appointment.objects.exists()
    assert not AppointmentEvent.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_cancelling_rescheduling_and_client_creation_emit_their_events(owner, bookable):
    WebhookSubscriptionFactory(practice=bookable.practice, events=[*ALL_EVENTS, "client.created"])
    first = book(owner.api, bookable, local(bookable.practice, 3, 10)).json()
    second = book(owner.api, bookable, local(bookable.practice, 3, 12)).json()
    new_start = local(bookable.practice, 4, 11)

    owner.api.post(f"/api/v1/appointments/{first['id']}/cancel/", {"reason": "ill"})
    owner.api.post(
        f"/api/v1/appointments/{second['id']}/reschedule/", {"start": new_start.isoformat()}
    )
    made = owner.api.post(
        "/api/v1/clients/",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "date_of_birth": "1980-01-01",
            "health_flags": ["osteoporosis"],
        },
    )

    events = list(WebhookEvent.objects.order_by("id"))
    assert [e.type for e in events] == [
        "appointment.created",
        "appointment.created",
        "appointment.cancelled",
        "appointment.updated",
        "client.created",
    ]
    cancelled, updated, client = events[2:]
    assert (cancelled.data["id"], cancelled.data["status"]) == (first["id"], "cancelled")
    assert updated.data["id"] == second["id"]
    assert datetime.fromisoformat(updated.data["start"]) == new_start
    assert client.data == {
        "id": made.json()["id"],
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "",
    }
    assert WebhookDelivery.objects.count() == 5


def test_a_subscription_gets_only_the_events_it_names(owner, bookable):
    hook = WebhookSubscriptionFactory(practice=bookable.practice, events=["appointment.cancelled"])
    booked = book(owner.api, bookable, local(bookable.practice, 3, 10)).json()

    owner.api.post(f"/api/v1/appointments/{booked['id']}/cancel/", {})

    assert [d.event.type for d in hook.deliveries.select_related("event")] == [
        "appointment.cancelled"
    ]


def test_treatment_room_moves_emit_appointment_updated(owner, bookable):
    WebhookSubscriptionFactory(practice=bookable.practice, events=["appointment.updated"])
    booked = book(owner.api, bookable, local(bookable.practice, 3, 10)).json()
    # A first visit: its intake (issue 17) is done on paper, so check-in may go ahead.
    owner.api.post(
        f"/api/v1/appointments/{booked['id']}/intake-on-paper/", {"reason": "paper"}, format="json"
    )

    owner.api.post(f"/api/v1/appointments/{booked['id']}/check-in/")

    event = WebhookEvent.objects.get()
    assert (event.type, event.data["status"]) == ("appointment.updated", "checked_in")


# --- delivery to a real receiver ----------------------------------------------------------------


def test_a_booking_is_delivered_signed_with_scheduling_data_only(
    owner, bookable, receiver, django_capture_on_commit_callbacks
):
    hook = subscribe(owner, receiver.url)
    bookable.client.health_flags = ["osteoporosis"]
    bookable.client.save()
    NoteFactory(client=bookable.client, subjective="Confidential: sciatica flare-up")
    start = local(bookable.practice, 3, 10)

    with django_capture_on_commit_callbacks(execute=True):
        response = book(owner.api, bookable, start)

    assert response.status_code == 201, response.content
    [received] = receiver.requests
    assert received.path == "/hooks"
    assert received.headers["Content-Type"] == "application/json"
    payload = received.payload
    assert set(payload) == {"id", "type", "created", "data"}
    assert payload["type"] == "appointment.created"
    assert datetime.fromisoformat(payload["created"]).tzinfo is not None
    data = payload["data"]
    assert set(data) == APPOINTMENT_DATA
    assert data["id"] == response.json()["id"]
    assert (data["client"], data["therapist"], data["service"]) == (
        bookable.client.pk,
        bookable.therapist.pk,
        bookable.service.pk,
    )
    assert datetime.fromisoformat(data["start"]) == start
    assert data["status"] == "booked"
    raw = received.body.decode()
    for secret_word in ("osteoporosis", "sciatica", "health", "note", bookable.client.email):
        assert secret_word not in raw
    assert verify(hook["secret"], received)
    timestamp = int(received.headers["Backcare-Signature"].split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 60
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code, delivery.response_snippet) == (
        1,
        200,
        "ok",
    )


def test_a_tampered_body_or_another_secret_does_not_verify(
    owner, bookable, receiver, django_capture_on_commit_callbacks
):
    first = subscribe(owner, receiver.url)
    second = subscribe(owner, receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        book(owner.api, bookable, local(bookable.practice, 3, 10))

    assert len(receiver.requests) == 2
    by_secret = {
        hook["secret"]: [r for r in receiver.requests if verify(hook["secret"], r)]
        for hook in (first, second)
    }
    assert [len(matches) for matches in by_secret.values()] == [1, 1]
    original = receiver.requests[0]
    tampered = Received(
        original.path, original.headers, original.body.replace(b"booked", b"BOOKED")
    )
    assert not any(verify(secret, tampered) for secret in by_secret)


def test_redeliver_resends_the_same_event_id(
    owner, bookable, receiver, django_capture_on_commit_callbacks
):
    hook = subscribe(owner, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        book(owner.api, bookable, local(bookable.practice, 3, 10))
    delivery = only_delivery()

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.api.post(f"{HOOKS}{hook['id']}/deliveries/{delivery.pk}/redeliver/")

    assert response.status_code == 202, response.content
    first, again = receiver.requests
    assert again.payload == first.payload
    assert verify(hook["secret"], again)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)


def test_failures_retry_with_backoff_until_the_receiver_answers(
    owner, bookable, receiver, django_capture_on_commit_callbacks
):
    hook = subscribe(owner, receiver.url)
    receiver.reply_with(*[Reply(500, b"boom")] * 3)

    with django_capture_on_commit_callbacks(execute=True):
        assert book(owner.api, bookable, local(bookable.practice, 3, 10)).status_code == 201

    for attempt, minutes in enumerate([1, 2, 4], start=1):
        delivery = only_delivery()
        assert delivery.status == DeliveryStatus.PENDING
        assert (delivery.attempts, delivery.last_status_code) == (attempt, 500)
        assert delivery.response_snippet == "boom"
        assert delivery.last_error == "HTTP 500"
        assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(minutes=minutes)
        assert delivery.subscription.failing_since is not None
        log = owner.api.get(f"{HOOKS}{hook['id']}/deliveries/").json()["results"]
        assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
            ("pending", attempt, 500)
        ]
        assert log[0]["response_snippet"] == "boom"
        assert webhooks.claim_due_deliveries(delivery.next_attempt_at - timedelta(seconds=1)) == []
        assert deliver_due(delivery.next_attempt_at) == ["pending" if attempt < 3 else "succeeded"]

    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 4, 200)
    assert delivery.last_error == ""
    assert delivery.subscription.failing_since is None
    assert len(receiver.requests) == 4
    assert len({r.payload["id"] for r in receiver.requests}) == 1
    log = owner.api.get(f"{HOOKS}{hook['id']}/deliveries/").json()["results"]
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("succeeded", 4, 200)
    ]
    assert log[0]["type"] == "appointment.created"


def test_backoff_is_at_most_an_hour(owner, bookable, receiver):
    subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    WebhookDelivery.objects.update(attempts=9)
    receiver.reply_with(Reply(503))

    assert deliver_due() == ["pending"]

    delivery = only_delivery()
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(hours=1)


def test_a_redirect_is_a_failure_and_is_not_followed(owner, bookable, receiver):
    subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    receiver.reply_with(Reply(302, b"", {"Location": receiver.url.replace("/hooks", "/elsewhere")}))

    assert deliver_due() == ["pending"]

    assert [r.path for r in receiver.requests] == ["/hooks"]
    delivery = only_delivery()
    assert (delivery.attempts, delivery.last_status_code) == (1, 302)
    assert delivery.last_error


def test_a_slow_receiver_times_out_without_holding_the_sender(
    owner, bookable, receiver, monkeypatch
):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.3)
    subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    receiver.reply_with(Reply(delay=1.5))

    began = time.monotonic()
    assert deliver_due() == ["pending"]
    elapsed = time.monotonic() - began

    assert elapsed < 1.2
    delivery = only_delivery()
    assert (delivery.attempts, delivery.last_status_code) == (1, None)
    assert "timed out" in delivery.last_error
    assert delivery.lease_until is None


def test_an_unreachable_receiver_never_fails_the_booking(
    owner, bookable, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    subscribe(owner, f"http://127.0.0.1:{port}/hooks")

    with django_capture_on_commit_callbacks(execute=True):
        response = book(owner.api, bookable, local(bookable.practice, 3, 10))

    assert response.status_code == 201, response.content
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error


def test_a_url_that_is_no_longer_allowed_is_not_contacted(owner, bookable, receiver, settings):
    subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False

    assert deliver_due() == ["pending"]

    assert receiver.requests == []
    assert "non-public" in only_delivery().last_error


def test_the_response_snippet_is_capped_and_stored_whatever_the_bytes(owner, bookable, receiver):
    subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    receiver.reply_with(Reply(500, b"\x00\xff" + b"x" * 100_000))

    assert deliver_due() == ["pending"]

    delivery = only_delivery()
    assert delivery.last_status_code == 500
    assert 0 < len(delivery.response_snippet) <= 500
    assert "\x00" not in delivery.response_snippet


def test_a_claimed_delivery_is_sent_once(owner, bookable, receiver):
    subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    [delivery_id] = webhooks.claim_due_deliveries()

    # leased: a second dispatcher tick does not take it
    assert webhooks.claim_due_deliveries() == []
    assert webhooks.deliver(delivery_id) == "succeeded"
    assert webhooks.deliver(delivery_id) == "skipped"  # a duplicated task message

    assert len(receiver.requests) == 1


# --- giving up and pausing ----------------------------------------------------------------------


def failing_for(hours: float) -> None:
    """Age the delivery and its subscription's failure streak by `hours`."""
    past = timezone.now() - timedelta(hours=hours)
    WebhookDelivery.objects.update(created_at=past)
    WebhookSubscription.objects.update(failing_since=past)


def test_after_24_hours_the_delivery_fails_and_the_subscription_pauses(
    owner, therapist, bookable, receiver
):
    hook = subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    failing_for(25)
    receiver.reply_with(Reply(500, b"down"))

    assert deliver_due() == ["failed"]

    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.subscription.paused_at is not None
    shown = owner.api.get(f"{HOOKS}{hook['id']}/").json()
    assert shown["paused"] is True
    [message] = mail.outbox
    assert message.to == ["owner@north.test"]
    assert receiver.url in message.body
    log = owner.api.get(f"{HOOKS}{hook['id']}/deliveries/").json()["results"]
    assert [(d["status"], d["last_status_code"], d["response_snippet"]) for d in log] == [
        ("failed", 500, "down")
    ]


def test_a_paused_subscription_keeps_its_events_until_resumed(
    owner, bookable, receiver, django_capture_on_commit_callbacks
):
    hook = subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    failing_for(25)
    receiver.reply_with(Reply(500))
    deliver_due()
    mail.outbox.clear()

    later = book(owner.api, bookable, local(bookable.practice, 3, 14))
    assert later.status_code == 201
    assert deliver_due() == []  # paused: nothing is claimed
    assert len(receiver.requests) == 1

    resumed = owner.api.patch(f"{HOOKS}{hook['id']}/", {"paused": False})

    assert resumed.status_code == 200, resumed.content
    assert (resumed.json()["paused"], resumed.json()["failing_since"]) == (False, None)
    assert deliver_due() == ["succeeded"]
    assert receiver.requests[-1].payload["data"]["id"] == later.json()["id"]
    assert mail.outbox == []
    pending = WebhookSubscription.objects.get(pk=hook["id"])
    assert (pending.paused_at, pending.failing_since) == (None, None)


def test_failing_for_less_than_24_hours_keeps_retrying(owner, bookable, receiver):
    subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    failing_for(23)
    receiver.reply_with(Reply(500))

    assert deliver_due() == ["pending"]

    delivery = only_delivery()
    assert delivery.subscription.paused_at is None
    assert mail.outbox == []


def test_one_old_delivery_failing_does_not_pause_a_subscription_that_just_started_failing(
    owner, bookable, receiver
):
    subscribe(owner, receiver.url)
    book(owner.api, bookable, local(bookable.practice, 3, 10))
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(hours=25))
    receiver.reply_with(Reply(500))

    assert deliver_due() == ["failed"]

    subscription = WebhookSubscription.objects.get()
    assert subscription.paused_at is None
    assert subscription.failing_since is not None
    assert mail.outbox == []


def test_owner_pauses_a_subscription_by_hand(owner, bookable, receiver):
    hook = subscribe(owner, receiver.url)

    paused = owner.api.patch(f"{HOOKS}{hook['id']}/", {"paused": True})
    book(owner.api, bookable, local(bookable.practice, 3, 10))

    assert paused.status_code == 200
    assert paused.json()["paused"] is True
    assert deliver_due() == []
    assert receiver.requests == []
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING


def test_a_new_client_reaches_the_receiver_with_contact_details_only(
    owner, receiver, django_capture_on_commit_callbacks
):
    hook = subscribe(owner, receiver.url, ["client.created"])

    with django_capture_on_commit_callbacks(execute=True):
        made = owner.api.post(
            "/api/v1/clients/",
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "date_of_birth": "1980-01-01",
                "health_flags": ["osteoporosis"],
            },
        )

    assert made.status_code == 201, made.content
    [received] = receiver.requests
    assert verify(hook["secret"], received)
    assert received.payload["type"] == "client.created"
    assert set(received.payload["data"]) == {"id", "first_name", "last_name", "email", "phone"}
    assert b"osteoporosis" not in received.body
    assert b"1980-01-01" not in received.body  # (the year alone can be the client id)
