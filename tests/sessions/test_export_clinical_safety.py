"""The FHIR export tells the clinical truth (issue 12, part B, item 14; DOMAIN.md 7): each
Condition coded by its regions, the referral with its urgency and the screening answers
exported, pain contexts told apart, Observations linked to their Encounter, one value type per
instrument, and no empty element anywhere. Validated with fhir.resources (R4B)."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from clients.services import record_outcome
from practice.models import User
from tests.factories import AppointmentFactory, ClientFactory, TherapistFactory
from tests.sessions.test_export import export_url, resources
from tests.sessions.test_follow_ups import make_follow_up, url

pytestmark = pytest.mark.django_db

SNOMED = "http://snomed.info/sct"
LOCAL = "https://backcare.example/fhir/CodeSystem"


def create(therapist, client, regions, **extra) -> dict:
    response = therapist.api.post(
        "/api/v1/complaints/",
        {
            "client": client.pk,
            "regions": regions,
            "onset_date": (timezone.localdate() - dt.timedelta(days=30)).isoformat(),
            "onset_type": "gradual",
            "mechanism": "sustained_posture",
            "pain_now": 6,
            **extra,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def exported(therapist, practice):
    """Neck-only, low-back (referred, emergency) and mixed complaints; a visit with an unnamed
    therapist, a note with pain before/after, worst-24h pain and PSFS scores."""
    client = ClientFactory(practice=practice, phone="", email="")
    neck = create(therapist, client, [{"region": "cervical", "side": "midline"}])
    back = create(
        therapist,
        client,
        [{"region": "lumbar", "side": "left"}, {"region": "sacral_si", "side": "left"}],
        red_flags={
            "saddle_numbness": "yes",
            "cancer_history": "no",
            "fever_or_infection": "unsure",
        },
    )
    mixed = create(
        therapist,
        client,
        [{"region": "thoracic", "side": "right"}, {"region": "cervical", "side": "right"}],
    )
    nameless = User.objects.create_user(email="nameless@example.com", password="x" * 12)
    appointment = AppointmentFactory(
        client=client,
        therapist=TherapistFactory(practice=practice, user=nameless),
        status="completed",
        start=timezone.now() - dt.timedelta(days=1),
    )
    note = therapist.api.post(
        "/api/v1/notes/",
        {
            "appointment": appointment.pk,
            "complaint": neck["id"],
            "pain_before": 5,
            "pain_after": 2,
        },
        format="json",
    )
    assert note.status_code == 201, note.content
    complaint_obj = appointment.client.complaints.get(pk=neck["id"])
    record_outcome(
        practice=practice,
        client=client,
        complaint=complaint_obj,
        instrument="nprs",
        answers={"pain": 7},
        recorded_by=None,
        context="worst_24h",
    )
    for scores in ((4, 6), (6, 6)):  # a mean of 5.0 and of 6.0: still quantities
        record_outcome(
            practice=practice,
            client=client,
            complaint=complaint_obj,
            instrument="psfs",
            answers={
                "activities": [
                    {"activity": "Sitting", "score": scores[0]},
                    {"activity": "Walking", "score": scores[1]},
                ]
            },
            recorded_by=None,
        )
    response = therapist.api.get(export_url(client))
    assert response.status_code == 200, response.content
    return {
        "bundle": response.json(),
        "neck": neck,
        "back": back,
        "mixed": mixed,
        "appointment": appointment,
    }


def by_id(bundle, kind, pk) -> dict:
    (found,) = [r for r in resources(bundle, kind) if r["id"] == str(pk)]
    return found


def empty_strings(value, path="Bundle") -> list[str]:
    if isinstance(value, str):
        return [path] if not value.strip() else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empty_strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in empty_strings(v, f"{path}[{i}]")]
    return []


def test_the_bundle_validates_and_every_resource_too(exported):
    Bundle.model_validate(exported["bundle"])
    for resource in resources(exported["bundle"]):
        kind = resource["resourceType"]
        module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
        getattr(module, kind).model_validate(resource)


def test_no_empty_string_anywhere_in_the_bundle(exported):
    assert empty_strings(exported["bundle"]) == []


def test_an_unnamed_therapist_has_no_display(exported):
    booked = by_id(exported["bundle"], "Appointment", exported["appointment"].pk)
    therapist = booked["participant"][1]
    assert "actor" not in therapist
    assert therapist["type"][0]["coding"][0]["code"] == "PPRF"


def test_conditions_are_coded_by_their_regions(exported):
    bundle = exported["bundle"]

    def snomed(complaint):
        return by_id(bundle, "Condition", complaint["id"])["code"]["coding"][0]["code"]

    assert snomed(exported["neck"]) == "81680005"  # neck pain
    assert snomed(exported["back"]) == "279039007"  # low back pain
    assert snomed(exported["mixed"]) == "22253000"  # pain, with its finding sites
    sites = by_id(bundle, "Condition", exported["mixed"]["id"])["bodySite"]
    assert {s["coding"][0]["code"] for s in sites} == {"1141986006", "1141983003"}


def test_the_referral_its_urgency_and_the_screening_answers_are_exported(exported):
    bundle = exported["bundle"]
    back = exported["back"]["id"]

    (referral,) = resources(bundle, "ServiceRequest")
    assert referral["status"] == "active"
    assert referral["priority"] == "stat"
    assert referral["code"]["coding"][0]["code"] == "emergency_same_day"
    assert referral["reasonReference"] == [{"reference": f"Condition/{back}"}]
    assert "emergency" in referral["patientInstruction"].lower()
    condition = by_id(bundle, "Condition", back)
    assert condition["extension"][0]["valueCode"] == "referral_required"
    answers = {
        o["code"]["coding"][0]["code"]: o["valueCodeableConcept"]["coding"][0]["code"]
        for o in resources(bundle, "Observation")
        if o["code"]["coding"][0]["system"] == f"{LOCAL}/red-flag-question"
    }
    assert answers == {
        "saddle_numbness": "yes",
        "cancer_history": "no",
        "fever_or_infection": "unsure",
    }


def pain_observations(bundle) -> list[dict]:
    return [
        o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == "72514-3"
    ]


def test_pain_contexts_have_distinct_codes(exported):
    contexts = sorted(o["code"]["coding"][1]["code"] for o in pain_observations(exported["bundle"]))

    assert contexts == ["now", "now", "now", "post_session", "pre_session", "worst_24h"]


def test_session_pain_is_linked_to_its_encounter(exported):
    encounter = {"reference": f"Encounter/{exported['appointment'].pk}"}
    linked = {
        o["code"]["coding"][1]["code"]
        for o in pain_observations(exported["bundle"])
        if o.get("encounter") == encounter
    }

    assert linked == {"pre_session", "post_session"}


def test_one_value_type_per_instrument(exported):
    psfs = [
        o
        for o in resources(exported["bundle"], "Observation")
        if o["code"]["coding"][0]["code"] == "psfs"
    ]

    assert len(psfs) == 2
    assert all("valueQuantity" in o and "valueInteger" not in o for o in psfs)
    assert all("valueInteger" in o for o in pain_observations(exported["bundle"]))


def test_a_follow_up_answer_is_linked_to_its_visit(therapist, practice, anon):
    sent = make_follow_up(practice, therapist)
    assert anon.post(url(sent.token), {"pain": 3}, format="json").status_code == 201

    bundle = therapist.api.get(export_url(sent.appointment.client_id)).json()

    (answer,) = [
        o for o in pain_observations(bundle) if o["code"]["coding"][1]["code"] == "follow_up"
    ]
    assert answer["encounter"] == {"reference": f"Encounter/{sent.appointment.pk}"}
    assert answer["valueInteger"] == 3
