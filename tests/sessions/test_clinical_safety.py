"""Clinical safety on plans, techniques and notes (issue 12 part A; DOMAIN.md 0 rules 2, 3, 7;
2b, 2c): the open red flag decided per client, a practice's own techniques, missing pressure,
medical clearances, delivered items fixed at signing, and pain_after before the session."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import MedicalClearance
from practice.models import AuditEvent
from sessions.records.models import Note, PlanItem, SessionPlan
from techniques.models import Technique
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    SessionPlanFactory,
    TechniqueFactory,
)

PLANS = "/api/v1/session-plans/"
NOTES = "/api/v1/notes/"


def technique(practice, code: str) -> Technique:
    return Technique.objects.get(practice=practice, code=code)


def item(practice, code: str = "effleurage", **overrides) -> dict:
    return {
        "technique": technique(practice, code).pk,
        "region": "lumbar",
        "minutes": 10,
        "pressure": 1,
        **overrides,
    }


def clearances_url(client) -> str:
    return f"/api/v1/clients/{client.pk}/clearances/"


def today():
    return timezone.localdate()


def codes(response) -> list[tuple[str, str]]:
    return [(error["field"], error["code"]) for error in response.json()["errors"]]


@pytest.fixture
def client_record(practice):
    return ClientFactory(practice=practice)


@pytest.fixture
def appointment(client_record):
    return AppointmentFactory(client=client_record)


def plan_with_items(appointment, *codes_: str) -> SessionPlan:
    plan = SessionPlanFactory(appointment=appointment)
    for position, code in enumerate(codes_):
        PlanItem.objects.create(
            plan=plan,
            position=position,
            technique=technique(appointment.practice, code),
            region="lumbar",
            minutes=10,
            pressure=1,
        )
    return plan


# --- 1. the open red flag is the client's, whichever complaint a plan names ---------------------


def test_a_plan_that_names_no_complaint_is_409_while_another_needs_referral(
    therapist, practice, appointment
):
    ComplaintFactory(client=appointment.client, status="referral_required")

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": [item(practice)]}, format="json"
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "precondition_failed"
    assert "referral" in response.json()["detail"]
    assert not SessionPlan.objects.exists()
    assert not PlanItem.objects.exists()


def test_a_plan_naming_a_clear_complaint_is_409_while_another_needs_referral(
    therapist, practice, appointment
):
    clear = ComplaintFactory(client=appointment.client)
    ComplaintFactory(client=appointment.client, status="referral_required")

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "complaint": clear.pk, "items": [item(practice)]},
        format="json",
    )

    assert response.status_code == 409
    assert not SessionPlan.objects.exists()


def test_a_plan_made_before_the_red_flag_cannot_be_patched_even_without_items(
    therapist, practice, appointment
):
    plan = plan_with_items(appointment, "effleurage")
    ComplaintFactory(client=appointment.client, status="referral_required")

    response = therapist.api.patch(
        f"{PLANS}{plan.pk}/", {"goals": ["stress_reduction"]}, format="json"
    )

    assert response.status_code == 409
    plan.refresh_from_db()
    assert plan.goals == ["pain_relief"]


def test_a_template_applied_to_a_red_flag_clients_appointment_is_409(
    therapist, practice, appointment
):
    template = SessionPlan.objects.create(practice=practice, name="Relaxation", goals=[])
    PlanItem.objects.create(
        plan=template,
        position=0,
        technique=technique(practice, "effleurage"),
        region="lumbar",
        minutes=10,
        pressure=1,
    )
    ComplaintFactory(client=appointment.client, status="referral_required")

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "template": template.pk}, format="json"
    )

    assert response.status_code == 409
    assert not SessionPlan.objects.filter(appointment=appointment).exists()


def test_delivering_a_plan_made_before_the_red_flag_is_409(therapist, practice, client_record):
    appointment = AppointmentFactory(client=client_record, status="checked_in")
    plan = plan_with_items(appointment, "effleurage")
    ComplaintFactory(client=client_record, status="referral_required")

    response = therapist.api.post(
        NOTES,
        {
            "appointment": appointment.pk,
            "subjective": "New numbness in both legs.",
            "delivered_items": [i.pk for i in plan.items.all()],
        },
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "precondition_failed"
    assert not Note.objects.exists()


def test_clearing_the_complaint_lets_plans_through_again(therapist, practice, appointment):
    complaint = ComplaintFactory(client=appointment.client, status="referral_required")
    body = {"appointment": appointment.pk, "items": [item(practice)]}
    assert therapist.api.post(PLANS, body, format="json").status_code == 409

    cleared = therapist.api.post(
        f"/api/v1/complaints/{complaint.pk}/clear/", {"note": "GP: mechanical."}, format="json"
    )

    assert cleared.status_code == 200
    assert therapist.api.post(PLANS, body, format="json").status_code == 201


# --- 4. a practice's own technique --------------------------------------------------------------


@pytest.mark.parametrize("flag", ["dvt", "fever_acute_illness", "red_flag_open"])
def test_a_practices_new_technique_is_refused_for_whole_body_flags(therapist, practice, flag):
    created = therapist.api.post(
        "/api/v1/techniques/",
        {
            "code": "hot_stones",
            "name": "Hot stones",
            "description": "Warm basalt stones glided along the back.",
            "usual_minutes": {"min": 5, "max": 10},  # usual_pressure is the owner's to set
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    appointment = AppointmentFactory(client=ClientFactory(practice=practice, health_flags=[flag]))

    response = therapist.api.post(
        PLANS,
        {
            "appointment": appointment.pk,
            "items": [{**item(practice), "technique": created.json()["id"]}],
        },
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "hot_stones" in response.json()["detail"]
    assert flag in response.json()["detail"]
    assert not SessionPlan.objects.exists()


def test_a_technique_with_no_rows_at_all_is_still_refused_for_fever(therapist, practice):
    bare = TechniqueFactory(practice=practice, code="bare")  # rows lost, or older data
    appointment = AppointmentFactory(
        client=ClientFactory(practice=practice, health_flags=["fever_acute_illness"])
    )

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [{**item(practice), "technique": bare.pk}]},
        format="json",
    )

    assert response.status_code == 400
    assert codes(response) == [("items.0.technique", "contraindicated_refuse")]


# --- 6. an item without a pressure --------------------------------------------------------------


def osteoporosis_appointment(practice):
    return AppointmentFactory(
        client=ClientFactory(practice=practice, health_flags=["osteoporosis"])
    )


def test_an_item_without_pressure_is_checked_at_the_usual_pressure(therapist, practice):
    appointment = osteoporosis_appointment(practice)  # kneading: usual 2-4, capped at 2

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "kneading", pressure=None)]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert codes(response) == [("items.0.technique", "contraindicated_cap")]
    assert "4" in response.json()["detail"]
    assert not SessionPlan.objects.exists()


def test_an_item_without_pressure_where_the_technique_has_none_must_name_one(therapist, practice):
    appointment = osteoporosis_appointment(practice)  # stretching: no usual pressure, cap 2
    body = {"appointment": appointment.pk, "items": [item(practice, "stretching", pressure=None)]}

    refused = therapist.api.post(PLANS, body, format="json")
    body["items"][0]["pressure"] = 2
    accepted = therapist.api.post(PLANS, body, format="json")

    assert refused.status_code == 400
    assert "give the item a pressure" in refused.json()["detail"]
    assert accepted.status_code == 201, accepted.content


def clearance_body(flag: str, **overrides) -> dict:
    return {
        "flag": flag,
        "cleared_by_name": "Dr. A. Patel (GP)",
        "cleared_on": today().isoformat(),
        "expires_on": (today() + dt.timedelta(days=90)).isoformat(),
        "document": "Letter of 2 Dec, scanned to the client file",
        **overrides,
    }


@pytest.mark.parametrize(
    "flag",
    ["dvt", "uncontrolled_hypertension_cardiac", "pregnancy_high_risk", "cancer_active_treatment"],
)
def test_a_clearance_flag_is_refused_until_a_current_clearance_is_recorded(
    therapist, practice, flag
):
    client = ClientFactory(practice=practice, health_flags=[flag])
    # Inside the clearance's 90 days whatever ran before (the factory's starts grow per row made).
    appointment = AppointmentFactory(client=client, start=timezone.now() + dt.timedelta(days=2))
    body = {"appointment": appointment.pk, "items": [item(practice)]}

    refused = therapist.api.post(PLANS, body, format="json")
    recorded = therapist.api.post(clearances_url(client), clearance_body(flag), format="json")
    accepted = therapist.api.post(PLANS, body, format="json")

    assert refused.status_code == 400, refused.content
    assert codes(refused) == [("items.0.technique", "contraindicated_clearance_required")]
    assert "effleurage" in refused.json()["detail"]
    assert flag in refused.json()["detail"]
    assert recorded.status_code == 201, recorded.content
    assert recorded.json()["is_current"] is True
    assert accepted.status_code == 201, accepted.content


def test_an_expired_clearance_does_not_count(therapist, practice):
    client = ClientFactory(practice=practice, health_flags=["uncontrolled_hypertension_cardiac"])
    MedicalClearance.objects.create(
        practice=practice,
        client=client,
        flag="uncontrolled_hypertension_cardiac",
        cleared_by_name="Dr. B",
        cleared_on=today() - dt.timedelta(days=200),
        expires_on=today() - dt.timedelta(days=1),
        note="Cardiology letter",
    )
    appointment = AppointmentFactory(client=client)

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": [item(practice)]}, format="json"
    )

    assert response.status_code == 400
    listed = therapist.api.get(clearances_url(client)).json()
    assert [c["is_current"] for c in listed] == [False]


def test_a_clearance_refusal_can_be_overridden_with_a_reason_and_is_audited(therapist, practice):
    client = ClientFactory(practice=practice, health_flags=["cancer_active_treatment"])
    appointment = AppointmentFactory(client=client)

    response = therapist.api.post(
        PLANS,
        {
            "appointment": appointment.pk,
            "items": [item(practice, override_reason="Oncologist agreed by phone; letter due.")],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["items"][0]["overridden"] == [
        {"flag": "cancer_active_treatment", "rule": "clearance_required"}
    ]
    event = AuditEvent.objects.get(record_type="session_plan_override")
    assert event.client_id == client.pk


def test_recording_a_clearance_is_audited(therapist, practice, other_practice):
    client = ClientFactory(practice=practice, health_flags=["dvt"])
    theirs = ClientFactory(practice=other_practice, health_flags=["dvt"])

    response = therapist.api.post(clearances_url(client), clearance_body("dvt"), format="json")
    elsewhere = therapist.api.post(clearances_url(theirs), clearance_body("dvt"), format="json")

    assert response.status_code == 201
    assert elsewhere.status_code == 404  # another practice's client does not exist here
    clearance = MedicalClearance.objects.get()
    assert clearance.recorded_by == therapist.user
    assert clearance.cleared_by_name == "Dr. A. Patel (GP)"
    event = AuditEvent.objects.get(record_type="medical_clearance", action="create")
    assert event.ids == [clearance.pk]
    assert event.client_id == client.pk
    client.refresh_from_db()  # a clinical entry: it moves the retention clock (DOMAIN.md 4)
    assert client.last_clinical_entry == timezone.localdate(timezone=practice.tz)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"flag": "osteoporosis"}, "flag"),
        ({"flag": "pregnancy_high_risk"}, "flag"),  # a flag the client does not hold
        ({"expires_on": (timezone.localdate() + dt.timedelta(days=400)).isoformat()}, "expires_on"),
        ({"document": "", "note": ""}, "document"),
        ({"expires_on": (timezone.localdate() - dt.timedelta(days=400)).isoformat()}, "expires_on"),
        ({"cleared_on": (timezone.localdate() + dt.timedelta(days=5)).isoformat()}, "cleared_on"),
        ({"recorded_by": 1}, "recorded_by"),
    ],
)
def test_an_invalid_clearance_is_400_and_nothing_is_recorded(therapist, practice, overrides, field):
    client = ClientFactory(practice=practice, health_flags=["dvt"])

    response = therapist.api.post(
        clearances_url(client), {**clearance_body("dvt"), **overrides}, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in [error["field"] for error in response.json()["errors"]]
    assert not MedicalClearance.objects.exists()


@pytest.mark.parametrize("role", ["front_desk", "client_member"])
def test_clearances_are_clinical(request, practice, role):
    member = request.getfixturevalue(role)
    client = ClientFactory(practice=practice, health_flags=["dvt"])

    listed = member.api.get(clearances_url(client))
    created = member.api.post(clearances_url(client), clearance_body("dvt"), format="json")

    assert (listed.status_code, created.status_code) == (403, 403)
    assert not MedicalClearance.objects.exists()


def test_renaming_a_technique_leaves_a_signed_notes_delivered_items_as_signed(
    therapist, owner, practice, client_record
):
    appointment = AppointmentFactory(client=client_record, status="checked_in")
    plan = plan_with_items(appointment, "kneading")
    created = therapist.api.post(
        NOTES,
        {"appointment": appointment.pk, "delivered_items": [plan.items.get().pk]},
        format="json",
    )
    assert created.status_code == 201, created.content
    note_url = f"{NOTES}{created.json()['id']}/"
    assert therapist.api.post(f"{note_url}sign/").status_code == 200

    renamed = owner.api.patch(
        f"/api/v1/techniques/{technique(practice, 'kneading').pk}/",
        {"name": "Deep tissue"},
        format="json",
    )
    note = therapist.api.get(note_url).json()
    export = therapist.api.get(f"/api/v1/clients/{client_record.pk}/export/").json()

    assert renamed.status_code == 200
    assert [(d["technique_code"], d["technique_name"]) for d in note["delivered"]] == [
        ("kneading", "Kneading (petrissage)")
    ]
    assert note["delivered"][0]["minutes"] == 10
    assert note["delivered"][0]["region"] == "lumbar"
    procedures = [
        e["resource"] for e in export["entry"] if e["resource"]["resourceType"] == "Procedure"
    ]
    assert [p["code"]["text"] for p in procedures] == ["Kneading (petrissage)"]


def test_a_draft_shows_its_delivered_items_as_they_are(therapist, practice, client_record):
    appointment = AppointmentFactory(client=client_record, status="checked_in")
    plan = plan_with_items(appointment, "kneading")
    created = therapist.api.post(
        NOTES,
        {"appointment": appointment.pk, "delivered_items": [plan.items.get().pk]},
        format="json",
    )

    assert created.status_code == 201
    assert created.json()["delivered"][0]["technique_name"] == "Kneading (petrissage)"
    assert created.json()["delivered_items"] == [plan.items.get().pk]


# --- issue 15: how to override; pain_after before the session -----------------------------------


def test_a_contraindication_refusal_says_how_to_override(therapist, practice):
    appointment = osteoporosis_appointment(practice)

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "tapotement")]},
        format="json",
    )

    assert response.status_code == 400
    assert "override_reason" in response.json()["detail"]
    assert all("override_reason" in e["detail"] for e in response.json()["errors"])


def test_pain_after_for_a_session_that_has_not_started_is_409(therapist, client_record):
    appointment = AppointmentFactory(client=client_record)  # booked, two days ahead

    response = therapist.api.post(
        NOTES, {"appointment": appointment.pk, "pain_before": 6, "pain_after": 2}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "precondition_failed"
    assert not Note.objects.exists()


def test_pain_after_patched_onto_a_note_before_the_session_is_409(therapist, client_record):
    appointment = AppointmentFactory(client=client_record)
    created = therapist.api.post(
        NOTES, {"appointment": appointment.pk, "pain_before": 6}, format="json"
    )
    assert created.status_code == 201

    response = therapist.api.patch(
        f"{NOTES}{created.json()['id']}/", {"pain_after": 2}, format="json"
    )

    assert response.status_code == 409
    assert Note.objects.get().pain_after is None
