"""Money reports (issue 19.6): revenue, outstanding balances by age, package liability.

Selectors only: each answers from one grouped query (plus one per name table), however many
invoices there are, so `revenue_report` over 20,000 invoices is 3 queries (bench/revenue_report).
Days, weeks (Monday first) and months are the practice's local ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Trunc
from django.utils import timezone

from clients.models import Client
from practice.models import Practice, Service, Therapist
from sessions.billing.models import (
    ClientPackage,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from sessions.billing.money import AMOUNT_DIGITS, AMOUNT_PLACES, quantize

PERIODS = ("day", "week", "month")
BUCKETS = ("0_30", "31_60", "61_plus")
ZERO = Decimal(0)
COUNTED = (InvoiceStatus.ISSUED, InvoiceStatus.PAID)


def _amount() -> DecimalField:
    return DecimalField(max_digits=AMOUNT_DIGITS + 4, decimal_places=AMOUNT_PLACES)


def local_midnight(practice: Practice, day: date) -> datetime:
    """The UTC instant the practice's `day` begins (daylight saving included)."""
    return datetime.combine(day, time.min, tzinfo=practice.tz)


def local_today(practice: Practice) -> date:
    return timezone.now().astimezone(practice.tz).date()


@dataclass
class RevenueRow:
    period: date
    therapist: int | None
    therapist_name: str
    service: int | None
    service_name: str
    lines: int
    net: Decimal
    tax: Decimal
    total: Decimal


@dataclass
class Report:
    currency: str
    rows: list[Any]
    totals: dict[str, Any] = field(default_factory=dict)


def revenue_report(*, practice: Practice, period: str, first: date, last: date) -> Report:
    """Issued invoices' lines less issued credit notes' lines, by the local day, week or month of
    issue, therapist and service. Drafts and voided invoices are not revenue."""
    sign = Case(When(invoice__kind=InvoiceKind.CREDIT_NOTE, then=Value(-1)), default=Value(1))
    grouped = (
        InvoiceLine.objects.filter(
            invoice__practice=practice,
            invoice__status__in=COUNTED,
            invoice__issued_at__gte=local_midnight(practice, first),
            invoice__issued_at__lt=local_midnight(practice, last + timedelta(days=1)),
        )
        .annotate(period=Trunc("invoice__issued_at", period, tzinfo=practice.tz))
        .values("period", "invoice__therapist", "service")
        .annotate(
            lines=Count("id"),
            net=Sum(F("net") * sign, output_field=_amount()),
            tax=Sum(F("tax") * sign, output_field=_amount()),
            total=Sum(F("total") * sign, output_field=_amount()),
        )
        .order_by("period", "invoice__therapist", "service")
    )
    found = list(grouped)
    therapists = _therapist_names({row["invoice__therapist"] for row in found})
    services = dict(
        Service.objects.filter(pk__in={row["service"] for row in found}).values_list("pk", "name")
    )
    currency = practice.currency
    rows = [
        RevenueRow(
            period=_as_date(row["period"], practice),
            therapist=row["invoice__therapist"],
            therapist_name=therapists.get(row["invoice__therapist"], ""),
            service=row["service"],
            service_name=services.get(row["service"], ""),
            lines=row["lines"],
            net=quantize(row["net"], currency),
            tax=quantize(row["tax"], currency),
            total=quantize(row["total"], currency),
        )
        for row in found
    ]
    totals = {
        name: sum((getattr(row, name) for row in rows), ZERO) for name in ("net", "tax", "total")
    }
    return Report(currency=currency, rows=rows, totals=totals)


def _as_date(value: datetime | date, practice: Practice) -> date:
    if isinstance(value, datetime):
        return value.astimezone(practice.tz).date() if timezone.is_aware(value) else value.date()
    return value


def _therapist_names(ids: set[int | None]) -> dict[int, str]:
    found = Therapist.objects.filter(pk__in={pk for pk in ids if pk is not None})
    return {
        pk: f"{first} {last}".strip() or email
        for pk, first, last, email in found.values_list(
            "pk", "user__first_name", "user__last_name", "user__email"
        )
    }


@dataclass
class OutstandingRow:
    client: int
    client_name: str
    invoices: int
    buckets: dict[str, Decimal]
    total: Decimal


def outstanding_report(*, practice: Practice) -> Report:
    """What issued invoices still owe (total - paid - credited), per client, aged by days since
    issue in the practice's days: 0-30, 31-60, 61 and more."""
    today = local_today(practice)
    newer_than_31 = local_midnight(practice, today - timedelta(days=30))
    newer_than_61 = local_midnight(practice, today - timedelta(days=60))
    owed = F("total") - F("paid") - F("credited")

    def bucket(condition: Q) -> Sum:
        return Sum(Case(When(condition, then=owed), default=Value(ZERO)), output_field=_amount())

    grouped = (
        Invoice.objects.filter(
            practice=practice, kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED
        )
        .filter(total__gt=F("paid") + F("credited"))
        .values("client", "client__first_name", "client__last_name")
        .annotate(
            invoices=Count("id"),
            b0=bucket(Q(issued_at__gte=newer_than_31)),
            b31=bucket(Q(issued_at__lt=newer_than_31, issued_at__gte=newer_than_61)),
            b61=bucket(Q(issued_at__lt=newer_than_61)),
        )
        .order_by("client__last_name", "client__first_name", "client")
    )
    currency = practice.currency
    rows = []
    for row in grouped:
        amounts = [quantize(row[key], currency) for key in ("b0", "b31", "b61")]
        rows.append(
            OutstandingRow(
                client=row["client"],
                client_name=f"{row['client__first_name']} {row['client__last_name']}".strip(),
                invoices=row["invoices"],
                buckets=dict(zip(BUCKETS, amounts, strict=True)),
                total=sum(amounts, ZERO),
            )
        )
    totals: dict[str, Any] = {
        name: sum((row.buckets[name] for row in rows), ZERO) for name in BUCKETS
    }
    totals["total"] = sum((row.total for row in rows), ZERO)
    return Report(currency=currency, rows=rows, totals=totals)


@dataclass
class LiabilityRow:
    client_package: int
    client: int
    client_name: str
    package: str
    sold_on: date
    expires_on: date
    sessions_total: int
    sessions_remaining: int
    liability: Decimal


def package_liability(*, practice: Practice) -> Report:
    """Sessions sold and not yet used, in packages not yet expired, and what they are worth: the
    price paid x sessions remaining / sessions sold, half-up (money still owed in services)."""
    today = local_today(practice)
    sold = (
        ClientPackage.objects.filter(
            practice=practice, sessions_remaining__gt=0, expires_on__gte=today
        )
        .select_related("package")
        .only(
            "id",
            "client_id",
            "client__first_name",
            "client__last_name",
            "package__name",
            "created_at",
            "expires_on",
            "sessions_total",
            "sessions_remaining",
            "price",
            "currency",
        )
        .select_related("client")
        .order_by("expires_on", "id")
    )
    rows = [
        LiabilityRow(
            client_package=item.pk,
            client=item.client_id,
            client_name=_client_name(item.client),
            package=item.package.name,
            sold_on=item.created_at.astimezone(practice.tz).date(),
            expires_on=item.expires_on,
            sessions_total=item.sessions_total,
            sessions_remaining=item.sessions_remaining,
            liability=quantize(
                item.price * item.sessions_remaining / item.sessions_total, item.currency
            ),
        )
        for item in sold
    ]
    totals = {
        "sessions_remaining": sum(row.sessions_remaining for row in rows),
        "liability": sum((row.liability for row in rows), ZERO),
    }
    return Report(currency=practice.currency, rows=rows, totals=totals)


def _client_name(client: Client) -> str:
    return f"{client.first_name} {client.last_name}".strip()
