"""Password change and reset, email change, and uniform sign-up answers (issue 13.2, 13.7)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from rest_framework.test import APIClient

from clients.models import Client
from practice.models import AuthToken, EmailVerification, User
from tests.factories import PASSWORD

ME = "/api/v1/me/"
LOGIN = "/api/v1/auth/token/"
NEW_PASSWORD = "a-brand-new-secret-77"


@pytest.fixture(autouse=True)
def _email_in_memory(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


def token_in(message, path: str) -> str:
    match = re.search(rf"https?://\S+{re.escape(path)}\?token=(\S+)", message.body)
    assert match, message.body
    return match.group(1)


def link_path(message, path: str) -> str:
    match = re.search(rf"https?://\S+{re.escape(path)}\?token=\S+", message.body)
    assert match, message.body
    url = urlsplit(match.group(0))
    return f"{url.path}?{url.query}"


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def log_in(email: str, password: str):
    return APIClient().post(LOGIN, {"email": email, "password": password})


# --- password change ------------------------------------------------------------------------------


def test_changing_the_password_revokes_every_other_token(owner):
    other = log_in("owner@north.test", PASSWORD).json()["token"]

    response = owner.api.post(
        "/api/v1/auth/password/",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )

    assert response.status_code == 204
    assert owner.api.get(ME).status_code == 200  # the token that asked stays
    assert bearer(other).get(ME).status_code == 401
    assert log_in("owner@north.test", PASSWORD).status_code == 400
    assert log_in("owner@north.test", NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_changes_nothing(owner):
    response = owner.api.post(
        "/api/v1/auth/password/",
        {"current_password": "not-it", "new_password": NEW_PASSWORD},
    )

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["current_password"]
    assert User.objects.get(pk=owner.user.pk).check_password(PASSWORD)


# --- password reset -------------------------------------------------------------------------------


def test_reset_request_answers_alike_for_known_and_unknown_emails(anon, owner, after_commit):
    known = after_commit(
        lambda: anon.post("/api/v1/auth/password-reset/", {"email": "owner@north.test"})
    )
    unknown = after_commit(
        lambda: anon.post("/api/v1/auth/password-reset/", {"email": "nobody@north.test"})
    )

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert [m.to for m in mail.outbox] == [["owner@north.test"]]


def test_a_reset_link_sets_the_password_once_and_logs_everyone_out(anon, owner, after_commit):
    after_commit(lambda: anon.post("/api/v1/auth/password-reset/", {"email": "owner@north.test"}))
    path = "/api/v1/auth/password-reset/confirm/"
    token = token_in(mail.outbox[0], path)
    stored = EmailVerification.objects.get(user=owner.user)
    assert token not in stored.token_hash

    preview = anon.get(link_path(mail.outbox[0], path))
    assert preview.status_code == 200
    assert User.objects.get(pk=owner.user.pk).check_password(PASSWORD)  # a GET changes nothing

    response = anon.post(path, {"token": token, "new_password": NEW_PASSWORD})
    again = anon.post(path, {"token": token, "new_password": "yet-another-secret-5"})

    assert response.status_code == 204
    assert again.status_code == 404
    assert owner.api.get(ME).status_code == 401
    assert not AuthToken.objects.filter(user=owner.user, revoked_at__isnull=True).exists()
    assert log_in("owner@north.test", NEW_PASSWORD).status_code == 200


def test_a_weak_new_password_leaves_the_link_usable(anon, owner, after_commit):
    after_commit(lambda: anon.post("/api/v1/auth/password-reset/", {"email": "owner@north.test"}))
    path = "/api/v1/auth/password-reset/confirm/"
    token = token_in(mail.outbox[0], path)

    weak = anon.post(path, {"token": token, "new_password": "short"})

    assert weak.status_code == 400
    assert anon.post(path, {"token": token, "new_password": NEW_PASSWORD}).status_code == 204


# --- email change (issue 13.2) --------------------------------------------------------------------


def test_an_email_change_waits_for_the_new_address_to_confirm(client_member, after_commit):
    record = client_member.user.client
    old = record.email

    response = after_commit(
        lambda: client_member.api.post(
            "/api/v1/me/email/", {"email": "new@example.com", "password": PASSWORD}
        )
    )

    assert response.status_code == 202
    record.refresh_from_db()
    assert record.email == old
    assert User.objects.get(pk=client_member.user.pk).email == old
    to_new = next(m for m in mail.outbox if m.to == ["new@example.com"])
    path = "/api/v1/auth/email-change/confirm/"

    assert APIClient().get(link_path(to_new, path)).status_code == 200
    assert User.objects.get(pk=client_member.user.pk).email == old  # the GET changed nothing

    confirmed = APIClient().post(path, {"token": token_in(to_new, path)})

    assert confirmed.status_code == 200
    assert confirmed.json()["email"] == "new@example.com"
    record.refresh_from_db()
    assert record.email == "new@example.com"


def test_an_email_change_needs_the_password(client_member):
    response = client_member.api.post(
        "/api/v1/me/email/", {"email": "new@example.com", "password": "wrong"}
    )

    assert response.status_code == 400
    assert not EmailVerification.objects.exists()


def test_a_client_cannot_set_their_record_email_directly(client_member):
    # Issue 13.2: an email accepted without proof redirected other people's public bookings.
    record = client_member.user.client

    response = client_member.api.patch(
        f"/api/v1/clients/{record.pk}/", {"email": "victim@example.com"}
    )

    assert response.status_code == 400
    record.refresh_from_db()
    assert record.email != "victim@example.com"
    assert not Client.objects.filter(email="victim@example.com").exists()


# --- uniform sign-up answers (issue 13.7) ---------------------------------------------------------


def test_a_weak_password_is_refused_before_the_email_is_looked_at(anon, owner, other_owner):
    body = {"role": "therapist", "first_name": "A", "last_name": "B", "password": "short"}

    taken = owner.api.post("/api/v1/staff/", {**body, "email": "owner@other.test"})
    free = owner.api.post("/api/v1/staff/", {**body, "email": "nobody-yet@north.test"})

    assert taken.status_code == free.status_code == 400
    assert taken.json() == free.json()
    assert [e["field"] for e in taken.json()["errors"]] == ["password"]


def test_a_taken_email_answers_alike_in_this_practice_and_another(owner, other_owner, therapist):
    body = {"role": "therapist", "first_name": "A", "last_name": "B", "password": NEW_PASSWORD}

    here = owner.api.post("/api/v1/staff/", {**body, "email": "therapist@north.test"})
    elsewhere = owner.api.post("/api/v1/staff/", {**body, "email": other_owner.user.email})

    assert here.status_code == elsewhere.status_code == 400
    assert here.json() == elsewhere.json()


def test_reset_mails_to_one_address_are_capped_alike_for_known_and_unknown(
    anon, owner, after_commit
):
    for email in ("owner@north.test", "nobody@north.test"):
        for n in range(3):
            answer = after_commit(
                lambda email=email, n=n: anon.post(
                    "/api/v1/auth/password-reset/", {"email": email}, REMOTE_ADDR=f"192.0.2.{n}"
                )
            )
            assert answer.status_code == 202

    known = anon.post("/api/v1/auth/password-reset/", {"email": "owner@north.test"})
    unknown = anon.post("/api/v1/auth/password-reset/", {"email": "nobody@north.test"})

    assert known.status_code == unknown.status_code == 429
    assert len(mail.outbox) == 3


def test_registering_answers_alike_for_a_weak_password_whatever_the_email(anon, owner, other_owner):
    body = {"practice": "north", "password": "zq9", "first_name": "A", "last_name": "B"}

    taken = anon.post("/api/v1/auth/register/", {**body, "email": other_owner.user.email})
    free = anon.post("/api/v1/auth/register/", {**body, "email": "free@example.com"})

    assert taken.status_code == free.status_code == 400
    assert taken.json() == free.json()
    assert not User.objects.filter(email="free@example.com").exists()
