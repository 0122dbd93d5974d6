"""Prometheus metrics on `/metrics` (outside /api/v1/, like /healthz; not in the OpenAPI schema).

Request counts and latencies by route template are counted in each process. gunicorn runs several
worker processes: with `PROMETHEUS_MULTIPROC_DIR` set (an empty directory, wiped at each start),
prometheus_client keeps each process's values in files there and a scrape sums them; unset, the
values are this process's own. Reminder figures are read from the database at scrape time, so
they are true whichever process (web or Celery worker) did the work.

`/metrics` is off (404) unless `METRICS_TOKEN` is set, and then needs `Authorization: Bearer
<METRICS_TOKEN>`.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from config.api import error_body
from sessions.scheduling.models import Reminder, ReminderStatus

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "backcare_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "backcare_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    LATENCY.labels(method=method, route=route).observe(seconds)


class ReminderCollector(Collector):
    """Reminder health from the rows themselves, computed at each scrape.

    Lag is how late the oldest due-but-unsent reminder is: near zero while the beat dispatcher and
    the workers keep up, growing when either is down. Failed rows stay `failed` (API.md
    "Reminders"), so their count only grows: alert on its increase."""

    PENDING = (ReminderStatus.SCHEDULED, ReminderStatus.QUEUED, ReminderStatus.SENDING)

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        try:
            due = Reminder.objects.filter(
                status__in=self.PENDING, scheduled_for__lte=now
            ).aggregate(oldest=Min("scheduled_for"), count=Count("id"))
            failed = list(
                Reminder.objects.filter(status=ReminderStatus.FAILED)
                .values_list("channel")
                .annotate(count=Count("id"))
                .order_by("channel")
            )
            retrying = Reminder.objects.filter(
                status=ReminderStatus.SCHEDULED, attempts__gt=0
            ).count()
        except DatabaseError:
            logger.warning("reminder metrics skipped: the database did not answer", exc_info=True)
            return
        oldest = due["oldest"]
        yield GaugeMetricFamily(
            "backcare_reminder_lag_seconds",
            "Age of the oldest reminder that is due and not yet sent (0 when none is).",
            value=(now - oldest).total_seconds() if oldest is not None else 0.0,
        )
        yield GaugeMetricFamily(
            "backcare_reminders_due",
            "Reminders due and not yet sent.",
            value=due["count"],
        )
        by_channel = GaugeMetricFamily(
            "backcare_reminders_failed",
            "Reminders that failed for good (permanent error or retries exhausted), by channel.",
            labels=["channel"],
        )
        for channel, count in failed:
            by_channel.add_metric([channel], count)
        yield by_channel
        yield GaugeMetricFamily(
            "backcare_reminders_retrying",
            "Reminders whose last send failed and that wait for a retry.",
            value=retrying,
        )


class _Chain(Collector):
    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def _process_metrics() -> Collector:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # sums the files every gunicorn worker writes
        return registry
    return REGISTRY


def _authorized(request: HttpRequest, expected: str) -> bool:
    scheme, _, provided = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        provided.strip().encode(), expected.encode()
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format for a scraper holding METRICS_TOKEN; 404 when none is configured."""
    expected = settings.METRICS_TOKEN
    if not expected:
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    if not _authorized(request, expected):
        response = JsonResponse(
            error_body("not_authenticated", "A valid metrics token is required."), status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(error_body("method_not_allowed", "Method not allowed."), status=405)
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(
        encode(_Chain(_process_metrics(), ReminderCollector())), content_type=content_type
    )
