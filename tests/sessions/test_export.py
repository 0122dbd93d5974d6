"""`clients/{id}/export/`: the client's whole record as a FHIR R4 Bundle (API.md "Resources";
DOMAIN.md 7 codes and mapping, 8 "Right of access"), validated with fhir.resources (R4B)."""

from __future__ import annotations

import importlib
import json
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent as ConsentResource

from clients.models import MedicalClearance, Outcome
from clients.services import record_outcome
from practice.models import AuditEvent
from sessions.records.models import Note, PlanItem
from techniques.models import Technique
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    ConsentFactory,
    NoteFactory,
)

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ODI_ANSWERS = {
    "pain_intensity": 3,
    "personal_care": 1,
    "lifting": 4,
    "walking": 1,
    "sitting": 3,
    "standing": 2,
    "sleeping": 2,
    "sex_life": 0,
    "social_life": 2,
    "travelling": 2,
}  # sum 20 of 50 -> 40 %


def export_url(client) -> str:
    return f"/api/v1/clients/{getattr(client, 'pk', client)}/export/"


def resources(bundle: dict, kind: str | None = None) -> list[dict]:
    found = [entry["resource"] for entry in bundle["entry"]]
    return [r for r in found if kind is None or r["resourceType"] == kind]


def codes(concept: dict) -> set[tuple[str, str]]:
    return {(coding.get("system"), coding["code"]) for coding in concept.get("coding", [])}


def references(value) -> list[str]:
    """Every `reference` string anywhere inside a resource."""
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        for child in value.values():
            found += references(child)
        return found
    if isinstance(value, list):
        return [ref for child in value for ref in references(child)]
    return []


def export_audits(client):
    return AuditEvent.objects.filter(
        AuditEvent.records_containing(client.pk), action="export", record_type="client"
    )


def build_record(therapist, practice, client):
    """Complaint, a completed appointment with a plan, a signed note with delivered items and an
    amendment, NPRS (from the note) and ODI outcomes, and consents."""
    practice.odi_licensed = True
    practice.save(update_fields=["odi_licensed"])
    complaint = ComplaintFactory(client=client, regions=[{"region": "lumbar", "side": "left"}])
    appointment = AppointmentFactory(client=client, status="completed")
    techniques = {t.code: t.pk for t in Technique.objects.filter(practice=practice)}
    plan = therapist.api.post(
        "/api/v1/session-plans/",
        {
            "appointment": appointment.pk,
            "complaint": complaint.pk,
            "items": [
                {
                    "technique": techniques["effleurage"],
                    "region": "lumbar",
                    "side": "left",
                    "minutes": 10,
                    "pressure": 2,
                },
                {
                    "technique": techniques["kneading"],
                    "region": "lumbar",
                    "side": "left",
                    "minutes": 20,
                    "pressure": 3,
                },
                {"technique": techniques["vibration"], "region": "thoracic", "minutes": 5},
            ],
        },
        format="json",
    )
    assert plan.status_code == 201, plan.content
    delivered = [i["id"] for i in plan.json()["items"][:2]]
    note = therapist.api.post(
        "/api/v1/notes/",
        {
            "appointment": appointment.pk,
            "complaint": complaint.pk,
            "subjective": "Stiff after driving <2 h> & lifting.",
            "objective": "Hypertonic left QL.",
            "assessment": "Tone reduced after kneading.",
            "plan": "Weekly for four weeks.",
            "pain_before": 6,
            "pain_after": 3,
            "consent_confirmed": True,
            "delivered_items": delivered,
        },
        format="json",
    )
    assert note.status_code == 201, note.content
    note_id = note.json()["id"]
    assert therapist.api.post(f"/api/v1/notes/{note_id}/sign/").status_code == 200
    amendment = therapist.api.post(
        f"/api/v1/notes/{note_id}/amendments/",
        {"kind": "correction", "text": "Pain after was 4.", "reason": "Misheard"},
        format="json",
    )
    assert amendment.status_code == 201, amendment.content
    odi = record_outcome(
        practice=practice,
        client=client,
        complaint=complaint,
        instrument="odi",
        answers=ODI_ANSWERS,
        recorded_by=therapist.user,
    )
    general = ConsentFactory(client=client, kind="general")
    sensitive = ConsentFactory(client=client, kind="sensitive_area", areas=["gluteal"])
    return {
        "complaint": complaint,
        "appointment": appointment,
        "note": Note.objects.get(pk=note_id),
        "delivered": PlanItem.objects.filter(pk__in=delivered),
        "amendment": amendment.json(),
        "odi": odi,
        "consents": [general, sensitive],
    }


@pytest.fixture
def client_record(practice):
    return ClientFactory(
        practice=practice,
        first_name="Ann",
        last_name="Lee",
        health_flags=["pregnancy"],
    )


@pytest.fixture
def record(therapist, practice, client_record):
    return build_record(therapist, practice, client_record)


@pytest.fixture
def exported(therapist, client_record, record):
    response = therapist.api.get(export_url(client_record))
    assert response.status_code == 200, response.content
    return response.json()


# --- validity ---------------------------------------------------------------------------------


def test_export_is_a_valid_fhir_r4_bundle(exported):
    Bundle.model_validate(exported)

    assert exported["resourceType"] == "Bundle"
    assert exported["type"] == "collection"
    for resource in resources(exported):
        kind = resource["resourceType"]
        module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
        getattr(module, kind).model_validate(resource)


def test_export_resources_have_unique_ids_and_resolvable_references(exported):
    keys = [f"{r['resourceType']}/{r['id']}" for r in resources(exported)]
    assert len(keys) == len(set(keys))
    full_urls = [entry["fullUrl"] for entry in exported["entry"]]
    assert len(full_urls) == len(set(full_urls))

    for resource in resources(exported):
        for reference in references(resource):
            assert reference in keys, (resource["resourceType"], reference)


def test_export_holds_each_part_of_the_record(exported, record):
    kinds = Counter(r["resourceType"] for r in resources(exported))

    assert kinds["Patient"] == 1
    assert kinds["Condition"] == 1
    assert kinds["Appointment"] == 1
    assert kinds["Encounter"] == 1
    assert kinds["Procedure"] == 2  # delivered items only, not the whole plan
    assert kinds["Observation"] == 3  # pain before, pain after, ODI
    assert kinds["Composition"] == 1
    assert kinds["Provenance"] == 1
    assert kinds["Consent"] == 2
    assert kinds["Flag"] == 1


# --- content ----------------------------------------------------------------------------------


def test_patient_carries_name_birth_date_and_contact(exported, client_record):
    (patient,) = resources(exported, "Patient")

    assert patient["id"] == str(client_record.pk)
    assert patient["name"] == [{"family": "Lee", "given": ["Ann"]}]
    assert patient["birthDate"] == client_record.date_of_birth.isoformat()
    assert {"system": "email", "value": client_record.email} in patient["telecom"]


def test_health_flag_is_a_flag_on_the_patient(exported, client_record):
    (flag,) = resources(exported, "Flag")

    assert flag["code"]["coding"][0]["code"] == "pregnancy"
    assert flag["subject"] == {"reference": f"Patient/{client_record.pk}"}


def test_condition_has_snomed_low_back_pain_and_lumbar_left_body_site(exported, record):
    (condition,) = resources(exported, "Condition")

    assert condition["id"] == str(record["complaint"].pk)
    assert (SNOMED, "279039007") in codes(condition["code"])
    (site,) = condition["bodySite"]
    assert (SNOMED, "1141985005") in codes(site)  # lumbar vertebral column region
    assert (SNOMED, "7771000") in codes(site)  # left
    assert condition["clinicalStatus"]["coding"][0]["code"] == "active"
    assert condition["onsetDateTime"] == record["complaint"].onset_date.isoformat()


@pytest.mark.parametrize(
    ("region", "side", "site_code", "side_code"),
    [
        ("cervical", "right", "1141983003", "24028007"),
        ("thoracic", "bilateral", "1141986006", "51440002"),
        ("sacral_si", "left", "39723000", "7771000"),
        ("gluteal", "right", "46862004", "24028007"),
    ],
)
def test_every_region_and_side_has_its_domain_body_site_code(
    therapist, practice, region, side, site_code, side_code
):
    client = ClientFactory(practice=practice)
    ComplaintFactory(client=client, regions=[{"region": region, "side": side}])

    bundle = therapist.api.get(export_url(client)).json()

    (condition,) = resources(bundle, "Condition")
    assert {(SNOMED, site_code), (SNOMED, side_code)} <= codes(condition["bodySite"][0])
    Bundle.model_validate(bundle)


def test_appointment_and_its_encounter(exported, record):
    appointment = record["appointment"]
    (booked,) = resources(exported, "Appointment")
    (encounter,) = resources(exported, "Encounter")

    assert booked["id"] == str(appointment.pk)
    assert booked["status"] == "fulfilled"
    assert encounter["status"] == "finished"
    assert encounter["appointment"] == [{"reference": f"Appointment/{appointment.pk}"}]
    assert encounter["subject"] == {"reference": f"Patient/{appointment.client_id}"}


def test_a_procedure_per_delivered_technique(exported, record):
    procedures = resources(exported, "Procedure")
    appointment, complaint = record["appointment"], record["complaint"]

    assert sorted(p["code"]["text"] for p in procedures) == ["Effleurage", "Kneading (petrissage)"]
    for procedure in procedures:
        assert procedure["status"] == "completed"
        assert procedure["encounter"] == {"reference": f"Encounter/{appointment.pk}"}
        assert procedure["reasonReference"] == [{"reference": f"Condition/{complaint.pk}"}]
        assert procedure["bodySite"][0]["text"] == "lumbar left"
    notes = sorted(p["note"][0]["text"] for p in procedures)
    assert notes == ["10 min, pressure 2/5", "20 min, pressure 3/5"]


def test_pain_observations_use_loinc_72514_3_with_integer_values(exported, record):
    pain = [o for o in resources(exported, "Observation") if (LOINC, "72514-3") in codes(o["code"])]

    assert sorted(o["valueInteger"] for o in pain) == [3, 6]
    for observation in pain:
        assert observation["focus"] == [{"reference": f"Condition/{record['complaint'].pk}"}]
        assert observation["category"][0]["coding"][0]["code"] == "survey"
        assert observation["status"] == "final"


def test_odi_observation_uses_loinc_97909_6_in_percent(exported, record):
    (odi,) = [
        o for o in resources(exported, "Observation") if (LOINC, "97909-6") in codes(o["code"])
    ]

    assert record["odi"].score_percent == Decimal("40.0")
    assert odi["valueQuantity"]["value"] == 40.0
    assert odi["valueQuantity"]["unit"] == "%"
    assert odi["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert odi["id"] == str(record["odi"].pk)


def test_note_is_a_composition_with_its_amendment_as_provenance(exported, record):
    note = record["note"]
    (composition,) = resources(exported, "Composition")
    (provenance,) = resources(exported, "Provenance")

    assert composition["id"] == str(note.pk)
    assert composition["status"] == "final"
    sections = {s["title"]: s["text"]["div"] for s in composition["section"]}
    assert set(sections) == {"Subjective", "Objective", "Assessment", "Plan"}
    assert "Stiff after driving &lt;2 h&gt; &amp; lifting." in sections["Subjective"]
    assert "Hypertonic left QL." in sections["Objective"]
    assert provenance["target"] == [{"reference": f"Composition/{note.pk}"}]
    assert "correction" in provenance["activity"]["text"]
    assert "Pain after was 4." in provenance["activity"]["text"]
    assert provenance["reason"] == [{"text": "Misheard"}]


def test_consents_are_exported_with_their_areas(exported, record):
    consents = {c["id"]: c for c in resources(exported, "Consent")}
    general, sensitive = record["consents"]

    assert set(consents) == {str(general.pk), str(sensitive.pk)}
    assert consents[str(sensitive.pk)]["status"] == "active"
    assert consents[str(sensitive.pk)]["provision"]["code"] == [{"text": "gluteal"}]
    assert consents[str(sensitive.pk)]["category"] == [{"text": "sensitive_area"}]


def test_withdrawn_consent_is_exported_inactive(therapist, client_record, record):
    _, sensitive = record["consents"]
    sensitive.withdrawn_at = timezone.now()
    sensitive.save(update_fields=["withdrawn_at"])

    bundle = therapist.api.get(export_url(client_record)).json()

    (withdrawn,) = [c for c in resources(bundle, "Consent") if c["id"] == str(sensitive.pk)]
    assert withdrawn["status"] == "inactive"


def test_export_holds_nothing_of_another_client(therapist, practice, client_record, record):
    other = ClientFactory(practice=practice, last_name="Stranger")
    ComplaintFactory(client=other)
    NoteFactory(practice=practice, client=other, subjective="Stranger's note")

    bundle = therapist.api.get(export_url(client_record)).json()

    text = str(bundle)
    assert "Stranger" not in text
    for resource in resources(bundle):
        for reference in references(resource):
            assert not reference.startswith("Patient/") or reference == (
                f"Patient/{client_record.pk}"
            )


def test_minimal_client_exports_a_valid_bundle(therapist, practice):
    client = ClientFactory(practice=practice, email="", phone="", date_of_birth=None)

    response = therapist.api.get(export_url(client))

    assert response.status_code == 200, response.content
    Bundle.model_validate(response.json())
    assert [r["resourceType"] for r in resources(response.json())] == ["Patient"]


# --- audit and access -------------------------------------------------------------------------


def test_every_export_is_in_the_audit_log(therapist, owner, client_record, record):
    for member in (therapist, owner, therapist):
        assert member.api.get(export_url(client_record)).status_code == 200

    events = export_audits(client_record)
    assert events.count() == 3
    assert Counter(e.actor for e in events) == {therapist.user: 2, owner.user: 1}
    assert all(e.practice_id == client_record.practice_id for e in events)


def test_another_practice_cannot_export(other_owner, client_record, record):
    response = other_owner.api.get(export_url(client_record))

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert "Lee" not in response.content.decode()
    assert not export_audits(client_record).exists()


def test_unknown_client_is_404(therapist):
    assert therapist.api.get(export_url(999999)).status_code == 404


def test_front_desk_cannot_export(front_desk, client_record, record):
    response = front_desk.api.get(export_url(client_record))

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    assert "Hypertonic" not in response.content.decode()
    assert not export_audits(client_record).exists()


def test_anonymous_cannot_export(anon, client_record):
    assert anon.get(export_url(client_record)).status_code == 401


def test_export_is_read_only(therapist, client_record):
    assert therapist.api.post(export_url(client_record), {}, format="json").status_code == 405


def test_client_exports_their_own_record(therapist, practice, client_member):
    me = client_member.user.client
    built = build_record(therapist, practice, me)
    Note.objects.filter(pk=built["note"].pk).update(shared_with_client=True)

    response = client_member.api.get(export_url(me))

    assert response.status_code == 200, response.content
    bundle = response.json()
    Bundle.model_validate(bundle)
    (patient,) = resources(bundle, "Patient")
    assert patient["id"] == str(me.pk)
    assert len(resources(bundle, "Observation")) == Outcome.objects.filter(client=me).count()
    assert len(resources(bundle, "Composition")) == 1
    assert len(resources(bundle, "Provenance")) == 1
    assert export_audits(me).get().actor == client_member.user


def test_client_export_leaves_out_notes_they_may_not_read(therapist, practice, client_member):
    me = client_member.user.client
    built = build_record(therapist, practice, me)  # signed, not shared with the client
    NoteFactory(practice=practice, client=me, assessment="Draft reasoning", shared_with_client=True)

    bundle = client_member.api.get(export_url(me)).json()

    assert resources(bundle, "Composition") == []
    assert resources(bundle, "Provenance") == []
    assert "Tone reduced after kneading." not in str(bundle)
    assert "Draft reasoning" not in str(bundle)
    # What they may read stays: their complaint, visits, outcomes and consents.
    assert len(resources(bundle, "Condition")) == 1
    assert len(resources(bundle, "Observation")) == 3
    assert len(resources(bundle, "Consent")) == 2
    assert built["note"].assessment == "Tone reduced after kneading."


def test_client_cannot_export_someone_else(client_member, client_record, record):
    response = client_member.api.get(export_url(client_record))

    assert response.status_code == 404, response.content
    assert "Lee" not in response.content.decode()
    assert not export_audits(client_record).exists()


def test_medical_clearances_are_exported_as_consents(therapist, practice, client_record, record):
    client_record.health_flags = ["pregnancy", "dvt"]
    client_record.save(update_fields=["health_flags"])
    given = therapist.api.post(
        f"/api/v1/clients/{client_record.pk}/clearances/",
        {
            "flag": "dvt",
            "cleared_by_name": "Dr. A. Patel (GP)",
            "cleared_on": timezone.localdate().isoformat(),
            "expires_on": (timezone.localdate() + timedelta(days=90)).isoformat(),
            "note": "Anticoagulated; light work only.",
        },
        format="json",
    )
    assert given.status_code == 201, given.content
    revoked = MedicalClearance.objects.create(
        practice=practice,
        client=client_record,
        flag="dvt",
        cleared_by_name="Dr. B",
        cleared_on=timezone.localdate() - timedelta(days=100),
        expires_on=timezone.localdate() + timedelta(days=10),
        document="Letter 1",
        revoked_at=timezone.now(),
        revocation_reason="Withdrawn",
    )

    bundle = therapist.api.get(export_url(client_record)).json()

    Bundle.model_validate(bundle)
    clearances = {
        c["id"]: c
        for c in resources(bundle, "Consent")
        if c["category"][0].get("text") == "medical_clearance"
    }
    current = clearances[f"clearance-{given.json()['id']}"]
    assert current["status"] == "active"
    assert current["provision"]["code"][0]["coding"][0]["code"] == "dvt"
    assert current["provision"]["period"]["end"] == given.json()["expires_on"]
    assert current["performer"] == [{"display": "Dr. A. Patel (GP)"}]
    assert current["policyRule"] == {"text": "Anticoagulated; light work only."}
    assert "sourceAttachment" not in current  # no document: no empty element
    assert ': ""' not in json.dumps(bundle)
    assert clearances[f"clearance-{revoked.pk}"]["status"] == "inactive"
    for resource in clearances.values():
        ConsentResource.model_validate(resource)


def test_a_clients_own_export_carries_their_clearances(practice, client_member):
    client = client_member.user.client
    given = MedicalClearance.objects.create(
        practice=practice,
        client=client,
        flag="dvt",
        cleared_by_name="Dr. B",
        cleared_on=timezone.localdate(),
        expires_on=timezone.localdate() + timedelta(days=30),
        document="Letter 1",
    )

    response = client_member.api.get("/api/v1/me/export/")

    assert response.status_code == 200, response.content
    ids = {c["id"]: c for c in resources(response.json(), "Consent")}
    assert ids[f"clearance-{given.pk}"]["sourceAttachment"] == {"title": "Letter 1"}
    assert ids[f"clearance-{given.pk}"]["status"] == "active"
