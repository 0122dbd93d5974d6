"""booking_webhooks: booking throughput with 5 webhook subscriptions beside none, on Postgres.

The same gunicorn and 16 clients as booking_p95 (bench/booking_load.py). A booking with
subscriptions writes its outbox rows (one WebhookEvent, a WebhookDelivery per subscription) in its
transaction and publishes `dispatch_webhooks` after commit, to the bench's own queue, which no
worker reads: delivery is off the request path, and nothing is delivered during the bench. The
server runs with WEBHOOK_ALLOW_PRIVATE_HOSTS unset (false), and the subscriptions point at a closed
loopback port, so even a stray delivery would go nowhere.

Two rounds, each a phase of bookings with no subscription and a phase with 5 (created before the
phase, counted and deleted after it), the order flipped in the second round. Each phase books
distinct free slots dealt out from `GET availability/` for days 2..89.
"""

from __future__ import annotations

import datetime as dt
import logging
import random

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from bench.booking_load import (
    BOOKED,
    CLIENTS,
    CONFLICT,
    WORKERS,
    Phase,
    availability,
    booking_jobs,
    deal_slots,
    load,
    serve,
)
from bench.measure import BenchError
from bench.processes import free_port
from bench.results import Figure, Skipped
from bench.schedule import Schedule
from bench.seed import SEED, SeededPractice
from clients.models import Client
from practice.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from practice.webhooks import new_salt
from sessions.scheduling.models import Appointment

NAME = "booking_webhooks"
SUBSCRIPTIONS = 5
EVENTS = ["appointment.created", "appointment.updated", "appointment.cancelled", "client.created"]
TARGET = 0.8  # throughput with 5 subscriptions at least 0.8 of that with none


def measure_booking_webhooks(
    seeded: SeededPractice, schedule: Schedule, *, requests: int, say
) -> Figure | Skipped:
    if not settings.IS_POSTGRES:
        return Skipped(NAME, "needs Postgres")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    if WebhookSubscription.objects.filter(practice=seeded.practice).exists():
        raise BenchError(f"{NAME}: the bench practice already has webhook subscriptions")
    rng = random.Random(SEED + 4)
    # Unset: the default, false. No worker reads the bench's queue, so nothing is delivered.
    with serve(WEBHOOK_ALLOW_PRIVATE_HOSTS=None) as base:
        return _measure(base, seeded, schedule.service, requests, rng, say)


class Subscribed:
    """5 active subscriptions of the practice for the length of a `with`; on exit, the deliveries
    written meanwhile are counted (per event: each must have one per subscription) and the
    subscriptions deleted (their deliveries with them)."""

    def __init__(self, practice, hook_url: str):
        self.practice, self.hook_url = practice, hook_url
        self.events = self.deliveries = self.short_events = 0

    def __enter__(self) -> Subscribed:
        self.last_event = (
            WebhookEvent.objects.filter(practice=self.practice)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
            or 0
        )
        self.ids = [
            s.pk
            for s in WebhookSubscription.objects.bulk_create(
                WebhookSubscription(
                    practice=self.practice,
                    url=self.hook_url,
                    events=EVENTS,
                    secret_salt=new_salt(),
                    active=True,
                )
                for _ in range(SUBSCRIPTIONS)
            )
        ]
        return self

    def __exit__(self, *exc) -> None:
        events = WebhookEvent.objects.filter(practice=self.practice, pk__gt=self.last_event)
        self.events += events.count()
        self.deliveries += WebhookDelivery.objects.filter(subscription__in=self.ids).count()
        self.short_events += events.annotate(n=Count("deliveries")).exclude(n=SUBSCRIPTIONS).count()
        WebhookSubscription.objects.filter(pk__in=self.ids).delete()


def _measure(base, seeded, service, requests, rng, say) -> Figure:
    practice = seeded.practice
    today = timezone.localdate(timezone=practice.tz)
    offered = availability(
        base, seeded.token, service, today + dt.timedelta(days=2), today + dt.timedelta(days=61)
    ) + availability(
        base, seeded.token, service, today + dt.timedelta(days=62), today + dt.timedelta(days=89)
    )
    buffer = dt.timedelta(minutes=service.buffer_minutes)
    warmup = CLIENTS  # per side
    distinct = deal_slots(offered, len(offered), buffer, rng)
    distinct = list({(s["therapist"], s["start"]): s for s in distinct}.values())
    per_phase = requests // 2  # two phases a side
    if 4 * per_phase + 2 * warmup > len(distinct):
        per_phase = (len(distinct) - 2 * warmup) // 4
        say(
            f"  {NAME}: only {len(distinct)} distinct free slots: "
            f"{per_phase} bookings a phase instead of {requests // 2}"
        )
        if per_phase < CLIENTS:
            raise BenchError(f"{NAME}: too few free slots ({len(distinct)}) to measure")
    slots = iter(distinct)
    client_ids = list(Client.objects.filter(practice=practice).values_list("pk", flat=True))
    hook_url = f"http://127.0.0.1:{free_port()}/hook"  # bound and released: nothing listens
    event_floor = WebhookEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def book(count: int, label: str) -> Phase:
        chunk = [next(slots) for _ in range(count)]
        return load(
            base,
            seeded.token,
            booking_jobs(chunk, service, client_ids, rng),
            Phase(label, (BOOKED, CONFLICT)),
        )

    subscribed = Subscribed(practice, hook_url)
    started = timezone.now()
    # Warm every worker up on both paths (with subscriptions, the outbox code runs too).
    warm_none = book(warmup, "warm-up, no subscription")
    with subscribed:
        warm_hooked = book(warmup, f"warm-up, {SUBSCRIPTIONS} subscriptions")
    bare = Phase("POST appointments/, no subscription", (BOOKED, CONFLICT))
    hooked = Phase(f"POST appointments/, {SUBSCRIPTIONS} subscriptions", (BOOKED, CONFLICT))

    def run_bare() -> None:
        bare.add(book(per_phase, ""))

    def run_hooked() -> None:
        with subscribed:
            hooked.add(book(per_phase, ""))

    for number in range(2):  # the order flipped in the second round
        for step in (run_bare, run_hooked) if number == 0 else (run_hooked, run_bare):
            step()

    created = Appointment.objects.filter(practice=practice, created_at__gte=started).count()
    booked = sum(p.statuses[BOOKED] for p in (warm_none, warm_hooked, bare, hooked))
    if created != booked:
        raise BenchError(f"{NAME}: {booked} bookings answered 201 but {created} were written")
    if WebhookSubscription.objects.filter(practice=practice).exists():
        raise BenchError(f"{NAME}: subscriptions left behind")
    booked_hooked = warm_hooked.statuses[BOOKED] + hooked.statuses[BOOKED]
    stray_events = (
        WebhookEvent.objects.filter(pk__gt=event_floor).count() - subscribed.events
    )  # events written while no subscription existed (there should be none)
    deliveries_ok = (
        subscribed.events == booked_hooked
        and subscribed.deliveries == SUBSCRIPTIONS * booked_hooked
        and subscribed.short_events == 0
        and stray_events == 0
    )
    WebhookEvent.objects.filter(pk__gt=event_floor).delete()  # the outbox rows of the bench
    for phase in (bare, hooked, warm_none, warm_hooked):
        for line in phase.unexpected:
            say(f"  {NAME}: unexpected answer: {line}")
    say(
        f"  {NAME}: {CLIENTS} clients, gunicorn --workers {WORKERS} --threads 1, "
        f"WEBHOOK_ALLOW_PRIVATE_HOSTS unset (false), hooks at {hook_url} (closed)"
    )
    say(f"  {NAME}: {bare.summary()}")
    say(f"  {NAME}: {hooked.summary()}")
    say(
        f"  {NAME}: {booked_hooked} bookings with subscriptions wrote {subscribed.events} events "
        f"and {subscribed.deliveries} deliveries ({SUBSCRIPTIONS} per booking expected: "
        f"{SUBSCRIPTIONS * booked_hooked}); events without {SUBSCRIPTIONS} deliveries: "
        f"{subscribed.short_events}; events while none subscribed: {stray_events}"
    )
    errors = bare.errors + hooked.errors
    value = hooked.statuses[BOOKED] / hooked.wall
    baseline = bare.statuses[BOOKED] / bare.wall
    ratio = value / baseline
    return Figure(
        name=NAME,
        value=value,
        baseline=baseline,
        ratio=ratio,
        target=TARGET,
        unit="bookings/s",
        passes_when=(
            f"ratio >= {TARGET:g} and errors == 0 and deliveries == "
            f"{SUBSCRIPTIONS} x bookings with subscriptions"
        ),
        passed=ratio >= TARGET and errors == 0 and deliveries_ok,
        extra={
            "booked": bare.statuses[BOOKED] + hooked.statuses[BOOKED],
            "conflicts": bare.statuses[CONFLICT] + hooked.statuses[CONFLICT],
            "errors": errors,
            "bookings_with_subscriptions": booked_hooked,
            "webhook_events": subscribed.events,
            "webhook_deliveries": subscribed.deliveries,
            "deliveries_per_booking": round(subscribed.deliveries / max(booked_hooked, 1), 3),
            "p95_ms": round(hooked.percentile(0.95), 1),
            "baseline_p95_ms": round(bare.percentile(0.95), 1),
            "subscriptions": SUBSCRIPTIONS,
            "clients": CLIENTS,
        },
    )
