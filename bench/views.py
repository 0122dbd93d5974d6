"""Baselines: bare Django views that read the same rows as an endpoint, with `.values()`.

No authentication, permissions, serializers, pagination or audit: what is left is the database read,
JSON encoding and Django's request handling, the floor the API endpoint is measured against.
They are mounted only by bench/urls.py, never by config.urls.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from clients.models import Client, Complaint, Outcome
from clients.selectors import COMPLAINT_ROW_FIELDS, OUTCOME_ROW_FIELDS, with_complaint_history
from sessions.billing.models import Invoice
from sessions.records.course_selectors import with_open_measure_rows
from sessions.records.intake import INTAKE_STATUS_ROW_FIELD
from sessions.records.models import Note
from sessions.records.selectors import NOTE_ROW_FIELDS, with_note_history
from sessions.scheduling.models import Appointment
from sessions.scheduling.selectors import APPOINTMENT_ROW_FIELDS, with_appointment_history

PAGE = 100

# The columns behind ClientSerializer's fields (issue 22.2: with the privacy fields and health-flag
# regions added since, which the endpoint reads too).
CLIENT_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "health_flags",
    "health_flag_regions",
    "reminder_channels",
    "user_id",
    "last_clinical_entry",
    "legal_hold",
    "legal_hold_reason",
    "restricted_at",
    "created_at",
    "updated_at",
)
# InvoiceSerializer's columns (the list leaves `lines` out; `balance` and `number` are derived).
INVOICE_FIELDS = (
    "id", "number", "kind", "status", "client_id", "therapist_id", "appointment_id", "credits_id",
    "currency", "subtotal", "tax_total", "total", "paid", "credited", "notes", "due_date",
    "void_reason", "issued_at", "paid_at", "voided_at", "created_at", "updated_at",
)  # fmt: skip


def raw_clients(request: HttpRequest, practice_id: int) -> JsonResponse:
    rows = list(
        Client.objects.filter(practice_id=practice_id)
        .order_by("last_name", "first_name", "id")
        .values(*CLIENT_FIELDS)[:PAGE]
    )
    return JsonResponse({"results": rows})


def raw_complaints(request: HttpRequest, practice_id: int) -> JsonResponse:
    """The complaint rows plus their red-flag history and clearances: the endpoint's three reads
    (its own selector), without DRF."""
    rows = list(
        Complaint.objects.filter(practice_id=practice_id)
        .order_by("-created_at", "-id")
        .values(*COMPLAINT_ROW_FIELDS)[:PAGE]
    )
    return JsonResponse({"results": with_complaint_history(rows)})


def raw_notes(request: HttpRequest, practice_id: int) -> JsonResponse:
    """The note rows, their amendments and delivered plan items: the endpoint's three reads (its
    own selector), without DRF."""
    rows = list(
        Note.objects.filter(practice_id=practice_id)
        .order_by("-created_at", "-id")
        .values(*NOTE_ROW_FIELDS)[:PAGE]
    )
    return JsonResponse({"results": with_note_history(rows)})


def raw_invoices(request: HttpRequest, practice_id: int) -> JsonResponse:
    rows = list(
        Invoice.objects.filter(practice_id=practice_id)
        .order_by("-created_at", "-id")
        .values(*INVOICE_FIELDS)[:PAGE]
    )
    return JsonResponse({"results": rows})


def raw_appointments(request: HttpRequest, practice_id: int) -> JsonResponse:
    """The appointment rows with their parties' names and intake status joined, their history
    and their courses' open measures (the owner is a clinician): the endpoint's three reads (its
    own selectors), in the cursor's order, without DRF."""
    rows = list(
        Appointment.objects.filter(practice_id=practice_id)
        .order_by("start", "id")
        .values(*APPOINTMENT_ROW_FIELDS, INTAKE_STATUS_ROW_FIELD)[:PAGE]
    )
    return JsonResponse({"results": with_open_measure_rows(with_appointment_history(rows))})


def raw_outcomes(request: HttpRequest, practice_id: int) -> JsonResponse:
    rows = list(
        Outcome.objects.filter(practice_id=practice_id)
        .order_by("measured_at", "id")
        .values(*OUTCOME_ROW_FIELDS)[:PAGE]
    )
    return JsonResponse({"results": rows})
