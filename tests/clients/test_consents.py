"""Consent as a record, not a checkbox (DOMAIN.md 4 "Consent")."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import Consent
from tests.factories import ClientFactory, ConsentFactory

CONSENTS = "/api/v1/consents/"


def detail(consent: Consent | int) -> str:
    return f"{CONSENTS}{getattr(consent, 'pk', consent)}/"


def withdraw_url(consent: Consent) -> str:
    return f"{detail(consent)}withdraw/"


def consent_body(client, **overrides) -> dict:
    return {
        "client": client.pk,
        "kind": "general",
        "version": "2026-01",
        "method": "written",
        "signed_at": (timezone.now() - dt.timedelta(minutes=5)).isoformat(),
        **overrides,
    }


def error_fields(response) -> set[str]:
    return {error["field"].split(".")[0] for error in response.json()["errors"]}


@pytest.fixture
def client_record(practice):
    return ClientFactory(practice=practice)


# --- recording consent ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "therapist"])
def test_clinician_records_a_general_consent_and_is_its_witness(
    members, practice, client_record, role
):
    member = members[role]

    response = member.api.post(CONSENTS, consent_body(client_record), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "general"
    assert body["witnessed_by"] == member.user.pk
    assert body["withdrawn_at"] is None
    consent = Consent.objects.get(pk=body["id"])
    assert consent.practice == practice
    assert consent.client == client_record
    assert consent.witnessed_by == member.user
    assert consent.version == "2026-01"
    assert consent.method == "written"


def test_sensitive_area_consent_records_its_areas(therapist, client_record):
    body = consent_body(
        client_record, kind="sensitive_area", areas=["gluteal", "inner_thigh"], method="verbal"
    )

    response = therapist.api.post(CONSENTS, body, format="json")

    assert response.status_code == 201, response.content
    consent = Consent.objects.get(pk=response.json()["id"])
    assert consent.kind == "sensitive_area"
    assert consent.areas == ["gluteal", "inner_thigh"]
    assert response.json()["areas"] == ["gluteal", "inner_thigh"]


@pytest.mark.parametrize("areas", [None, []])
def test_sensitive_area_consent_without_areas_is_400(therapist, client_record, areas):
    body = consent_body(client_record, kind="sensitive_area")
    if areas is not None:
        body["areas"] = areas

    response = therapist.api.post(CONSENTS, body, format="json")

    assert response.status_code == 400
    assert "areas" in error_fields(response)
    assert not Consent.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "sensitive_area", "areas": ["elbow"]}, "areas"),
        ({"kind": "sensitive_area", "areas": ["gluteal", "gluteal"]}, "areas"),
        ({"kind": "everything"}, "kind"),
        ({"method": "telepathy"}, "method"),
        ({"signed_at": "2026-01-10T10:00:00"}, "signed_at"),  # naive
        ({"version": ""}, "version"),
    ],
)
def test_invalid_consent_is_400_and_nothing_is_recorded(therapist, client_record, overrides, field):
    response = therapist.api.post(CONSENTS, consent_body(client_record, **overrides), format="json")

    assert response.status_code == 400
    assert field in error_fields(response)
    assert not Consent.objects.exists()


def test_consent_signed_in_the_future_is_400(therapist, client_record):
    later = (timezone.now() + dt.timedelta(days=1)).isoformat()

    response = therapist.api.post(
        CONSENTS, consent_body(client_record, signed_at=later), format="json"
    )

    assert response.status_code == 400
    assert "signed_at" in error_fields(response)
    assert not Consent.objects.exists()


@pytest.mark.parametrize(
    "extra", [{"witnessed_by": 1}, {"withdrawn_at": "2026-01-01T00:00:00+00:00"}, {"practice": 1}]
)
def test_server_owned_consent_fields_in_a_body_are_400(therapist, client_record, extra):
    response = therapist.api.post(CONSENTS, consent_body(client_record, **extra), format="json")

    assert response.status_code == 400
    assert set(extra) <= error_fields(response)
    assert not Consent.objects.exists()


def test_consent_for_another_practice_client_is_400(therapist, other_practice):
    stranger = ClientFactory(practice=other_practice)

    response = therapist.api.post(CONSENTS, consent_body(stranger), format="json")

    assert response.status_code == 400
    assert "client" in error_fields(response)
    assert not Consent.objects.exists()


def test_consents_are_filtered_by_client(therapist, practice, client_record):
    mine = ConsentFactory(client=client_record)
    ConsentFactory(client__practice=practice)

    response = therapist.api.get(CONSENTS, {"client": client_record.pk})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_another_practice_consent_is_404(owner, other_practice):
    theirs = ConsentFactory(client__practice=other_practice)

    assert owner.api.get(detail(theirs)).status_code == 404
    assert owner.api.post(withdraw_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.withdrawn_at is None


# --- withdrawal ---------------------------------------------------------------------------------


def test_therapist_withdraws_a_consent_once(therapist, client_record):
    consent = ConsentFactory(client=client_record)

    response = therapist.api.post(withdraw_url(consent))

    assert response.status_code == 200, response.content
    assert response.json()["withdrawn_at"] is not None
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None


def test_withdrawing_a_second_time_is_409_and_keeps_the_first_time(therapist, client_record):
    consent = ConsentFactory(client=client_record)
    therapist.api.post(withdraw_url(consent))
    consent.refresh_from_db()
    first = consent.withdrawn_at

    response = therapist.api.post(withdraw_url(consent))

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    consent.refresh_from_db()
    assert consent.withdrawn_at == first


def test_consents_are_not_edited_or_deleted(therapist, client_record):
    consent = ConsentFactory(client=client_record, version="2026-01")

    patched = therapist.api.patch(detail(consent), {"version": "2027-01"}, format="json")
    deleted = therapist.api.delete(detail(consent))

    assert patched.status_code == deleted.status_code == 405
    consent.refresh_from_db()
    assert consent.version == "2026-01"


# --- the client and the front desk ---------------------------------------------------------------


def test_client_reads_only_their_own_consents(client_member, practice):
    own = ConsentFactory(client=client_member.user.client)
    neighbours = ConsentFactory(client__practice=practice)

    listed = client_member.api.get(CONSENTS)

    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [own.pk]
    assert client_member.api.get(detail(own)).status_code == 200
    assert client_member.api.get(detail(neighbours)).status_code == 404


def test_client_withdraws_their_own_consent(client_member):
    own = ConsentFactory(client=client_member.user.client, kind="sensitive_area", areas=["gluteal"])

    response = client_member.api.post(withdraw_url(own))

    assert response.status_code == 200
    own.refresh_from_db()
    assert own.withdrawn_at is not None


def test_client_cannot_withdraw_someone_elses_consent(client_member, practice):
    neighbours = ConsentFactory(client__practice=practice)

    response = client_member.api.post(withdraw_url(neighbours))

    assert response.status_code == 404
    neighbours.refresh_from_db()
    assert neighbours.withdrawn_at is None


def test_client_cannot_record_a_consent(client_member):
    own = client_member.user.client

    response = client_member.api.post(CONSENTS, consent_body(own), format="json")

    assert response.status_code == 403
    assert not Consent.objects.exists()


def test_front_desk_gets_403_on_consents(front_desk, client_record):
    consent = ConsentFactory(client=client_record)

    assert front_desk.api.get(CONSENTS).status_code == 403
    assert front_desk.api.get(detail(consent)).status_code == 403
    created = front_desk.api.post(CONSENTS, consent_body(client_record), format="json")
    assert created.status_code == 403
    assert front_desk.api.post(withdraw_url(consent)).status_code == 403
    assert Consent.objects.get().withdrawn_at is None
