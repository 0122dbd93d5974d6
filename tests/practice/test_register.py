"""A client signs up to a practice and proves their email (API.md `auth/register/`)."""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import Client
from practice.models import EmailVerification, Membership, Role, User
from practice.services import delete_unverified_accounts
from tests.factories import ClientFactory

REGISTER = "/api/v1/auth/register/"
VERIFY = "/api/v1/auth/verify-email/"
ME = "/api/v1/me/"


@pytest.fixture(autouse=True)
def _email_in_memory(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def sign_up(**overrides) -> dict:
    return {
        "practice": "north",
        "email": "dana@example.com",
        "password": "lumbar-support-42",
        "first_name": "Dana",
        "last_name": "Reyes",
        "phone": "+44 7700 900456",
        **overrides,
    }


@pytest.fixture
def register(anon, django_capture_on_commit_callbacks):
    """POST auth/register/ and run what it queued after commit (the verification email task)."""

    def post(**overrides):
        with django_capture_on_commit_callbacks(execute=True):
            return anon.post(REGISTER, sign_up(**overrides))

    return post


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def link_in(message) -> str:
    """The verification link of an email, as a path and query the test client can GET."""
    match = re.search(r"https?://\S+/api/v1/auth/verify-email/\?token=\S+", message.body)
    assert match, message.body
    url = urlsplit(match.group(0))
    return f"{url.path}?{url.query}"


def confirm(api: APIClient, message, **extra):
    """What a person does with the link: open it (GET, a preview), then press Confirm (POST)."""
    link = link_in(message)
    preview = api.get(link)
    assert preview.status_code == 200, preview.content
    return api.post(VERIFY, {"token": link.split("token=", 1)[1], **extra})


def test_registering_answers_201_with_a_token_for_a_client_account(register, practice):
    response = register()

    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "dana@example.com"
    assert body["user"]["email_verified_at"] is None
    user = User.objects.get(email="dana@example.com")
    assert (user.first_name, user.last_name) == ("Dana", "Reyes")
    assert user.check_password("lumbar-support-42")
    assert user.membership.practice == practice
    assert user.membership.role == Role.CLIENT
    me = bearer(body["token"]).get(ME)
    assert me.status_code == 200
    assert me.json()["role"] == "client"
    assert me.json()["practice"]["slug"] == "north"


def test_registered_email_is_stored_lower_case(register, practice):
    response = register(email="Dana@Example.COM")

    assert response.status_code == 201
    assert User.objects.filter(email="dana@example.com").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),  # too common
        ({"password": "48213907562"}, "password"),  # numbers only
        ({"password": "dana@example.com"}, "password"),  # the email itself
        ({"practice": "no-such-practice"}, "practice"),
        ({"email": "not-an-email"}, "email"),
        ({"first_name": ""}, "first_name"),
    ],
)
def test_invalid_sign_up_is_400_and_creates_nothing(register, practice, overrides, field):
    users_before = User.objects.count()

    response = register(**overrides)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert User.objects.count() == users_before
    assert not Membership.objects.filter(role=Role.CLIENT).exists()
    assert not EmailVerification.objects.exists()
    assert mail.outbox == []


def test_taken_email_is_400_and_creates_nothing(register, practice, therapist):
    users_before = User.objects.count()

    response = register(email="Therapist@north.test")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["email"]
    assert User.objects.count() == users_before
    assert User.objects.get(email="therapist@north.test").membership.role == Role.THERAPIST
    assert mail.outbox == []


def test_unknown_fields_are_400_and_create_nothing(register, practice):
    response = register(role="owner")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["role"]
    assert not User.objects.filter(email="dana@example.com").exists()


def test_registering_emails_a_verification_link(register, practice):
    register()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@example.com"]
    assert "/api/v1/auth/verify-email/?token=" in message.body
    verification = EmailVerification.objects.get(user__email="dana@example.com")
    assert verification.practice == practice
    assert verification.used_at is None
    assert verification.expires_at > timezone.now()
    token = link_in(message).split("token=", 1)[1]
    assert token not in verification.token_hash  # only the hash is stored


def test_before_verification_me_shows_no_client_even_if_a_record_matches(register, practice):
    record = ClientFactory(practice=practice, email="dana@example.com")

    token = register().json()["token"]

    me = bearer(token).get(ME)
    assert me.json()["client"] is None
    record.refresh_from_db()
    assert record.user is None


def test_following_the_link_links_the_existing_client_record(anon, register, practice):
    record = ClientFactory(
        practice=practice, email="Dana@Example.com", first_name="Dana", last_name="R"
    )
    token = register().json()["token"]

    response = confirm(anon, mail.outbox[0], date_of_birth="1980-05-17")

    assert response.status_code == 200
    assert response.json()["email_verified_at"] is not None
    assert bearer(token).get(ME).json()["client"] == record.pk
    record.refresh_from_db()
    assert record.user.email == "dana@example.com"
    assert record.last_name == "R"  # the practice's record is linked, not overwritten
    assert Client.objects.filter(practice=practice).count() == 1


def test_following_the_link_creates_a_client_record_when_none_matches(anon, register, practice):
    token = register().json()["token"]

    response = confirm(anon, mail.outbox[0])

    assert response.status_code == 200
    record = Client.objects.get(practice=practice, user__email="dana@example.com")
    assert (record.first_name, record.last_name) == ("Dana", "Reyes")
    assert record.email == "dana@example.com"
    assert record.phone == "+44 7700 900456"
    assert bearer(token).get(ME).json()["client"] == record.pk


def test_a_record_with_that_email_in_another_practice_is_not_linked(
    anon, register, practice, other_practice
):
    elsewhere = ClientFactory(practice=other_practice, email="dana@example.com")
    register()

    confirm(anon, mail.outbox[0])

    elsewhere.refresh_from_db()
    assert elsewhere.user is None
    assert Client.objects.get(user__email="dana@example.com").practice == practice


def test_a_record_already_linked_to_another_account_is_not_taken_over(
    anon, register, practice, client_member
):
    taken = client_member.user.client
    Client.objects.filter(pk=taken.pk).update(email="dana@example.com")
    register()

    assert confirm(anon, mail.outbox[0]).status_code == 200

    taken.refresh_from_db()
    assert taken.user == client_member.user
    new = Client.objects.get(user__email="dana@example.com")
    assert new.pk != taken.pk


def test_a_verification_link_works_once(anon, register, practice):
    register()
    assert confirm(anon, mail.outbox[0]).status_code == 200

    again = anon.get(link_in(mail.outbox[0]))

    assert again.status_code == 404
    assert again.json()["code"] == "not_found"
    assert Client.objects.filter(user__email="dana@example.com").count() == 1


def test_an_expired_verification_link_is_404_and_links_nothing(anon, register, practice):
    ClientFactory(practice=practice, email="dana@example.com")
    register()
    EmailVerification.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    token = link_in(mail.outbox[0]).split("token=", 1)[1]

    response = anon.post(VERIFY, {"token": token})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert anon.get(link_in(mail.outbox[0])).status_code == 404
    assert User.objects.get(email="dana@example.com").email_verified_at is None
    assert not Client.objects.filter(user__email="dana@example.com").exists()


@pytest.mark.parametrize("query", ["?token=ev_not-a-real-token", "?token=", ""])
def test_an_invalid_verification_token_is_404_json(anon, practice, query):
    response = anon.get(f"{VERIFY}{query}")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"
    assert response.json()["detail"]


def test_the_token_may_be_posted_without_opening_the_link(anon, register, practice):
    register()
    token = link_in(mail.outbox[0]).split("token=", 1)[1]

    response = anon.post(VERIFY, {"token": token})

    assert response.status_code == 200
    assert Client.objects.filter(user__email="dana@example.com").exists()


# --- Issue 13.1: taking over a client's record by registering their email ------------------------


def test_fetching_the_link_changes_nothing(anon, register, practice):
    # A mail scanner prefetching the link used to link the record to the registrant's password.
    record = ClientFactory(practice=practice, email="dana@example.com")
    token = register().json()["token"]

    preview = anon.get(link_in(mail.outbox[0]))

    assert preview.status_code == 200
    assert preview.json()["email"] == "dana@example.com"
    assert preview.json()["confirm_with"] == VERIFY
    assert bearer(token).get(ME).json()["client"] is None
    record.refresh_from_db()
    assert record.user is None
    assert User.objects.get(email="dana@example.com").email_verified_at is None
    assert EmailVerification.objects.get().used_at is None


def test_linking_a_record_with_personal_data_needs_its_date_of_birth(anon, register, practice):
    record = ClientFactory(
        practice=practice, email="dana@example.com", date_of_birth=dt.date(1980, 5, 17)
    )
    token = register().json()["token"]

    without = confirm(anon, mail.outbox[0])
    wrong = confirm(anon, mail.outbox[0], date_of_birth="1980-05-18")

    for response in (without, wrong):
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == ["date_of_birth"]
    record.refresh_from_db()
    assert record.user is None
    assert bearer(token).get(ME).json()["client"] is None
    assert User.objects.get(email="dana@example.com").email_verified_at is None

    right = confirm(anon, mail.outbox[0], date_of_birth="1980-05-17")

    assert right.status_code == 200
    record.refresh_from_db()
    assert record.user.email == "dana@example.com"
    assert bearer(token).get(ME).json()["client"] == record.pk


def test_wrong_dates_of_birth_spend_the_link(anon, register, practice):
    record = ClientFactory(
        practice=practice, email="dana@example.com", date_of_birth=dt.date(1980, 5, 17)
    )
    register()
    token = link_in(mail.outbox[0]).split("token=", 1)[1]
    for day in range(1, 6):
        assert (
            anon.post(VERIFY, {"token": token, "date_of_birth": f"1990-01-0{day}"}).status_code
            == 400
        )

    response = anon.post(VERIFY, {"token": token, "date_of_birth": "1980-05-17"})

    assert response.status_code == 404
    record.refresh_from_db()
    assert record.user is None


def test_a_clinical_record_without_a_date_of_birth_is_linked_only_by_the_practice(
    anon, register, practice
):
    record = ClientFactory(
        practice=practice,
        email="dana@example.com",
        date_of_birth=None,
        health_flags=["osteoporosis"],
    )
    token = register().json()["token"]

    response = confirm(anon, mail.outbox[0], date_of_birth="1980-05-17")

    assert response.status_code == 409
    assert response.json()["code"] == "precondition_failed"
    record.refresh_from_db()
    assert record.user is None
    assert bearer(token).get(ME).json()["client"] is None


def test_unverified_accounts_expire_and_free_their_email(register, practice, settings):
    settings.UNVERIFIED_ACCOUNT_TTL_HOURS = 72
    register()
    User.objects.filter(email="dana@example.com").update(
        date_joined=timezone.now() - timedelta(hours=73)
    )

    expired_login = APIClient().post(
        "/api/v1/auth/token/", {"email": "dana@example.com", "password": "lumbar-support-42"}
    )
    again = register(password="another-long-secret-9")

    assert expired_login.status_code == 400
    assert again.status_code == 201
    assert User.objects.get(email="dana@example.com").check_password("another-long-secret-9")


def test_the_hourly_job_deletes_only_expired_unverified_client_accounts(
    register, practice, owner, client_member
):
    register()
    long_ago = timezone.now() - timedelta(days=30)
    User.objects.update(date_joined=long_ago)

    assert delete_unverified_accounts() == 1
    assert not User.objects.filter(email="dana@example.com").exists()
    assert User.objects.filter(pk__in=[owner.user.pk, client_member.user.pk]).count() == 2
