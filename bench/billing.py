"""Invoices for the `invoices_list` figure: ~5,000 issued invoices (one line each, some paid) over
the practice's clients, written with bulk_create from the fixed seed."""

from __future__ import annotations

import random
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from bench.seed import SEED, SeededPractice, _spread
from clients.models import Client
from sessions.billing.models import Invoice, InvoiceLine, InvoiceSequence

INVOICES = 5000
PRICES = (Decimal("45.00"), Decimal("65.00"), Decimal("85.00"))


def seed_invoices(seeded: SeededPractice, *, count: int = INVOICES, seed: int = SEED) -> int:
    rng = random.Random(seed + 3)
    practice = seeded.practice
    now = timezone.now()
    client_ids = list(Client.objects.filter(practice=practice).values_list("pk", flat=True))
    with transaction.atomic():
        rows = []
        for number in range(1, count + 1):
            total = rng.choice(PRICES)
            tax = (total / 6).quantize(Decimal("0.01"))
            paid = total if rng.random() < 0.7 else Decimal(0)
            rows.append(
                Invoice(
                    practice=practice,
                    client_id=rng.choice(client_ids),
                    number=number,
                    status="paid" if paid else "issued",
                    currency=practice.currency,
                    subtotal=total - tax,
                    tax_total=tax,
                    total=total,
                    paid=paid,
                    issued_at=_spread(rng, now, 365),
                )
            )
        invoices = Invoice.objects.bulk_create(rows, batch_size=1000)
        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(
                    invoice=invoice,
                    description="Back massage",
                    unit_price=invoice.total,
                    tax_name="VAT",
                    tax_percent=20,
                    net=invoice.subtotal,
                    tax=invoice.tax_total,
                    total=invoice.total,
                )
                for invoice in invoices
            ],
            batch_size=1000,
        )
        InvoiceSequence.objects.create(practice=practice, last_number=count)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return len(invoices)
