"""OWASP API1:2023 Broken Object Level Authorization.

Every lookup of a record by id goes through `practice.tenancy.scope`: another practice's record,
or (for a client) another client's, behaves exactly like one that does not exist (404
`not_found`), whatever the operation. The CRUD part of the matrix is tests/contract/
test_tenancy_matrix.py; this module extends it, generated the same way from the router, to every
detail *action* (cancel/, reschedule/, check-in/, sign/, amendments/, withdraw/, clear/,
progress/, working-hours/, redeliver/, ...) and to the detail routes outside the router (export/,
progress.svg, erasure/, legal-hold/, access-log/): another practice's owner gets 404 and the
record is unchanged. A new detail action is covered as soon as it is registered.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from practice.filters import FilterBackend, PracticeFilterSet
from practice.models import Role, User
from tests.contract.routes import RECIPES, ROUTES, row
from tests.factories import ClientFactory, ComplaintFactory

pytestmark = pytest.mark.django_db


def detail_actions() -> list:
    return [
        pytest.param(route, extra.url_name, method, id=f"{route.prefix}-{extra.url_name}-{method}")
        for route in ROUTES
        for extra in route.viewset.get_extra_actions()
        if extra.detail
        for method in sorted(extra.mapping)
    ]


def valid_body(url_name: str) -> dict:
    """A body the action would accept, so that only the record's visibility can refuse it."""
    later = (timezone.now() + timedelta(days=5)).replace(microsecond=0).isoformat()
    return {
        "clear": {"note": "Cleared after GP review."},
        "reschedule": {"start": later},
        "amendments": {"text": "Correction."},
        "cancel": {"reason": "Ill"},
    }.get(url_name, {})


def action_url(route, url_name: str, obj) -> str:
    name = f"{route.basename}-{url_name}"
    try:
        return reverse(name, args=[obj.pk])
    except NoReverseMatch:  # a nested id too (webhooks/{id}/deliveries/{delivery_id}/redeliver/)
        return reverse(name, args=[obj.pk, 1])


def assert_not_found(response) -> None:
    assert response.status_code == 404, (response.status_code, response.content)
    assert response.json()["code"] == "not_found"


def test_the_walk_finds_the_actions_of_the_issue():
    names = {p.values[1] for p in detail_actions()}
    assert {"cancel", "reschedule", "check-in", "sign", "amendments", "redeliver"} <= names


@pytest.mark.parametrize(("route", "url_name", "method"), detail_actions())
def test_another_practices_owner_gets_404_from_every_detail_action(
    route, url_name, method, practice, members, other_owner
):
    record = route.make(practice, members, client=ClientFactory(practice=practice))[0]
    before = row(record)

    call = getattr(other_owner.api, method)
    url = action_url(route, url_name, record)
    response = call(url) if method == "get" else call(url, valid_body(url_name), format="json")

    assert_not_found(response)
    assert row(record) == before


@pytest.mark.parametrize(("route", "url_name", "method"), detail_actions())
def test_a_client_gets_404_from_actions_on_another_clients_record(
    route, url_name, method, practice, members
):
    if not route.reaches_a_client or route.mode(Role.CLIENT, "retrieve") is None:
        pytest.skip("clients have no access to this route at all (API5 covers the 403)")
    record = route.make(practice, members, client=ClientFactory(practice=practice))[0]
    before = row(record)

    call = getattr(members[Role.CLIENT].api, method)
    url = action_url(route, url_name, record)
    response = call(url) if method == "get" else call(url, valid_body(url_name), format="json")

    assert response.status_code in (403, 404), response.content
    if response.status_code == 404:
        assert_not_found(response)
    assert row(record) == before


CLIENT_ROUTES = [
    ("get", "/api/v1/clients/{}/export/"),
    ("post", "/api/v1/clients/{}/erasure/"),
    ("post", "/api/v1/clients/{}/legal-hold/"),
    ("get", "/api/v1/clients/{}/access-log/"),
]


@pytest.mark.parametrize(("method", "path"), CLIENT_ROUTES)
def test_another_practices_client_is_404_on_routes_outside_the_router(
    method, path, practice, other_owner
):
    client = ClientFactory(practice=practice)
    before = row(client)

    call = getattr(other_owner.api, method)
    url = path.format(client.pk)
    response = (
        call(url)
        if method == "get"
        else call(url, {"reason": "x", "legal_hold": True}, format="json")
    )

    assert_not_found(response)
    assert row(client) == before


@pytest.mark.parametrize("suffix", ["progress/", "progress.svg"])
def test_another_practices_complaint_progress_is_404(suffix, practice, other_owner):
    complaint = ComplaintFactory(client=ClientFactory(practice=practice))

    assert_not_found(other_owner.api.get(f"/api/v1/complaints/{complaint.pk}/{suffix}"))


def test_a_client_cannot_export_another_clients_record(practice, members):
    other = ClientFactory(practice=practice)

    assert_not_found(members[Role.CLIENT].api.get(f"/api/v1/clients/{other.pk}/export/"))
    own = members[Role.CLIENT].user.client
    assert members[Role.CLIENT].api.get(f"/api/v1/clients/{own.pk}/export/").status_code == 200


def test_ids_are_not_a_hint_an_unknown_id_and_a_foreign_one_answer_alike(practice, other_owner):
    foreign = ClientFactory(practice=practice)
    unknown = other_owner.api.get("/api/v1/clients/987654321/")
    hidden = other_owner.api.get(f"/api/v1/clients/{foreign.pk}/")

    assert unknown.status_code == hidden.status_code == 404
    assert unknown.json() == hidden.json()


# --- Filters never tell which ids exist elsewhere (issue 13.8) -----------------------------------


def related_id_filters() -> list:
    """Every filter of every list route that names a related row by id."""
    params = []
    for route in ROUTES:
        if not route.offers("list"):
            continue
        filterset_class = FilterBackend().get_filterset_class(route.viewset(), route.model.objects)
        if filterset_class is None:
            continue
        for name, declared in filterset_class.base_filters.items():
            field = (
                route.model._meta.get_field(declared.field_name) if not declared.method else None
            )
            if field is not None and field.is_relation and declared.lookup_expr == "exact":
                params.append(
                    pytest.param(route, name, field.related_model, id=f"{route.prefix}-{name}")
                )
    return params


def test_every_list_route_filters_through_the_practice_filterset():
    for route in ROUTES:
        if route.offers("list"):
            built = FilterBackend().get_filterset_class(route.viewset(), route.model.objects)
            assert built is None or issubclass(built, PracticeFilterSet), route.prefix


@pytest.mark.parametrize(("route", "name", "related"), related_id_filters())
def test_filter_answers_alike_for_another_practices_id_and_an_unknown_one(
    route, name, related, practice, members, other_owner
):
    if related is User:
        existing = members[Role.OWNER].user
    else:
        existing = RECIPES[related](
            practice, members, client=ClientFactory(practice=practice), size=1
        )[0]
    unknown = related.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    foreign = other_owner.api.get(route.list_url(), {name: existing.pk})
    missing = other_owner.api.get(route.list_url(), {name: unknown})

    assert foreign.status_code == missing.status_code == 200, (foreign.content, missing.content)
    assert foreign.json() == missing.json()


@pytest.mark.parametrize("value", ["99999999999999999999999", "0", "-1", "1.5", "x"])
def test_an_id_filter_out_of_range_is_a_400_not_a_500(owner, value):
    response = owner.api.get("/api/v1/appointments/", {"client": value})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
