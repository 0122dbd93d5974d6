"""Views of the practice app: thin; each picks a scoped queryset, checks shapes, calls a service."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import current_app  # the project's app (config/__init__.py makes it current)
from django.db import connection
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from practice import services
from practice.api.serializers import (
    AuditEventSerializer,
    EmailChangeSerializer,
    EmailLinkSerializer,
    LoginSerializer,
    MeSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    PracticeSerializer,
    RegisterSerializer,
    ServiceSerializer,
    StaffChangeSerializer,
    StaffSerializer,
    TaxRateSerializer,
    TherapistSerializer,
    TimeOffSerializer,
    TokenOnlySerializer,
    TokenSerializer,
    UserSerializer,
    VerifyEmailSerializer,
    WorkingHoursSerializer,
)
from practice.auth import calendar_url, revoke_token
from practice.errors import InvalidCredentials
from practice.filters import IdFilter, PracticeFilterSet
from practice.models import (
    API_KEY_ROLE,
    STAFF_ROLES,
    AuditEvent,
    EmailVerification,
    Membership,
    Role,
    Service,
    TaxRate,
    Therapist,
    TimeOff,
    WorkingHours,
)
from practice.schema import ErrorSerializer
from practice.tenancy import (
    OWNER_ONLY,
    READ,
    STAFF_WRITE,
    WRITE,
    TenantModelViewSet,
    TenantReadOnlyModelViewSet,
    TenantViewSet,
)
from practice.throttling import (
    LOGIN_FAILURES,
    PASSWORD_RESETS,
    AddressRateThrottle,
    login_idents,
    reset_idents,
)

ALL_READ_OWNER_WRITE: dict[str, str] = {
    API_KEY_ROLE: READ,
    Role.OWNER: WRITE,
    Role.THERAPIST: READ,
    Role.FRONT_DESK: READ,
    Role.CLIENT: READ,
}


class LoginIPThrottle(AddressRateThrottle):
    scope = "login_ip"


class RegisterThrottle(LoginIPThrottle):
    scope = "register"


class LoginView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (LoginIPThrottle,)

    @extend_schema(request=LoginSerializer, responses={200: TokenSerializer})
    def post(self, request) -> Response:
        incoming = LoginSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        # Only failures count (issue 13.6): a stranger's wrong passwords from their own address
        # never lock the owner out; the per-email cap from every address is slower.
        idents = login_idents(request, incoming.validated_data["email"])
        LOGIN_FAILURES.check(idents, request)
        try:
            user, token = services.log_in(**incoming.validated_data)
        except InvalidCredentials:
            LOGIN_FAILURES.record(idents, request)
            raise
        return Response({"token": token, "user": UserSerializer(user).data})


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request) -> Response:
        revoke_token(request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegisterView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (RegisterThrottle,)

    @extend_schema(request=RegisterSerializer, responses={201: TokenSerializer})
    def post(self, request) -> Response:
        incoming = RegisterSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        user, token = services.register_client_user(practice_slug=data.pop("practice"), **data)
        return Response(
            {"token": token, "user": UserSerializer(user).data}, status=status.HTTP_201_CREATED
        )


class EmailLinkView(APIView):
    """An emailed single-use link: GET shows what confirming would do and changes nothing (mail
    scanners fetch links: issue 13.1); POST with the token confirms."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (RegisterThrottle,)
    purpose: str = EmailVerification.Purpose.SIGNUP

    @extend_schema(
        parameters=[OpenApiParameter("token", str, required=True)],
        responses={200: EmailLinkSerializer, 404: ErrorSerializer},
    )
    def get(self, request) -> Response:
        link = services.pending_link(
            token=request.query_params.get("token", "")[:200], purpose=self.purpose
        )
        email = link.new_email or link.user.email
        return Response(
            EmailLinkSerializer(
                {
                    "purpose": link.purpose,
                    "email": email,
                    "practice": link.practice.name,
                    "expires_at": link.expires_at,
                    "confirm_with": request.path,
                }
            ).data
        )


class VerifyEmailView(EmailLinkView):
    """The sign-up link: confirming links or creates the client record (API.md `auth/register/`)."""

    @extend_schema(
        request=VerifyEmailSerializer,
        responses={200: UserSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request) -> Response:
        incoming = VerifyEmailSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        user = services.verify_email(
            token=incoming.validated_data["token"],
            date_of_birth=incoming.validated_data.get("date_of_birth"),
        )
        return Response(UserSerializer(user).data)


class EmailChangeConfirmView(EmailLinkView):
    """The link sent to a new address: confirming makes it the account's email (issue 13.2)."""

    purpose = EmailVerification.Purpose.EMAIL_CHANGE

    @extend_schema(
        request=TokenOnlySerializer, responses={200: UserSerializer, 404: ErrorSerializer}
    )
    def post(self, request) -> Response:
        incoming = TokenOnlySerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        user = services.confirm_email_change(token=incoming.validated_data["token"])
        return Response(UserSerializer(user).data)


class PasswordResetConfirmView(EmailLinkView):
    """The reset link: POST the token with a new password; every token of the account is revoked."""

    purpose = EmailVerification.Purpose.PASSWORD_RESET

    @extend_schema(
        request=PasswordResetConfirmSerializer, responses={204: None, 404: ErrorSerializer}
    )
    def post(self, request) -> Response:
        incoming = PasswordResetConfirmSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.reset_password(**incoming.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(APIView):
    """Ask for a reset link: 202 whatever the email (no account enumeration)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (RegisterThrottle,)

    @extend_schema(request=PasswordResetRequestSerializer, responses={202: None})
    def post(self, request) -> Response:
        incoming = PasswordResetRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        idents = reset_idents(incoming.validated_data["email"])
        PASSWORD_RESETS.check(idents, request)
        PASSWORD_RESETS.record(idents, request)
        services.request_password_reset(email=incoming.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordChangeView(APIView):
    """A logged-in user's new password; their other tokens stop working (issue 13.7)."""

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request) -> Response:
        if request.user.pk is None:  # an API key is no person and has no password
            self.permission_denied(request, "Only a person changes a password.")
        incoming = PasswordChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.change_password(user=request.user, keep=request.auth, **incoming.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailChangeView(APIView):
    """Ask to change the login email: nothing changes until the new address confirms (13.2)."""

    @extend_schema(request=EmailChangeSerializer, responses={202: None})
    def post(self, request) -> Response:
        if request.user.pk is None:
            self.permission_denied(request, "Only a person has a login email.")
        incoming = EmailChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.request_email_change(
            user=request.user,
            password=incoming.validated_data["password"],
            new_email=incoming.validated_data["email"],
        )
        return Response(status=status.HTTP_202_ACCEPTED)


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer})
    def get(self, request) -> Response:
        user = request.user
        client = getattr(user, "client", None) if request.role == Role.CLIENT else None
        therapist = getattr(user, "therapist", None)
        has_feed = client is not None or therapist is not None
        return Response(
            MeSerializer(
                {
                    "user": user,
                    "role": request.role,
                    "practice": request.practice,
                    "client": client.pk if client else None,
                    "therapist": therapist.pk if therapist else None,
                    "calendar_url": calendar_url(user) if has_feed else None,
                }
            ).data
        )


class RotateCalendarView(APIView):
    """Issue a new calendar URL; the old one stops working at once (API.md "Calendar")."""

    @extend_schema(request=None, responses={200: MeSerializer})
    def post(self, request) -> Response:
        services.rotate_calendar_url(user=request.user)
        return MeView().get(request)


class PracticeView(APIView):
    """The caller's practice: every member reads it, the owner changes its policies."""

    @extend_schema(responses={200: PracticeSerializer})
    def get(self, request) -> Response:
        return Response(PracticeSerializer(request.practice, context={"request": request}).data)

    @extend_schema(request=PracticeSerializer, responses={200: PracticeSerializer})
    def patch(self, request) -> Response:
        if request.role != Role.OWNER:
            self.permission_denied(request, "Only the owner changes practice settings.")
        incoming = PracticeSerializer(
            request.practice, data=request.data, partial=True, context={"request": request}
        )
        incoming.is_valid(raise_exception=True)
        incoming.instance = services.update_practice(
            practice=request.practice, fields=dict(incoming.validated_data)
        )
        return Response(incoming.data)


class StaffViewSet(TenantModelViewSet):
    queryset = Membership.objects.select_related("user__therapist").filter(role__in=STAFF_ROLES)
    serializer_class = StaffSerializer
    access = OWNER_ONLY
    ordering_fields = ["id", "created_at", "role"]
    ordering = ["id"]
    filterset_fields = ["role"]

    @extend_schema(request=StaffChangeSerializer, responses={200: StaffSerializer})
    def partial_update(self, request, *args, **kwargs) -> Response:
        return super().partial_update(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        user = services.create_user_in_practice(
            practice=self.request.practice,
            email=data["user"]["email"],
            password=data["password"],
            role=data["role"],
            first_name=data["user"].get("first_name", ""),
            last_name=data["user"].get("last_name", ""),
        )
        serializer.instance = user.membership

    def perform_update(self, serializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.update_staff_member(
            membership=serializer.instance, fields=data.get("user", {}), role=data.get("role")
        )

    def perform_destroy(self, instance) -> None:
        services.remove_staff(membership=instance)


class TherapistViewSet(TenantViewSet):
    queryset = Therapist.objects.select_related("user").prefetch_related("services")
    serializer_class = TherapistSerializer
    access = ALL_READ_OWNER_WRITE
    action_access = {
        "working_hours": {
            API_KEY_ROLE: READ,
            Role.OWNER: WRITE,
            Role.THERAPIST: WRITE,
            Role.FRONT_DESK: READ,
            Role.CLIENT: READ,
        }
    }
    http_method_names = ["get", "patch", "put", "head", "options"]
    filterset_fields = ["active", "online_bookable"]
    ordering_fields = ["id"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.request.role == Role.CLIENT:
            queryset = queryset.filter(active=True)
        return queryset

    def partial_update(self, request, *args, **kwargs) -> Response:
        """PATCH only. No `update`: the router then routes no PUT here, so the schema documents
        none and `Allow` names none (the PUT of this viewset is `working-hours/`)."""
        return mixins.UpdateModelMixin.update(
            self,  # type: ignore[arg-type]  # a ModelViewSet without its update route
            request,
            *args,
            partial=True,
            **kwargs,
        )

    def may_change(self, request, therapist: Therapist) -> bool:
        return request.role == Role.OWNER or therapist.user_id == request.user.pk

    def perform_update(self, serializer) -> None:
        fields = dict(serializer.validated_data)
        offered = fields.pop("services", None)
        serializer.instance = services.update_therapist(
            therapist=serializer.instance, fields=fields, services=offered
        )

    @extend_schema(
        request=WorkingHoursSerializer(many=True),
        responses={200: WorkingHoursSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get", "put"],
        url_path="working-hours",
        pagination_class=None,
        filter_backends=[],
    )
    def working_hours(self, request, pk=None) -> Response:
        """A therapist's weekly hours in the practice's local time (API.md "Working hours")."""
        therapist = self.get_object()
        rows: Iterable[WorkingHours]
        if request.method == "PUT":
            # many=True makes a ListSerializer, which takes max_length (the stubs do not know)
            incoming = WorkingHoursSerializer(  # type: ignore[call-arg]
                data=request.data, many=True, max_length=70
            )
            incoming.is_valid(raise_exception=True)
            rows = services.set_working_hours(
                therapist=therapist, intervals=incoming.validated_data
            )
        else:
            rows = WorkingHours.objects.filter(therapist=therapist)
        return Response(WorkingHoursSerializer(rows, many=True).data)


class TimeOffViewSet(TenantModelViewSet):
    queryset = TimeOff.objects.all()
    serializer_class = TimeOffSerializer
    access = STAFF_WRITE
    filterset_fields = {"therapist": ["exact"], "start": ["gte", "lte"], "end": ["gte", "lte"]}
    ordering_fields = ["start", "end", "id"]

    def may_change(self, request, time_off: TimeOff) -> bool:
        if request.role == Role.THERAPIST:
            return time_off.therapist.user_id == request.user.pk
        return True

    def _check_own(self, serializer) -> None:
        therapist = serializer.validated_data.get("therapist")
        if (
            getattr(self.request, "role", None) == Role.THERAPIST
            and therapist is not None
            and therapist.user_id != self.request.user.pk
        ):
            self.permission_denied(self.request, "Therapists record their own time off.")

    def perform_create(self, serializer) -> None:
        self._check_own(serializer)
        serializer.instance = services.create_time_off(
            practice=self.request.practice, fields=dict(serializer.validated_data)
        )

    def perform_update(self, serializer) -> None:
        # may_change looks at the row as stored; this stops a therapist handing it to someone else.
        self._check_own(serializer)
        serializer.instance = services.update_time_off(
            time_off=serializer.instance, fields=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance):
        services.remove_time_off(time_off=instance)


class ServiceViewSet(TenantModelViewSet):
    queryset = Service.objects.prefetch_related("therapists")
    serializer_class = ServiceSerializer
    access = ALL_READ_OWNER_WRITE
    filterset_fields = ["online_bookable", "active"]
    ordering_fields = ["name", "duration_minutes", "price", "id"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.request.role == Role.CLIENT:
            queryset = queryset.filter(active=True)
        return queryset

    def perform_create(self, serializer) -> None:
        fields = dict(serializer.validated_data)
        therapists = fields.pop("therapists", None)
        serializer.instance = services.create_service(
            practice=self.request.practice, fields=fields, therapists=therapists
        )

    def perform_update(self, serializer) -> None:
        fields = dict(serializer.validated_data)
        therapists = fields.pop("therapists", None)
        serializer.instance = services.update_service(
            service=serializer.instance, fields=fields, therapists=therapists
        )

    def perform_destroy(self, instance) -> None:
        services.retire_service(service=instance)


class TaxRateViewSet(TenantModelViewSet):
    """Tax rates services carry (issue 19.1); every member reads them, owners write. DELETE
    retires a rate (services and invoice lines may still name it)."""

    queryset = TaxRate.objects.all()
    serializer_class = TaxRateSerializer
    access = ALL_READ_OWNER_WRITE
    filterset_fields = ["active", "inclusive"]
    ordering_fields = ["name", "percent", "id"]

    def perform_create(self, serializer) -> None:
        serializer.instance = services.create_tax_rate(
            practice=self.request.practice, fields=dict(serializer.validated_data)
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = services.update_tax_rate(
            tax_rate=serializer.instance, fields=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance) -> None:
        services.retire_tax_rate(tax_rate=instance)


class AuditEventFilter(PracticeFilterSet):
    record_id = IdFilter(method="filter_record", label="Events naming this record")

    class Meta:
        model = AuditEvent
        fields = ["record_type", "action", "actor"]

    def filter_record(self, queryset, name, value) -> QuerySet[Any]:
        return queryset.filter(AuditEvent.records_containing(int(value)))


class AuditEventViewSet(TenantReadOnlyModelViewSet):
    """The access log of clinical records (owner only); append-only, so read-only here."""

    queryset = AuditEvent.objects.select_related("actor")
    serializer_class = AuditEventSerializer
    access = OWNER_ONLY
    filterset_class = AuditEventFilter
    ordering_fields = ["at", "id"]


@extend_schema(exclude=True)
class HealthView(APIView):
    """`/healthz`: 200 when the database and the broker answer, 503 otherwise (API.md)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()

    def get(self, request) -> Response:
        checks = {"database": _check_database(), "broker": _check_broker()}
        if all(value == "ok" for value in checks.values()):
            return Response({"status": "ok", **checks})
        failing = ", ".join(name for name, value in checks.items() if value != "ok")
        # Every 5xx body carries `code` and `detail` (API.md "Conventions"), this one too.
        return Response(
            {
                "status": "unavailable",
                "code": "unavailable",
                "detail": f"Not answering: {failing}.",
                **checks,
            },
            status=503,
        )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        return f"error: {type(error).__name__}"
    return "ok"


def _check_broker() -> str:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:
        return f"error: {type(error).__name__}"
    return "ok"
