"""Tenancy and role matrix, generated from the router (API.md "Tenancy and roles").

For every route of `config.urls.router`: another practice's owner never sees a record (404, absent
from lists, untouchable); each role gets exactly what the viewset's `access` table grants, a client
only their own records; a role that may only read cannot change or delete. A new route is covered as
soon as its model has a recipe in `tests/contract/routes.py`.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import Complaint, Consent
from practice.models import Role, Therapist, TimeOff
from tests.contract.routes import ROLES, ROUTES, non_writing_roles, route_params, row
from tests.factories import ClientFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def ids_in(response) -> set:
    return {item["id"] for item in response.json()["results"]}


def assert_forbidden(response) -> None:
    """403 with the contract's error body and nothing else: no record, no list."""
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "permission_denied"
    assert set(body) == {"code", "detail"}


def assert_not_found(response) -> None:
    assert response.status_code == 404, response.content
    body = response.json()
    assert body["code"] == "not_found"
    assert set(body) == {"code", "detail"}


def test_every_routed_model_has_a_recipe():
    from tests.contract.routes import RECIPES

    missing = sorted(
        f"{route.model.__name__} ({route.prefix}/)"
        for route in ROUTES
        if route.model not in RECIPES
    )
    assert not missing, f"add recipes to tests/contract/routes.py for: {', '.join(missing)}"


@pytest.mark.parametrize("route", route_params())
def test_other_practice_owner_cannot_see_or_touch_a_record(route, practice, members, other_owner):
    record = route.make(practice, members, client=ClientFactory(practice=practice))[0]
    before = row(record)

    if route.offers("list"):
        listed = other_owner.api.get(route.list_url(), {"page_size": 100})
        assert listed.status_code == 200, listed.content
        assert record.pk not in ids_in(listed)
    if route.offers("retrieve"):
        assert_not_found(other_owner.api.get(route.detail_url(record)))
    for url in route.extra_detail_reads(record):
        assert_not_found(other_owner.api.get(url))
    if route.offers("partial_update"):
        change = route.a_change(record, practice)
        assert_not_found(other_owner.api.patch(route.detail_url(record), change, format="json"))
    if route.offers("destroy"):
        assert_not_found(other_owner.api.delete(route.detail_url(record)))

    assert row(record) == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", route_params())
def test_role_reads_exactly_what_its_access_table_grants(route, role, practice, members):
    member = members[role]
    own_client = members[Role.CLIENT].user.client
    someone_else = ClientFactory(practice=practice)
    record = route.make(practice, members, client=someone_else)[0]

    if route.mode(role, "list") is None and route.offers("list"):
        assert_forbidden(member.api.get(route.list_url()))
    if route.mode(role, "retrieve") is None and route.offers("retrieve"):
        assert_forbidden(member.api.get(route.detail_url(record)))
    if route.mode(role, "list") is None and route.mode(role, "retrieve") is None:
        return

    if role == Role.CLIENT and route.reaches_a_client:
        # Another client's record is as good as missing; the client's own one is there.
        own_record = route.make(practice, members, client=own_client)[0]
        hidden, visible = [record], [own_record]
    else:
        hidden, visible = [], [record]

    if route.mode(role, "list") is not None and route.offers("list"):
        listed = member.api.get(route.list_url(), {"page_size": 100})
        assert listed.status_code == 200, listed.content
        assert {obj.pk for obj in visible} <= ids_in(listed)
        assert not {obj.pk for obj in hidden} & ids_in(listed)
    if route.mode(role, "retrieve") is not None and route.offers("retrieve"):
        for obj in visible:
            shown = member.api.get(route.detail_url(obj))
            assert shown.status_code == 200, shown.content
            assert shown.json()["id"] == obj.pk
        for obj in hidden:
            assert_not_found(member.api.get(route.detail_url(obj)))


def _record_the_role_can_see(route, role, practice, members):
    """For a client, their own record (so a 403 is about the method, not about visibility)."""
    client = members[Role.CLIENT].user.client if role == Role.CLIENT else None
    return route.make(practice, members, client=client)[0]


@pytest.mark.parametrize(("route", "role"), non_writing_roles("partial_update"))
def test_role_without_write_access_cannot_patch(route, role, practice, members):
    record = _record_the_role_can_see(route, role, practice, members)
    change = route.a_change(record, practice)
    shown_before = members[Role.OWNER].api.get(route.detail_url(record)).json()
    before = row(record)

    response = members[role].api.patch(route.detail_url(record), change, format="json")

    assert_forbidden(response)
    assert row(record) == before
    assert members[Role.OWNER].api.get(route.detail_url(record)).json() == shown_before


@pytest.mark.parametrize(("route", "role"), non_writing_roles("create"))
def test_role_without_write_access_cannot_create(route, role, practice, members):
    count = route.model._default_manager.count()

    # Refused for the role before the body is even read: an empty body is not a 400 here.
    response = members[role].api.post(route.list_url(), {}, format="json")

    assert_forbidden(response)
    assert route.model._default_manager.count() == count


@pytest.mark.parametrize(("route", "role"), non_writing_roles("destroy"))
def test_role_without_write_access_cannot_delete(route, role, practice, members):
    record = _record_the_role_can_see(route, role, practice, members)
    before = row(record)

    response = members[role].api.delete(route.detail_url(record))

    assert_forbidden(response)
    assert row(record) == before


# --- ids of another practice in a body ------------------------------------------------------------


def _complaint_body(client_id: int) -> dict:
    return {
        "client": client_id,
        "regions": [{"region": "lumbar", "side": "left"}],
        "onset_date": (timezone.localdate() - dt.timedelta(days=5)).isoformat(),
        "onset_type": "gradual",
        "mechanism": "lifting",
        "pain_now": 5,
    }


def _consent_body(client_id: int) -> dict:
    return {
        "client": client_id,
        "kind": "general",
        "version": "2026-01",
        "method": "written",
        "signed_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
    }


def _time_off_body(therapist_id: int) -> dict:
    start = timezone.now() + dt.timedelta(days=7)
    return {
        "therapist": therapist_id,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=3)).isoformat(),
        "reason": "Conference",
    }


FOREIGN_IDS = [
    pytest.param(
        "/api/v1/complaints/", "client", _complaint_body, Complaint, id="complaint-client"
    ),
    pytest.param("/api/v1/consents/", "client", _consent_body, Consent, id="consent-client"),
    pytest.param(
        "/api/v1/time-off/", "therapist", _time_off_body, TimeOff, id="time-off-therapist"
    ),
]


@pytest.mark.parametrize(("url", "field", "body", "model"), FOREIGN_IDS)
def test_id_of_another_practice_in_a_body_is_400_naming_the_field(
    url, field, body, model, practice, owner, other_practice, other_owner
):
    ids = {
        "client": (ClientFactory(practice=other_practice).pk, ClientFactory(practice=practice).pk),
        "therapist": (other_owner.user.therapist.pk, owner.user.therapist.pk),
    }
    foreign_id, own_id = ids[field]
    count = model.objects.count()

    response = owner.api.post(url, body(foreign_id), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert model.objects.count() == count
    # The same body with an id of the caller's own practice is accepted: only the id was wrong.
    assert owner.api.post(url, body(own_id), format="json").status_code == 201


def test_service_of_another_practice_cannot_be_given_to_a_therapist(
    practice, owner, other_practice
):
    therapist = Therapist.objects.get(user=owner.user)
    foreign = ServiceFactory(practice=other_practice)
    url = f"/api/v1/therapists/{therapist.pk}/"

    response = owner.api.patch(url, {"services": [foreign.pk]}, format="json")

    assert response.status_code == 400, response.content
    assert [error["field"] for error in response.json()["errors"]] == ["services"]
    assert not therapist.services.exists()
    own = ServiceFactory(practice=practice)
    assert owner.api.patch(url, {"services": [own.pk]}, format="json").status_code == 200
