"""`/healthz` answers 200 when the database and the broker answer, 503 otherwise (API.md)."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from config.celery import app

HEALTHZ = "/healthz"
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def point_broker_at(monkeypatch, url: str) -> None:
    """Point the app at another broker for one test (setitem undoes to the raw value)."""
    monkeypatch.setitem(app.conf, "broker_url", url)
    assert app.conf.broker_write_url == url  # no separate write URL is configured


@pytest.fixture
def broker_unreachable(monkeypatch):
    point_broker_at(monkeypatch, CLOSED_PORT_BROKER)


@pytest.fixture
def database_unreachable(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    # The view's connection is this thread's default connection, so patching it here is enough.
    monkeypatch.setattr(connection, "cursor", refuse)


@pytest.mark.django_db
def test_healthy_when_the_database_and_broker_answer(anon):
    response = anon.get(HEALTHZ)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_needs_no_credentials_and_ignores_a_bad_token(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert anon.get(HEALTHZ).status_code == 200


@pytest.mark.django_db
def test_503_when_the_broker_is_unreachable(anon, broker_unreachable):
    response = anon.get(HEALTHZ)

    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"] != "ok"
    assert body["code"] == "unavailable"
    assert body["detail"]


@pytest.mark.django_db
def test_503_when_the_database_is_unreachable(anon, database_unreachable):
    response = anon.get(HEALTHZ)

    assert response.status_code == 503
    body = response.json()
    assert body["database"] != "ok"
    assert body["broker"] == "ok"
    assert body["code"] == "unavailable"


@pytest.mark.django_db
def test_503_never_500_when_the_broker_url_is_nonsense(anon, monkeypatch):
    point_broker_at(monkeypatch, "no-such-transport://nowhere")

    response = anon.get(HEALTHZ)

    assert response.status_code == 503
    assert response.json()["broker"] != "ok"


@pytest.mark.django_db
def test_the_check_reveals_no_connection_details(anon, broker_unreachable):
    body = anon.get(HEALTHZ).content.decode()

    assert "127.0.0.1" not in body
    assert ":1/" not in body
