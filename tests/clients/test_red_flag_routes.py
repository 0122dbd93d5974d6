"""The red-flag rules on every write route that creates or changes a complaint or a follow-up
answer (issue 12, part B): generated from the URL conf, so a new route fails here until it has a
scenario. After each write the rules hold (DOMAIN.md 0 rule 2, 2a, 2b, 6):

- a complaint with a `yes` answered after its last clearance is `referral_required`;
- the client's `red_flag_open` health flag is set exactly while one of their complaints is;
- every `yes` answer has a red-flag alert naming its question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, get_resolver
from django.utils import timezone

from clients.models import Client, Complaint, RedFlagAnswer
from config.urls import router
from sessions.api.reminder_views import FollowUpView
from sessions.records.models import TherapistAlert
from tests.factories import ClientFactory
from tests.sessions.test_follow_ups import make_follow_up, url

pytestmark = pytest.mark.django_db

COMPLAINTS = "/api/v1/complaints/"
METHOD_OF = {"create": "POST", "partial_update": "PATCH", "update": "PUT"}


def discovered_write_routes() -> set[str]:
    """Every write route of the complaint viewset and every view that takes follow-up answers."""
    routes: set[str] = set()
    for prefix, viewset, _ in router.registry:
        if viewset.queryset.model is not Complaint:
            continue
        allowed = {m.upper() for m in viewset.http_method_names}
        for action, method in METHOD_OF.items():
            if hasattr(viewset, action) and method in allowed:
                suffix = "" if action == "create" else "{id}/"
                routes.add(f"{method} {prefix}/{suffix}")
        for extra in viewset.get_extra_actions():
            for method in set(extra.mapping) - {"get", "head", "options"}:
                routes.add(f"{method.upper()} {prefix}/{{id}}/{extra.url_path}/")

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "view_class", None)
                if view is FollowUpView:
                    routes.add(f"POST {prefix}{pattern.pattern}".replace("<str:token>", "{token}"))
            else:
                walk(pattern.url_patterns, prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns)
    return {route.replace("api/v1/", "") for route in routes}


@dataclass
class Context:
    therapist: object
    anon: object
    practice: object
    client: Client


def body(client: Client, **overrides) -> dict:
    return {
        "client": client.pk,
        "regions": [{"region": "lumbar", "side": "left"}],
        "onset_date": timezone.localdate().isoformat(),
        "onset_type": "gradual",
        "mechanism": "lifting",
        "pain_now": 5,
        **overrides,
    }


def new_complaint(ctx: Context, **red_flags: str) -> int:
    response = ctx.therapist.api.post(
        COMPLAINTS, body(ctx.client, red_flags=red_flags), format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def post(ctx: Context, path: str, data: dict | None = None):
    return ctx.therapist.api.post(path, data or {}, format="json")


# Each scenario drives its route and says what the complaint's status must be afterwards.
Scenario = Callable[[Context], tuple[object, int, str]]


def create_with_yes(ctx):
    response = ctx.therapist.api.post(
        COMPLAINTS, body(ctx.client, red_flags={"saddle_numbness": "yes"}), format="json"
    )
    return response, response.json()["id"], "referral_required"


def patch_yes_on_active(ctx):
    pk = new_complaint(ctx)
    response = ctx.therapist.api.patch(
        f"{COMPLAINTS}{pk}/", {"red_flags": {"progressive_weakness": "yes"}}, format="json"
    )
    return response, pk, "referral_required"


def patch_without_red_flags_keeps_referral(ctx):
    pk = new_complaint(ctx, cancer_history="yes")
    response = ctx.therapist.api.patch(f"{COMPLAINTS}{pk}/", {"pain_now": 3}, format="json")
    return response, pk, "referral_required"


def patch_yes_after_clearance_reopens(ctx):
    pk = new_complaint(ctx, fever_or_infection="yes")
    post(ctx, f"{COMPLAINTS}{pk}/clear/", {"note": "Seen by GP."})
    response = ctx.therapist.api.patch(
        f"{COMPLAINTS}{pk}/", {"red_flags": {"fever_or_infection": "yes"}}, format="json"
    )
    return response, pk, "referral_required"


def clear(ctx):
    pk = new_complaint(ctx, major_trauma="yes")
    return post(ctx, f"{COMPLAINTS}{pk}/clear/", {"note": "No fracture."}), pk, "active"


def clear_one_of_two(ctx):
    new_complaint(ctx, unexplained_weight_loss="yes")
    pk = new_complaint(ctx, major_trauma="yes")
    return post(ctx, f"{COMPLAINTS}{pk}/clear/", {"note": "No fracture."}), pk, "active"


def resolve(ctx):
    pk = new_complaint(ctx)
    return post(ctx, f"{COMPLAINTS}{pk}/resolve/"), pk, "resolved"


def resolve_refused_while_referred(ctx):
    pk = new_complaint(ctx, bilateral_leg_symptoms="yes")
    return post(ctx, f"{COMPLAINTS}{pk}/resolve/"), pk, "referral_required"


def reopen(ctx):
    new_complaint(ctx, unremitting_night_pain="yes")  # another referral stays open
    pk = new_complaint(ctx)
    post(ctx, f"{COMPLAINTS}{pk}/resolve/")
    return post(ctx, f"{COMPLAINTS}{pk}/reopen/"), pk, "active"


def follow_up_checkbox(ctx):
    sent = make_follow_up(ctx.practice, ctx.therapist)
    ctx.client = Client.objects.get(pk=sent.appointment.client_id)
    response = ctx.anon.post(
        url(sent.token), {"pain": 2, "red_flags": {"saddle_numbness": True}}, format="json"
    )
    return response, sent.complaint.pk, "referral_required"


def follow_up_comment(ctx):
    sent = make_follow_up(ctx.practice, ctx.therapist)
    ctx.client = Client.objects.get(pk=sent.appointment.client_id)
    response = ctx.anon.post(
        url(sent.token), {"pain": 2, "comment": "I have a fever and chills"}, format="json"
    )
    return response, sent.complaint.pk, "referral_required"


SCENARIOS: dict[str, list[Scenario]] = {
    "POST complaints/": [create_with_yes],
    "PATCH complaints/{id}/": [
        patch_yes_on_active,
        patch_without_red_flags_keeps_referral,
        patch_yes_after_clearance_reopens,
    ],
    "POST complaints/{id}/clear/": [clear, clear_one_of_two],
    "POST complaints/{id}/resolve/": [resolve, resolve_refused_while_referred],
    "POST complaints/{id}/reopen/": [reopen],
    "POST public/follow-ups/{token}/": [follow_up_checkbox, follow_up_comment],
}


def test_every_write_route_has_a_scenario():
    assert discovered_write_routes() == set(SCENARIOS)


def assert_red_flag_rules(client: Client) -> None:
    client.refresh_from_db()
    complaints = list(Complaint.objects.filter(client=client).prefetch_related("clearances"))
    for complaint in complaints:
        last_clearance = max((c.cleared_at for c in complaint.clearances.all()), default=None)
        yes = RedFlagAnswer.objects.filter(complaint=complaint, answer="yes")
        if last_clearance is not None:
            yes = yes.filter(asked_at__gt=last_clearance)
        if yes.exists():
            assert complaint.status == "referral_required", complaint.pk
        for answer in RedFlagAnswer.objects.filter(complaint=complaint, answer="yes"):
            assert any(
                answer.question in alert.questions
                for alert in TherapistAlert.objects.filter(complaint=complaint, kind="red_flag")
            ), (complaint.pk, answer.question)
    is_open = any(c.status == "referral_required" for c in complaints)
    assert ("red_flag_open" in client.health_flags) is is_open, client.health_flags


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(scenario, id=f"{route} {scenario.__name__}")
        for route, scenarios in SCENARIOS.items()
        for scenario in scenarios
    ],
)
def test_red_flag_rules_hold_after_each_write(scenario, therapist, anon, practice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ctx = Context(therapist, anon, practice, ClientFactory(practice=practice))

    response, pk, status = scenario(ctx)

    assert response.status_code < 500, response.content
    assert Complaint.objects.get(pk=pk).status == status
    assert_red_flag_rules(ctx.client)
