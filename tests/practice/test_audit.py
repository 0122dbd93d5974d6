"""The access log of clinical records (DOMAIN.md 8 "Audit controls"): who, what, when, where."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.api.views import ClientViewSet
from clients.models import Client, Complaint
from practice.models import AuditEvent
from tests.factories import AuditEventFactory, ClientFactory, ComplaintFactory

AUDIT = "/api/v1/audit-events/"
CLIENTS = "/api/v1/clients/"
COMPLAINTS = "/api/v1/complaints/"
IP = "203.0.113.7"


def events(**filters) -> list[tuple]:
    """(actor, action, record type, record ids, ip) per logged request, oldest first."""
    rows = AuditEvent.objects.filter(**filters).order_by("id")
    return [(e.actor_id, e.action, e.record_type, e.ids, e.ip_address) for e in rows]


def complaint_body(client: Client) -> dict:
    return {
        "client": client.pk,
        "regions": [{"region": "thoracic", "side": "midline"}],
        "onset_date": (timezone.localdate() - dt.timedelta(days=3)).isoformat(),
        "onset_type": "sudden",
        "mechanism": "sport",
        "pain_now": 5,
        "red_flags": {"major_trauma": "yes"},
    }


# --- reads ----------------------------------------------------------------------------------------


def test_reading_a_client_records_who_what_and_where(therapist, practice):
    client = ClientFactory(practice=practice)

    response = therapist.api.get(f"{CLIENTS}{client.pk}/", REMOTE_ADDR=IP)

    assert response.status_code == 200
    assert events() == [(therapist.user.pk, "read", "client", [client.pk], IP)]
    event = AuditEvent.objects.get()
    assert event.practice == practice
    assert abs(event.at - timezone.now()) < dt.timedelta(minutes=1)


def test_behind_a_proxy_the_log_records_the_callers_address_not_the_proxys(
    therapist, practice, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = ClientFactory(practice=practice)

    response = therapist.api.get(
        f"{CLIENTS}{client.pk}/",
        REMOTE_ADDR="10.0.0.2",  # the TLS proxy
        HTTP_X_FORWARDED_FOR=f"198.51.100.1, {IP}",  # a forged first hop, then the real caller
    )

    assert response.status_code == 200
    assert events() == [(therapist.user.pk, "read", "client", [client.pk], IP)]


def test_listing_clients_records_one_read_naming_every_client_shown(owner, practice):
    shown = ClientFactory.create_batch(3, practice=practice)

    response = owner.api.get(CLIENTS, REMOTE_ADDR=IP)

    assert response.status_code == 200
    ((actor, action, record_type, ids, ip),) = events()
    assert (actor, action, record_type, ip) == (owner.user.pk, "read", "client", IP)
    assert sorted(ids) == sorted(client.pk for client in shown)


def test_listing_records_only_the_page_shown(owner, practice):
    ClientFactory.create_batch(5, practice=practice)

    response = owner.api.get(CLIENTS, {"page_size": 2})

    assert response.status_code == 200
    shown = {row["id"] for row in response.json()["results"]}
    assert set(AuditEvent.objects.get().ids) == shown


def test_reading_a_complaint_detail_and_list_is_logged(therapist, practice):
    complaint = ComplaintFactory(client__practice=practice)

    detail = therapist.api.get(f"{COMPLAINTS}{complaint.pk}/", REMOTE_ADDR=IP)
    listed = therapist.api.get(COMPLAINTS, REMOTE_ADDR=IP)

    assert detail.status_code == listed.status_code == 200
    assert events() == [(therapist.user.pk, "read", "complaint", [complaint.pk], IP)] * 2


def test_a_client_reading_their_own_record_is_logged_as_them(client_member):
    own = client_member.user.client

    client_member.api.get(f"{CLIENTS}{own.pk}/")

    assert events() == [(client_member.user.pk, "read", "client", [own.pk], "127.0.0.1")]


def test_front_desk_reads_of_contact_details_are_logged_too(front_desk, practice):
    client = ClientFactory(practice=practice)

    front_desk.api.get(f"{CLIENTS}{client.pk}/")

    assert events(action="read") == [
        (front_desk.user.pk, "read", "client", [client.pk], "127.0.0.1")
    ]


def test_refused_and_missing_reads_write_nothing(front_desk, owner, practice, other_practice):
    complaint = ComplaintFactory(client__practice=practice)
    theirs = ClientFactory(practice=other_practice)

    refused = front_desk.api.get(f"{COMPLAINTS}{complaint.pk}/")
    missing = owner.api.get(f"{CLIENTS}{theirs.pk}/")
    empty = owner.api.get(COMPLAINTS, {"client": theirs.pk})

    assert (refused.status_code, missing.status_code, empty.status_code) == (403, 404, 200)
    assert not AuditEvent.objects.exists()


# --- writes ---------------------------------------------------------------------------------------


def test_creating_and_updating_a_client_are_logged(owner):
    created = owner.api.post(
        CLIENTS, {"first_name": "Ida", "last_name": "Lane"}, format="json", REMOTE_ADDR=IP
    )
    client_id = created.json()["id"]
    updated = owner.api.patch(
        f"{CLIENTS}{client_id}/", {"phone": "+44 1"}, format="json", REMOTE_ADDR=IP
    )

    assert created.status_code == 201
    assert updated.status_code == 200
    assert events() == [
        (owner.user.pk, "create", "client", [client_id], IP),
        (owner.user.pk, "update", "client", [client_id], IP),
    ]


def test_creating_updating_and_clearing_a_complaint_are_logged(therapist, practice):
    client = ClientFactory(practice=practice)

    created = therapist.api.post(COMPLAINTS, complaint_body(client), format="json")
    complaint_id = created.json()["id"]
    updated = therapist.api.patch(f"{COMPLAINTS}{complaint_id}/", {"pain_now": 4}, format="json")
    cleared = therapist.api.post(
        f"{COMPLAINTS}{complaint_id}/clear/", {"note": "Seen by GP."}, format="json"
    )

    assert (created.status_code, updated.status_code, cleared.status_code) == (201, 200, 200)
    assert [(action, record_type) for _, action, record_type, _, _ in events()] == [
        ("create", "complaint"),
        ("update", "complaint"),
        ("update", "complaint"),
    ]
    assert {pk for *_, ids, _ in events() for pk in ids} == {complaint_id}


def test_rejected_writes_are_not_logged(therapist, practice):
    client = ClientFactory(practice=practice)
    body = {**complaint_body(client), "pain_now": 11}

    created = therapist.api.post(COMPLAINTS, body, format="json")
    patched = therapist.api.patch(
        f"{CLIENTS}{client.pk}/", {"health_flags": ["gout"]}, format="json"
    )

    assert created.status_code == patched.status_code == 400
    assert not Complaint.objects.exists()
    assert not AuditEvent.objects.exists()


# --- the owner reads the log ---------------------------------------------------------------------


def test_owner_lists_the_audit_log(owner, therapist, practice):
    client = ClientFactory(practice=practice)
    therapist.api.get(f"{CLIENTS}{client.pk}/", REMOTE_ADDR=IP)

    response = owner.api.get(AUDIT)

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["actor"] == therapist.user.email
    assert row["action"] == "read"
    assert row["record_type"] == "client"
    assert row["record_ids"] == [client.pk]
    assert row["ip_address"] == IP
    assert dt.datetime.fromisoformat(row["at"]).utcoffset() is not None


def test_owner_filters_the_log_by_record_type_and_id(owner, practice):
    AuditEventFactory(practice=practice, record_type="client", record_ids=",1,")
    wanted = AuditEventFactory(practice=practice, record_type="complaint", record_ids=",5,1,")
    AuditEventFactory(practice=practice, record_type="complaint", record_ids=",2,11,")

    response = owner.api.get(AUDIT, {"record_type": "complaint", "record_id": 1})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [wanted.pk]


def test_owner_sees_only_their_practice_log(owner, practice, other_practice):
    AuditEventFactory(practice=other_practice, record_type="client", record_ids=",7,")
    mine = AuditEventFactory(practice=practice, record_type="client", record_ids=",7,")

    response = owner.api.get(AUDIT, {"record_type": "client"})

    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_the_owner_reads_the_audit_log(members, practice, role):
    event = AuditEventFactory(practice=practice)

    listed = members[role].api.get(AUDIT)
    shown = members[role].api.get(f"{AUDIT}{event.pk}/")

    assert listed.status_code == shown.status_code == 403
    assert listed.json()["code"] == "permission_denied"


def test_the_log_cannot_be_changed_through_the_api(owner, practice):
    event = AuditEventFactory(practice=practice, record_ids=",3,")

    patched = owner.api.patch(f"{AUDIT}{event.pk}/", {"record_ids": [4]}, format="json")
    deleted = owner.api.delete(f"{AUDIT}{event.pk}/")
    created = owner.api.post(AUDIT, {"record_type": "client", "record_ids": [1]}, format="json")

    assert patched.status_code == deleted.status_code == created.status_code == 405
    assert events() == [(None, "read", "client", [3], None)]


def test_an_audit_event_cannot_be_updated(practice):
    event = AuditEventFactory(practice=practice, record_ids=",3,")
    event.record_ids = ",4,"

    with pytest.raises(ValueError, match="append-only"):
        event.save()

    assert AuditEvent.objects.get(pk=event.pk).ids == [3]


def test_an_audit_event_cannot_be_deleted(practice):
    event = AuditEventFactory(practice=practice)

    with pytest.raises(ValueError, match="append-only"):
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


# --- cost: one INSERT per response, however many rows it shows -----------------------------------


def test_a_list_of_100_clients_adds_exactly_one_insert(
    owner, practice, monkeypatch, django_assert_num_queries
):
    ClientFactory.create_batch(100, practice=practice)
    url = f"{CLIENTS}?page_size=100"
    with monkeypatch.context() as unaudited:
        unaudited.setattr(ClientViewSet, "audit_as", None)
        with CaptureQueriesContext(connection) as baseline:
            assert len(owner.api.get(url).json()["results"]) == 100
    assert not AuditEvent.objects.exists()

    with django_assert_num_queries(len(baseline) + 1) as audited:
        response = owner.api.get(url)

    assert len(response.json()["results"]) == 100
    inserts = [q["sql"] for q in audited.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert "auditevent" in inserts[0].lower()
    (event,) = AuditEvent.objects.filter(action="read", record_type="client")
    assert len(event.ids) == 100


def test_a_record_id_filter_that_is_not_a_whole_number_is_400(owner):
    # Documented as a number, so the schema fuzzer sent 1.9e245 and got a 400 for its size.
    response = owner.api.get("/api/v1/audit-events/", {"record_id": "1.5"})

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "record_id"
