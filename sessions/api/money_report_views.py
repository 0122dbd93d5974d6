"""`reports/revenue/`, `reports/outstanding/`, `reports/package-liability/` (issue 19.6): owners
only, JSON or CSV (`?format=csv`, cells made formula-safe by practice.spreadsheet)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any, ClassVar

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from practice.api.base import BoundedDateField
from practice.errors import Invalid
from practice.permissions import IsPracticeMember
from practice.spreadsheet import render_csv
from practice.tenancy import OWNER_ONLY
from sessions.billing import reports

# The longest range a report covers: a daily report of one year is 366 rows per therapist and
# service at most; monthly ones may look back ten years.
MAX_DAYS = {"day": 366, "week": 366 * 2, "month": 3660}
DEFAULT_DAYS = {"day": 30, "week": 7 * 12, "month": 365}


class CSVRenderer(renderers.BaseRenderer):
    """Lets `?format=csv` through content negotiation; the views write the CSV themselves."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        return data if isinstance(data, str | bytes) else renderers.JSONRenderer().render(data)


class ReportView(APIView):
    permission_classes = (IsPracticeMember,)
    renderer_classes = (renderers.JSONRenderer, CSVRenderer)
    access: ClassVar[dict[str, str]] = OWNER_ONLY
    filename: ClassVar[str] = "report"

    def finalize_response(self, request, response, *args, **kwargs) -> Any:
        # Errors answer in the API's JSON error shape, whatever format was asked for.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    def perform_content_negotiation(self, request, force: bool = False) -> Any:
        """An unknown `?format=` is a 400 naming the parameter, not DRF's bare 404."""
        asked = request.query_params.get("format")
        if asked is not None and asked not in ("json", "csv"):
            raise Invalid.on("format", "One of: json, csv.", "invalid_choice")
        return super().perform_content_negotiation(request, force)

    def wants_csv(self, request) -> bool:
        return getattr(request.accepted_renderer, "format", None) == "csv"

    def csv(self, header: list[str], rows: list[list[object]]) -> HttpResponse:
        response = HttpResponse(render_csv(header, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.filename}.csv"'
        return response


FORMAT = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=["json", "csv"], description="`csv` for a spreadsheet."
)


class RevenueQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=reports.PERIODS, default="month")
    start = BoundedDateField(required=False, help_text="First local day (default: a range back).")
    end = BoundedDateField(required=False, help_text="Last local day (default: today).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        practice = self.context["practice"]
        period = attrs["period"]
        end = attrs.get("end") or reports.local_today(practice)
        start = attrs.get("start") or end - timedelta(days=DEFAULT_DAYS[period] - 1)
        if end < start:
            raise serializers.ValidationError({"end": "Must not be before start."})
        if (end - start).days >= MAX_DAYS[period]:
            raise serializers.ValidationError(
                {"start": f"A {period} report covers at most {MAX_DAYS[period]} days."}
            )
        return {"period": period, "first": start, "last": end}


class RevenueRowSerializer(serializers.Serializer):
    period = serializers.DateField(help_text="First local day of the day, week or month.")
    therapist = serializers.IntegerField(allow_null=True)
    therapist_name = serializers.CharField()
    service = serializers.IntegerField(allow_null=True)
    service_name = serializers.CharField()
    lines = serializers.IntegerField()
    net = serializers.CharField(help_text="Amount before tax, credit notes subtracted.")
    tax = serializers.CharField()
    total = serializers.CharField()


class RevenueTotalsSerializer(serializers.Serializer):
    net = serializers.CharField()
    tax = serializers.CharField()
    total = serializers.CharField()


class RevenueReportSerializer(serializers.Serializer):
    currency = serializers.CharField()
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    rows = RevenueRowSerializer(many=True)
    totals = RevenueTotalsSerializer()


class RevenueReportView(ReportView):
    filename = "revenue"

    @extend_schema(
        parameters=[RevenueQuerySerializer, FORMAT],
        responses={200: RevenueReportSerializer, (200, "text/csv"): str},
    )
    def get(self, request) -> Any:
        # A plain dict: from a QueryDict, DRF reads `?start=` as left out (an HTML form's empty
        # input), not as the empty string the schema refuses.
        query = RevenueQuerySerializer(
            data=request.query_params.dict(), context={"practice": request.practice}
        )
        query.is_valid(raise_exception=True)
        params = query.validated_data
        report = reports.revenue_report(practice=request.practice, **params)
        if self.wants_csv(request):
            header = ["period", "therapist", "service", "lines", "net", "tax", "total"]
            return self.csv(
                header,
                [
                    [r.period, r.therapist_name, r.service_name, r.lines, r.net, r.tax, r.total]
                    for r in report.rows
                ],
            )
        return Response(
            {
                "currency": report.currency,
                "period": params["period"],
                "start": params["first"],
                "end": params["last"],
                "rows": [_strings(asdict(row)) for row in report.rows],
                "totals": _strings(report.totals),
            }
        )


def _strings(values: dict[str, Any]) -> dict[str, Any]:
    """Amounts as strings (never floats), dates as ISO dates; the rest as they are."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out[key] = _strings(value)
        elif isinstance(value, date):
            out[key] = value.isoformat()
        elif hasattr(value, "quantize"):
            out[key] = str(value)
        else:
            out[key] = value
    return out


class OutstandingRowSerializer(serializers.Serializer):
    client = serializers.IntegerField()
    client_name = serializers.CharField()
    invoices = serializers.IntegerField()
    buckets = serializers.DictField(
        child=serializers.CharField(), help_text="`0_30`, `31_60`, `61_plus`: days since issue."
    )
    total = serializers.CharField()


class OutstandingReportSerializer(serializers.Serializer):
    currency = serializers.CharField()
    as_of = serializers.DateField()
    rows = OutstandingRowSerializer(many=True)
    totals = serializers.DictField(child=serializers.CharField())


class OutstandingReportView(ReportView):
    filename = "outstanding"

    @extend_schema(
        parameters=[FORMAT],
        responses={200: OutstandingReportSerializer, (200, "text/csv"): str},
    )
    def get(self, request) -> Any:
        report = reports.outstanding_report(practice=request.practice)
        if self.wants_csv(request):
            header = ["client", "invoices", "0-30 days", "31-60 days", "61+ days", "total"]
            return self.csv(
                header,
                [[r.client_name, r.invoices, *r.buckets.values(), r.total] for r in report.rows],
            )
        return Response(
            {
                "currency": report.currency,
                "as_of": reports.local_today(request.practice).isoformat(),
                "rows": [_strings(asdict(row)) for row in report.rows],
                "totals": _strings(report.totals),
            }
        )


class LiabilityRowSerializer(serializers.Serializer):
    client_package = serializers.IntegerField()
    client = serializers.IntegerField()
    client_name = serializers.CharField()
    package = serializers.CharField()
    sold_on = serializers.DateField()
    expires_on = serializers.DateField()
    sessions_total = serializers.IntegerField()
    sessions_remaining = serializers.IntegerField()
    liability = serializers.CharField()


class LiabilityTotalsSerializer(serializers.Serializer):
    sessions_remaining = serializers.IntegerField()
    liability = serializers.CharField()


class LiabilityReportSerializer(serializers.Serializer):
    currency = serializers.CharField()
    as_of = serializers.DateField()
    rows = LiabilityRowSerializer(many=True)
    totals = LiabilityTotalsSerializer(help_text="Sessions left and their value, all packages.")


class PackageLiabilityReportView(ReportView):
    filename = "package-liability"

    @extend_schema(
        parameters=[FORMAT],
        responses={200: LiabilityReportSerializer, (200, "text/csv"): str},
    )
    def get(self, request) -> Any:
        report = reports.package_liability(practice=request.practice)
        if self.wants_csv(request):
            header = [
                "client",
                "package",
                "sold on",
                "expires on",
                "sessions sold",
                "sessions remaining",
                "liability",
            ]
            return self.csv(
                header,
                [
                    [
                        r.client_name,
                        r.package,
                        r.sold_on,
                        r.expires_on,
                        r.sessions_total,
                        r.sessions_remaining,
                        r.liability,
                    ]
                    for r in report.rows
                ],
            )
        return Response(
            {
                "currency": report.currency,
                "as_of": reports.local_today(request.practice).isoformat(),
                "rows": [_strings(asdict(row)) for row in report.rows],
                "totals": _strings(report.totals),
            }
        )
