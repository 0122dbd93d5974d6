"""`revenue_report`: the owners' revenue report over 20,000 invoices beside one bare aggregate.

Seeded on first use: 4 therapists, 5 services and 20,000 invoices over the past year (one service
line each, a tenth with a second, fee line; ~2 % credit notes, ~3 % void, ~5 % drafts), written
with `bulk_create`. The value is the median ms of `GET /api/v1/reports/revenue/?period=month` over
that year through the whole API stack (authentication, permissions, the grouped query, the name
look-ups, rendering, as the owner); the baseline the median ms of one hand-written `GROUP BY` over
the same rows (month in the practice's time zone, therapist, service; sums of net, tax and total
with credit notes subtracted) on a bare cursor. The report's own queries are counted too.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max
from django.test import Client as TestClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.measure import get_ok
from bench.results import Figure
from bench.seed import SEED, SeededPractice
from clients.models import Client
from practice.models import Practice, Role, Service, Therapist
from practice.services import create_user_in_practice
from sessions.billing import reports
from sessions.billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind

NAME = "revenue_report"
INVOICES = 20_000
MAX_QUERIES = 4
TARGET = 3.0
CENT = Decimal("0.01")


def _people(practice: Practice) -> tuple[list[Therapist], list[Service]]:
    therapists = []
    for number in range(4):
        user = create_user_in_practice(
            practice=practice,
            email=f"money{number}@bench.example",
            password=None,
            role=Role.THERAPIST,
            first_name=("Ada", "Bo", "Cy", "Di")[number],
            last_name="Bench",
        )
        therapists.append(Therapist.objects.get(user=user))
    services = [
        Service.objects.create(
            practice=practice,
            name=f"Revenue service {number}",
            duration_minutes=60,
            price=Decimal(45 + 10 * number),
        )
        for number in range(5)
    ]
    return therapists, services


def _status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return InvoiceStatus.DRAFT
    if roll < 0.08:
        return InvoiceStatus.VOID
    return InvoiceStatus.PAID if roll < 0.6 else InvoiceStatus.ISSUED


def seed_invoices(seeded: SeededPractice, *, count: int = INVOICES) -> int:
    """`count` invoices with their lines; answers the number of lines."""
    rng = random.Random(SEED + 19)
    practice = seeded.practice
    now = timezone.now()
    with transaction.atomic():
        therapists, services = _people(practice)
        client_ids = list(Client.objects.filter(practice=practice).values_list("pk", flat=True))
        invoices: list[Invoice] = []
        planned: list[list[InvoiceLine]] = []
        # After any invoices another figure seeded (invoices_list): numbers are unique per practice.
        seeded_before = Invoice.objects.filter(practice=practice).aggregate(last=Max("number"))
        number = seeded_before["last"] or 0
        for _ in range(count):
            service = rng.choice(services)
            lines = [_line(service, LineKind.SERVICE, service.price)]
            if rng.random() < 0.1:
                lines.append(_line(service, LineKind.FEE, (service.price / 2).quantize(CENT)))
            total = sum((line.total for line in lines), Decimal(0))
            status = _status(rng)
            credit = status != InvoiceStatus.DRAFT and rng.random() < 0.02
            issued = status != InvoiceStatus.DRAFT
            number += issued
            invoices.append(
                Invoice(
                    practice=practice,
                    client_id=rng.choice(client_ids),
                    therapist=rng.choice(therapists),
                    kind=InvoiceKind.CREDIT_NOTE if credit else InvoiceKind.INVOICE,
                    credits=None,
                    number=number if issued else None,
                    status=InvoiceStatus.ISSUED if credit else status,
                    currency=practice.currency,
                    subtotal=total,
                    total=total,
                    paid=total if status == InvoiceStatus.PAID and not credit else Decimal(0),
                    issued_at=now - dt.timedelta(seconds=rng.randrange(364 * 86400))
                    if issued
                    else None,
                )
            )
            planned.append(lines)
        _credit_notes_credit_something(invoices)
        Invoice.objects.bulk_create([i for i in invoices if i.pk is None], batch_size=2000)
        for invoice, lines in zip(invoices, planned, strict=True):
            for line in lines:
                line.invoice = invoice
        written = InvoiceLine.objects.bulk_create(
            [line for lines in planned for line in lines], batch_size=4000
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Invoice._meta.db_table}, {InvoiceLine._meta.db_table}")
    return len(written)


def _credit_notes_credit_something(invoices: list[Invoice]) -> None:
    """A credit note names the invoice it corrects (a check constraint): the first invoice is
    saved alone so that every credit note can name it."""
    first = next(i for i in invoices if i.kind == InvoiceKind.INVOICE)
    first.save()
    for invoice in invoices:
        if invoice.kind == InvoiceKind.CREDIT_NOTE:
            invoice.credits = first


def _line(service: Service, kind: str, price: Decimal) -> InvoiceLine:
    return InvoiceLine(
        kind=kind,
        description=service.name,
        service=service,
        unit_price=price,
        net=price,
        tax=Decimal(0),
        total=price,
    )


def bare_aggregate(practice: Practice, first: dt.date, last: dt.date) -> list[tuple]:
    """The report's numbers from one hand-written GROUP BY, no ORM, no names."""
    invoices, lines = Invoice._meta.db_table, InvoiceLine._meta.db_table
    if connection.vendor == "postgresql":
        month = "date_trunc('month', i.issued_at AT TIME ZONE %s)"
        month_params: list = [practice.timezone]
    else:  # SQLite: months in UTC (a cheaper baseline than the report's local months)
        month = "strftime('%%Y-%%m-01', i.issued_at)"
        month_params = []
    sign = "CASE WHEN i.kind = 'credit_note' THEN -1 ELSE 1 END"
    # Table names from the models' meta, no input: nothing to inject.
    sql = (
        f"SELECT {month} AS period, i.therapist_id, l.service_id, count(*), "  # noqa: S608
        f"sum(l.net * {sign}), sum(l.tax * {sign}), sum(l.total * {sign}) "
        f"FROM {lines} l JOIN {invoices} i ON i.id = l.invoice_id "
        "WHERE i.practice_id = %s AND i.status IN ('issued', 'paid') "
        "AND i.issued_at >= %s AND i.issued_at < %s "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    params = [
        *month_params,
        practice.pk,
        reports.local_midnight(practice, first),
        reports.local_midnight(practice, last + dt.timedelta(days=1)),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _timed(call: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def measure_revenue_report(
    seeded: SeededPractice, client: TestClient, *, rounds: int, say: Callable[[str], None]
) -> Figure:
    mark = time.perf_counter()
    lines = seed_invoices(seeded)
    say(f"  {NAME}: seeded {INVOICES} invoices, {lines} lines in {time.perf_counter() - mark:.1f}s")
    practice = seeded.practice
    last = reports.local_today(practice)
    first = last - dt.timedelta(days=364)
    url = f"/api/v1/reports/revenue/?period=month&start={first}&end={last}"

    # Counted at once: each request's `request_started` clears the connection's query log.
    with CaptureQueriesContext(connection) as captured:
        report = reports.revenue_report(practice=practice, period="month", first=first, last=last)
    own = len(captured)
    with CaptureQueriesContext(connection) as captured:
        get_ok(client, url)
    whole = len(captured)
    bare = bare_aggregate(practice, first, last)
    if len(bare) != len(report.rows) or sum(row[6] for row in bare) != report.totals["total"]:
        say(f"  {NAME}: WARNING: {len(report.rows)} rows, the bare query {len(bare)}")
    say(
        f"  {NAME}: {len(report.rows)} rows, total {report.totals['total']}; the report made "
        f"{own} queries (at most {MAX_QUERIES}), the whole request {whole}"
    )
    for _ in range(2):  # warm both up
        get_ok(client, url)
        bare_aggregate(practice, first, last)
    endpoint_ms: list[float] = []
    bare_ms: list[float] = []
    for number in range(rounds):
        calls = [
            lambda: endpoint_ms.append(_timed(lambda: get_ok(client, url))),
            lambda: bare_ms.append(_timed(lambda: bare_aggregate(practice, first, last))),
        ]
        for call in calls if number % 2 else reversed(calls):
            call()
    value = statistics.median(endpoint_ms)
    baseline = statistics.median(bare_ms)
    ratio = value / baseline
    say(
        f"  {NAME}: {rounds} rounds, endpoint {min(endpoint_ms):.1f}-{max(endpoint_ms):.1f} ms, "
        f"bare aggregate {min(bare_ms):.1f}-{max(bare_ms):.1f} ms"
    )
    return Figure(
        name=NAME,
        value=value,
        baseline=baseline,
        ratio=ratio,
        target=TARGET,
        unit="ms",
        passes_when=f"ratio <= {TARGET:g} and queries <= {MAX_QUERIES}",
        passed=ratio <= TARGET and own <= MAX_QUERIES,
        extra={"queries": own, "request_queries": whole, "invoices": INVOICES},
    )
