"""`me/export/`: a client's own record from their account, the same FHIR R4 Bundle as
`clients/{id}/export/` (DOMAIN.md 8 "Right of access"), only theirs, and every export logged."""

from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle

from practice.models import AuditEvent
from tests.factories import ClientFactory, ComplaintFactory, NoteFactory

ME_EXPORT = "/api/v1/me/export/"


def test_a_client_exports_their_own_record_as_a_valid_bundle(client_member, practice):
    own = client_member.user.client
    ComplaintFactory(client=own)
    other = ClientFactory(practice=practice)
    ComplaintFactory(client=other)

    response = client_member.api.get(ME_EXPORT, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 200, response.content
    bundle = response.json()
    Bundle.model_validate(bundle)
    patients = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert [p["id"] for p in patients] == [str(own.pk)]
    conditions = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
    ]
    assert len(conditions) == 1
    assert all(c["subject"]["reference"] == f"Patient/{own.pk}" for c in conditions)
    (event,) = AuditEvent.objects.filter(action="export")
    assert (event.actor_id, event.client_id, event.ids, event.ip_address) == (
        client_member.user.pk,
        own.pk,
        [own.pk],
        "198.51.100.4",
    )


def test_self_export_is_the_same_bundle_the_practice_exports(client_member, owner):
    own = client_member.user.client
    ComplaintFactory(client=own)
    mine = client_member.api.get(ME_EXPORT).json()
    staff = client_member.api.get(f"/api/v1/clients/{own.pk}/export/").json()
    for bundle in (mine, staff):
        bundle.pop("timestamp", None)
        bundle.pop("id", None)
    assert mine == staff
    assert AuditEvent.objects.filter(action="export", client_id=own.pk).count() == 2


def test_a_client_does_not_see_unshared_notes_in_their_export(client_member):
    own = client_member.user.client
    NoteFactory(client=own)  # unsigned, not shared
    bundle = client_member.api.get(ME_EXPORT).json()
    assert not [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Composition"]


def test_staff_have_no_own_export(owner, therapist, front_desk):
    for member in (owner, therapist, front_desk):
        assert member.api.get(ME_EXPORT).status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


def test_export_needs_a_login(anon):
    assert anon.get(ME_EXPORT).status_code == 401
