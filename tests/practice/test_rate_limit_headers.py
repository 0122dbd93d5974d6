"""Every rate limit tells the caller where it stands (issue 14.8): `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` (IETF httpapi draft names) on each answer a limit
counted, for the limit closest to running out; and every limit is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from practice.throttling import RateLimited

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


@pytest.fixture
def rates(monkeypatch):
    def set_rates(**scopes: str) -> None:
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **scopes}
        )

    return set_rates


def limits(response) -> tuple[int, int, int]:
    return (
        int(response["RateLimit-Limit"]),
        int(response["RateLimit-Remaining"]),
        int(response["RateLimit-Reset"]),
    )


def test_a_members_answers_count_down_their_limit(owner, rates):
    rates(user="5/min")

    first = owner.api.get(ME)
    second = owner.api.get("/api/v1/clients/")

    assert limits(first)[:2] == (5, 4)
    assert limits(second)[:2] == (5, 3)
    assert 0 < limits(second)[2] <= 60


def test_a_throttled_answer_says_nothing_remains_and_when_it_resets(owner, rates):
    rates(user="2/hour")
    owner.api.get(ME)
    owner.api.get(ME)

    refused = owner.api.get(ME)

    assert refused.status_code == 429
    limit, remaining, reset = limits(refused)
    assert (limit, remaining) == (2, 0)
    assert 0 < reset <= 3600
    assert int(refused["Retry-After"]) > 0


def test_an_api_key_sees_its_own_limit(owner, anon, rates):
    rates(api_key="7/min")
    key = owner.api.post("/api/v1/api-keys/", {"name": "Website"}).json()["key"]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    assert limits(anon.get("/api/v1/services/"))[:2] == (7, 6)


def test_public_booking_shows_the_tightest_of_its_limits(anon, practice, rates):
    rates(public="300/min", public_booking="4/hour")

    response = anon.post("/api/v1/public/north/bookings/", {}, format="json")

    assert response.status_code == 400
    # A refused attempt does not use up the hour's bookings (issue 15.7): 4 of 4 left, the
    # tightest limit met (failed attempts: 59 of 60; the page limit: 299 of 300).
    assert limits(response)[:2] == (4, 4)
    page = anon.get("/api/v1/public/north/services/")  # reading is not booking
    assert limits(page)[:2] == (300, 298)


def test_login_shows_its_limits(anon, owner, rates):
    rates(login_ip="30/min", login_email="3/min")

    response = anon.post("/api/v1/auth/token/", {"email": "owner@north.test", "password": "no"})

    assert response.status_code == 400
    assert limits(response)[:2] == (3, 2)


def test_an_answer_no_limit_counted_has_no_headers(anon):
    response = anon.get("/healthz")

    assert "RateLimit-Limit" not in response


def _views(resolver: URLResolver):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if view is not None:
                yield view


def test_every_throttle_in_the_url_conf_sends_the_headers_and_is_documented():
    throttles = set(api_settings.DEFAULT_THROTTLE_CLASSES)
    for view in _views(get_resolver()):
        throttles.update(getattr(view, "throttle_classes", ()))
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()

    assert len(throttles) >= 7
    for throttle in throttles:
        assert issubclass(throttle, RateLimited), throttle
        assert throttle.scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], throttle
    for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]:
        assert f"THROTTLE_{scope.upper()}" in readme, scope
