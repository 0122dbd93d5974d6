"""OWASP API3:2023 Broken Object Property Level Authorization.

Writes: every serializer is strict (`practice.api.base`): a field the caller may not write (unknown,
read-only, server-owned like `practice`, `id`, `created_at`, or hidden from their role) is a 400
`invalid` naming it, and nothing is written (no mass assignment). Reads: fields follow the role
(`hidden_fields`): front desk never sees health flags or any clinical content, an API key sees
contact details only, and the public manage link shows the booking alone.
"""

from __future__ import annotations

import pytest

from practice.models import Role
from tests.contract.routes import ROUTES, route_params, row
from tests.factories import AppointmentFactory, ClientFactory

pytestmark = pytest.mark.django_db

SERVER_OWNED = ["practice", "id", "created_at", "author", "created_by", "signed_at"]


def writable(action: str) -> list:
    return route_params([r for r in ROUTES if r.offers(action) and r.mode(Role.OWNER, action)])


@pytest.mark.parametrize("field", SERVER_OWNED)
@pytest.mark.parametrize("route", writable("partial_update"))
def test_patching_a_server_owned_field_is_400_and_changes_nothing(
    route, field, practice, members, other_practice
):
    record = route.make(practice, members)[0]
    before = row(record)

    response = members[Role.OWNER].api.patch(
        route.detail_url(record), {field: other_practice.pk}, format="json"
    )

    assert response.status_code == 400, (response.status_code, response.content)
    assert field in {e["field"] for e in response.json()["errors"]}
    assert row(record) == before


@pytest.mark.parametrize("route", writable("create"))
def test_creating_with_an_unknown_field_is_400_naming_it(route, practice, owner):
    count = route.model._default_manager.count()

    response = owner.api.post(route.list_url(), {"is_admin": True}, format="json")

    assert response.status_code == 400
    assert "is_admin" in {e["field"] for e in response.json()["errors"]}
    assert route.model._default_manager.count() == count


FRONT_DESK_NEVER_SEES = {"health_flags", "health_flag_regions"}


def test_front_desk_never_reads_health_flags(practice, front_desk):
    client = ClientFactory(practice=practice, health_flags=["osteoporosis"])

    listed = front_desk.api.get("/api/v1/clients/").json()["results"]
    shown = front_desk.api.get(f"/api/v1/clients/{client.pk}/").json()

    assert listed
    for body in [*listed, shown]:
        assert not FRONT_DESK_NEVER_SEES & set(body)
    assert "osteoporosis" not in str(listed) + str(shown)


def test_front_desk_cannot_write_health_flags(practice, front_desk):
    client = ClientFactory(practice=practice, health_flags=[])

    response = front_desk.api.patch(
        f"/api/v1/clients/{client.pk}/", {"health_flags": ["pregnancy"]}, format="json"
    )

    assert response.status_code == 400
    client.refresh_from_db()
    assert client.health_flags == []


def test_front_desk_sees_appointments_without_clinical_content(practice, front_desk):
    client = ClientFactory(practice=practice, health_flags=["osteoporosis"])
    AppointmentFactory(client=client)

    body = front_desk.api.get("/api/v1/appointments/").content.decode()

    assert "osteoporosis" not in body
    assert "health_flags" not in body


def test_a_client_cannot_change_their_own_health_flags_or_name(practice, client_member):
    own = client_member.user.client
    flags_before = list(own.health_flags)

    for field, value in [("health_flags", ["pregnancy"]), ("last_name", "Other")]:
        response = client_member.api.patch(
            f"/api/v1/clients/{own.pk}/", {field: value}, format="json"
        )
        assert response.status_code == 400, field
    own.refresh_from_db()
    assert own.health_flags == flags_before
    assert own.last_name != "Other"


def test_an_api_key_reads_contact_details_only(practice, owner):
    ClientFactory(practice=practice, health_flags=["osteoporosis"])
    from rest_framework.test import APIClient

    key = owner.api.post("/api/v1/api-keys/", {"name": "Site"}, format="json").json()["key"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    rows = api.get("/api/v1/clients/").json()["results"]

    assert rows
    assert all(not {"health_flags", "date_of_birth", "health_flag_regions"} & set(r) for r in rows)


# --- Identity fields are never writable without proof (issue 13.2) ------------------------------
# A client who set their record's email to a victim's was matched to the victim's public bookings.
# Generated over the router: wherever a client may PATCH a record of theirs, an identity field
# (the email the practice matches people by) is refused; the account's email changes only through
# `me/email/`, once the new address is proven.

IDENTITY_FIELDS = ["email"]


def client_writable() -> list:
    return route_params(
        [
            r
            for r in ROUTES
            if r.offers("partial_update")
            and r.mode(Role.CLIENT, "partial_update")
            and any(f.name in IDENTITY_FIELDS for f in r.model._meta.get_fields())
        ]
    )


@pytest.mark.parametrize("field", IDENTITY_FIELDS)
@pytest.mark.parametrize("route", client_writable())
def test_a_client_cannot_write_an_identity_field(route, field, practice, members, client_member):
    own = client_member.user.client
    record = own if route.model is type(own) else route.make(practice, members, client=own)[0]
    before = row(record)

    response = client_member.api.patch(
        route.detail_url(record), {field: "victim@example.com"}, format="json"
    )

    assert response.status_code == 400, (response.status_code, response.content)
    assert field in {e["field"] for e in response.json()["errors"]}
    assert row(record) == before


def test_the_routes_above_are_not_empty():
    assert client_writable(), "the client record route must be covered"
