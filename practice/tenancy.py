"""Tenancy and roles in one place (API.md "Tenancy and roles").

Every queryset a view serves, every detail lookup and every related id in a body goes through
`scope()`: rows of another practice, and rows the caller's role may not see, behave exactly like
rows that do not exist (404 on detail, 400 "does not exist" in a body). Whole endpoints a role may
not use answer 403 through `access`.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import QuerySet
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from practice.api.base import StrictModelSerializer
from practice.audit import audit
from practice.auth import PracticeRequest
from practice.models import ApiKey, AuditAction, Practice, Role, User
from practice.permissions import WRITE
from practice.sync import SYNC_HEADER, ETagRetrieveMixin, next_sync_since
from practice.throttling import caller_ip

READ = "read"
AccessTable = dict[str, str]  # role (or the API-key role) -> READ | WRITE

STAFF_WRITE: AccessTable = {Role.OWNER: WRITE, Role.THERAPIST: WRITE, Role.FRONT_DESK: WRITE}
CLINICAL: AccessTable = {Role.OWNER: WRITE, Role.THERAPIST: WRITE}
# Clinical records a client may read (their own, through `scope`), clinicians write.
CLINICAL_CLIENT_READS: AccessTable = {Role.OWNER: WRITE, Role.THERAPIST: WRITE, Role.CLIENT: READ}
OWNER_ONLY: AccessTable = {Role.OWNER: WRITE}


def scope(queryset: models.QuerySet, request: Request) -> models.QuerySet:
    """Rows of `queryset` the caller may see: their practice, and for a client only their own.

    A model reaches its client through `client_path` ("" for Client itself, "client" for rows with a
    client foreign key); models without one (services, therapists, techniques) are shared practice
    data, visible to every member.
    """
    model = queryset.model
    practice = getattr(request, "practice", None)
    if practice is None:
        return queryset.none()
    if model is Practice:
        queryset = queryset.filter(pk=practice.pk)
    elif hasattr(model, "practice_id"):
        queryset = queryset.filter(practice=practice)
    else:
        raise ImproperlyConfigured(f"{model.__name__} has no practice: it cannot be scoped.")
    client_path = getattr(model, "client_path", None)
    if getattr(request, "role", None) == Role.CLIENT and client_path is not None:
        user_lookup = f"{client_path}__user" if client_path else "user"
        queryset = queryset.filter(**{user_lookup: request.user})
    elif client_path is not None and getattr(request, "role", None) != Role.OWNER:
        queryset = _hide_restricted(queryset, client_path, request)
    return queryset


def _hide_restricted(
    queryset: models.QuerySet, client_path: str, request: Request
) -> models.QuerySet:
    """Records of a restricted client (an erasure request kept them for the retention duty,
    DOMAIN.md 8) are read only by the owner and the therapists who treated the client."""
    prefix = f"{client_path}__" if client_path else ""
    visible = models.Q(**{f"{prefix}restricted_at__isnull": True})
    if getattr(request, "role", None) == Role.THERAPIST:
        model = queryset.model
        client_model = model._meta.get_field(client_path).related_model if client_path else model
        # by relation name: this layer cannot import the sessions app that owns appointments
        treated = client_model.objects.filter(
            restricted_at__isnull=False, appointments__therapist__user=request.user
        ).values("pk")
        visible |= models.Q(**{f"{prefix}pk__in": treated})
    return queryset.filter(visible)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id in a body resolves only within the caller's scope; else it 'does not exist'."""

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            raise ImproperlyConfigured("Scoped related fields need the request in the context.")
        return scope(queryset, request)  # type: ignore[arg-type]  # a field given a queryset


class PracticeModelSerializer(StrictModelSerializer):
    """Strict model serializer whose related ids are tenant-scoped and whose fields depend on role.

    `hidden_fields` maps a role to fields it may neither read nor write (front desk never sees
    clinical content); `read_only_fields_for` to fields it may read but not write. For that role,
    naming such a field in a body is a 400 (`not_permitted`).
    """

    serializer_related_field = ScopedPrimaryKeyRelatedField
    # keyed by role; a request without one (None) finds no entry
    hidden_fields: ClassVar[dict[str | None, set[str]]] = {}
    read_only_fields_for: ClassVar[dict[str | None, set[str]]] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        role = getattr(request, "role", None)
        self.restricted_fields = set(self.hidden_fields.get(role, ())) | set(
            self.read_only_fields_for.get(role, ())
        )
        for name in self.hidden_fields.get(role, ()):
            fields.pop(name, None)
        for name in self.read_only_fields_for.get(role, ()):
            if name in fields:
                fields[name].read_only = True
        return fields


class PracticeScopedViewSet(viewsets.GenericViewSet):
    """Base of every tenant resource: scoped queryset, role access, server-owned practice, audit.

    Subclasses set `queryset`, `serializer_class`, `access`; clinical resources set `audit_as`
    (the record type written to the access log on every read and write).
    """

    request: PracticeRequest
    access: ClassVar[AccessTable] = CLINICAL
    action_access: ClassVar[dict[str, AccessTable]] = {}
    audit_as: ClassVar[str | None] = None

    def get_queryset(self) -> QuerySet[Any]:
        return scope(super().get_queryset(), self.request)

    # Every write has one home, a service: a viewset that offers create, update or destroy says
    # which service each calls (and audits with `self.audit`); serializers never save.
    def perform_create(self, serializer) -> None:
        raise ImproperlyConfigured(f"{type(self).__name__}.perform_create must call a service.")

    def perform_update(self, serializer) -> None:
        raise ImproperlyConfigured(f"{type(self).__name__}.perform_update must call a service.")

    def perform_destroy(self, instance) -> None:
        raise ImproperlyConfigured(f"{type(self).__name__}.perform_destroy must call a service.")

    # --- access log: one INSERT per response, however many rows it shows -------------------------
    def paginate_queryset(self, queryset) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        self._read_objects = page
        return page

    def get_object(self) -> Any:
        obj = super().get_object()
        if self.request.method in permissions.SAFE_METHODS:
            self._read_objects = [obj]
        return obj

    def finalize_response(self, request, response, *args, **kwargs) -> Response:
        # A read is logged when it is answered, and also when the request fails after it (a
        # 5xx answer): rows that left the database are never missing from the log (issue 22.2).
        if 200 <= response.status_code < 300 or response.status_code >= 500:
            self._audit_reads()
        if getattr(self, "action", None) == "list" and response.status_code == 200:
            response[SYNC_HEADER] = next_sync_since()
        return super().finalize_response(request, response, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        try:
            return super().handle_exception(exc)
        except Exception:
            # An unexpected error after the read (a serializer, a renderer) becomes a 500 outside
            # DRF, so finalize_response never sees it: the read is logged here.
            with suppress(Exception):  # the error worth seeing is the one raised
                self._audit_reads()
            raise

    def _audit_reads(self) -> None:
        """One READ row for what this request read, once, however it ends."""
        objects = getattr(self, "_read_objects", None)
        self._read_objects = None
        if objects:
            self.audit(AuditAction.READ, objects)

    def audit(self, action: str, objects: Iterable[models.Model | dict]) -> None:
        if not self.audit_as:
            return
        objects = list(objects)
        ids = [obj["id"] if isinstance(obj, dict) else obj.pk for obj in objects]
        # The class's queryset names the model without building the scoped one again.
        base = getattr(self, "queryset", None)
        model = base.model if base is not None else self.get_queryset().model
        client_path = getattr(model, "client_path", None)
        clients = [_client_of(obj, client_path) for obj in objects]
        log_access(self.request, action, self.audit_as, ids, client_ids=clients)


def _client_of(obj: models.Model | dict, client_path: str | None) -> int | None:
    """The client a row belongs to, read from the row itself (no query): `client_path` is "" for
    a client, "client" for rows with a client foreign key (a `.values()` row names it `client`)."""
    if client_path is None:
        return None
    if isinstance(obj, dict):
        return obj.get("id") if client_path == "" else obj.get("client_id", obj.get("client"))
    return obj.pk if client_path == "" else getattr(obj, f"{client_path}_id", None)


def log_access(
    request: Any,
    action: str,
    record_type: str,
    record_ids: list[int],
    *,
    client_ids: Iterable[int | None] | None = None,
) -> None:
    """One access-log row (DOMAIN.md 8 "Audit controls"). `client_ids` name whose records these
    are (for `clients/{id}/access-log/`); records of type "client" are their own client."""
    if not record_ids:
        return
    if client_ids is None and record_type == "client":
        client_ids = record_ids
    audit(
        practice=request.practice,
        actor=request.user if isinstance(request.user, User) else None,  # an API key has none
        role=getattr(request, "role", None) or "",
        api_key=auth if isinstance(auth := getattr(request, "auth", None), ApiKey) else None,
        action=action,
        record_type=record_type,
        record_ids=record_ids,
        client_ids=client_ids or (),
        ip_address=caller_ip(request),
    )


class RowsListViewSet(PracticeScopedViewSet):
    """A resource whose list is answered from rows (`practice.rows`, issue 22.2): the list reads
    `.values(*list_row_fields)` and `with_page_rows` gives each page its related rows; every
    other action reads models. Listed before the resource's base class."""

    list_row_fields: ClassVar[tuple[str, ...]] = ()

    def with_page_rows(self, rows: list[dict]) -> list[dict]:
        return rows

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.action == "list":
            # the models' prefetches are other actions'; a page of rows gets `with_page_rows`
            return queryset.prefetch_related(None).values(*self.list_row_fields)
        return queryset

    def paginate_queryset(self, queryset) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        if page is not None and self.action == "list":
            self.with_page_rows(page)
        return page


# PracticeScopedViewSet comes first so that its perform_create/update/destroy (server-owned
# practice, audit) win over DRF's plain ones; a subclass adding DRF mixins lists them after these.
class TenantModelViewSet(
    PracticeScopedViewSet,
    mixins.ListModelMixin,
    ETagRetrieveMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    """Scoped CRUD. PUT is not offered: partial updates with PATCH only."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


class TenantViewSet(
    PracticeScopedViewSet, mixins.ListModelMixin, ETagRetrieveMixin, mixins.RetrieveModelMixin
):
    """Scoped list and retrieve; a subclass adds the writes it offers (DRF mixins listed after
    this class, or its own `create`/actions), each calling one service."""


class TenantReadOnlyModelViewSet(TenantViewSet):
    """Scoped list and retrieve, and nothing that writes."""
