"""Every 4xx is the contract's error JSON, and a refused request changes nothing (API.md "Errors").

`{"code", "detail"}`, plus `errors: [{"field", "code", "detail"}]` naming the fields of a 400
`invalid`. Each case also checks that the database is exactly as it was before the request.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from practice.auth import issue_token
from practice.models import AuthToken
from tests.contract.routes import ROUTES, route_params
from tests.factories import ClientFactory, WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db

OUR_APPS = ("practice", "clients", "techniques", "scheduling", "records")


def database_state() -> dict[str, list[dict]]:
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for app in OUR_APPS
        for model in apps.get_app_config(app).get_models()
    }


@contextmanager
def database_unchanged():
    before = database_state()
    yield
    after = database_state()
    changed = [label for label in before if before[label] != after[label]]
    assert not changed, f"a refused request changed {', '.join(changed)}"


def assert_error(response, status: int, code: str) -> dict:
    """The contract's error JSON: `code`, `detail`, and for a 400 `invalid` a list of `errors`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if code == "invalid":
        assert set(body) == {"code", "detail", "errors"}
        assert body["errors"]
        for error in body["errors"]:
            assert set(error) == {"field", "code", "detail"}
            assert all(isinstance(value, str) and value for value in error.values())
    else:
        assert set(body) == {"code", "detail"}
    return body


def error_fields(body: dict) -> list[str]:
    return [error["field"] for error in body["errors"]]


# --- bodies the server accepts, and one field at a time made wrong --------------------------------


def _valid_bodies(owner) -> dict[str, dict]:
    client = ClientFactory(practice=owner.user.membership.practice)
    start = timezone.now() + dt.timedelta(days=7)
    return {
        "clients": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
        "complaints": {
            "client": client.pk,
            "regions": [{"region": "lumbar", "side": "left"}],
            "onset_date": (timezone.localdate() - dt.timedelta(days=5)).isoformat(),
            "onset_type": "gradual",
            "mechanism": "lifting",
            "pain_now": 5,
        },
        "services": {"name": "Deep tissue back massage", "duration_minutes": 45},
        "time-off": {
            "therapist": owner.user.therapist.pk,
            "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=3)).isoformat(),
            "reason": "Conference",
        },
        "staff": {
            "email": "new.therapist@north.test",
            "role": "therapist",
            "password": "a-long-enough-passphrase",
        },
    }


@pytest.mark.parametrize("resource", ["clients", "complaints", "services", "time-off", "staff"])
def test_the_valid_bodies_these_cases_start_from_are_accepted(resource, owner):
    response = owner.api.post(f"/api/v1/{resource}/", _valid_bodies(owner)[resource], format="json")
    assert response.status_code == 201, response.content


WRONG_FIELDS = [
    # unknown and server-owned fields
    pytest.param("clients", "practice", 2, id="clients-practice-unknown"),
    pytest.param("clients", "id", 12345, id="clients-id-server-owned"),
    pytest.param("clients", "has_account", True, id="clients-has_account-server-owned"),
    pytest.param("complaints", "status", "resolved", id="complaints-status-server-owned"),
    pytest.param("complaints", "practice", 2, id="complaints-practice-unknown"),
    pytest.param("complaints", "created_by", 1, id="complaints-created_by-server-owned"),
    pytest.param("complaints", "duration_category", "acute", id="complaints-duration-read-only"),
    # naive datetimes
    pytest.param("time-off", "start", "2030-03-01T10:00:00", id="time-off-naive-start"),
    pytest.param("time-off", "end", "2030-03-01T18:00:00", id="time-off-naive-end"),
    # wrong types
    pytest.param("clients", "date_of_birth", "last spring", id="clients-date-not-a-date"),
    pytest.param("clients", "health_flags", "osteoporosis", id="clients-flags-not-a-list"),
    pytest.param("clients", "first_name", {"given": "Ada"}, id="clients-name-an-object"),
    pytest.param("complaints", "pain_now", "a lot", id="complaints-pain-not-a-number"),
    pytest.param("complaints", "regions", {"region": "lumbar"}, id="complaints-regions-not-a-list"),
    pytest.param("complaints", "client", "Ada", id="complaints-client-not-an-id"),
    pytest.param("services", "duration_minutes", "an hour", id="services-duration-not-a-number"),
    pytest.param("services", "online_bookable", "perhaps", id="services-bookable-not-a-bool"),
    # values out of range, unknown choices
    pytest.param("complaints", "onset_type", "eventually", id="complaints-onset-type-unknown"),
    pytest.param("complaints", "mechanism", "dragon", id="complaints-mechanism-unknown"),
    pytest.param("complaints", "pain_now", 11, id="complaints-pain-above-10"),
    pytest.param("complaints", "pain_now", -1, id="complaints-pain-negative"),
    pytest.param("complaints", "red_flags", {"saddle_numbness": "maybe"}, id="red-flag-answer"),
    pytest.param("complaints", "red_flags", {"bad_luck": "yes"}, id="red-flag-question"),
    pytest.param("clients", "health_flags", ["vampirism"], id="clients-flag-unknown"),
    pytest.param("clients", "reminder_channels", ["pigeon"], id="clients-channel-unknown"),
    pytest.param("services", "duration_minutes", 0, id="services-duration-zero"),
    pytest.param("services", "price", -5, id="services-price-negative"),
    pytest.param("staff", "role", "superuser", id="staff-role-unknown"),
    pytest.param("staff", "role", "client", id="staff-role-client"),
    # over-long strings
    pytest.param("clients", "first_name", "A" * 101, id="clients-first-name-too-long"),
    pytest.param("clients", "phone", "1" * 33, id="clients-phone-too-long"),
    pytest.param("complaints", "notes", "n" * 5001, id="complaints-notes-too-long"),
    pytest.param("services", "name", "S" * 121, id="services-name-too-long"),
    pytest.param("time-off", "reason", "r" * 201, id="time-off-reason-too-long"),
]


@pytest.mark.parametrize(("resource", "field", "value"), WRONG_FIELDS)
def test_one_wrong_field_is_400_naming_that_field_and_creates_nothing(
    resource, field, value, owner
):
    body = _valid_bodies(owner)[resource]
    with database_unchanged():
        response = owner.api.post(f"/api/v1/{resource}/", {**body, field: value}, format="json")
    fields = error_fields(assert_error(response, 400, "invalid"))
    assert fields
    assert all(name == field or name.startswith(f"{field}.") for name in fields), fields


@pytest.mark.parametrize(
    ("resource", "missing"),
    [
        ("clients", {"first_name", "last_name"}),
        ("complaints", {"client", "regions", "onset_date", "onset_type", "mechanism", "pain_now"}),
        ("services", {"name", "duration_minutes"}),
        ("time-off", {"therapist", "start", "end"}),
        ("staff", {"email", "role", "password"}),
    ],
)
def test_empty_body_is_400_naming_every_required_field(resource, missing, owner):
    with database_unchanged():
        response = owner.api.post(f"/api/v1/{resource}/", {}, format="json")
    assert set(error_fields(assert_error(response, 400, "invalid"))) == missing


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "resolved"), ("practice", 2), ("created_by", 1), ("client", 1)],
)
def test_patching_a_server_owned_field_of_a_complaint_is_400_and_changes_nothing(
    field, value, owner, practice
):
    from tests.factories import ComplaintFactory

    complaint = ComplaintFactory(client=ClientFactory(practice=practice))
    with database_unchanged():
        response = owner.api.patch(
            f"/api/v1/complaints/{complaint.pk}/", {field: value}, format="json"
        )
    assert error_fields(assert_error(response, 400, "invalid")) == [field]


def test_patching_practice_of_a_client_is_400_and_changes_nothing(owner, practice, other_practice):
    client = ClientFactory(practice=practice)
    with database_unchanged():
        response = owner.api.patch(
            f"/api/v1/clients/{client.pk}/", {"practice": other_practice.pk}, format="json"
        )
    assert error_fields(assert_error(response, 400, "invalid")) == ["practice"]


# --- bodies that are not JSON objects -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param('{"first_name": "Ada", ', id="truncated"),
        pytest.param("{'first_name': 'Ada'}", id="single-quotes"),
        pytest.param("", id="empty-with-json-type"),
        pytest.param("\xff\xfe", id="not-utf8"),
    ],
)
def test_malformed_json_is_400_invalid(raw, owner):
    data = raw.encode("latin-1")
    with database_unchanged():
        response = owner.api.post("/api/v1/clients/", data, content_type="application/json")
    assert_error(response, 400, "invalid")


@pytest.mark.parametrize("raw", ["[1, 2]", '"Ada"', "42", "null"])
def test_json_that_is_not_an_object_is_400_invalid(raw, owner):
    with database_unchanged():
        response = owner.api.post("/api/v1/clients/", raw, content_type="application/json")
    assert_error(response, 400, "invalid")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml"],
)
def test_body_that_is_not_json_is_415_unsupported_media_type(content_type, owner):
    with database_unchanged():
        response = owner.api.post(
            "/api/v1/clients/", "first_name=Ada&last_name=Lovelace", content_type=content_type
        )
    assert_error(response, 415, "unsupported_media_type")


def test_body_over_256_kib_is_413(owner):
    big = '{"first_name": "Ada", "last_name": "%s"}' % ("L" * (256 * 1024))
    with database_unchanged():
        response = owner.api.post("/api/v1/clients/", big, content_type="application/json")
    assert response.status_code == 413, response.content
    assert set(response.json()) == {"code", "detail"}


def test_body_just_under_the_limit_is_parsed_and_judged_on_its_fields(owner):
    long = '{"first_name": "Ada", "last_name": "%s"}' % ("L" * (255 * 1024))
    with database_unchanged():
        response = owner.api.post("/api/v1/clients/", long, content_type="application/json")
    assert error_fields(assert_error(response, 400, "invalid")) == ["last_name"]


# --- URLs and methods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/api/v1/no-such-thing/", "/api/v1/clients/1/no-such-action/", "/api/v1/x.php"],
)
def test_unknown_url_under_the_api_is_404_json_with_or_without_login(url, owner, anon):
    assert_error(owner.api.get(url), 404, "not_found")
    assert_error(anon.get(url), 404, "not_found")


@pytest.mark.parametrize("url", ["/api/v1/clients/not-a-number/", "/api/v1/clients/99999999/"])
def test_unknown_record_is_404_json(url, owner):
    assert_error(owner.api.get(url), 404, "not_found")


def test_method_an_endpoint_does_not_offer_is_405_json(owner, practice):
    client = ClientFactory(practice=practice)
    with database_unchanged():
        delete = owner.api.delete(f"/api/v1/clients/{client.pk}/")
        put = owner.api.put(f"/api/v1/clients/{client.pk}/", {"first_name": "X"}, format="json")
        post = owner.api.post("/api/v1/audit-events/", {}, format="json")
    for response in (delete, put, post):
        assert_error(response, 405, "method_not_allowed")


# --- authentication -------------------------------------------------------------------------------


def test_no_token_is_401_not_authenticated(anon):
    with database_unchanged():
        response = anon.post("/api/v1/clients/", {"first_name": "A", "last_name": "B"})
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_error(anon.get("/api/v1/clients/"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer bct_not-a-real-token", id="garbage"),
        pytest.param("Bearer", id="keyword-only"),
        pytest.param("Bearer two parts", id="too-many-parts"),
        pytest.param("Basic b3duZXJAbm9ydGgudGVzdDpwYXNz", id="other-scheme"),
    ],
)
def test_unusable_authorization_header_is_401(header, owner):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    with database_unchanged():
        response = api.get("/api/v1/clients/")
    assert_error(response, 401, "not_authenticated")


def test_expired_token_is_401(owner):
    token = issue_token(owner.user)
    AuthToken.objects.filter(user=owner.user).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error(api.get("/api/v1/clients/"), 401, "not_authenticated")


def test_revoked_token_is_401(owner):
    assert owner.api.post("/api/v1/auth/logout/").status_code == 204
    assert_error(owner.api.get("/api/v1/clients/"), 401, "not_authenticated")


def test_token_of_a_deactivated_account_is_401(owner, therapist):
    therapist.user.is_active = False
    therapist.user.save(update_fields=["is_active"])
    assert_error(therapist.api.get("/api/v1/clients/"), 401, "not_authenticated")


# --- pagination -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", ["0", "101", "-1", "ten", "1.5"])
def test_page_size_outside_1_to_100_is_400_naming_page_size(page_size, owner):
    response = owner.api.get("/api/v1/clients/", {"page_size": page_size})
    assert error_fields(assert_error(response, 400, "invalid")) == ["page_size"]


@pytest.mark.parametrize("page_size", ["0", "101"])
@pytest.mark.parametrize("route", route_params([r for r in ROUTES if r.offers("list")]))
def test_every_list_refuses_a_page_size_outside_1_to_100(route, page_size, owner):
    response = owner.api.get(route.list_url(), {"page_size": page_size})
    assert error_fields(assert_error(response, 400, "invalid")) == ["page_size"]


@pytest.mark.parametrize("page_size", ["1", "100"])
def test_page_size_at_the_bounds_is_accepted(page_size, owner, practice):
    ClientFactory.create_batch(3, practice=practice)
    response = owner.api.get("/api/v1/clients/", {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(int(page_size), 3)


# --- paging limits (API.md "Paging limits", issue 14.2) ------------------------------------------

LISTS = [r for r in ROUTES if r.offers("list")]
HUGE = "9" * 30  # beyond a 64-bit integer: was "bigint out of range" (500) on PostgreSQL
PAGE_SIZES = ["0", "-1", "101", "ten", "1.5", HUGE, "9" * 5000, "1e3", ""]


def _is_cursor_paged(route) -> bool:
    paginator = getattr(route.viewset, "pagination_class", None)
    return paginator is not None and hasattr(paginator, "cursor_query_param")


def _assert_refused(response) -> None:
    """400 or 404 in the error shape, never a 500 nor a 409."""
    assert response.status_code in (400, 404), (response.status_code, response.content[:300])
    body = response.json()
    assert body["code"] == ("invalid" if response.status_code == 400 else "not_found")
    assert body["detail"]


@pytest.mark.parametrize("page_size", PAGE_SIZES, ids=lambda v: v[:12] or "empty")
@pytest.mark.parametrize("route", route_params(LISTS))
def test_every_list_refuses_an_invalid_or_huge_page_size_in_the_error_shape(
    route, page_size, owner
):
    _assert_refused(owner.api.get(route.list_url(), {"page_size": page_size}))


@pytest.mark.parametrize(
    "page",
    ["0", "-1", "two", "1.5", HUGE, "9" * 5000, str(2**63), str(2**62), "99999", ""],
    ids=lambda v: v[:12] or "empty",
)
@pytest.mark.parametrize("route", route_params([r for r in LISTS if not _is_cursor_paged(r)]))
def test_every_paged_list_refuses_an_invalid_huge_or_past_the_end_page(
    route, page, owner, practice, members
):
    route.make(practice, members)

    _assert_refused(owner.api.get(route.list_url(), {"page": page, "page_size": "100"}))


@pytest.mark.parametrize("route", route_params([r for r in LISTS if not _is_cursor_paged(r)]))
def test_page_one_of_an_empty_list_is_an_empty_page_not_a_404(route, owner, practice):
    response = owner.api.get(route.list_url(), {"page": "1"})

    assert response.status_code in (200, 403), response.content  # 403: not the owner's list


CURSORS = [
    "garbage",
    "%%%",
    "cD05OTk5LTk5LTk5",  # p=9999-99-99
    "bz05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5JnA9MjAyNi0wMS0wMQ==",  # o=huge&p=2026-01-01
    "cj0xJnA9MjAyNi0wMS0wMVQwMDowMDowMCUyQjAwOjAw",  # r=1&p=2026-01-01T00:00:00+00:00
    "bz0tMSZwPTA=",  # o=-1&p=0
    "cD0lMDA=",  # p=NUL
    "A" * 5000,
]


@pytest.mark.parametrize("cursor", CURSORS, ids=lambda v: v[:12])
@pytest.mark.parametrize("route", route_params([r for r in LISTS if _is_cursor_paged(r)]))
def test_every_cursor_list_refuses_an_invalid_or_huge_cursor(
    route, cursor, owner, practice, members
):
    route.make(practice, members)

    response = owner.api.get(route.list_url(), {"cursor": cursor})

    if response.status_code == 200:  # a cursor that decodes to a real position is a fine page
        assert "results" in response.json()
    else:
        _assert_refused(response)


@pytest.mark.parametrize("page", [HUGE, "99999", "0"], ids=["huge", "past-the-end", "zero"])
def test_lists_outside_the_router_refuse_a_huge_or_past_the_end_page(page, owner, practice):
    client = ClientFactory(practice=practice)
    subscription = WebhookSubscriptionFactory(practice=practice)

    for url in (
        f"/api/v1/webhooks/{subscription.pk}/deliveries/",
        f"/api/v1/clients/{client.pk}/access-log/",
    ):
        _assert_refused(owner.api.get(url, {"page": page}))
        assert owner.api.get(url).status_code == 200
