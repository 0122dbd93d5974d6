"""Logging in and out with bearer tokens (API.md "Conventions": auth/token/, auth/logout/)."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from practice.models import AuthToken, User
from practice.throttling import LOGIN_FAILURES, login_idents
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/token/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"


def log_in(api: APIClient, email: str, password: str, ip: str = "198.51.100.1"):
    return api.post(LOGIN, {"email": email, "password": password}, REMOTE_ADDR=ip)


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_login_returns_a_token_and_the_user(anon, owner):
    response = log_in(anon, "owner@north.test", PASSWORD)

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == "owner@north.test"
    assert body["user"]["id"] == owner.user.pk
    assert "password" not in body["user"]
    me = bearer(body["token"]).get(ME)
    assert me.status_code == 200
    assert me.json()["user"]["id"] == owner.user.pk
    assert me.json()["role"] == "owner"


def test_login_email_is_case_insensitive(anon, owner):
    response = log_in(anon, "  Owner@NORTH.test ", PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"]["id"] == owner.user.pk


def test_unknown_email_and_wrong_password_get_the_same_answer(anon, owner):
    tokens_before = AuthToken.objects.count()

    unknown = log_in(anon, "nobody@north.test", PASSWORD)
    wrong = log_in(anon, "owner@north.test", "not-the-password")

    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json()
    assert set(unknown.json()) == {"code", "detail"}
    assert unknown.json()["code"] == "invalid_credentials"
    assert AuthToken.objects.count() == tokens_before


def test_login_without_a_password_is_a_validation_error(anon, owner):
    tokens_before = AuthToken.objects.count()

    response = anon.post(LOGIN, {"email": "owner@north.test"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert [e["field"] for e in response.json()["errors"]] == ["password"]
    assert AuthToken.objects.count() == tokens_before


def test_tokens_are_stored_hashed_never_in_clear(anon, owner):
    token = log_in(anon, "owner@north.test", PASSWORD).json()["token"]

    row = AuthToken.objects.latest("id")
    assert row.user_id == owner.user.pk
    assert row.key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not AuthToken.objects.filter(key_hash=token).exists()
    stored = AuthToken.objects.values_list("key_hash", flat=True)
    assert all(token not in value for value in stored)


def test_expired_token_is_401(owner):
    AuthToken.objects.filter(user=owner.user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = owner.api.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_new_tokens_expire_in_the_future(anon, owner):
    token = log_in(anon, "owner@north.test", PASSWORD).json()["token"]

    row = AuthToken.objects.get(key_hash=hashlib.sha256(token.encode()).hexdigest())
    assert row.expires_at > timezone.now() + timedelta(hours=1)
    assert row.revoked_at is None


def test_unknown_token_is_401(anon, owner):
    response = bearer("bct_not-a-real-token").get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_request_without_a_token_is_401(anon, owner):
    response = anon.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_logout_revokes_the_token(owner):
    response = owner.api.post(LOGOUT)

    assert response.status_code == 204
    row = AuthToken.objects.get(key_hash=hashlib.sha256(owner.token.encode()).hexdigest())
    assert row.revoked_at is not None
    after = owner.api.get(ME)
    assert after.status_code == 401
    assert after.json()["code"] == "not_authenticated"


def test_logout_revokes_only_that_token(anon, owner):
    other_token = log_in(anon, "owner@north.test", PASSWORD).json()["token"]

    owner.api.post(LOGOUT)

    assert bearer(other_token).get(ME).status_code == 200


def test_strangers_wrong_passwords_do_not_lock_the_owner_out(anon, owner):
    # Issue 13.6: five wrong passwords from another address used to block the right one.
    for _ in range(6):
        assert log_in(anon, "owner@north.test", "wrong-password", ip="203.0.113.7").status_code in (
            400,
            429,
        )

    response = log_in(anon, "owner@north.test", PASSWORD, ip="198.51.100.20")

    assert response.status_code == 200
    assert response.json()["user"]["id"] == owner.user.pk


def test_sixth_failed_login_from_one_address_in_a_minute_is_throttled(anon, owner):
    for _ in range(5):
        assert (
            log_in(anon, "owner@north.test", "wrong-password", ip="203.0.113.7").status_code == 400
        )

    response = log_in(anon, "owner@north.test", PASSWORD, ip="203.0.113.7")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


def test_successful_logins_do_not_use_up_the_allowance(anon, owner):
    for _ in range(8):
        assert log_in(anon, "owner@north.test", PASSWORD, ip="203.0.113.7").status_code == 200


def test_guesses_spread_over_many_addresses_meet_the_per_email_cap(anon, owner, monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "login_email_all": "8/hour"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    for attempt in range(8):
        response = log_in(anon, "owner@north.test", "wrong", ip=f"203.0.113.{attempt}")
        assert response.status_code == 400

    response = log_in(anon, "owner@north.test", "another-guess", ip="203.0.113.99")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_login_limit_cache_keys_hold_no_raw_email(anon, owner):
    log_in(anon, "owner@north.test", "wrong-password", ip="198.51.100.1")

    request = RequestFactory().post(LOGIN, REMOTE_ADDR="198.51.100.1")
    keys = [
        key
        for key, *_ in LOGIN_FAILURES._windows(
            login_idents(request, "owner@north.test"), time.time()
        )
    ]
    assert len(keys) == 2
    assert all(cache.get(key) == 1 for key in keys), "the failure was counted under these keys"
    assert not any("owner" in key or "@" in key for key in keys)


def test_email_throttle_ignores_the_case_of_the_address(anon, owner):
    for _ in range(5):
        log_in(anon, "owner@north.test", "wrong-password", ip="203.0.113.7")

    response = log_in(anon, "OWNER@North.Test", PASSWORD, ip="203.0.113.7")

    assert response.status_code == 429


def test_throttling_one_email_leaves_other_accounts_alone(anon, owner, therapist):
    for attempt in range(6):
        log_in(anon, "owner@north.test", "wrong-password", ip=f"203.0.113.{attempt}")

    response = log_in(anon, "therapist@north.test", PASSWORD, ip="203.0.113.50")

    assert response.status_code == 200


def test_login_is_throttled_per_ip_across_many_emails(anon, owner):
    for attempt in range(30):
        response = log_in(anon, f"guess{attempt}@north.test", PASSWORD, ip="192.0.2.7")
        assert response.status_code == 400

    response = log_in(anon, "owner@north.test", PASSWORD, ip="192.0.2.7")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
    assert AuthToken.objects.filter(user=owner.user).count() == 1  # the fixture's only
    assert log_in(anon, "owner@north.test", PASSWORD, ip="192.0.2.8").status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_ip_limit(anon, owner):
    for attempt in range(30):
        response = anon.post(
            LOGIN,
            {"email": f"guess{attempt}@north.test", "password": PASSWORD},
            REMOTE_ADDR="192.0.2.7",
            HTTP_X_FORWARDED_FOR=f"10.0.{attempt}.1",
        )
        assert response.status_code == 400

    response = anon.post(
        LOGIN,
        {"email": "owner@north.test", "password": PASSWORD},
        REMOTE_ADDR="192.0.2.7",
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )

    assert response.status_code == 429
    assert AuthToken.objects.filter(user=owner.user).count() == 1


def test_disabled_user_cannot_log_in(anon, owner):
    User.objects.filter(pk=owner.user.pk).update(is_active=False)
    tokens_before = AuthToken.objects.count()

    response = log_in(anon, "owner@north.test", PASSWORD)
    unknown = log_in(anon, "nobody@north.test", PASSWORD)

    assert response.status_code == 400
    assert response.json() == unknown.json()
    assert AuthToken.objects.count() == tokens_before


def test_disabled_users_existing_token_is_401(owner):
    User.objects.filter(pk=owner.user.pk).update(is_active=False)

    response = owner.api.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Token abc"])
def test_malformed_authorization_header_is_401_never_500(anon, owner, header):
    anon.credentials(HTTP_AUTHORIZATION=header)

    response = anon.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
