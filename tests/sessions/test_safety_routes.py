"""Every write route that can create or change a session plan, its items, a delivery of them or a
technique's matrix row, walked for a client with each whole-body and clearance flag (DOMAIN.md 2b)
and with an open red flag: none lets an unsafe plan through without an audited override.

The routes are generated from the URL conf (as tests/contract/ does): a new write operation on
plans, notes or techniques fails `test_every_write_route_is_walked` until it has a scenario here
or a stated reason why it cannot put an unsafe plan into use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import resolve

from practice.models import AuditEvent
from sessions.records.models import Note, PlanItem, SessionPlan
from techniques.models import Technique
from tests.factories import AppointmentFactory, ClientFactory, ComplaintFactory
from tests.owasp.test_api5_function_authorization import served_operations

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CONDITIONS = (
    "dvt",
    "fever_acute_illness",
    "red_flag_open",
    "uncontrolled_hypertension_cardiac",
    "pregnancy_high_risk",
    "cancer_active_treatment",
    "open_referral",  # a complaint in referral_required, and no red_flag_open health flag
)
HISTORIES = ("fresh", "overridden_before")
PRIOR_FLAG = "osteoporosis"
OVERRIDE = "Discussed with the client's physician; documented in the file."


@dataclass
class World:
    practice: Any
    owner: Any
    therapist: Any
    client: Any
    appointment: Any
    state: dict = field(default_factory=dict)
    # "overridden_before": the client already holds PRIOR_FLAG and the plan made before the new
    # flag carries an audited override for it; that override must not cover the new flag.
    history: str = "fresh"

    def technique(self, code: str) -> Technique:
        return Technique.objects.get(practice=self.practice, code=code)

    def item(self, technique_id: int | None = None, override: bool = False) -> dict:
        body = {
            "technique": technique_id or self.technique("effleurage").pk,
            "region": "lumbar",
            "minutes": 10,
            "pressure": 1,
        }
        if override:
            body["override_reason"] = OVERRIDE
        return body

    def plan_before_the_flag(self) -> SessionPlan:
        item = self.item()
        if self.history == "overridden_before":  # kneading is capped at 2 with osteoporosis
            item = dict(self.item(self.technique("kneading").pk, override=True), pressure=3)
        response = self.therapist.api.post(
            "/api/v1/session-plans/",
            {"appointment": self.appointment.pk, "items": [item]},
            format="json",
        )
        assert response.status_code == 201, response.content
        return SessionPlan.objects.get(pk=response.json()["id"])


def flag(world: World, condition: str) -> None:
    if condition == "open_referral":
        ComplaintFactory(client=world.client, status="referral_required")
    else:
        world.client.health_flags = [*world.client.health_flags, condition]
        world.client.save(update_fields=["health_flags"])


@dataclass(frozen=True)
class Scenario:
    """`prepare` runs before the client is flagged (a plan or note made while it was safe);
    `attempt` is the write under test, with or without an override on the items it sends."""

    name: str
    attempt: Callable[[World, bool], Any]
    prepare: Callable[[World], None] = lambda world: None
    takes_override: bool = True


def post_plan_items(world: World, override: bool):
    return world.therapist.api.post(
        "/api/v1/session-plans/",
        {"appointment": world.appointment.pk, "items": [world.item(override=override)]},
        format="json",
    )


def prepare_template(world: World) -> None:
    response = world.therapist.api.post(
        "/api/v1/session-plans/",
        {"name": "Relaxation", "items": [world.item()]},
        format="json",
    )
    assert response.status_code == 201, response.content
    world.state["template"] = response.json()["id"]


def post_plan_from_template(world: World, override: bool):
    return world.therapist.api.post(
        "/api/v1/session-plans/",
        {"appointment": world.appointment.pk, "template": world.state["template"]},
        format="json",
    )


def prepare_plan(world: World) -> None:
    world.state["plan"] = world.plan_before_the_flag().pk


def patch_plan_items(world: World, override: bool):
    return world.therapist.api.patch(
        f"/api/v1/session-plans/{world.state['plan']}/",
        {"items": [world.item(world.technique("vibration").pk, override=override)]},
        format="json",
    )


def patch_plan_without_items(world: World, override: bool):
    return world.therapist.api.patch(
        f"/api/v1/session-plans/{world.state['plan']}/",
        {"goals": ["stress_reduction"]},
        format="json",
    )


def new_technique_then_plan(world: World, override: bool):
    created = world.owner.api.post(
        "/api/v1/techniques/",
        {
            "code": f"hot_stones_{int(override)}",
            "name": "Hot stones",
            "description": "Warm basalt stones glided along the back.",
            "usual_pressure": {"min": 1, "max": 2},
            "usual_minutes": {"min": 5, "max": 10},
            "contraindications": [],  # the owner sets "allowed for everything" on purpose
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    return world.therapist.api.post(
        "/api/v1/session-plans/",
        {
            "appointment": world.appointment.pk,
            "items": [world.item(created.json()["id"], override=override)],
        },
        format="json",
    )


def emptied_matrix_then_plan(world: World, override: bool):
    effleurage = world.technique("effleurage")
    emptied = world.owner.api.patch(
        f"/api/v1/techniques/{effleurage.pk}/", {"contraindications": []}, format="json"
    )
    assert emptied.status_code == 200, emptied.content
    return post_plan_items(world, override)


def prepare_delivery(world: World) -> None:
    world.state["items"] = list(world.plan_before_the_flag().items.values_list("pk", flat=True))


def post_note_delivering(world: World, override: bool):
    return world.therapist.api.post(
        "/api/v1/notes/",
        {"appointment": world.appointment.pk, "delivered_items": world.state["items"]},
        format="json",
    )


def prepare_draft(world: World) -> None:
    prepare_delivery(world)
    response = world.therapist.api.post(
        "/api/v1/notes/", {"appointment": world.appointment.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    world.state["note"] = response.json()["id"]


def patch_note_delivering(world: World, override: bool):
    return world.therapist.api.patch(
        f"/api/v1/notes/{world.state['note']}/",
        {"delivered_items": world.state["items"]},
        format="json",
    )


SCENARIOS: dict[str, list[Scenario]] = {
    "POST /api/v1/session-plans/": [
        Scenario("items", post_plan_items),
        Scenario("template", post_plan_from_template, prepare_template, takes_override=False),
    ],
    "PATCH /api/v1/session-plans/{}/": [
        Scenario("items", patch_plan_items, prepare_plan),
        Scenario("no items", patch_plan_without_items, prepare_plan, takes_override=False),
    ],
    "POST /api/v1/techniques/": [Scenario("new technique", new_technique_then_plan)],
    "PATCH /api/v1/techniques/{}/": [Scenario("emptied matrix", emptied_matrix_then_plan)],
    "POST /api/v1/notes/": [
        Scenario("delivery", post_note_delivering, prepare_delivery, takes_override=False)
    ],
    "PATCH /api/v1/notes/{}/": [
        Scenario("delivery", patch_note_delivering, prepare_draft, takes_override=False)
    ],
}
# Write routes of these resources that cannot put an unsafe plan into use, and why.
NOT_PLAN_WRITES = {
    "DELETE /api/v1/techniques/{}/": "removes a practice's unused technique; plans protect theirs",
    "POST /api/v1/notes/{}/sign/": "fixes what the note recorded as delivered; adds nothing",
    "POST /api/v1/notes/{}/amendments/": "free-text corrections; no items",
}
RESOURCES = (SessionPlan, Note, Technique, PlanItem)


def write_routes() -> set[str]:
    """Write operations served by a view over plans, notes (deliveries) or techniques."""
    found = set()
    for operation in served_operations():
        method, path = operation.split(" ", 1)
        if method not in WRITE_METHODS:
            continue
        view = resolve(path.replace("{}", "1")).func
        view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
        queryset = getattr(view_class, "queryset", None)
        if queryset is not None and queryset.model in RESOURCES:
            found.add(operation)
    return found


def test_every_write_route_is_walked():
    routes = write_routes()

    assert routes, "no plan, note or technique write routes found: the walk would be empty"
    assert routes == set(SCENARIOS) | set(NOT_PLAN_WRITES)


def plan_state() -> tuple[list, list]:
    """What a refusal must leave untouched: every plan item, and every note's delivered items."""
    items = list(
        PlanItem.objects.order_by("pk").values_list(
            "pk", "plan_id", "technique_id", "pressure", "override_reason"
        )
    )
    delivered = list(
        Note.delivered_items.through.objects.order_by("pk").values_list("note_id", "planitem_id")
    )
    return items, delivered


CASES = [
    pytest.param(
        operation,
        scenario,
        condition,
        history,
        id=f"{operation} {scenario.name} {condition} {history}",
    )
    for operation, scenarios in SCENARIOS.items()
    for scenario in scenarios
    for condition in CONDITIONS
    for history in HISTORIES
]


def overrides() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(record_type="session_plan_override").order_by("pk"))


@pytest.mark.parametrize(("operation", "scenario", "condition", "history"), CASES)
def test_no_route_lets_an_unsafe_plan_through_without_an_audited_override(
    practice, owner, therapist, operation, scenario, condition, history
):
    client = ClientFactory(
        practice=practice, health_flags=[PRIOR_FLAG] if history == "overridden_before" else []
    )
    appointment = AppointmentFactory(client=client, status="checked_in")
    world = World(practice, owner, therapist, client, appointment, history=history)
    scenario.prepare(world)
    audited_before = overrides()
    flag(world, condition)
    before = plan_state()

    refused = scenario.attempt(world, False)

    expected = 409 if condition == "open_referral" else 400
    assert refused.status_code == expected, refused.content
    body = refused.json()
    if condition == "open_referral":
        assert body["code"] == "precondition_failed"
    else:
        assert all(e["code"].startswith("contraindicated_") for e in body["errors"]), body
        assert condition in body["detail"], body
    assert plan_state() == before
    assert overrides() == audited_before

    if not scenario.takes_override:
        return
    overridden = scenario.attempt(world, True)
    if condition == "open_referral":  # no override: a therapist records the referral outcome
        assert overridden.status_code == 409, overridden.content
        assert plan_state() == before
        return
    assert overridden.status_code in (200, 201), overridden.content
    plan = SessionPlan.objects.get(pk=overridden.json()["id"])
    assert [i.override_reason for i in plan.items.all()] == [OVERRIDE]
    assert any(condition == o["flag"] for o in plan.items.get().overridden)
    *kept, event = overrides()
    assert kept == audited_before
    assert event.ids == [plan.pk]
    assert event.client_id == world.client.pk
