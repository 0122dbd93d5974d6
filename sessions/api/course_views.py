"""`courses/` (issue 18): courses of care, their visits (add, move, move a weekday, cancel the
rest), `discharge/`, `progress/` (+ `.svg`), the summary (JSON, PDF), the referral letter, FHIR;
and `public/outcomes/{token}/`, the client's answer to an outcome request. Thin over
sessions/records/courses.py and course_selectors.py."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.api.serializers import ProgressEntrySerializer
from clients.charts import chart_title, progress_svg
from clients.models import Client, Complaint, Instrument, Outcome
from practice.api.base import AwareDateTimeField, StrictSerializer
from practice.filters import PracticeFilterSet
from practice.models import AuditAction, Service, Therapist
from practice.tenancy import (
    CLINICAL,
    CLINICAL_CLIENT_READS,
    AccessTable,
    ScopedPrimaryKeyRelatedField,
    TenantViewSet,
    log_access,
)
from sessions.api.serializers import AppointmentSerializer
from sessions.api.views import PublicThrottle, actor_for
from sessions.billing.models import ClientPackage
from sessions.records import course_documents, course_fhir, courses
from sessions.records.course_models import (
    Course,
    CourseMeasure,
    CourseStatus,
    DischargeReason,
)
from sessions.records.course_selectors import (
    course_progress,
    course_summary,
    courses_for_output,
    measure_state,
)
from sessions.records.intake import with_intake_need
from sessions.records.models import GOALS, SessionPlan
from sessions.scheduling.calendar_write_back import with_write_back
from sessions.scheduling.selectors import appointments_with_parties

COURSE_INSTRUMENTS = [str(name) for name in courses.SCHEDULED]


class MeasureSerializer(serializers.ModelSerializer):
    due_at = AwareDateTimeField(read_only=True)
    answered_at = AwareDateTimeField(allow_null=True, read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = CourseMeasure
        fields = ["id", "visit_number", "point", "instruments", "due_at", "state", "answered_at"]
        read_only_fields = fields

    def get_state(self, measure: CourseMeasure) -> str:
        """`due`, `overdue`, `answered` or `cancelled`."""
        return measure_state(measure)


class CourseSerializer(serializers.ModelSerializer):
    """Output only; the selector annotates the visit counts and prefetches the measures."""

    visits = serializers.SerializerMethodField()
    # Declared fields are not covered by Meta.read_only_fields: each says so itself, or the
    # schema shows them as writable.
    measures = MeasureSerializer(source="measure_list", many=True, read_only=True)
    discharged_at = AwareDateTimeField(allow_null=True, read_only=True)
    created_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Course
        fields = [
            "id",
            "client",
            "complaint",
            "therapist",
            "service",
            "plan_template",
            "client_package",
            "goals",
            "planned_visits",
            "every_days",
            "start_date",
            "expected_end",
            "status",
            "measure_every",
            "instruments",
            "stage",
            "response",
            "home_care",
            "visits",
            "measures",
            "discharge_reason",
            "discharge_notes",
            "discharged_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_visits(self, course: Course) -> dict[str, int]:
        """`planned`, `used` (completed or no-show), `completed`, `booked` and `left`."""
        used = course.visits_completed + course.visits_no_show  # type: ignore[attr-defined]
        return {
            "planned": course.planned_visits,
            "used": used,
            "completed": course.visits_completed,  # type: ignore[attr-defined]
            "booked": course.visits_booked,  # type: ignore[attr-defined]
            "left": max(0, course.planned_visits - used),
        }


def _goals() -> serializers.ListField:
    return serializers.ListField(child=serializers.ChoiceField(choices=GOALS), max_length=7)


def _instruments() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=COURSE_INSTRUMENTS), min_length=1, max_length=4
    )


def _template() -> ScopedPrimaryKeyRelatedField:
    return ScopedPrimaryKeyRelatedField(
        queryset=SessionPlan.objects.filter(appointment__isnull=True),
        required=False,
        allow_null=True,
    )


def _client_package() -> ScopedPrimaryKeyRelatedField:
    return ScopedPrimaryKeyRelatedField(
        queryset=ClientPackage.objects.all(),
        required=False,
        allow_null=True,
        help_text="A package sold to the client: the course's visits draw on it first.",
    )


class CourseCreateSerializer(StrictSerializer):
    # As a single booking's (AppointmentCreateSerializer): the lookups also answer "first
    # visit?" and "any write-back calendar?", which each visit would otherwise ask again.
    client = ScopedPrimaryKeyRelatedField(queryset=with_intake_need(Client.objects.all()))
    complaint = ScopedPrimaryKeyRelatedField(queryset=Complaint.objects.all())
    therapist = ScopedPrimaryKeyRelatedField(queryset=with_write_back(Therapist.objects.all()))
    service = ScopedPrimaryKeyRelatedField(queryset=Service.objects.all())
    start = AwareDateTimeField(
        help_text="The first visit; the others follow at the same local time."
    )
    planned_visits = serializers.IntegerField(min_value=1, max_value=26)
    every_days = serializers.IntegerField(min_value=1, max_value=56, default=7)
    goals = _goals()
    plan_template = _template()
    client_package = _client_package()
    measure_every = serializers.IntegerField(min_value=1, max_value=12, default=4)
    instruments = _instruments()
    home_care = serializers.CharField(max_length=5000, required=False, allow_blank=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["goals"].required = False
        self.fields["instruments"].required = False


class CourseUpdateSerializer(StrictSerializer):
    goals = _goals()
    planned_visits = serializers.IntegerField(min_value=1, max_value=52)
    status = serializers.ChoiceField(choices=[CourseStatus.ACTIVE, CourseStatus.ON_HOLD])
    plan_template = _template()
    client_package = _client_package()
    measure_every = serializers.IntegerField(min_value=1, max_value=12)
    instruments = _instruments()
    home_care = serializers.CharField(max_length=5000, allow_blank=True)


class AddVisitSerializer(StrictSerializer):
    start = AwareDateTimeField()
    therapist = ScopedPrimaryKeyRelatedField(queryset=Therapist.objects.all(), required=False)


class MoveVisitSerializer(AddVisitSerializer):
    appointment = serializers.IntegerField(min_value=1, help_text="A visit of this course.")


class MoveWeekdaySerializer(StrictSerializer):
    from_weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 = Monday")
    to_weekday = serializers.IntegerField(min_value=0, max_value=6)


class CancelRestSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DischargeSerializer(StrictSerializer):
    reason = serializers.ChoiceField(choices=DischargeReason.choices)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class VisitsSerializer(serializers.Serializer):
    visits = AppointmentSerializer(many=True)


class CourseVisitSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    start = AwareDateTimeField()
    status = serializers.CharField()


class CourseProgressSerializer(serializers.Serializer):
    course = serializers.IntegerField()
    visits = CourseVisitSerializer(many=True)
    instruments = serializers.DictField(child=ProgressEntrySerializer())


class CourseFilter(PracticeFilterSet):
    class Meta:
        model = Course
        fields = ["client", "complaint", "therapist", "status"]


class CourseViewSet(TenantViewSet):
    """Courses of care; clinicians write, a client reads their own."""

    queryset = courses_for_output()
    serializer_class = CourseSerializer
    access = CLINICAL_CLIENT_READS
    action_access: ClassVar[dict[str, AccessTable]] = dict.fromkeys(
        (
            "add_visit",
            "move_visit",
            "move_weekday",
            "cancel_rest",
            "discharge",
            "summary",
            "summary_pdf",
            "referral_letter",
            "fhir",
        ),
        CLINICAL,
    )
    http_method_names = ["get", "post", "patch", "head", "options"]
    audit_as = "course"
    filterset_class = CourseFilter
    ordering_fields = ["created_at", "start_date", "id"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.action in ("progress", "progress_svg"):  # they read outcomes and visits only
            return Course.objects.filter(pk__in=queryset.values("pk")).select_related(
                "practice", "complaint__client"
            )
        return queryset

    def _answer(self, course: Course, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=course.pk)).data, code)

    @extend_schema(request=CourseCreateSerializer, responses={201: CourseSerializer})
    def create(self, request) -> Response:
        incoming = CourseCreateSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        course = courses.start_course(
            practice=request.practice, actor=actor_for(request), **incoming.validated_data
        )
        self.audit(AuditAction.CREATE, [course])
        return self._answer(course, status.HTTP_201_CREATED)

    @extend_schema(request=CourseUpdateSerializer, responses={200: CourseSerializer})
    def partial_update(self, request, pk=None) -> Response:
        course = self.get_object()
        incoming = CourseUpdateSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        course = courses.update_course(course=course, fields=incoming.validated_data)
        self.audit(AuditAction.UPDATE, [course])
        return self._answer(course)

    def _visits(self, appointments: list) -> Response:
        fresh = appointments_with_parties().filter(pk__in=[a.pk for a in appointments])
        return Response(VisitsSerializer({"visits": list(fresh.order_by("start"))}).data)

    @extend_schema(request=AddVisitSerializer, responses={201: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="visits")
    def add_visit(self, request, pk=None) -> Response:
        """One more visit, booked by the booking rules (400 naming it; 409 on a closed course)."""
        course = self.get_object()  # another practice's course is a 404 whatever the body
        incoming = AddVisitSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        appointment = courses.add_visit(
            course=course,
            start=incoming.validated_data["start"],
            therapist=incoming.validated_data.get("therapist"),
            actor=actor_for(request),
        )
        fresh = appointments_with_parties().get(pk=appointment.pk)
        return Response(AppointmentSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MoveVisitSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="move-visit")
    def move_visit(self, request, pk=None) -> Response:
        """Move one booked visit of the course (the booking rules; 400 naming the visit)."""
        course = self.get_object()
        incoming = MoveVisitSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        appointment = courses.move_visit(
            course=course,
            appointment_id=data["appointment"],
            start=data["start"],
            therapist=data.get("therapist"),
            actor=actor_for(request),
        )
        fresh = appointments_with_parties().get(pk=appointment.pk)
        return Response(AppointmentSerializer(fresh).data)

    @extend_schema(request=MoveWeekdaySerializer, responses={200: VisitsSerializer})
    @action(detail=True, methods=["post"], url_path="move-weekday")
    def move_weekday(self, request, pk=None) -> Response:
        """Move every upcoming visit on one weekday to another of the same week, all or none."""
        course = self.get_object()
        incoming = MoveWeekdaySerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        moved = courses.move_weekday(
            course=course, actor=actor_for(request), **incoming.validated_data
        )
        return self._visits(moved)

    @extend_schema(request=CancelRestSerializer, responses={200: VisitsSerializer})
    @action(detail=True, methods=["post"], url_path="cancel-rest")
    def cancel_rest(self, request, pk=None) -> Response:
        """Cancel every upcoming booked visit of the course, in one transaction."""
        course = self.get_object()
        incoming = CancelRestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        cancelled = courses.cancel_rest(
            course=course,
            reason=incoming.validated_data["reason"],
            actor=actor_for(request),
        )
        return self._visits(cancelled)

    @extend_schema(request=DischargeSerializer, responses={200: CourseSerializer})
    @action(detail=True, methods=["post"])
    def discharge(self, request, pk=None) -> Response:
        """Close the course with a reason; `goals_met` resolves the complaint (twice is 409)."""
        course = self.get_object()
        incoming = DischargeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        course = courses.discharge_course(
            course=course,
            reason=incoming.validated_data["reason"],
            notes=incoming.validated_data["notes"],
            by=request.user,
            actor=actor_for(request),
        )
        self.audit(AuditAction.UPDATE, [course])
        return self._answer(course)

    @extend_schema(responses={200: CourseProgressSerializer})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def progress(self, request, pk=None) -> Response:
        """The complaint's instruments against baseline, with the course's visits."""
        course = self.get_object()
        progress, visits = course_progress(course)
        body = {"course": course.pk, "visits": visits, "instruments": progress}
        return Response(CourseProgressSerializer(body).data)

    @extend_schema(responses={(200, "image/svg+xml"): str})
    def progress_svg(self, request, pk=None) -> HttpResponse:
        """`courses/{id}/progress.svg` (routed in config/urls.py): the chart with visits marked."""
        course = self.get_object()
        progress, visits = course_progress(course)
        client = course.complaint.client
        title = chart_title(
            first_name=client.first_name,
            last_name=client.last_name,
            regions=course.complaint.regions,
        )
        tz = course.practice.tz
        marks = [v["start"].astimezone(tz) for v in visits if v["status"] != "cancelled"]
        svg = progress_svg(progress, title, visits=marks)
        return HttpResponse(svg, content_type="image/svg+xml")

    def _summary(self) -> tuple[Course, dict[str, Any]]:
        course = self.get_object()
        return course, course_summary(course)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def summary(self, request, pk=None) -> Response:
        """The discharge summary (`interim` before discharge) as JSON."""
        return Response(self._summary()[1])

    @extend_schema(responses={(200, "application/pdf"): bytes})
    def summary_pdf(self, request, pk=None) -> HttpResponse:
        """`courses/{id}/summary.pdf` (routed in config/urls.py): the summary as a PDF."""
        course, summary = self._summary()
        pdf = course_documents.discharge_summary_pdf(summary)
        _log_export(request, course)
        return _pdf(pdf, f"discharge-summary-{course.pk}.pdf")

    @extend_schema(responses={(200, "application/pdf"): bytes})
    def referral_letter(self, request, pk=None) -> HttpResponse:
        """`courses/{id}/referral-letter.pdf` (routed in config/urls.py): the summary plus the
        red-flag or response reason, addressed to a clinician."""
        course, summary = self._summary()
        pdf = course_documents.referral_letter_pdf(summary)
        _log_export(request, course)
        return _pdf(pdf, f"referral-letter-{course.pk}.pdf")

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def fhir(self, request, pk=None) -> Response:
        """The course as FHIR R4: EpisodeOfCare + CarePlan, Condition, Encounters."""
        course = self.get_object()
        appointments = list(
            appointments_with_parties()
            .prefetch_related(None)
            .filter(course_visit__course=course)
            .order_by("start", "id")
        )
        _log_export(request, course)
        return Response(course_fhir.course_bundle(course, appointments))


def _log_export(request: Any, course: Course) -> None:
    log_access(request, AuditAction.EXPORT, "course", [course.pk], client_ids=[course.client_id])


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- public/outcomes/{token}/: the client's answer to an outcome request (issue 18.2) ----------

QUESTIONS = {
    Instrument.RMDQ: "Roland-Morris: tick each of the 24 statements that applies to you today.",
    Instrument.ODI: "Oswestry: for each section, the statement that best describes you today.",
    Instrument.PSFS: "For each activity, how able are you to do it today, from 0 (unable) to 10 "
    "(as before the problem)?",
    Instrument.GROC: "Since treatment began, how has your back changed, from -7 (a very great "
    "deal worse) to +7 (a very great deal better)?",
}
SHAPES = {
    Instrument.RMDQ: {"items": "24 booleans"},
    Instrument.ODI: {"<section>": "0-5"},
    Instrument.PSFS: {"activities": [{"activity": "...", "score": "0-10"}]},
    Instrument.GROC: {"change": "-7..7"},
}


class OutcomeRequestSerializer(serializers.Serializer):
    practice = serializers.CharField()
    answered = serializers.BooleanField()
    due_at = AwareDateTimeField()
    questions = serializers.ListField(child=serializers.DictField())


class OutcomeAnswersSerializer(StrictSerializer):
    answers = serializers.DictField(
        help_text="Per instrument asked, its raw answers (as for outcomes/)."
    )


def _psfs_activities(complaint_id: int) -> list[str]:
    baseline = (
        Outcome.objects.filter(
            complaint_id=complaint_id, instrument=Instrument.PSFS, superseded_at__isnull=True
        )
        .order_by("measured_at", "id")
        .first()
    )
    if baseline is None:
        return []
    return [entry["activity"] for entry in baseline.answers.get("activities", [])]


class PublicOutcomesView(APIView):
    """`public/outcomes/{token}/`: no login; the link in the message is the credential."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (PublicThrottle,)

    @extend_schema(responses={200: OutcomeRequestSerializer})
    def get(self, request, token) -> Response:
        measure = courses.measure_for_token(token)
        questions = []
        for name in measure.instruments:
            question: dict[str, Any] = {
                "instrument": name,
                "question": QUESTIONS[name],
                "answers": SHAPES[name],
            }
            if name == Instrument.PSFS:
                question["activities"] = _psfs_activities(measure.course.complaint_id)
            questions.append(question)
        body = {
            "practice": measure.course.practice.name,
            "answered": measure.answered_at is not None,
            "due_at": measure.due_at,
            "questions": questions,
        }
        return Response(OutcomeRequestSerializer(body).data)

    @extend_schema(request=OutcomeAnswersSerializer, responses={201: None})
    def post(self, request, token) -> Response:
        incoming = OutcomeAnswersSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        measure = courses.answer_measures(token=token, answers=incoming.validated_data["answers"])
        course = measure.course
        # Audited like a staff write (DOMAIN.md 8): no user, the link's practice and client.
        request.practice = course.practice
        outcome_ids = list(
            Outcome.objects.filter(
                complaint_id=course.complaint_id, recorded_at__gte=measure.answered_at
            ).values_list("pk", flat=True)
        )
        log_access(
            request, AuditAction.CREATE, "outcome", outcome_ids, client_ids=[course.client_id]
        )
        return Response(
            {"detail": "Thank you.", "answered_at": timezone.localtime(measure.answered_at)},
            status=status.HTTP_201_CREATED,
        )
