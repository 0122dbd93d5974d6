"""`reports/…` (issue 21): outcomes, what precedes improvement and operations, each as JSON, as an
SVG chart (`.svg`) and as CSV (`.csv`). Owner and therapists only; a therapist sees only their
own figures (the filter is forced). Each read is written to the access log as a clinical read.
Thin: sessions/insight holds the selectors, charts and tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clients import instruments
from practice.api.base import BoundedDateField, StrictSerializer
from practice.audit import audit
from practice.auth import PracticeRequest
from practice.errors import NotFound
from practice.models import ApiKey, AuditAction, Role, Therapist, User
from practice.tenancy import CLINICAL
from practice.throttling import caller_ip
from sessions.insight import charts, exports
from sessions.insight.operations import operations_report
from sessions.insight.outcomes import outcomes_report
from sessions.insight.period import MAX_DAYS, Period, default_days
from sessions.insight.precedes import precedes_report


class ReportQuerySerializer(StrictSerializer):
    start = BoundedDateField(
        required=False,
        help_text="First local day (YYYY-MM-DD, the practice's time zone); default 89 days "
        "before `end`.",
    )
    end = BoundedDateField(
        required=False,
        help_text=f"Last local day, included; default today. At most {MAX_DAYS} days in all.",
    )
    therapist = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="Only this therapist's figures (id). A therapist always sees their own.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and end < start:
            raise serializers.ValidationError({"end": "The end is before the start."})
        if start and end and (end - start).days + 1 > MAX_DAYS:
            raise serializers.ValidationError(
                {"end": f"A report covers at most {MAX_DAYS} days (two years)."}
            )
        return attrs


class PrecedesQuerySerializer(ReportQuerySerializer):
    instrument = serializers.ChoiceField(
        choices=sorted(instruments.RULES),
        default="nprs",
        help_text="Whose baseline and re-measure decide `improved` (default `nprs`).",
    )


def _therapist_id(request: PracticeRequest, wanted: int | None) -> int | None:
    """The therapist the figures are for. A therapist is held to their own figures; another
    therapist's id, or one of another practice, is 404 (it does not exist for the caller)."""
    if request.role == Role.THERAPIST:
        own = Therapist.objects.filter(
            practice=request.practice, user_id=request.user.pk or 0
        ).first()
        own_id = own.pk if own is not None else 0  # no therapist record: no figures
        if wanted is not None and wanted != own_id:
            raise NotFound("No such therapist.")
        return own_id
    if (
        wanted is not None
        and not Therapist.objects.filter(practice=request.practice, pk=wanted).exists()
    ):
        raise NotFound("No such therapist.")
    return wanted


def _period(request: PracticeRequest, query: dict[str, Any]) -> Period:
    tz = request.practice.tz
    today = datetime.now(tz).date()
    end = query.get("end") or today
    first, _last = default_days(end)
    start = query.get("start") or first
    if start > end:  # `start` given alone, after today
        end = start
    return Period(
        first=start, last=end, tz=tz, therapist_id=_therapist_id(request, query.get("therapist"))
    )


class ReportView(APIView):
    """GET one report; `output` ("json", "svg" or "csv") is set per route in config/urls.py."""

    request: PracticeRequest
    access = CLINICAL
    name: ClassVar[str] = ""
    # `?therapist=` naming no therapist of the practice (or another one's, for a therapist) is a
    # 404 (issue 21 "Bad input"): the schema documents it (config/schema.py).
    query_names_a_record: ClassVar[bool] = True
    query_serializer: ClassVar[type[ReportQuerySerializer]] = ReportQuerySerializer
    output: str = "json"

    def build(self, period: Period, query: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def chart(self, report: dict[str, Any]) -> str:
        raise NotImplementedError

    def table(self, report: dict[str, Any]) -> str:
        raise NotImplementedError

    def get(self, request: PracticeRequest) -> Response | HttpResponse:
        incoming = self.query_serializer(data=request.query_params.dict())
        incoming.is_valid(raise_exception=True)
        period = _period(request, incoming.validated_data)
        report = self.build(period, incoming.validated_data)
        self._audit(period)
        stem = f"{self.name}-{period.first.isoformat()}-{period.last.isoformat()}"
        if self.output == "svg":
            return HttpResponse(self.chart(report), content_type="image/svg+xml")
        if self.output == "csv":
            answer = HttpResponse(self.table(report), content_type="text/csv; charset=utf-8")
            answer["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
            return answer
        return Response(report)

    def _audit(self, period: Period) -> None:
        """A report reads many clients' clinical records at once: one access-log row, as a
        clinical read (DOMAIN.md 8), naming the therapist it was filtered to, if any."""
        request = self.request
        audit(
            practice=request.practice,
            actor=request.user if isinstance(request.user, User) else None,
            role=request.role or "",
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            action=AuditAction.READ,
            record_type=f"report_{self.name.replace('-', '_')}",
            record_ids=[period.therapist_id] if period.therapist_id else [],
            ip_address=caller_ip(request),
        )


def _schema(view: type[ReportView], output: str) -> type[ReportView]:
    """The route's subclass, documented with its query and its media type."""
    media = {"json": "application/json", "svg": "image/svg+xml", "csv": "text/csv"}[output]
    responses: Any = (
        {200: OpenApiResponse(description="The report (see docs/reports.md).")}
        if output == "json"
        else {(200, media): str}
    )
    routed = type(f"{view.__name__}{output.title()}", (view,), {"output": output})
    return extend_schema(parameters=[view.query_serializer], responses=responses)(routed)


class OutcomesReportView(ReportView):
    """Issue 21.1: the share of complaints improving meaningfully, and how long it took."""

    name = "outcomes"

    def build(self, period: Period, query: dict[str, Any]) -> dict[str, Any]:
        return outcomes_report(self.request.practice, period)

    def chart(self, report: dict[str, Any]) -> str:
        return charts.outcomes_svg(report)

    def table(self, report: dict[str, Any]) -> str:
        return exports.outcomes_csv(report)


class PrecedesReportView(ReportView):
    """Issue 21.2: what the sessions before a re-measure held, improved against not."""

    name = "what-precedes-improvement"
    query_serializer = PrecedesQuerySerializer

    def build(self, period: Period, query: dict[str, Any]) -> dict[str, Any]:
        return precedes_report(self.request.practice, period, query["instrument"])

    def chart(self, report: dict[str, Any]) -> str:
        return charts.precedes_svg(report)

    def table(self, report: dict[str, Any]) -> str:
        return exports.precedes_csv(report)


class OperationsReportView(ReportView):
    """Issue 21.3: utilisation, attendance, rebooking, new clients, messages answered."""

    name = "operations"

    def build(self, period: Period, query: dict[str, Any]) -> dict[str, Any]:
        return operations_report(self.request.practice, period)

    def chart(self, report: dict[str, Any]) -> str:
        return charts.operations_svg(report)

    def table(self, report: dict[str, Any]) -> str:
        return exports.operations_csv(report)


def report_routes() -> list[tuple[str, Any, str]]:
    """(path, view, name) of every report and variant, for config/urls.py."""
    routes = []
    for view in (OutcomesReportView, PrecedesReportView, OperationsReportView):
        routes += [
            (f"reports/{view.name}/", _schema(view, "json").as_view(), f"reports-{view.name}"),
            (
                f"reports/{view.name}.svg",
                _schema(view, "svg").as_view(),
                f"reports-{view.name}-svg",
            ),
            (
                f"reports/{view.name}.csv",
                _schema(view, "csv").as_view(),
                f"reports-{view.name}-csv",
            ),
        ]
    return routes
