"""Views of scheduling: availability, appointments and their actions, public booking, feeds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet, prefetch_related_objects
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import pagination, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.models import Client
from practice.auth import hash_secret, user_for_calendar_token
from practice.config_versions import trust
from practice.errors import Invalid, NotFound
from practice.filters import FilterBackend, IsoDateTimeFilter, PracticeFilterSet
from practice.models import API_KEY_ROLE, Practice, Role, Service, Therapist
from practice.paging import page_size_from
from practice.sync import UpdatedSinceFilter
from practice.tenancy import STAFF_WRITE, WRITE, RowsListViewSet, TenantViewSet, scope
from practice.throttling import (
    AddressRateThrottle,
    AttemptCounter,
    IdempotencyKeyRateThrottle,
    client_address,
    client_ip,
)
from sessions.api.serializers import (
    AppointmentCreateSerializer,
    AppointmentSerializer,
    AvailabilityQuerySerializer,
    AvailabilitySerializer,
    CancelSerializer,
    PublicAppointmentSerializer,
    PublicBookingResultSerializer,
    PublicBookingSerializer,
    PublicPracticeSerializer,
    PublicRescheduleSerializer,
    PublicServiceSerializer,
    PublicTherapistSerializer,
    RescheduleSerializer,
    SeriesCreateSerializer,
    SeriesSerializer,
)
from sessions.records.course_selectors import with_course_measures, with_open_measure_rows
from sessions.records.intake import INTAKE_STATUS_ROW_FIELD, with_intake_need
from sessions.scheduling import booking, calendar, reminders
from sessions.scheduling.booking import Actor
from sessions.scheduling.idempotency import idempotent
from sessions.scheduling.models import Appointment, QuietRefusal, Source, Status
from sessions.scheduling.selectors import (
    APPOINTMENT_ROW_FIELDS,
    appointments_with_parties,
    free_slots,
    with_appointment_history,
)

STAFF_AND_CLIENT = {**STAFF_WRITE, Role.CLIENT: WRITE}
# API keys: the scheduling scope of API.md (book, move and cancel; not the treatment-room moves).
SCHEDULING = {**STAFF_AND_CLIENT, API_KEY_ROLE: WRITE}


def actor_for(request) -> Actor:
    if request.role == API_KEY_ROLE:
        return Actor(kind=Source.API, user=None)
    kind = Source.CLIENT if request.role == Role.CLIENT else Source.STAFF
    return Actor(kind=kind, user=request.user)


def slots_response(*, practice: Practice, query: dict, services, online_only: bool) -> Response:
    service = services.filter(pk=query["service"]).first()
    if service is None:
        raise Invalid.on("service", "Unknown service.", "does_not_exist")
    therapist = query.get("therapist")
    if (
        therapist is not None
        and not Therapist.objects.filter(practice=practice, pk=therapist).exists()
    ):
        # An unknown or another practice's therapist id is a 400, like an unknown service.
        raise Invalid.on("therapist", "Unknown therapist.", "does_not_exist")
    slots = free_slots(
        practice=practice,
        service=service,
        first=query["start"],
        last=query["end"],
        therapist_id=query.get("therapist"),
        online_only=online_only,
        hold_quiet_refusals=online_only,
    )
    answer = {"timezone": practice.timezone, "slots": slots}
    return Response(AvailabilitySerializer(answer, context={"tz": practice.tz}).data)


class AvailabilityView(APIView):
    """Bookable slots of a service (API.md "Booking"): days are the practice's local days."""

    api_key_allowed = True

    @extend_schema(
        parameters=[AvailabilityQuerySerializer], responses={200: AvailabilitySerializer}
    )
    def get(self, request) -> Response:
        query = AvailabilityQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        services = scope(Service.objects.filter(active=True), request)
        online_only = request.role == Role.CLIENT
        if online_only:
            services = services.filter(online_bookable=True)
        return slots_response(
            practice=request.practice,
            query=query.validated_data,
            services=services,
            online_only=online_only,
        )


class AppointmentFilter(PracticeFilterSet):
    start_after = IsoDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before = IsoDateTimeFilter(field_name="start", lookup_expr="lt")

    class Meta:
        model = Appointment
        fields = ["client", "therapist", "service", "status"]


class AppointmentCursorPagination(pagination.CursorPagination):
    """Cursor paging stays fast however deep a front-end scrolls (API.md "Conventions")."""

    ordering = ("start", "id")
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request) -> int:
        # DRF would quietly clamp `?page_size=0`/`101`; the contract answers 400 like every list.
        return page_size_from(
            request,
            param=self.page_size_query_param,
            default=self.page_size,
            maximum=self.max_page_size,
        )


class AppointmentViewSet(RowsListViewSet, TenantViewSet):
    # + the intake of a first visit (issue 17), for `intake_status` without a query per row
    queryset = appointments_with_parties().select_related("intake_request")
    serializer_class = AppointmentSerializer
    access = SCHEDULING
    action_access = dict.fromkeys(("check_in", "complete", "no_show"), STAFF_WRITE)
    pagination_class = AppointmentCursorPagination
    filterset_class = AppointmentFilter
    ordering_fields = None  # the cursor fixes the order
    filter_backends = [FilterBackend, UpdatedSinceFilter]
    # the list's rows: the parties' names and the intake's status joined (issue 22.2)
    list_row_fields = (*APPOINTMENT_ROW_FIELDS, INTAKE_STATUS_ROW_FIELD)

    def clinician(self) -> bool:
        """Clinicians see a course visit's measures due (issue 18.2)."""
        return getattr(self.request, "role", None) in (Role.OWNER, Role.THERAPIST)

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.action != "list" and self.clinician():
            queryset = with_course_measures(queryset)
        return queryset

    def with_page_rows(self, rows: list[dict]) -> list[dict]:
        rows = with_appointment_history(rows)
        return with_open_measure_rows(rows) if self.clinician() else rows

    def _booking_args(self, incoming) -> dict:
        data = dict(incoming.validated_data)
        if getattr(self.request, "role", None) == Role.CLIENT:
            mine = Client.objects.filter(user=self.request.user)  # type: ignore[misc]
            own = with_intake_need(mine).first()
            if own is None:
                raise Invalid.on("client", "Verify your email before booking.", "not_verified")
            data["client"] = own
        elif "client" not in data:
            raise Invalid.on("client", "This field is required.", "required")
        return data

    def _principal(self) -> str:
        if getattr(self.request, "role", None) == API_KEY_ROLE:
            return f"key:{self.request.auth.pk}"
        return f"user:{self.request.user.pk}"

    @extend_schema(
        request=AppointmentCreateSerializer,
        responses={201: AppointmentSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request) -> Response:
        def book() -> Response:
            incoming = AppointmentCreateSerializer(
                data=request.data, context=self.get_serializer_context()
            )
            incoming.is_valid(raise_exception=True)
            appointment, _ = booking.book_appointment(
                practice=request.practice, actor=actor_for(request), **self._booking_args(incoming)
            )
            return Response(self._created(appointment), status=status.HTTP_201_CREATED)

        return idempotent(
            request, practice=request.practice, principal=self._principal(), create=book
        )

    @extend_schema(
        request=SeriesCreateSerializer,
        responses={201: SeriesSerializer, 409: SeriesSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @action(detail=False, methods=["post"])
    def series(self, request) -> Response:
        """A course of care: every N days at the same local time, up to 12, all or none."""

        def book() -> Response:
            incoming = SeriesCreateSerializer(
                data=request.data, context=self.get_serializer_context()
            )
            incoming.is_valid(raise_exception=True)
            data = self._booking_args(incoming)
            occurrences = booking.book_series(
                practice=request.practice, actor=actor_for(request), **data
            )
            booked = any(o.appointment for o in occurrences)
            body = SeriesSerializer({"booked": booked, "occurrences": occurrences}).data
            if not booked or (
                data["all_or_nothing"] and not all(o.appointment for o in occurrences)
            ):
                return Response(
                    {
                        "code": "slot_unavailable",
                        "detail": "Not every session of the course is free.",
                        **body,
                    },
                    status=status.HTTP_409_CONFLICT,
                )
            return Response(body, status=status.HTTP_201_CREATED)

        return idempotent(
            request, practice=request.practice, principal=self._principal(), create=book
        )

    def _created(self, appointment: Appointment) -> dict:
        """A booking just written, answered from the objects the booking holds (its client,
        service and therapist with user are the validated ones) and its history, rather than
        read back with every join: the busiest write's answer costs one small query."""
        prefetch_related_objects([appointment], "events")
        return self.get_serializer(appointment).data

    def _output(self, appointment: Appointment) -> dict:
        fresh = self.get_queryset().get(pk=appointment.pk)
        return self.get_serializer(fresh).data

    @extend_schema(request=CancelSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None) -> Response:
        incoming = CancelSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        appointment = booking.cancel_appointment(
            appointment=self.get_object(),
            reason=incoming.validated_data["reason"],
            actor=actor_for(request),
        )
        return Response(self._output(appointment))

    @extend_schema(request=RescheduleSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None) -> Response:
        incoming = RescheduleSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        appointment = booking.reschedule_appointment(
            appointment=self.get_object(),
            start=incoming.validated_data["start"],
            therapist=incoming.validated_data.get("therapist"),
            actor=actor_for(request),
        )
        return Response(self._output(appointment))

    def _move(self, request, to: str) -> Response:
        appointment = booking.move_appointment(
            appointment=self.get_object(), to=to, actor=actor_for(request)
        )
        return Response(self._output(appointment))

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None) -> Response:
        return self._move(request, Status.CHECKED_IN)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None) -> Response:
        return self._move(request, Status.COMPLETED)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None) -> Response:
        return self._move(request, Status.NO_SHOW)


# --- public booking (no account) -------------------------------------------------------------


class PublicThrottle(AddressRateThrottle):
    scope = "public"


# Issue 15: the hour's allowance counts bookings made, not attempts (a 400 or 409 uses none of
# it); failed attempts have a separate, higher cap, so probing slots still stops.
BOOKINGS_MADE = AttemptCounter(("public_booking", "public_booking"))
BOOKINGS_FAILED = AttemptCounter(("public_booking_failed", "public_booking_failed"))


def _booking_idents(request) -> dict[str, str]:
    address = client_address(request)
    return {"public_booking": address, "public_booking_failed": address}


class PublicBookingThrottle(PublicThrottle):
    """Refuses a booking POST once the address made its allowance of bookings, or of failures;
    `PublicBookingsView.finalize_response` counts each answer."""

    scope = "public_booking"

    def allow_request(self, request, view) -> bool:
        if request.method == "POST":
            idents = _booking_idents(request)
            BOOKINGS_MADE.check(idents, request)
            BOOKINGS_FAILED.check(idents, request)
        return True


class PublicView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes: tuple = (PublicThrottle,)

    def practice(self, slug: str) -> Practice:
        practice = Practice.objects.filter(slug=slug, online_booking=True).first()
        if practice is None:
            raise NotFound("This practice does not take bookings online.")
        trust(practice)  # read just now: its config_version may key the kept configuration
        return practice


class PublicPracticeView(PublicView):
    """`public/{slug}/`: answers whether or not online booking is on, and says which."""

    @extend_schema(
        operation_id="public_practice_retrieve", responses={200: PublicPracticeSerializer}
    )
    def get(self, request, slug) -> Response:
        practice = Practice.objects.filter(slug=slug).first()
        if practice is None:
            raise NotFound("No such practice.")
        return Response(PublicPracticeSerializer(practice).data)


def public_services(practice: Practice) -> QuerySet[Service]:
    return Service.objects.filter(practice=practice, active=True, online_bookable=True)


class PublicServicesView(PublicView):
    @extend_schema(responses={200: PublicServiceSerializer(many=True)})
    def get(self, request, slug) -> Response:
        services = public_services(self.practice(slug))
        return Response(PublicServiceSerializer(services, many=True).data)


class PublicTherapistsView(PublicView):
    @extend_schema(responses={200: PublicTherapistSerializer(many=True)})
    def get(self, request, slug) -> Response:
        practice = self.practice(slug)
        therapists = (
            Therapist.objects.filter(practice=practice, active=True, online_bookable=True)
            .select_related("user")
            .prefetch_related("services")
        )
        return Response(PublicTherapistSerializer(therapists, many=True).data)


class PublicAvailabilityView(PublicView):
    @extend_schema(
        parameters=[AvailabilityQuerySerializer], responses={200: AvailabilitySerializer}
    )
    def get(self, request, slug) -> Response:
        practice = self.practice(slug)
        query = AvailabilityQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        return slots_response(
            practice=practice,
            query=query.validated_data,
            services=public_services(practice),
            online_only=True,
        )


class PublicBookingsView(PublicView):
    throttle_classes = (PublicThrottle, PublicBookingThrottle, IdempotencyKeyRateThrottle)

    def finalize_response(self, request, response, *args, **kwargs) -> Response:
        if request.method == "POST" and response.status_code != 429:
            made = 200 <= response.status_code < 300
            (BOOKINGS_MADE if made else BOOKINGS_FAILED).record(_booking_idents(request), request)
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        request=PublicBookingSerializer,
        responses={201: PublicBookingResultSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request, slug) -> Response:
        """Book without an account; the same answer whether or not the email is already known."""
        practice = self.practice(slug)

        def book() -> Response:
            incoming = PublicBookingSerializer(data=request.data)
            incoming.is_valid(raise_exception=True)
            data = incoming.validated_data
            service = public_services(practice).filter(pk=data["service"]).first()
            therapist = Therapist.objects.filter(
                practice=practice, pk=data["therapist"], online_bookable=True
            ).first()
            if service is None:
                raise Invalid.on("service", "Unknown service.", "does_not_exist")
            if therapist is None:
                raise Invalid.on("therapist", "Unknown therapist.", "does_not_exist")
            appointment, token = booking.book_public_appointment(
                practice=practice,
                service=service,
                therapist=therapist,
                start=data["start"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                client_ip=client_ip(request),
            )
            context = {"manage_url": booking.manage_url(str(token))}
            response = Response(
                PublicBookingResultSerializer(appointment, context=context).data,
                status=status.HTTP_201_CREATED,
            )
            # Kept (without the link) for an idempotent replay to issue a new link for this row.
            response.stored_row = (type(appointment).__name__, appointment.pk)  # type: ignore[attr-defined]
            return response

        # The key and the body, not the caller's address: a retry from another network gets the
        # first answer back. Keys per address are rate-limited (IdempotencyKeyRateThrottle).
        return idempotent(
            request,
            practice=practice,
            principal="public",
            create=book,
            redact=_without_manage_link,
            restore=_with_new_manage_link,
        )


def _without_manage_link(response: Response) -> dict:
    """What an idempotency record keeps of a public booking: no manage link (issue 13.10)."""
    kind, pk = getattr(response, "stored_row", (None, None))
    ids = {"appointment_id": pk} if kind == "Appointment" else {"refusal_id": pk}
    return {**response.data, "manage_url": None, **ids}


def _with_new_manage_link(stored: dict) -> dict:
    """A replay answers a new manage link; the first one stops working (a link is shown once)."""
    token = booking.reissue_manage_link(
        appointment_id=stored.pop("appointment_id", None),
        refusal_id=stored.pop("refusal_id", None),
    )
    return {**stored, "manage_url": booking.manage_url(token)}


class PublicManageView(PublicView):
    """The manage link of a public booking: the token is the only credential."""

    def appointment(self, token: str) -> Appointment | QuietRefusal:
        """The booking's own manage link, the one its reminder carried, or a quiet refusal's."""
        found: Appointment | QuietRefusal | None = (
            Appointment.objects.select_related("service", "therapist__user", "practice")
            .filter(manage_token_hash=hash_secret(token))
            .first()
        ) or reminders.appointment_for_reminder_link(token)
        if found is None:
            found = (
                QuietRefusal.objects.select_related("service", "therapist__user", "practice")
                .filter(manage_token_hash=hash_secret(token))
                .first()
            )
        if found is None:
            raise NotFound("Unknown booking link.")
        return found

    @extend_schema(responses={200: PublicAppointmentSerializer})
    def get(self, request, token) -> Response:
        return Response(PublicAppointmentSerializer(self.appointment(token)).data)


class PublicCancelView(PublicManageView):
    @extend_schema(request=CancelSerializer, responses={200: PublicAppointmentSerializer})
    def post(self, request, token) -> Response:
        incoming = CancelSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        cancelled = booking.cancel_by_manage_link(
            booked=self.appointment(token), reason=incoming.validated_data["reason"]
        )
        return Response(PublicAppointmentSerializer(cancelled).data)


class PublicRescheduleView(PublicManageView):
    @extend_schema(request=PublicRescheduleSerializer, responses={200: PublicAppointmentSerializer})
    def post(self, request, token) -> Response:
        incoming = PublicRescheduleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        appointment = booking.reschedule_public_appointment(
            appointment=self.appointment(token),
            start=incoming.validated_data["start"],
            therapist_id=incoming.validated_data.get("therapist"),
        )
        return Response(PublicAppointmentSerializer(appointment).data)


class CalendarFeedView(APIView):
    """`calendar/{token}.ics`: a therapist's or client's appointments, no clinical content."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (PublicThrottle,)

    @extend_schema(responses={(200, "text/calendar"): str})
    def get(self, request, token) -> HttpResponse:
        user = user_for_calendar_token(token)
        membership = getattr(user, "membership", None)
        if user is None or membership is None:
            raise NotFound("Unknown calendar.")
        since = timezone.now() - timedelta(days=90)
        appointments = Appointment.objects.filter(
            practice=membership.practice, start__gte=since
        ).select_related("client", "service", "therapist__user")
        if membership.role == Role.CLIENT:
            appointments = appointments.filter(client__user=user)
            audience = calendar.CLIENT
        else:
            therapist = getattr(user, "therapist", None)
            if therapist is None:
                raise NotFound("Unknown calendar.")
            appointments = appointments.filter(therapist=therapist)
            audience = calendar.THERAPIST
        body = calendar.feed(
            practice=membership.practice, appointments=appointments, audience=audience
        )
        return HttpResponse(body, content_type="text/calendar; charset=utf-8")
