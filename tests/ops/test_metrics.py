"""`/metrics` (README "Deploying"): off without METRICS_TOKEN, 401 with a wrong one, Prometheus text
with the right one; request counts by route template, booking conflicts, reminder lag and failures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from sessions.scheduling.models import ReminderStatus
from tests.factories import AppointmentFactory, ReminderFactory
from tests.sessions.booking_setup import local

pytestmark = pytest.mark.django_db

METRICS = "/metrics"
TOKEN = "scrape-secret-0123456789"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(api) -> dict[tuple[str, tuple], float]:
    """`{(sample name, sorted labels): value}` from one authorised scrape."""
    response = api.get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- protection -------------------------------------------------------------------------------


def test_metrics_is_off_without_a_configured_token(anon, settings):
    settings.METRICS_TOKEN = ""

    response = anon.get(METRICS, HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Token {TOKEN}", "Bearer", TOKEN],
)
def test_metrics_refuses_a_missing_or_wrong_token_with_401(anon, metrics_on, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}

    response = anon.get(METRICS, **headers)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"backcare_" not in response.content


def test_a_member_token_does_not_open_metrics(owner, metrics_on):
    assert owner.api.get(METRICS).status_code == 401


def test_metrics_answers_the_scraper_in_prometheus_text_format(anon, metrics_on):
    response = anon.get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "backcare_http_requests",
        "backcare_http_request_duration_seconds",
        "backcare_reminder_lag_seconds",
        "backcare_reminders_failed",
    } <= names


def test_metrics_is_not_in_the_api_schema(owner):
    schema = owner.api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    assert not any("metrics" in path for path in schema["paths"])


# --- requests ---------------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_never_by_raw_path(owner, anon, metrics_on):
    appointment = AppointmentFactory(practice=owner.user.membership.practice)
    before = scrape(anon)

    owner.api.get(f"/api/v1/appointments/{appointment.pk}/")
    owner.api.get("/api/v1/appointments/999999/")

    after = scrape(anon)
    detail = "/api/v1/appointments/<pk>/"
    for status in ("200", "404"):
        labels = {"method": "GET", "route": detail, "status": status}
        assert value(after, "backcare_http_requests_total", **labels) == (
            value(before, "backcare_http_requests_total", **labels) + 1
        )
    timed = "backcare_http_request_duration_seconds_count"
    assert value(after, timed, method="GET", route=detail) == (
        value(before, timed, method="GET", route=detail) + 2
    )
    routes = {dict(labels).get("route") for _, labels in after} - {None}
    assert detail in routes
    assert not any(any(part.isdigit() for part in route.split("/")) for route in routes)


# --- booking conflicts ------------------------------------------------------------------------


def test_a_409_slot_unavailable_counts_a_booking_conflict(owner, anon, bookable, metrics_on):
    body = {
        "service": bookable.service.pk,
        "therapist": bookable.therapist.pk,
        "client": bookable.client.pk,
        "start": local(bookable.practice, 3, 10).isoformat(),
    }
    assert owner.api.post("/api/v1/appointments/", body).status_code == 201
    before = scrape(anon)

    refused = owner.api.post("/api/v1/appointments/", body)

    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_unavailable"
    after = scrape(anon)
    conflicts = "backcare_booking_conflicts_total"
    assert value(after, conflicts, detected_by="check") == (
        value(before, conflicts, detected_by="check") + 1
    )


# --- reminders (from the database, at scrape time) --------------------------------------------


def test_reminder_lag_is_zero_when_nothing_is_due(anon, metrics_on, practice):
    ReminderFactory(
        appointment=AppointmentFactory(practice=practice),
        scheduled_for=timezone.now() + timedelta(hours=1),
    )

    samples = scrape(anon)

    assert value(samples, "backcare_reminder_lag_seconds") == 0
    assert value(samples, "backcare_reminders_due") == 0


def test_reminder_lag_is_the_age_of_the_oldest_due_unsent_reminder(anon, metrics_on, practice):
    now = timezone.now()
    appointment = AppointmentFactory(practice=practice)
    ReminderFactory(
        appointment=appointment, channel="email", scheduled_for=now - timedelta(minutes=10)
    )
    ReminderFactory(
        appointment=appointment, channel="sms", scheduled_for=now - timedelta(minutes=2)
    )
    ReminderFactory(
        appointment=AppointmentFactory(practice=practice),
        scheduled_for=now - timedelta(hours=5),
        status=ReminderStatus.SENT,
        sent_at=now - timedelta(hours=5),
    )

    samples = scrape(anon)

    assert 600 <= value(samples, "backcare_reminder_lag_seconds") < 660
    assert value(samples, "backcare_reminders_due") == 2


def test_failed_and_retrying_reminders_are_counted(anon, metrics_on, practice):
    appointment = AppointmentFactory(practice=practice)
    ReminderFactory(appointment=appointment, channel="email", status=ReminderStatus.FAILED)
    ReminderFactory(appointment=appointment, channel="sms", status=ReminderStatus.FAILED)
    ReminderFactory(
        appointment=AppointmentFactory(practice=practice),
        attempts=2,
        scheduled_for=timezone.now() + timedelta(minutes=4),
    )

    samples = scrape(anon)

    assert value(samples, "backcare_reminders_failed", channel="email") == 1
    assert value(samples, "backcare_reminders_failed", channel="sms") == 1
    assert value(samples, "backcare_reminders_retrying") == 1


# --- several processes ------------------------------------------------------------------------

# Like gunicorn: set up once, fork a worker; parent and child each answer one request.
FORKED_WORKERS = """
import os
import django
django.setup()
from config.metrics import observe_request
child = os.fork()
observe_request("GET", "/api/v1/clients/", 200, 0.01)
if child:
    os.waitpid(child, 0)
else:
    os._exit(0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_counts_from_several_processes_add_up_in_multiprocess_mode(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR each process writes its own file and a scrape sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    subprocess.run([sys.executable, "-c", FORKED_WORKERS], env=env, check=True, timeout=120)  # noqa: S603

    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    labels = {"method": "GET", "route": "/api/v1/clients/", "status": "200"}
    assert registry.get_sample_value("backcare_http_requests_total", labels) == 2
    assert (
        registry.get_sample_value(
            "backcare_http_request_duration_seconds_count",
            {"method": "GET", "route": "/api/v1/clients/"},
        )
        == 2
    )
