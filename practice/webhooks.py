"""Signed webhooks (API.md "Webhooks"): an outbox written with each change, delivered by Celery.

`record_event` writes the event and one delivery per matching subscription in the caller's
transaction, so an event exists exactly when its change does. A beat dispatcher claims due
deliveries (SKIP LOCKED) and send tasks POST them; failures retry with exponential backoff for 24
hours. A subscription failing for 24 hours is paused and its owner emailed, never after a few
failures. URLs resolving to private, loopback or link-local addresses are refused unless
WEBHOOK_ALLOW_PRIVATE_HOSTS; redirects are not followed; bodies read are capped.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta
from email.message import Message
from typing import IO, Any, TypeVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from practice.mail import send_email
from practice.models import (
    DeliveryStatus,
    Membership,
    Practice,
    Role,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from practice.queueing import claim_batch, enqueue_after_commit

RETRY_FOR = timedelta(hours=24)
LEASE = timedelta(minutes=2)
TIMEOUT_SECONDS = 5
MAX_RESPONSE_BYTES = 64 * 1024
BATCH = 100


class UnsafeURL(ValueError):
    """The URL's scheme or any address its host resolves to is not allowed."""


# --- secrets and signatures ---------------------------------------------------------------------


def new_salt() -> str:
    return secrets.token_hex(16)


def subscription_secret(subscription: WebhookSubscription) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"webhook:{subscription.secret_salt}".encode(), hashlib.sha256
    ).hexdigest()
    return f"whsec_{digest}"


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """`Backcare-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


# --- SSRF guard -------------------------------------------------------------------------------


def check_url(url: str) -> str | None:
    """Refuse a URL that is not http(s) or whose host resolves to any non-public address.

    Returns the vetted address to connect to (None when the deployment allows private hosts),
    so that the delivery does not ask DNS a second time (see `_pinned_opener`)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("Webhook URLs are http(s) URLs with a host.")
    try:
        port = parts.port or 443
    except ValueError as error:  # "Port out of range": a 400, not a 500
        raise UnsafeURL("The URL's port is not a valid port number.") from error
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise UnsafeURL(f"The host {parts.hostname} does not resolve.") from error
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not all(_is_public(each) for each in _carried_addresses(address)):
            raise UnsafeURL(f"The host {parts.hostname} resolves to a non-public address.")
    return str(infos[0][4][0])


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _carried_addresses(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list:
    """The address and every IPv4 address it carries: a packet to the 6to4 address 2002:7f00:1::
    is handed to 127.0.0.1, one to 64:ff9b::a9fe:a9fe to 169.254.169.254 through NAT64."""
    found: list = [address]
    if isinstance(address, ipaddress.IPv6Address):
        found += [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [each for each in found if each is not None]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        # Also shared (carrier-grade NAT) space 100.64.0.0/10, which none of the above
        # covers and where some clouds serve instance metadata (100.100.100.200).
        or not address.is_global
    )


# --- the outbox -----------------------------------------------------------------------------

# Events whose `data` copy a client's contact details, keyed by the client's id under "id".
CLIENT_CONTACT_EVENTS = ("client.created",)


def scrub_client_events(*, practice_id: int, client_id: int, names: bool) -> int:
    """Erasure reaches the outbox (DOMAIN.md 8; issue 13.5): the stored payloads of a client's
    events lose email and phone (and names, when the whole record goes), so neither a retry nor an
    owner's redelivery to a new URL sends them again; receivers' replies stored beside them go.
    Returns the number of events scrubbed."""
    events = WebhookEvent.objects.select_for_update().filter(
        practice_id=practice_id, type__in=CLIENT_CONTACT_EVENTS, data__id=client_id
    )
    blank = {"email": "", "phone": ""} | ({"first_name": "", "last_name": ""} if names else {})
    scrubbed = []
    for event in events:
        event.data = {**event.data, **{k: v for k, v in blank.items() if k in event.data}}
        scrubbed.append(event)
    WebhookEvent.objects.bulk_update(scrubbed, ["data"])
    WebhookDelivery.objects.filter(event__in=scrubbed).update(response_snippet="", last_error="")
    return len(scrubbed)


def record_event(*, practice: Practice | int, type: str, data: dict[str, Any]) -> None:
    """Write the event and its deliveries in the current transaction (no network here).

    On Postgres it is one statement (issue 22.1): the active subscriptions for `type` (locked
    FOR KEY SHARE, so one being deleted meanwhile is waited for and left out, never a foreign-key
    error at commit), the event if any matches, and a delivery per subscription. No cache is
    involved, so a subscription changed a moment ago is never missed or used stale."""
    practice_id = practice if isinstance(practice, int) else practice.pk
    if _write_outbox(practice_id, type, json.dumps(data, cls=DjangoJSONEncoder)):
        dispatch_webhooks_soon()


def _write_outbox(practice_id: int, type: str, payload: str) -> bool:
    """The event and its deliveries, if any subscription wants `type`; True if written."""
    if connection.vendor == "postgresql":
        return _record_event_in_one_statement(practice_id, type, payload)
    return _record_event_with_the_orm(practice_id, type, payload)


def _record_event_with_the_orm(practice_id: int, type: str, payload: str) -> bool:
    subscriptions = [
        s
        for s in WebhookSubscription.objects.filter(practice_id=practice_id, active=True)
        if type in s.events
    ]
    if not subscriptions:
        return False
    event = WebhookEvent.objects.create(
        practice_id=practice_id, type=type, data=json.loads(payload)
    )
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=s, event=event, next_attempt_at=now) for s in subscriptions
    )
    return True


def _record_event_in_one_statement(practice_id: int, type: str, payload: str) -> bool:
    quote = connection.ops.quote_name
    subscriptions = quote(WebhookSubscription._meta.db_table)
    events = quote(WebhookEvent._meta.db_table)
    deliveries = quote(WebhookDelivery._meta.db_table)
    now = timezone.now()
    sql = f"""
        WITH subs AS (
            SELECT id FROM {subscriptions}
            WHERE practice_id = %(practice)s AND active AND events @> %(types)s::jsonb
            FOR KEY SHARE
        ), event AS (
            INSERT INTO {events} (practice_id, type, data, created_at)
            SELECT %(practice)s, %(type)s, %(data)s::jsonb, %(now)s
            WHERE EXISTS (SELECT 1 FROM subs)
            RETURNING id
        )
        INSERT INTO {deliveries} (
            subscription_id, event_id, status, attempts, next_attempt_at, lease_until,
            last_status_code, last_error, response_snippet, last_attempt_at, created_at
        )
        SELECT subs.id, event.id, %(pending)s, 0, %(now)s, NULL, NULL, '', '', NULL, %(now)s
        FROM subs CROSS JOIN event ORDER BY subs.id
        RETURNING id
    """  # noqa: S608 - table names come from the models' _meta
    params: dict[str, Any] = {
        "practice": practice_id,
        "types": json.dumps([type]),
        "type": type,
        "data": payload,
        "now": now,
        "pending": DeliveryStatus.PENDING.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.fetchall())


def dispatch_webhooks_soon() -> None:
    """After commit, ask for a dispatch now (by name: practice.tasks imports this module)."""
    enqueue_after_commit("practice.tasks.dispatch_webhooks")


# --- subscriptions ---------------------------------------------------------------------------


def create_subscription(
    *, practice: Practice, url: str, events: list[str], active: bool = True
) -> tuple[WebhookSubscription, str]:
    """A subscription and its signing secret (derived from SECRET_KEY and a salt; shown once)."""
    subscription = WebhookSubscription.objects.create(
        practice=practice, url=url, events=events, active=active, secret_salt=new_salt()
    )
    return subscription, subscription_secret(subscription)


def update_subscription(
    *, subscription: WebhookSubscription, fields: dict[str, Any], paused: bool | None = None
) -> WebhookSubscription:
    """Change url/events/active; resuming a paused subscription forgets its failure streak, so
    pending events go out again."""
    for field, value in fields.items():
        setattr(subscription, field, value)
    if paused is not None:
        subscription.paused_at = timezone.now() if paused else None
        if not paused:
            subscription.failing_since = None
    subscription.save()
    return subscription


def delete_subscription(*, subscription: WebhookSubscription) -> None:
    """The subscription goes with its deliveries; events stay for other subscriptions."""
    subscription.delete()


@transaction.atomic
def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now: a new attempt of the same event (same id for de-duplication)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), lease_until=None
    )
    dispatch_webhooks_soon()
    delivery.refresh_from_db()
    return delivery


def event_body(event: WebhookEvent) -> bytes:
    payload = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"backcare-event-{event.pk}")),
        "type": event.type,
        "created": event.created_at.isoformat(),
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


# --- delivery -------------------------------------------------------------------------------


def claim_due_deliveries(now: datetime | None = None, batch: int = BATCH) -> list[int]:
    now = now or timezone.now()
    return claim_batch(
        model=WebhookDelivery,
        due=Q(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            subscription__paused_at__isnull=True,
        ),
        order_by="next_attempt_at",
        claimed={"status": DeliveryStatus.SENDING, "lease_until": now + LEASE},
        lapsed=Q(status=DeliveryStatus.SENDING, lease_until__lt=now),
        released={"status": DeliveryStatus.PENDING, "lease_until": None},
        batch=batch,
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None  # a redirect is answered as the 3xx it is: a failed delivery


_OPENER = urllib.request.build_opener(_NoRedirects)
_Connection = TypeVar("_Connection", bound=http.client.HTTPConnection)


def _pinned_opener(address: str) -> urllib.request.OpenerDirector:
    """An opener that connects to `address`, the one `check_url` vetted, whatever DNS answers
    next: a name that resolves to a public address for the check and to an internal one a
    moment later (DNS rebinding) reaches the public one. The Host header, SNI and the TLS
    certificate check still use the URL's host name."""

    def pinned(connection_class: type[_Connection]) -> type[_Connection]:
        class Pinned(connection_class):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._create_connection = lambda where, *a, **k: socket.create_connection(
                    (address, where[1]), *a, **k
                )

        return Pinned

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(pinned(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            context = self._context  # type: ignore[attr-defined]  # HTTPSHandler's, undeclared
            return self.do_open(pinned(http.client.HTTPSConnection), req, context=context)

    return urllib.request.build_opener(_NoRedirects, Http, Https)


def vetted_opener(url: str) -> urllib.request.OpenerDirector:
    """An opener for `url` under the webhook rules: `check_url` now (raises UnsafeURL), connect
    to the vetted address only, follow no redirect. Outside calendars fetch through it too."""
    address = check_url(url)
    return _OPENER if address is None else _pinned_opener(address)


def _snippet(raw: bytes) -> str:
    # PostgreSQL text cannot hold NUL: one in a receiver's answer would make recording the
    # attempt fail, leaving the delivery to be re-sent forever and never given up on.
    return raw[:500].decode(errors="replace").replace("\x00", "")


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """POST once: (status code or None, response snippet, error)."""
    try:
        address = check_url(url)
    except UnsafeURL as error:
        return None, "", str(error)
    opener = _OPENER if address is None else _pinned_opener(address)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, _snippet(response.read(MAX_RESPONSE_BYTES)), ""
    except urllib.error.HTTPError as error:
        snippet = _snippet(error.read(MAX_RESPONSE_BYTES))
        return error.code, snippet, f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return None, "", str(error)[:300]


def deliver(delivery_id: int) -> str:
    """Send one claimed delivery; record the attempt; schedule a retry or give up after 24 h."""
    delivery = (
        WebhookDelivery.objects.select_related("event", "subscription")
        .filter(pk=delivery_id, status=DeliveryStatus.SENDING)
        .first()
    )
    if delivery is None:
        return "skipped"
    subscription = delivery.subscription
    body = event_body(delivery.event)
    timestamp = int(timezone.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Backcare-Webhooks/1",
        "Backcare-Signature": signature_header(subscription_secret(subscription), body, timestamp),
        "Backcare-Event": delivery.event.type,
    }
    code, snippet, error = post(subscription.url, body, headers)
    now = timezone.now()
    ok = code is not None and 200 <= code < 300
    attempts = delivery.attempts + 1
    if ok:
        status, next_at = DeliveryStatus.SUCCEEDED, delivery.next_attempt_at
    elif now - delivery.created_at >= RETRY_FOR:
        status, next_at = DeliveryStatus.FAILED, delivery.next_attempt_at
    else:  # 1, 2, 4 ... minutes, at most an hour between tries
        status = DeliveryStatus.PENDING
        next_at = now + timedelta(minutes=min(2 ** (attempts - 1), 60))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=F("attempts") + 1,
        next_attempt_at=next_at,
        lease_until=None,
        last_status_code=code,
        last_error=error,
        response_snippet=snippet,
        last_attempt_at=now,
    )
    _track_health(subscription, ok, now)
    return status


def _track_health(subscription: WebhookSubscription, ok: bool, now: datetime) -> None:
    if ok:
        if subscription.failing_since is not None:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(failing_since=None)
        return
    if subscription.failing_since is None:
        WebhookSubscription.objects.filter(pk=subscription.pk, failing_since__isnull=True).update(
            failing_since=now
        )
        return
    if now - subscription.failing_since >= RETRY_FOR and subscription.paused_at is None:
        paused = WebhookSubscription.objects.filter(
            pk=subscription.pk, paused_at__isnull=True
        ).update(paused_at=now)
        if paused:
            owners = Membership.objects.filter(
                practice_id=subscription.practice_id, role=Role.OWNER
            ).values_list("user__email", flat=True)
            send_email(
                subject="A Backcare webhook was paused",
                body=(
                    f"Deliveries to {subscription.url} have failed for 24 hours, so the "
                    "subscription is paused. Fix the receiver, then resume it (PATCH "
                    '{"paused": false}); pending events are kept.'
                ),
                to=list(owners),
                fail_silently=True,
            )
