"""`clients/{id}/access-log/`: for the owner, every read, write and export of one client's records
by anyone (DOMAIN.md 8 "Audit controls": who, what record, read/write/export, when, from where)."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from practice.auth import hash_secret
from practice.models import AuditEvent
from tests.factories import ApiKeyFactory, ClientFactory, ComplaintFactory


def log_url(client) -> str:
    return f"/api/v1/clients/{client.pk}/access-log/"


def test_the_log_shows_reads_writes_and_exports_by_every_member_and_api_keys(
    owner, therapist, front_desk, client_member, practice
):
    client = ClientFactory(practice=practice)
    bystander = ClientFactory(practice=practice)
    complaint = ComplaintFactory(client=client)
    ComplaintFactory(client=bystander)
    key = ApiKeyFactory(practice=practice, key_hash=hash_secret("bck_secret"))
    integration = APIClient()
    integration.credentials(HTTP_AUTHORIZATION="Bearer bck_secret")

    therapist.api.get(f"/api/v1/complaints/{complaint.pk}/", REMOTE_ADDR="203.0.113.9")
    therapist.api.patch(f"/api/v1/complaints/{complaint.pk}/", {"pain_now": 3}, format="json")
    front_desk.api.get("/api/v1/clients/", REMOTE_ADDR="203.0.113.10")  # a page naming both
    integration.get(f"/api/v1/clients/{client.pk}/")
    owner.api.get(f"/api/v1/clients/{client.pk}/export/")
    therapist.api.get(f"/api/v1/complaints/{ComplaintFactory(client=bystander).pk}/")

    response = owner.api.get(log_url(client))

    assert response.status_code == 200
    rows = response.json()["results"]
    seen = [(r["actor"], r["role"], r["api_key"], r["action"], r["record_type"]) for r in rows]
    assert seen == [
        ("owner@north.test", "owner", None, "export", "client"),
        (None, "api_key", f"bck_test… ({key.name})", "read", "client"),
        ("desk@north.test", "front_desk", None, "read", "client"),
        ("therapist@north.test", "therapist", None, "update", "complaint"),
        ("therapist@north.test", "therapist", None, "read", "complaint"),
    ]
    assert rows[-1]["record_ids"] == [complaint.pk]
    assert rows[-1]["ip_address"] == "203.0.113.9"
    assert rows[2]["ip_address"] == "203.0.113.10"
    assert set(rows[2]["record_ids"]) >= {client.pk, bystander.pk}
    assert all(dt.datetime.fromisoformat(r["at"]).utcoffset() is not None for r in rows)


def test_single_client_events_use_the_indexed_column(therapist, practice):
    client = ClientFactory(practice=practice)
    complaint = ComplaintFactory(client=client)
    therapist.api.get(f"/api/v1/complaints/{complaint.pk}/")
    (event,) = AuditEvent.objects.all()
    assert (event.client_id, event.client_ids) == (client.pk, f",{client.pk},")


def test_the_log_is_paginated(owner, practice):
    client = ClientFactory(practice=practice)
    for _ in range(3):
        owner.api.get(f"/api/v1/clients/{client.pk}/")
    page = owner.api.get(log_url(client), {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert page["next"]


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_the_owner_reads_a_clients_access_log(members, practice, role):
    client = members["client"].user.client
    members["owner"].api.get(f"/api/v1/clients/{client.pk}/")
    response = members[role].api.get(log_url(client))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_another_practices_owner_gets_404(other_owner, owner, practice):
    client = ClientFactory(practice=practice)
    owner.api.get(f"/api/v1/clients/{client.pk}/")
    response = other_owner.api.get(log_url(client))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
