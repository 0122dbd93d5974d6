"""Session plans (API.md "Clinical records", "Session plans"; DOMAIN.md 2c, 4 "Consent").

Ordered technique items for an appointment, checked against the client's health flags with the
practice's technique x flag matrix, the appointment's length, the complaint's red-flag status and
sensitive-area consent; or reusable templates a plan starts from.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from practice.models import AuditEvent
from sessions.records.models import Note, PlanItem, SessionPlan
from techniques.models import Technique
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    ConsentFactory,
    NoteFactory,
    SessionPlanFactory,
    TechniqueFactory,
)

PLANS = "/api/v1/session-plans/"


def detail(plan: SessionPlan | int) -> str:
    return f"{PLANS}{getattr(plan, 'pk', plan)}/"


def technique(practice, code: str) -> Technique:
    return Technique.objects.get(practice=practice, code=code)


def item(practice_, code: str = "effleurage", /, **overrides) -> dict:
    return {
        "technique": technique(practice_, code).pk,
        "region": "lumbar",
        "side": "left",
        "minutes": 10,
        "pressure": 2,
        "notes": "Slow strokes along the paraspinals.",
        **overrides,
    }


def error_pairs(response) -> list[tuple[str, str]]:
    return [(error["field"], error["code"]) for error in response.json()["errors"]]


def assert_nothing_written() -> None:
    assert not SessionPlan.objects.exists()
    assert not PlanItem.objects.exists()
    assert not AuditEvent.objects.filter(record_type="session_plan_override").exists()


@pytest.fixture
def client_record(practice):
    return ClientFactory(practice=practice)


@pytest.fixture
def appointment(client_record):
    return AppointmentFactory(client=client_record)  # a 60-minute service


@pytest.fixture
def complaint(client_record):
    return ComplaintFactory(client=client_record)


def flagged_appointment(practice, flags, regions=None):
    client = ClientFactory(practice=practice, health_flags=flags, health_flag_regions=regions or {})
    return AppointmentFactory(client=client)


# --- a plan for an appointment ----------------------------------------------------------------


def test_plan_for_appointment_keeps_items_in_order(therapist, practice, appointment, complaint):
    body = {
        "appointment": appointment.pk,
        "complaint": complaint.pk,
        "goals": ["muscle_relaxation", "pain_relief"],
        "home_care": "Knee-to-chest stretch twice a day.",
        "items": [
            item(practice, "effleurage", minutes=5, pressure=1),
            item(practice, "kneading", minutes=20, pressure=3, region="thoracic", side="right"),
            item(practice, "compression", minutes=10, pressure=2, region="gluteal", side=""),
        ],
    }
    ConsentFactory(client=appointment.client, kind="sensitive_area", areas=["gluteal"])

    response = therapist.api.post(PLANS, body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["appointment"] == appointment.pk
    assert data["complaint"] == complaint.pk
    assert data["client"] == appointment.client_id
    assert data["name"] == ""
    assert data["goals"] == ["muscle_relaxation", "pain_relief"]
    assert data["home_care"] == "Knee-to-chest stretch twice a day."
    assert data["created_by"] == therapist.user.pk
    assert [i["position"] for i in data["items"]] == [0, 1, 2]
    assert [i["technique_code"] for i in data["items"]] == [
        "effleurage",
        "kneading",
        "compression",
    ]
    assert data["items"][1]["technique_name"] == "Kneading (petrissage)"
    assert data["items"][1]["technique"] == technique(practice, "kneading").pk
    assert data["items"][1]["region"] == "thoracic"
    assert data["items"][1]["side"] == "right"
    assert data["items"][1]["minutes"] == 20
    assert data["items"][1]["pressure"] == 3
    assert data["items"][1]["notes"] == "Slow strokes along the paraspinals."
    assert data["items"][1]["override_reason"] == ""
    assert data["items"][1]["overridden"] == []

    plan = SessionPlan.objects.get(pk=data["id"])
    assert plan.practice == practice
    assert plan.client == appointment.client
    assert plan.created_by == therapist.user
    assert list(plan.items.values_list("position", "technique__code", "minutes")) == [
        (0, "effleurage", 5),
        (1, "kneading", 20),
        (2, "compression", 10),
    ]
    assert AuditEvent.objects.filter(
        AuditEvent.records_containing(plan.pk),
        record_type="session_plan",
        action="create",
        actor=therapist.user,
    ).exists()


def test_owner_plans_too(owner, practice, appointment):
    response = owner.api.post(
        PLANS, {"appointment": appointment.pk, "items": [item(practice)]}, format="json"
    )

    assert response.status_code == 201, response.content
    assert SessionPlan.objects.get().created_by == owner.user


def test_plan_without_items_is_allowed_and_has_none(therapist, appointment):
    response = therapist.api.post(PLANS, {"appointment": appointment.pk}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["items"] == []


def test_second_plan_for_one_appointment_is_refused(therapist, practice, appointment):
    SessionPlanFactory(appointment=appointment)

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": [item(practice)]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "appointment"
    assert SessionPlan.objects.count() == 1
    assert not PlanItem.objects.exists()


# --- contraindications (DOMAIN.md 2c) ---------------------------------------------------------


def test_refused_technique_is_400_naming_technique_flag_and_rule(therapist, practice):
    appointment = flagged_appointment(practice, ["osteoporosis"])

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "tapotement", pressure=2)]},
        format="json",
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert error_pairs(response) == [("items.0.technique", "contraindicated_refuse")]
    assert "tapotement" in body["errors"][0]["detail"]
    assert "osteoporosis" in body["errors"][0]["detail"]
    assert_nothing_written()


def test_pressure_above_the_cap_is_400_naming_technique_flag_and_rule(therapist, practice):
    appointment = flagged_appointment(practice, ["osteoporosis"])

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "kneading", pressure=3)]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items.0.technique", "contraindicated_cap")]
    error = response.json()["errors"][0]["detail"]
    assert "kneading" in error
    assert "osteoporosis" in error
    assert "2" in error
    assert_nothing_written()


def test_pressure_at_the_cap_is_allowed(therapist, practice):
    appointment = flagged_appointment(practice, ["osteoporosis"])

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "kneading", pressure=2)]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["items"][0]["overridden"] == []


def test_one_bad_item_refuses_the_whole_plan_and_names_its_position(therapist, practice):
    appointment = flagged_appointment(practice, ["osteoporosis"])
    items = [
        item(practice, "effleurage", pressure=2),
        item(practice, "effleurage", pressure=2),
        item(practice, "friction", pressure=3),
    ]

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": items}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items.2.technique", "contraindicated_refuse")]
    assert_nothing_written()


def test_every_broken_cell_of_an_item_is_named(therapist, practice):
    appointment = flagged_appointment(practice, ["osteoporosis", "pregnancy"])

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "tapotement")]},
        format="json",
    )

    assert response.status_code == 400, response.content
    details = " ".join(error["detail"] for error in response.json()["errors"])
    assert sorted(error_pairs(response)) == [
        ("items.0.technique", "contraindicated_refuse"),
        ("items.0.technique", "contraindicated_refuse"),
    ]
    assert "osteoporosis" in details
    assert "pregnancy" in details
    assert_nothing_written()


def test_override_reason_plans_a_refused_item_and_keeps_what_it_overrode(therapist, practice):
    appointment = flagged_appointment(practice, ["osteoporosis"])
    body = {
        "appointment": appointment.pk,
        "items": [
            item(practice, "effleurage", pressure=1),
            item(
                practice,
                "tapotement",
                pressure=1,
                override_reason="Physician cleared light percussion in writing.",
            ),
        ],
    }

    response = therapist.api.post(PLANS, body, format="json", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 201, response.content
    returned = response.json()["items"][1]
    assert returned["override_reason"] == "Physician cleared light percussion in writing."
    assert returned["overridden"] == [{"flag": "osteoporosis", "rule": "refuse"}]
    assert response.json()["items"][0]["overridden"] == []
    plan = SessionPlan.objects.get()
    stored = plan.items.get(position=1)
    assert stored.override_reason == "Physician cleared light percussion in writing."
    assert stored.overridden == [{"flag": "osteoporosis", "rule": "refuse"}]
    event = AuditEvent.objects.get(record_type="session_plan_override")
    assert event.ids == [plan.pk]
    assert event.actor == therapist.user
    assert event.practice == practice
    assert event.ip_address == "203.0.113.9"


def test_override_of_a_cap_keeps_the_cap_rule(therapist, practice):
    appointment = flagged_appointment(practice, ["osteoporosis"])
    risky = item(practice, "kneading", pressure=4, override_reason="Client tolerates; GP agreed.")

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": [risky]}, format="json"
    )

    assert response.status_code == 201, response.content
    assert PlanItem.objects.get().overridden == [{"flag": "osteoporosis", "rule": "cap"}]
    assert PlanItem.objects.get().pressure == 4


def test_allowed_plan_writes_no_override_audit(therapist, practice, appointment):
    response = therapist.api.post(
        PLANS,
        {
            "appointment": appointment.pk,
            "items": [item(practice, "tapotement", override_reason="x")],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert PlanItem.objects.get().overridden == []
    assert not AuditEvent.objects.filter(record_type="session_plan_override").exists()


def test_local_flag_refuses_its_region_only(therapist, practice):
    appointment = flagged_appointment(
        practice, ["recent_surgery"], regions={"recent_surgery": ["lumbar"]}
    )

    refused = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "effleurage", region="lumbar")]},
        format="json",
    )

    assert refused.status_code == 400, refused.content
    assert error_pairs(refused) == [("items.0.technique", "contraindicated_local")]
    assert "recent_surgery" in refused.json()["errors"][0]["detail"]
    assert "effleurage" in refused.json()["errors"][0]["detail"]
    assert_nothing_written()

    allowed = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "effleurage", region="thoracic")]},
        format="json",
    )

    assert allowed.status_code == 201, allowed.content
    assert PlanItem.objects.get().region == "thoracic"


def test_local_flag_without_recorded_region_refuses_every_region(therapist, practice):
    appointment = flagged_appointment(practice, ["skin_lesion"])

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "vibration", region="cervical")]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items.0.technique", "contraindicated_local")]
    assert_nothing_written()


def test_practice_matrix_edit_is_what_the_check_uses(therapist, practice):
    kneading = technique(practice, "kneading")
    kneading.contraindications.filter(flag="osteoporosis").update(max_pressure=4)
    appointment = flagged_appointment(practice, ["osteoporosis"])

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, "kneading", pressure=4)]},
        format="json",
    )

    assert response.status_code == 201, response.content


def test_unflagged_client_gets_any_technique(therapist, practice, appointment):
    items = [item(practice, code, minutes=5, pressure=5) for code in ("tapotement", "friction")]

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": items}, format="json"
    )

    assert response.status_code == 201, response.content


# --- appointment length, red flags, sensitive-area consent ------------------------------------


def test_minutes_beyond_the_appointment_are_400(therapist, practice, appointment):
    items = [item(practice, minutes=40), item(practice, "kneading", minutes=21)]

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": items}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items", "too_long")]
    assert "61" in response.json()["detail"]
    assert "60" in response.json()["detail"]
    assert_nothing_written()


def test_minutes_filling_the_appointment_exactly_fit(therapist, practice, appointment):
    items = [item(practice, minutes=40), item(practice, "kneading", minutes=20)]

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": items}, format="json"
    )

    assert response.status_code == 201, response.content
    assert sum(PlanItem.objects.values_list("minutes", flat=True)) == 60


def test_referral_required_complaint_is_409_precondition_failed(
    therapist, practice, appointment, client_record
):
    complaint = ComplaintFactory(client=client_record, status="referral_required")

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "complaint": complaint.pk, "items": [item(practice)]},
        format="json",
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "precondition_failed"
    assert_nothing_written()


def test_cleared_complaint_can_be_planned(therapist, practice, appointment, client_record):
    complaint = ComplaintFactory(
        client=client_record, status="active", cleared_at=timezone.now(), clearance_note="GP ok"
    )

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "complaint": complaint.pk, "items": [item(practice)]},
        format="json",
    )

    assert response.status_code == 201, response.content


def test_complaint_of_another_client_is_400(therapist, practice, appointment):
    stranger = ComplaintFactory(client=ClientFactory(practice=practice))

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "complaint": stranger.pk, "items": [item(practice)]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("complaint", "invalid")]
    assert_nothing_written()


def gluteal_plan(therapist, practice, appointment):
    return therapist.api.post(
        PLANS,
        {
            "appointment": appointment.pk,
            "items": [item(practice, "compression", region="gluteal", side="bilateral")],
        },
        format="json",
    )


def test_gluteal_item_without_sensitive_area_consent_is_400(therapist, practice, appointment):
    ConsentFactory(client=appointment.client, kind="general", areas=["gluteal"])
    ConsentFactory(client=appointment.client, kind="sensitive_area", areas=["inner_thigh"])

    response = gluteal_plan(therapist, practice, appointment)

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items.0.region", "consent_required")]
    assert "gluteal" in response.json()["errors"][0]["detail"]
    assert_nothing_written()


def test_gluteal_item_with_active_sensitive_area_consent_is_planned(
    therapist, practice, appointment
):
    ConsentFactory(client=appointment.client, kind="sensitive_area", areas=["gluteal"])

    response = gluteal_plan(therapist, practice, appointment)

    assert response.status_code == 201, response.content
    assert PlanItem.objects.get().region == "gluteal"


def test_gluteal_item_after_consent_is_withdrawn_is_400(therapist, practice, appointment):
    ConsentFactory(
        client=appointment.client,
        kind="sensitive_area",
        areas=["gluteal"],
        signed_at=timezone.now() - dt.timedelta(days=30),
        withdrawn_at=timezone.now() - dt.timedelta(days=1),
    )

    response = gluteal_plan(therapist, practice, appointment)

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items.0.region", "consent_required")]
    assert_nothing_written()


def test_another_clients_sensitive_area_consent_does_not_count(therapist, practice, appointment):
    ConsentFactory(
        client=ClientFactory(practice=practice), kind="sensitive_area", areas=["gluteal"]
    )

    response = gluteal_plan(therapist, practice, appointment)

    assert response.status_code == 400, response.content
    assert_nothing_written()


def test_gluteal_item_needs_no_consent_where_the_practice_does_not_require_it(
    therapist, practice, appointment
):
    practice.sensitive_area_consent_required = False
    practice.save(update_fields=["sensitive_area_consent_required"])

    response = gluteal_plan(therapist, practice, appointment)

    assert response.status_code == 201, response.content


def test_non_sensitive_region_needs_no_consent(therapist, practice, appointment):
    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, region="sacral_si")]},
        format="json",
    )

    assert response.status_code == 201, response.content


# --- templates --------------------------------------------------------------------------------


def create_template(member, practice, items=None, **fields) -> dict:
    body = {
        "name": "Lumbar relaxation, 60 min",
        "goals": ["muscle_relaxation", "stress_reduction"],
        "home_care": "Cat-camel, 10 reps morning and evening.",
        "items": items
        or [
            item(practice, "effleurage", minutes=5, pressure=1),
            item(practice, "kneading", minutes=15, pressure=3, notes="QL both sides"),
        ],
        **fields,
    }
    response = member.api.post(PLANS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_template_has_a_name_and_no_appointment(therapist, practice):
    template = create_template(therapist, practice)

    assert template["name"] == "Lumbar relaxation, 60 min"
    assert template["appointment"] is None
    assert template["client"] is None
    assert [i["technique_code"] for i in template["items"]] == ["effleurage", "kneading"]
    stored = SessionPlan.objects.get(pk=template["id"])
    assert stored.is_template
    assert stored.items.count() == 2


def test_templates_are_listed_with_template_filter(therapist, practice, appointment):
    template = create_template(therapist, practice)
    SessionPlanFactory(appointment=appointment)

    templates = therapist.api.get(PLANS, {"template": "true"})
    plans = therapist.api.get(PLANS, {"template": "false"})

    assert templates.status_code == 200
    assert [p["id"] for p in templates.json()["results"]] == [template["id"]]
    assert template["id"] not in [p["id"] for p in plans.json()["results"]]
    assert len(plans.json()["results"]) == 1


def test_plan_started_from_a_template_copies_its_items(therapist, practice, appointment):
    template = create_template(therapist, practice)

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "template": template["id"]}, format="json"
    )

    assert response.status_code == 201, response.content
    plan = response.json()
    assert plan["id"] != template["id"]
    assert plan["appointment"] == appointment.pk
    assert plan["name"] == ""
    assert plan["goals"] == ["muscle_relaxation", "stress_reduction"]
    assert plan["home_care"] == "Cat-camel, 10 reps morning and evening."
    copied = [
        (i["position"], i["technique_code"], i["minutes"], i["pressure"], i["notes"])
        for i in plan["items"]
    ]
    original = [
        (i["position"], i["technique_code"], i["minutes"], i["pressure"], i["notes"])
        for i in template["items"]
    ]
    assert copied == original
    assert {i["id"] for i in plan["items"]}.isdisjoint({i["id"] for i in template["items"]})
    assert SessionPlan.objects.get(pk=template["id"]).items.count() == 2


def test_plan_from_a_template_with_own_items_uses_those(therapist, practice, appointment):
    template = create_template(therapist, practice)

    response = therapist.api.post(
        PLANS,
        {
            "appointment": appointment.pk,
            "template": template["id"],
            "items": [item(practice, "vibration", minutes=2, pressure=1)],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert [i["technique_code"] for i in response.json()["items"]] == ["vibration"]


def test_template_items_are_checked_against_the_client_of_the_plan(therapist, practice):
    template = create_template(therapist, practice, items=[item(practice, "tapotement")])
    appointment = flagged_appointment(practice, ["osteoporosis"])

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "template": template["id"]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items.0.technique", "contraindicated_refuse")]
    assert SessionPlan.objects.count() == 1  # only the template
    assert PlanItem.objects.count() == 1


def test_template_longer_than_the_appointment_is_400(therapist, practice, appointment):
    template = create_template(
        therapist, practice, items=[item(practice, minutes=45), item(practice, minutes=30)]
    )

    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "template": template["id"]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items", "too_long")]
    assert SessionPlan.objects.count() == 1


def test_plan_for_an_appointment_cannot_carry_a_name(therapist, practice, appointment):
    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "name": "Mine", "items": [item(practice)]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("name", "invalid")]
    assert_nothing_written()


def test_plan_with_neither_appointment_nor_name_is_400(therapist, practice):
    response = therapist.api.post(PLANS, {"items": [item(practice)]}, format="json")

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("appointment", "invalid")]
    assert_nothing_written()


def test_a_plan_for_an_appointment_is_not_a_template(therapist, practice, appointment):
    plan = SessionPlanFactory(appointment=appointment)
    other = AppointmentFactory(client=appointment.client)

    response = therapist.api.post(
        PLANS, {"appointment": other.pk, "template": plan.pk}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("template", "does_not_exist")]
    assert SessionPlan.objects.count() == 1


# --- bad input: clear 400, nothing written ----------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pressure": 0}, "items.0.pressure"),
        ({"pressure": 6}, "items.0.pressure"),
        ({"minutes": 0}, "items.0.minutes"),
        ({"minutes": -1}, "items.0.minutes"),
        ({"region": "foot"}, "items.0.region"),
        ({"side": "up"}, "items.0.side"),
        ({"technique": 987654}, "items.0.technique"),
        ({"technique": "effleurage"}, "items.0.technique"),
        ({"practice": 1}, "items.0.practice"),
        ({"overridden": []}, "items.0.overridden"),
    ],
)
def test_bad_item_is_400_and_writes_nothing(therapist, practice, appointment, change, field):
    body = {"appointment": appointment.pk, "items": [item(practice, **change)]}

    response = therapist.api.post(PLANS, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert_nothing_written()


def test_item_without_technique_region_or_minutes_is_400(therapist, practice, appointment):
    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": [{"pressure": 2}]}, format="json"
    )

    assert response.status_code == 400, response.content
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"items.0.technique", "items.0.region", "items.0.minutes"} <= fields
    assert_nothing_written()


def test_technique_of_another_practice_is_400(therapist, practice, appointment, other_practice):
    foreign = Technique.objects.get(practice=other_practice, code="effleurage")

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, technique=foreign.pk)]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items.0.technique", "does_not_exist")]
    assert_nothing_written()


def test_practice_own_technique_can_be_planned(therapist, practice, appointment):
    own = TechniqueFactory(practice=practice, code="hot_stones", name="Hot stones")

    response = therapist.api.post(
        PLANS,
        {"appointment": appointment.pk, "items": [item(practice, technique=own.pk)]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["items"][0]["technique_code"] == "hot_stones"


def test_appointment_of_another_practice_is_400(therapist, practice, other_practice):
    foreign = AppointmentFactory(client=ClientFactory(practice=other_practice))

    response = therapist.api.post(
        PLANS, {"appointment": foreign.pk, "items": [item(practice)]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("appointment", "does_not_exist")]
    assert_nothing_written()


@pytest.mark.parametrize(
    "extra",
    [
        {"client": 1},
        {"practice": 1},
        {"created_by": 1},
        {"goals": ["world_peace"]},
        {"goals": ["posture", "posture"]},
    ],
)
def test_unknown_or_server_owned_fields_are_400(therapist, practice, appointment, extra):
    response = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": [item(practice)], **extra}, format="json"
    )

    assert response.status_code == 400, response.content
    assert_nothing_written()


# --- changing a plan --------------------------------------------------------------------------


def create_plan(member, practice, appointment, items) -> dict:
    response = member.api.post(
        PLANS, {"appointment": appointment.pk, "items": items}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_patch_replaces_the_items(therapist, practice, appointment):
    plan = create_plan(
        therapist,
        practice,
        appointment,
        [item(practice, "effleurage"), item(practice, "kneading"), item(practice, "vibration")],
    )

    response = therapist.api.patch(
        detail(plan["id"]),
        {"items": [item(practice, "compression", minutes=15), item(practice, "effleurage")]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert [i["technique_code"] for i in response.json()["items"]] == ["compression", "effleurage"]
    assert list(
        PlanItem.objects.filter(plan_id=plan["id"]).values_list("position", "technique__code")
    ) == [(0, "compression"), (1, "effleurage")]
    assert response.json()["appointment"] == appointment.pk


def test_patch_without_items_keeps_them(therapist, practice, appointment):
    plan = create_plan(therapist, practice, appointment, [item(practice, "kneading")])

    response = therapist.api.patch(
        detail(plan["id"]), {"home_care": "Walk 20 minutes a day."}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["home_care"] == "Walk 20 minutes a day."
    assert [i["technique_code"] for i in response.json()["items"]] == ["kneading"]


def test_patch_with_a_contraindicated_item_is_400_and_keeps_the_old_items(therapist, practice):
    appointment = flagged_appointment(practice, ["osteoporosis"])
    plan = create_plan(therapist, practice, appointment, [item(practice, "effleurage")])
    before = list(PlanItem.objects.values_list("id", "technique__code"))

    response = therapist.api.patch(
        detail(plan["id"]), {"items": [item(practice, "friction", pressure=3)]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("items.0.technique", "contraindicated_refuse")]
    assert list(PlanItem.objects.values_list("id", "technique__code")) == before


def test_patch_beyond_the_appointment_is_400_and_keeps_the_old_items(
    therapist, practice, appointment
):
    plan = create_plan(therapist, practice, appointment, [item(practice)])
    before = list(PlanItem.objects.values_list("id", "minutes"))

    response = therapist.api.patch(
        detail(plan["id"]), {"items": [item(practice, minutes=90)]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert list(PlanItem.objects.values_list("id", "minutes")) == before


def test_patch_to_a_referral_required_complaint_is_409(
    therapist, practice, appointment, client_record
):
    plan = create_plan(therapist, practice, appointment, [item(practice)])
    complaint = ComplaintFactory(client=client_record, status="referral_required")

    response = therapist.api.patch(detail(plan["id"]), {"complaint": complaint.pk}, format="json")

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "precondition_failed"
    assert SessionPlan.objects.get(pk=plan["id"]).complaint is None


def test_patch_cannot_move_a_plan_to_another_clients_appointment(therapist, practice):
    # Moving it would put tapotement on an osteoporosis client without any check.
    plan = create_plan(
        therapist,
        practice,
        AppointmentFactory(client=ClientFactory(practice=practice)),
        [item(practice, "tapotement")],
    )
    flagged = flagged_appointment(practice, ["osteoporosis"])

    response = therapist.api.patch(detail(plan["id"]), {"appointment": flagged.pk}, format="json")

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("appointment", "invalid")]
    assert SessionPlan.objects.get(pk=plan["id"]).appointment_id == plan["appointment"]


def test_patch_naming_the_same_appointment_is_fine(therapist, practice, appointment):
    plan = create_plan(therapist, practice, appointment, [item(practice)])

    response = therapist.api.patch(
        detail(plan["id"]), {"appointment": appointment.pk, "goals": ["posture"]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert SessionPlan.objects.get(pk=plan["id"]).goals == ["posture"]


def test_template_cannot_be_turned_into_a_plan_by_patch(therapist, practice, appointment):
    template = create_template(therapist, practice)

    response = therapist.api.patch(
        detail(template["id"]), {"appointment": appointment.pk}, format="json"
    )

    assert response.status_code == 400, response.content
    assert SessionPlan.objects.get(pk=template["id"]).is_template


@pytest.mark.parametrize("signed", [True, False])
def test_items_recorded_as_delivered_in_a_note_cannot_be_replaced(
    therapist, practice, appointment, signed
):
    plan = create_plan(therapist, practice, appointment, [item(practice, "kneading")])
    delivered = PlanItem.objects.get()
    note = therapist.api.post(
        "/api/v1/notes/",
        {"appointment": appointment.pk, "delivered_items": [delivered.pk]},
        format="json",
    ).json()
    if signed:
        assert therapist.api.post(f"/api/v1/notes/{note['id']}/sign/").status_code == 200

    replaced = therapist.api.patch(
        detail(plan["id"]), {"items": [item(practice, "vibration")]}, format="json"
    )
    emptied = therapist.api.patch(detail(plan["id"]), {"items": []}, format="json")

    for response in (replaced, emptied):
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "precondition_failed"
    assert list(PlanItem.objects.all()) == [delivered]
    assert list(Note.objects.get(pk=note["id"]).delivered_items.all()) == [delivered]


def test_plan_text_stays_editable_after_its_items_are_delivered(therapist, practice, appointment):
    plan = create_plan(therapist, practice, appointment, [item(practice, "kneading")])
    NoteFactory(
        practice=practice, client=appointment.client, appointment=appointment
    ).delivered_items.set(PlanItem.objects.all())

    response = therapist.api.patch(
        detail(plan["id"]), {"home_care": "Keep walking daily."}, format="json"
    )

    assert response.status_code == 200, response.content
    assert PlanItem.objects.count() == 1


def test_plan_is_not_deleted_or_put(therapist, practice, appointment):
    plan = create_plan(therapist, practice, appointment, [item(practice)])

    assert therapist.api.delete(detail(plan["id"])).status_code == 405
    assert therapist.api.put(detail(plan["id"]), {}, format="json").status_code == 405
    assert SessionPlan.objects.filter(pk=plan["id"]).exists()


# --- who reads plans --------------------------------------------------------------------------


CLIENT_ITEM_FIELDS = {"position", "technique_code", "technique_name", "region", "side", "minutes"}


@pytest.fixture
def own_plan(therapist, practice, client_member):
    appointment = AppointmentFactory(client=client_member.user.client, practice=practice)
    complaint = ComplaintFactory(client=client_member.user.client)
    response = therapist.api.post(
        PLANS,
        {
            "appointment": appointment.pk,
            "complaint": complaint.pk,
            "goals": ["pain_relief"],
            "home_care": "Heat pack 15 minutes in the evening.",
            "items": [
                item(practice, "effleurage", notes="Guarded; tone high at L4"),
                item(practice, "kneading", pressure=3, override_reason="Private reasoning"),
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_client_reads_their_own_plan_without_clinical_notes(client_member, own_plan):
    response = client_member.api.get(detail(own_plan["id"]))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["goals"] == ["pain_relief"]
    assert body["home_care"] == "Heat pack 15 minutes in the evening."
    assert "created_by" not in body
    assert "complaint" not in body
    assert [set(i) for i in body["items"]] == [CLIENT_ITEM_FIELDS, CLIENT_ITEM_FIELDS]
    shown = [
        (i["technique_code"], i["technique_name"], i["region"], i["minutes"]) for i in body["items"]
    ]
    assert shown == [
        ("effleurage", "Effleurage", "lumbar", 10),
        ("kneading", "Kneading (petrissage)", "lumbar", 10),
    ]
    assert "Guarded" not in response.content.decode()
    assert "Private reasoning" not in response.content.decode()


def test_client_lists_only_their_own_plans(client_member, own_plan, practice, therapist):
    SessionPlanFactory(appointment=AppointmentFactory(client=ClientFactory(practice=practice)))
    create_template(therapist, practice)

    response = client_member.api.get(PLANS)

    assert response.status_code == 200, response.content
    assert [p["id"] for p in response.json()["results"]] == [own_plan["id"]]
    assert "Guarded" not in response.content.decode()


def test_client_cannot_read_another_clients_plan(client_member, practice):
    plan = SessionPlanFactory(
        appointment=AppointmentFactory(client=ClientFactory(practice=practice))
    )

    response = client_member.api.get(detail(plan))

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"


def test_client_cannot_read_a_template(client_member, therapist, practice):
    template = create_template(therapist, practice)

    assert client_member.api.get(detail(template["id"])).status_code == 404


def test_client_cannot_write_plans(client_member, practice, own_plan):
    appointment = AppointmentFactory(client=client_member.user.client)

    created = client_member.api.post(
        PLANS, {"appointment": appointment.pk, "items": [item(practice)]}, format="json"
    )
    patched = client_member.api.patch(
        detail(own_plan["id"]), {"items": [item(practice, "tapotement")]}, format="json"
    )

    assert created.status_code == 403, created.content
    assert patched.status_code == 403, patched.content
    assert SessionPlan.objects.count() == 1
    assert list(PlanItem.objects.values_list("technique__code", flat=True)) == [
        "effleurage",
        "kneading",
    ]


def test_therapist_reads_every_field_of_a_plan(owner, therapist, own_plan):
    for member in (owner, therapist):
        response = member.api.get(detail(own_plan["id"]))

        assert response.status_code == 200, response.content
        kneading = response.json()["items"][1]
        assert kneading["override_reason"] == "Private reasoning"
        assert kneading["pressure"] == 3
        assert response.json()["items"][0]["notes"] == "Guarded; tone high at L4"
        assert response.json()["complaint"] == own_plan["complaint"]
        assert response.json()["created_by"] == therapist.user.pk


def test_reading_a_plan_is_audited(therapist, own_plan):
    before = AuditEvent.objects.filter(record_type="session_plan", action="read").count()

    therapist.api.get(detail(own_plan["id"]))

    after = AuditEvent.objects.filter(record_type="session_plan", action="read").count()
    assert after == before + 1


def test_front_desk_never_reads_or_writes_plans(front_desk, practice, own_plan):
    appointment = AppointmentFactory(client=ClientFactory(practice=practice))

    listed = front_desk.api.get(PLANS)
    read = front_desk.api.get(detail(own_plan["id"]))
    created = front_desk.api.post(
        PLANS, {"appointment": appointment.pk, "items": [item(practice)]}, format="json"
    )
    patched = front_desk.api.patch(detail(own_plan["id"]), {"home_care": "x"}, format="json")

    for response in (listed, read, created, patched):
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
        assert "effleurage" not in response.content.decode()
    assert SessionPlan.objects.count() == 1
    assert SessionPlan.objects.get().home_care == "Heat pack 15 minutes in the evening."


def test_another_practice_sees_no_plan(other_owner, own_plan):
    read = other_owner.api.get(detail(own_plan["id"]))
    patched = other_owner.api.patch(detail(own_plan["id"]), {"home_care": "x"}, format="json")
    listed = other_owner.api.get(PLANS)

    assert read.status_code == 404
    assert patched.status_code == 404
    assert listed.json()["results"] == []
    assert SessionPlan.objects.get().home_care == "Heat pack 15 minutes in the evening."


def test_anonymous_is_401(anon, own_plan):
    response = anon.get(detail(own_plan["id"]))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
