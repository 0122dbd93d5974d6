"""PDF invoices, receipts and insurance receipts (issue 19.2) through practice.pdf.Document.

An insurance receipt adds what insurers ask for: the therapist's name and registration number,
and the treatment date of each line.
"""

from __future__ import annotations

from django.utils import timezone

from practice.pdf import Document
from sessions.billing import money
from sessions.billing.models import Invoice, InvoiceKind, InvoiceStatus, PaymentStatus

DOCUMENTS = ("invoice", "receipt", "insurance_receipt")


def _amount(value: object, currency: str) -> str:
    return f"{money.quantize(value, currency)} {currency}"  # type: ignore[arg-type]


def _title(invoice: Invoice, document: str) -> str:
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return f"Credit note {invoice.display_number}"
    if document == "invoice":
        return f"Invoice {invoice.display_number}"
    if document == "receipt":
        return f"Receipt for invoice {invoice.display_number}"
    return f"Insurance receipt {invoice.display_number}"


def _header_rows(invoice: Invoice, document: str) -> list[tuple[str, object]]:
    tz = invoice.practice.tz
    client = invoice.client
    rows: list[tuple[str, object]] = [
        ("Billed to", f"{client.first_name} {client.last_name}".strip()),
        ("Status", invoice.status.replace("_", " ")),
    ]
    if invoice.issued_at is not None:
        rows.append(("Issued", timezone.localtime(invoice.issued_at, tz).date().isoformat()))
    if invoice.due_date is not None:
        rows.append(("Due", invoice.due_date.isoformat()))
    if invoice.credits_id is not None and invoice.credits is not None:
        rows.append(("Corrects invoice", invoice.credits.display_number))
    if document == "insurance_receipt" and invoice.therapist is not None:
        therapist = invoice.therapist
        rows.append(("Therapist", str(therapist)))
        rows.append(("Registration number", therapist.registration_number or "not recorded"))
    if client.date_of_birth is not None and document == "insurance_receipt":
        rows.append(("Client date of birth", client.date_of_birth.isoformat()))
    return rows


def _lines_table(invoice: Invoice, document: str) -> tuple[list[str], list[list[object]]]:
    currency = invoice.currency
    with_dates = document == "insurance_receipt"
    header = ["Date", "Description"] if with_dates else ["Description"]
    header += ["Qty", "Unit price", "Tax", "Total"]
    rows: list[list[object]] = []
    for line in invoice.lines.all():
        tax = f"{line.tax_name} {line.tax_percent}%" if line.tax_name else "-"
        cells: list[object] = [line.treatment_date.isoformat() if line.treatment_date else ""]
        cells = cells if with_dates else []
        cells += [
            line.description,
            line.quantity,
            _amount(line.unit_price, currency),
            tax,
            _amount(line.total, currency),
        ]
        rows.append(cells)
    return header, rows


def _totals(invoice: Invoice) -> list[tuple[str, object]]:
    currency = invoice.currency
    rows: list[tuple[str, object]] = [
        ("Net", _amount(invoice.subtotal, currency)),
        ("Tax", _amount(invoice.tax_total, currency)),
        ("Total", _amount(invoice.total, currency)),
    ]
    if invoice.kind == InvoiceKind.INVOICE:
        if invoice.credited:
            rows.append(("Credited", _amount(invoice.credited, currency)))
        rows.append(("Paid", _amount(invoice.paid, currency)))
        rows.append(("Balance due", _amount(invoice.balance, currency)))
    return rows


def render(*, invoice: Invoice, document: str = "invoice") -> bytes:
    """The PDF bytes of `document` (one of DOCUMENTS) for `invoice`."""
    practice = invoice.practice
    issuer = [practice.name, practice.address]
    if practice.tax_number:
        issuer.append(f"Tax number: {practice.tax_number}")
    issuer = [line for line in issuer if line]
    pdf = Document(title=_title(invoice, document), issuer_lines=issuer)
    pdf.fields(_header_rows(invoice, document))
    header, rows = _lines_table(invoice, document)
    right = tuple(range(len(header) - 3, len(header)))
    pdf.heading("Items").table(header, rows, align_right=right)
    pdf.fields(_totals(invoice))
    if document != "invoice" and invoice.kind == InvoiceKind.INVOICE:
        received = [
            [
                timezone.localtime(p.received_at, practice.tz).date().isoformat(),
                p.kind,
                p.method.replace("_", " "),
                _amount(p.amount, invoice.currency),
            ]
            for p in invoice.payments.filter(status=PaymentStatus.SUCCEEDED).order_by("received_at")
        ]
        pdf.heading("Payments").table(
            ["Date", "Kind", "Method", "Amount"], received, align_right=(3,)
        )
        if invoice.status == InvoiceStatus.PAID:
            pdf.paragraph("Paid in full. Thank you.")
    if invoice.status == InvoiceStatus.VOID:
        pdf.paragraph(f"VOID: {invoice.void_reason}")
    if invoice.notes:
        pdf.paragraph(invoice.notes)
    return pdf.render()
