"""Intake before the first visit (issue 17): form versions (`intake-forms/`), the client's link
(`public/intake/{token}/`, or `me/intake/` when logged in), the staff's view of a client's intake
(`clients/{id}/intake/`) with resend and proposal decisions, and "done on paper" for a visit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.models import Client
from practice.errors import Invalid, NotFound
from practice.models import AuditAction, Role
from practice.permissions import WRITE
from practice.tenancy import (
    CLINICAL,
    READ,
    STAFF_WRITE,
    AccessTable,
    TenantViewSet,
    log_access,
    scope,
)
from practice.throttling import AttemptCounter, caller_ip, client_address, hashed_ident
from sessions.api.intake_serializers import (
    ClientIntakeSerializer,
    DecisionSerializer,
    IntakeFormCreateSerializer,
    IntakeFormSerializer,
    IntakeLinkSerializer,
    IntakeSectionsSerializer,
    OnPaperSerializer,
    ProposalSerializer,
    link_view,
)
from sessions.api.views import PublicThrottle
from sessions.records import intake, intake_forms
from sessions.records.models import IntakeForm, IntakeRequest
from sessions.scheduling.models import Appointment

FORM_ACCESS: AccessTable = {Role.OWNER: WRITE, Role.THERAPIST: READ, Role.FRONT_DESK: READ}
CLIENT_SELF_WRITE: AccessTable = {Role.CLIENT: WRITE}

# Issue 17 "Bad input and abuse": every save or submit through a link counts, per link and per
# address (a script cannot hammer one link, nor walk many from one address).
INTAKE_WRITES = AttemptCounter(
    ("intake_token", "intake_token"), ("intake_address", "intake_address")
)


class IntakeFormViewSet(TenantViewSet, mixins.CreateModelMixin):
    """`intake-forms/`: the practice's versions, newest first; POST publishes a new one (owner)."""

    queryset = IntakeForm.objects.all()
    serializer_class = IntakeFormSerializer
    access = FORM_ACCESS
    filterset_fields = ["version"]
    ordering_fields = ["version", "id"]

    def list(self, request, *args: Any, **kwargs: Any) -> Response:
        """Until the owner publishes a version, the default form is the one in use (shown with
        no id; it is saved when the first intake is requested)."""
        response = super().list(request, *args, **kwargs)  # paging checked as for any list
        if not response.data["results"] and not self.get_queryset().exists():
            default = IntakeFormSerializer(intake.default_form(request.practice)).data
            response.data["results"] = [default]
        return response

    @extend_schema(request=IntakeFormCreateSerializer, responses={201: IntakeFormSerializer})
    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        incoming = IntakeFormCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        form = intake.publish_form(
            practice=request.practice, published_by=request.user, **incoming.validated_data
        )
        return Response(IntakeFormSerializer(form).data, status=status.HTTP_201_CREATED)


def _sections(request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise Invalid.on("non_field_errors", "Expected a JSON object.")
    unknown = sorted(set(request.data) - set(intake_forms.SECTIONS))
    if unknown:
        raise Invalid(
            "Unknown sections.",
            errors=[
                {"field": name, "code": "unknown_field", "detail": "This field is not accepted."}
                for name in unknown
            ],
        )
    return dict(request.data)


def _user_agent(request) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:500]


class _IntakeFilling(APIView):
    """GET the form and drafts, PATCH sections as drafts; the subclass finds the intake."""

    def intake(self, request, **kwargs: Any) -> IntakeRequest:
        raise NotImplementedError

    def idents(self, request, intake_request: IntakeRequest) -> dict[str, str]:
        return {
            "intake_token": f"intake:{intake_request.pk}",
            "intake_address": client_address(request),
        }

    def count_write(self, request, intake_request: IntakeRequest) -> None:
        idents = self.idents(request, intake_request)
        INTAKE_WRITES.check(idents, request)
        INTAKE_WRITES.record(idents, request)

    def answer(self, request, intake_request: IntakeRequest) -> Response:
        """The link's view; the services hand back the intake with what it shows joined."""
        return Response(IntakeLinkSerializer(link_view(intake_request)).data)

    @extend_schema(responses={200: IntakeLinkSerializer})
    def get(self, request, **kwargs: Any) -> Response:
        return self.answer(request, self.intake(request, **kwargs))

    @extend_schema(request=IntakeSectionsSerializer, responses={200: IntakeLinkSerializer})
    def patch(self, request, **kwargs: Any) -> Response:
        found = self.intake(request, **kwargs)
        self.count_write(request, found)
        saved = intake.save_intake_draft(intake=found, sections=_sections(request))
        return self.answer(request, saved)


class _IntakeSubmitting(_IntakeFilling):
    http_method_names = ["post", "options"]

    @extend_schema(request=IntakeSectionsSerializer, responses={200: IntakeLinkSerializer})
    def post(self, request, **kwargs: Any) -> Response:
        found = self.intake(request, **kwargs)
        self.count_write(request, found)
        with transaction.atomic():
            submitted = intake.submit_intake(
                intake=found,
                sections=_sections(request),
                ip_address=caller_ip(request),
                user_agent=_user_agent(request),
            )
            request.practice = submitted.practice  # type: ignore[attr-defined]
            log_access(
                request,
                AuditAction.CREATE,
                "intake",
                [submitted.pk],
                client_ids=[submitted.client_id],
            )
        return self.answer(request, submitted)


# An intake with what its link view shows (the practice's name, the visit, the form).
WITH_VIEW = IntakeRequest.objects.select_related("practice", "client", "form", "appointment")


def intake_for_link(token: str) -> IntakeRequest:
    """The intake behind a link, while the link is valid; anything else is the same 404."""
    found = intake.intake_for_token(token)
    if found is None:
        raise NotFound("This link is invalid or has expired.")
    return found


class PublicIntakeView(_IntakeFilling):
    """`public/intake/{token}/`: no login; the token in the message is the credential."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (PublicThrottle,)
    http_method_names = ["get", "patch", "options"]

    def intake(self, request, **kwargs: Any) -> IntakeRequest:
        return intake_for_link(kwargs["token"])

    def idents(self, request, intake_request: IntakeRequest) -> dict[str, str]:
        # Per link (its token's hash, so two links of one intake count apart) and per address.
        return {
            "intake_token": hashed_ident(self.kwargs["token"]),
            "intake_address": client_address(request),
        }


class PublicIntakeSubmitView(_IntakeSubmitting, PublicIntakeView):
    """`POST public/intake/{token}/submit/`."""

    http_method_names = ["post", "options"]


def own_intake(request) -> IntakeRequest:
    """The logged-in client's intake: the open one, else the latest."""
    client = scope(Client.objects.all(), request).filter(user=request.user).first()
    found = None
    if client is not None:
        requests = WITH_VIEW.filter(client=client).order_by("-id")
        found = requests.filter(status__in=intake.OPEN).first() or requests.first()
    if found is None:
        raise NotFound("You have no intake form to fill in.")
    return found


class OwnIntakeView(_IntakeFilling):
    """`me/intake/` (a logged-in client): the same as their link, without the link."""

    access = CLIENT_SELF_WRITE
    http_method_names = ["get", "patch", "options"]

    def intake(self, request, **kwargs: Any) -> IntakeRequest:
        return own_intake(request)


class OwnIntakeSubmitView(_IntakeSubmitting, OwnIntakeView):
    """`POST me/intake/submit/`."""

    http_method_names = ["post", "options"]


# --- staff ------------------------------------------------------------------------------------


def _client(request, pk: int) -> Client:
    client = scope(Client.objects.all(), request).filter(pk=pk).first()
    if client is None:
        raise NotFound()
    return client


def client_intakes(client: Client) -> QuerySet[IntakeRequest]:
    return (
        IntakeRequest.objects.filter(client=client)
        .select_related("form", "appointment")
        .prefetch_related("proposals", "signatures__consent")
        .order_by("-id")
    )


class ClientIntakeView(APIView):
    """`GET clients/{id}/intake/` (clinicians): each intake, what it changed, what waits."""

    access = CLINICAL

    @extend_schema(responses={200: ClientIntakeSerializer(many=True)})
    def get(self, request, pk: int) -> Response:
        client = _client(request, pk)
        intakes = list(client_intakes(client))
        log_access(
            request, AuditAction.READ, "intake", [i.pk for i in intakes], client_ids=[client.pk]
        )
        return Response(ClientIntakeSerializer(intakes, many=True).data)


class ClientIntakeResendView(APIView):
    """`POST clients/{id}/intake/resend/` (staff): the link again, as a new message."""

    access = STAFF_WRITE

    @extend_schema(request=None, responses={202: None})
    def post(self, request, pk: int) -> Response:
        client = _client(request, pk)
        found = client.intake_requests.filter(status__in=intake.OPEN).order_by("-id").first()
        if found is None:
            raise NotFound("This client has no open intake.")
        intake.resend_intake(intake=found)
        return Response({"detail": "The intake link is being sent."}, status=202)


class ProposalDecisionView(APIView):
    """`POST clients/{id}/intake/proposals/{pid}/confirm/` or `.../reject/` (clinicians)."""

    access = CLINICAL
    confirm = True

    @extend_schema(request=DecisionSerializer, responses={200: ProposalSerializer})
    def post(self, request, pk: int, pid: int) -> Response:
        client = _client(request, pk)
        proposal = client.flag_proposals.filter(pk=pid).first()
        if proposal is None:
            raise NotFound()
        incoming = DecisionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        decided = intake.decide_proposal(
            proposal=proposal,
            confirm=self.confirm,
            by=request.user,
            note=incoming.validated_data["note"],
            ip_address=caller_ip(request),
        )
        return Response(ProposalSerializer(decided).data)


class ProposalRejectView(ProposalDecisionView):
    confirm = False


class IntakeOnPaperView(APIView):
    """`POST appointments/{id}/intake-on-paper/` (staff): the intake was done on paper."""

    access = STAFF_WRITE

    @extend_schema(request=OnPaperSerializer, responses={200: ClientIntakeSerializer})
    def post(self, request, pk: int) -> Response:
        appointment = (
            scope(Appointment.objects.select_related("practice"), request).filter(pk=pk).first()
        )
        if appointment is None:
            raise NotFound()
        incoming = OnPaperSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        done = intake.record_intake_on_paper(
            appointment=appointment,
            reason=incoming.validated_data["reason"],
            by=request.user,
            ip_address=caller_ip(request),
        )
        return Response(ClientIntakeSerializer(client_intakes(done.client).get(pk=done.pk)).data)
