"""Shared fixtures: a practice with one member per role, API clients logged in as each, and a
second practice whose owner must never see the first one's data.

Markers: `postgres` and `redis` tests need the real services. Without them they skip with a reason;
with BACKCARE_REQUIRE_SERVICES=1 (CI) a missing service fails them instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from practice.auth import issue_token
from practice.models import Practice, Role, User
from practice.services import create_practice, create_user_in_practice
from tests.factories import PASSWORD, ClientFactory

REQUIRE_SERVICES = os.environ.get("BACKCARE_REQUIRE_SERVICES") == "1"


def _missing_services() -> dict[str, str]:
    missing = {}
    if not settings.IS_POSTGRES:
        missing["postgres"] = "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if not settings.REDIS_URL:
        missing["redis"] = "needs Redis and a real Celery worker: set REDIS_URL=redis://..."
    return missing


@pytest.fixture(autouse=True)
def _require_marked_services(request):
    """Skip (locally) or fail (CI) a test marked `postgres`/`redis` when that service is absent."""
    for marker, reason in _missing_services().items():
        if request.node.get_closest_marker(marker):
            if REQUIRE_SERVICES:
                pytest.fail(f"BACKCARE_REQUIRE_SERVICES=1 but this test {reason}")
            pytest.skip(reason)


def pytest_report_header(config):
    database = "PostgreSQL" if settings.IS_POSTGRES else "SQLite"
    broker = "Redis" if settings.REDIS_URL else "embedded (filesystem)"
    return f"backcare: database={database}, broker/cache={broker}"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests log in many members; PBKDF2 at full strength is not what they test, only slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """One test database per pytest process, so runs side by side never share one."""
    from django.db import connections

    for alias in connections:
        test = connections[alias].settings_dict.setdefault("TEST", {})
        if connections[alias].vendor != "sqlite":  # SQLite tests run in memory already
            base = test.get("NAME") or f"test_{connections[alias].settings_dict['NAME']}"
            test["NAME"] = f"{base}_{os.getpid()}"


@pytest.fixture(autouse=True)
def _isolated_cache_and_eager_celery(settings):
    """Rate-limit counters never leak between tests; tasks run in-process unless a test says so.

    Without Redis the cache is per process (the file cache of `make run` is shared on disk)."""
    from config.celery import app

    if not settings.REDIS_URL:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    cache.clear()


@dataclass
class Member:
    user: User
    role: str
    api: APIClient
    token: str


def login_client(user: User) -> tuple[APIClient, str]:
    token = issue_token(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api, token


def make_member(practice: Practice, role: str, email: str) -> Member:
    user = create_user_in_practice(
        practice=practice,
        email=email,
        password=PASSWORD,
        role=role,
        first_name=role.title(),
        last_name="Member",
    )
    if role == Role.CLIENT:
        ClientFactory(practice=practice, user=user, email=email)
    api, token = login_client(user)
    return Member(user=user, role=role, api=api, token=token)


@pytest.fixture
def practice(db) -> Practice:
    return create_practice(
        slug="north",
        name="North Back Clinic",
        timezone_name="Europe/London",
        owner_email="owner@north.test",
        owner_password=PASSWORD,
    )


def logged_in_owner(email: str) -> Member:
    user = User.objects.get(email=email)
    api, token = login_client(user)
    return Member(user=user, role=Role.OWNER, api=api, token=token)


@pytest.fixture
def owner(practice) -> Member:
    return logged_in_owner("owner@north.test")


@pytest.fixture
def therapist(practice) -> Member:
    return make_member(practice, Role.THERAPIST, "therapist@north.test")


@pytest.fixture
def front_desk(practice) -> Member:
    return make_member(practice, Role.FRONT_DESK, "desk@north.test")


@pytest.fixture
def client_member(practice) -> Member:
    """A client who has an account; their record is `client_member.user.client`."""
    return make_member(practice, Role.CLIENT, "client@north.test")


@pytest.fixture
def other_practice(db) -> Practice:
    return create_practice(
        slug="south",
        name="South Spine Studio",
        timezone_name="America/New_York",
        owner_email="owner@south.test",
        owner_password=PASSWORD,
    )


@pytest.fixture
def other_owner(other_practice) -> Member:
    return logged_in_owner("owner@south.test")


@pytest.fixture
def members(owner, therapist, front_desk, client_member) -> dict[str, Member]:
    return {m.role: m for m in (owner, therapist, front_desk, client_member)}


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
