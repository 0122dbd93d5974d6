"""What the contract suites walk: the router's routes, and how to make a record for each of them.

A new endpoint registered on `config.urls.router` is picked up by every contract suite; the only
edit it needs is a recipe in `RECIPES` for its model (the suites fail, naming it, until then).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import models
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from clients.models import Client, Complaint, Consent, ErasureRequest, Outcome
from config.urls import router
from practice.models import (
    ApiKey,
    AuditEvent,
    Membership,
    Practice,
    Role,
    Service,
    TaxRate,
    Therapist,
    TimeOff,
    Tombstone,
    WebhookSubscription,
)
from practice.permissions import WRITE
from sessions.billing.models import CancellationFee, ClientPackage, Invoice, Package, Payment
from sessions.records.models import Note, SessionPlan, TherapistAlert
from sessions.scheduling.models import Appointment, Reminder, WaitlistEntry
from techniques.models import Technique
from tests.factories import (
    ApiKeyFactory,
    AppointmentFactory,
    AuditEventFactory,
    CancellationFeeFactory,
    ClientFactory,
    ClientPackageFactory,
    ComplaintFactory,
    ConsentFactory,
    ErasureRequestFactory,
    InvoiceFactory,
    MembershipFactory,
    NoteFactory,
    OutcomeFactory,
    PackageFactory,
    PaymentFactory,
    ReminderFactory,
    ServiceFactory,
    SessionPlanFactory,
    TaxRateFactory,
    TechniqueFactory,
    TherapistAlertFactory,
    TherapistFactory,
    TimeOffFactory,
    TombstoneFactory,
    WaitlistEntryFactory,
    WebhookSubscriptionFactory,
)

ROLES = (Role.OWNER, Role.THERAPIST, Role.FRONT_DESK, Role.CLIENT)

# A recipe makes `size` rows of one model in `practice`. For models that reach a client
# (`client_path`), the rows belong to `client`; with `client=None` the recipe picks one itself.
Recipe = Callable[..., list[models.Model]]


def _clients(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
    if client is not None:
        assert size == 1, "a given client is one record"
        return [client]
    return ClientFactory.create_batch(size, practice=practice)


def _for_client(factory: Any) -> Recipe:
    def make(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
        owner = client if client is not None else ClientFactory(practice=practice)
        return factory.create_batch(size, client=owner)

    return make


def _in_practice(factory: Any, **fields: Any) -> Recipe:
    def make(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
        return factory.create_batch(size, practice=practice, **fields)

    return make


def _time_off(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
    return TimeOffFactory.create_batch(size, therapist=TherapistFactory(practice=practice))


def _appointments(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
    # One therapist and service for the lot: a real diary, and 100 rows stay cheap to make.
    return AppointmentFactory.create_batch(
        size,
        client=client if client is not None else ClientFactory(practice=practice),
        therapist=TherapistFactory(practice=practice),
        service=ServiceFactory(practice=practice),
    )


def _session_plans(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
    owner = client if client is not None else ClientFactory(practice=practice)
    therapist = TherapistFactory(practice=practice)
    service = ServiceFactory(practice=practice)
    return [
        SessionPlanFactory(
            appointment=AppointmentFactory(client=owner, therapist=therapist, service=service)
        )
        for _ in range(size)
    ]


def _notes(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
    # Signed and shared, so a client may read their own (unshared drafts are clinicians' only).
    owner = client if client is not None else ClientFactory(practice=practice)
    author = members[Role.THERAPIST].user
    return NoteFactory.create_batch(
        size, client=owner, author=author, shared_with_client=True, signed_at=timezone.now()
    )


def _outcomes(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
    owner = client if client is not None else ClientFactory(practice=practice)
    return OutcomeFactory.create_batch(size, complaint=ComplaintFactory(client=owner))


def _reminders(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
    owner = client if client is not None else ClientFactory(practice=practice)
    therapist = TherapistFactory(practice=practice)
    service = ServiceFactory(practice=practice)
    return [
        ReminderFactory(
            appointment=AppointmentFactory(client=owner, therapist=therapist, service=service)
        )
        for _ in range(size)
    ]


def _cancellation_fees(
    practice: Practice, members: dict, *, client: Client | None, size: int
) -> list:
    owner = client if client is not None else ClientFactory(practice=practice)
    therapist = TherapistFactory(practice=practice)
    service = ServiceFactory(practice=practice)
    return [
        CancellationFeeFactory(
            appointment=AppointmentFactory(
                client=owner, therapist=therapist, service=service, status="no_show"
            )
        )
        for _ in range(size)
    ]


def _payments(practice: Practice, members: dict, *, client: Client | None, size: int) -> list:
    owner = client if client is not None else ClientFactory(practice=practice)
    invoice = InvoiceFactory(client=owner, subtotal=size * 20, total=size * 20)
    return PaymentFactory.create_batch(size, invoice=invoice)


RECIPES: dict[type[models.Model], Recipe] = {
    Membership: _in_practice(MembershipFactory, role=Role.FRONT_DESK),
    Therapist: _in_practice(TherapistFactory),
    TimeOff: _time_off,
    Service: _in_practice(ServiceFactory),
    AuditEvent: _in_practice(AuditEventFactory),
    Client: _clients,
    Consent: _for_client(ConsentFactory),
    Complaint: _for_client(ComplaintFactory),
    Technique: _in_practice(TechniqueFactory),
    Appointment: _appointments,
    SessionPlan: _session_plans,
    Note: _notes,
    Outcome: _outcomes,
    Reminder: _reminders,
    TherapistAlert: _for_client(TherapistAlertFactory),
    ApiKey: _in_practice(ApiKeyFactory),
    WebhookSubscription: _in_practice(WebhookSubscriptionFactory),
    WaitlistEntry: _for_client(WaitlistEntryFactory),
    ErasureRequest: _in_practice(ErasureRequestFactory),
    Tombstone: _in_practice(TombstoneFactory),
    Package: _in_practice(PackageFactory),
    ClientPackage: _for_client(ClientPackageFactory),
    CancellationFee: _cancellation_fees,
    TaxRate: _in_practice(TaxRateFactory),
    Invoice: _for_client(InvoiceFactory),
    Payment: _payments,
}


@dataclass(frozen=True)
class Route:
    prefix: str
    viewset: Any
    basename: str

    @property
    def model(self) -> type[models.Model]:
        return self.viewset.queryset.model

    @property
    def reaches_a_client(self) -> bool:
        return hasattr(self.model, "client_path")

    def offers(self, action: str) -> bool:
        """The router maps `action` for this viewset (and its allowed methods let it through)."""
        method = {
            "list": "get",
            "retrieve": "get",
            "create": "post",
            "partial_update": "patch",
            "destroy": "delete",
        }[action]
        return hasattr(self.viewset, action) and method in self.viewset.http_method_names

    def mode(self, role: str, action: str) -> str | None:
        """READ, WRITE or None (no access): what the viewset's tables give `role` for `action`."""
        table = getattr(self.viewset, "action_access", {}).get(action)
        if table is None:
            table = self.viewset.access
        return table.get(role)

    def list_url(self) -> str:
        return reverse(f"{self.basename}-list")

    def detail_url(self, obj: models.Model) -> str:
        lookup = getattr(self.viewset, "lookup_field", "pk")
        return reverse(f"{self.basename}-detail", args=[getattr(obj, lookup)])

    def extra_detail_reads(self, obj: models.Model) -> list[str]:
        """URLs of the custom `detail=True` actions answering GET (working hours, progress, ...)."""
        return [
            reverse(f"{self.basename}-{extra.url_name}", args=[obj.pk])
            for extra in self.viewset.get_extra_actions()
            if extra.detail and "get" in extra.mapping
        ]

    def make(self, practice: Practice, members: dict, *, client: Client | None = None, size=1):
        recipe = RECIPES.get(self.model)
        if recipe is None:
            pytest.fail(
                f"{self.model.__name__} (route {self.prefix}/) has no recipe: add one to "
                "RECIPES in tests/contract/routes.py so the contract suites cover it."
            )
        return recipe(practice, members, client=client, size=size)

    def a_change(self, obj: models.Model, practice: Practice) -> dict[str, str]:
        """A PATCH body an owner could send that would visibly change `obj` (or {} if none)."""
        owner_request = SimpleNamespace(role=Role.OWNER, practice=practice, user=None)
        serializer = self.viewset.serializer_class(instance=obj, context={"request": owner_request})
        for name, field in serializer.fields.items():
            if type(field) is serializers.CharField and not field.read_only:
                return {name: "Changed by the contract suite"}
        return {}


ROUTES = [Route(prefix, viewset, basename) for prefix, viewset, basename in router.registry]


def route_params(routes: list[Route] = ROUTES) -> list:
    return [pytest.param(route, id=route.prefix) for route in routes]


def non_writing_roles(action: str) -> list:
    """(route, role) for each role that may not run `action` on a route offering it."""
    return [
        pytest.param(route, role, id=f"{route.prefix}-{role}")
        for route in ROUTES
        if route.offers(action)
        for role in ROLES
        if route.mode(role, action) != WRITE
    ]


def row(obj: models.Model) -> dict | None:
    """The row as the database holds it now (None once deleted)."""
    return type(obj)._default_manager.filter(pk=obj.pk).values().first()
