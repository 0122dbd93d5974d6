"""Baselines: bare Django views that read the same rows as an endpoint, with `.values()`.

No authentication, permissions, serializers, pagination or audit: what is left is the database read,
JSON encoding and Django's request handling, the floor the API endpoint is measured against.
They are mounted only by bench/urls.py, never by config.urls.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from clients.models import Client, Complaint, ComplaintClearance, RedFlagAnswer
from practice.rows import rows_by_parent
from sessions.billing.models import Invoice
from sessions.records.models import Amendment, Note

PAGE = 100

# The columns behind ClientSerializer and ComplaintSerializer's fields (issue 22.2: with those the
# privacy fields, health-flag regions and clearances added since, which the endpoints read too).
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
COMPLAINT_FIELDS = (
    "id",
    "client_id",
    "regions",
    "onset_date",
    "onset_precision",
    "onset_type",
    "episode",
    "mechanism",
    "pain_now",
    "pain_worst_24h",
    "pain_best_24h",
    "notes",
    "red_flags",
    "status",
    "referral_urgency",
    "age_red_flags",
    "cleared_at",
    "cleared_by_id",
    "clearance_note",
    "resolved_at",
    "created_by_id",
    "created_at",
    "updated_at",
)
RED_FLAG_FIELDS = ("question", "answer", "source", "asked_at", "asked_by_id")
CLEARANCE_FIELDS = ("note", "referral_urgency", "cleared_by_id", "cleared_at")
# NoteSerializer's columns (`is_signed` is derived from signed_at) and AmendmentSerializer's.
NOTE_FIELDS = (
    "id",
    "client_id",
    "appointment_id",
    "complaint_id",
    "author_id",
    "subjective",
    "objective",
    "assessment",
    "plan",
    "pain_before",
    "pain_after",
    "consent_confirmed",
    "shared_with_client",
    "signed_at",
    "created_at",
    "updated_at",
)
# InvoiceSerializer's columns (the list leaves `lines` out; `balance` and `number` are derived).
INVOICE_FIELDS = (
    "id", "number", "kind", "status", "client_id", "therapist_id", "appointment_id", "credits_id",
    "currency", "subtotal", "tax_total", "total", "paid", "credited", "notes", "due_date",
    "void_reason", "issued_at", "paid_at", "voided_at", "created_at", "updated_at",
)  # fmt: skip
AMENDMENT_FIELDS = ("id", "kind", "text", "reason", "author_id", "created_at")


def raw_clients(request: HttpRequest, practice_id: int) -> JsonResponse:
    rows = list(
        Client.objects.filter(practice_id=practice_id)
        .order_by("last_name", "first_name", "id")
        .values(*CLIENT_FIELDS)[:PAGE]
    )
    return JsonResponse({"results": rows})


def raw_complaints(request: HttpRequest, practice_id: int) -> JsonResponse:
    """The complaint rows plus their red-flag history and clearances, the three reads the
    endpoint makes."""
    rows = list(
        Complaint.objects.filter(practice_id=practice_id)
        .order_by("-created_at", "-id")
        .values(*COMPLAINT_FIELDS)[:PAGE]
    )
    ids = [row["id"] for row in rows]
    history = rows_by_parent(
        RedFlagAnswer.objects.order_by("asked_at", "id"), "complaint_id", ids, RED_FLAG_FIELDS
    )
    clearances = rows_by_parent(
        ComplaintClearance.objects.order_by("cleared_at", "id"),
        "complaint_id",
        ids,
        CLEARANCE_FIELDS,
    )
    for row in rows:
        row["red_flag_history"] = history[row["id"]]
        row["clearances"] = clearances[row["id"]]
    return JsonResponse({"results": rows})


def raw_notes(request: HttpRequest, practice_id: int) -> JsonResponse:
    """The note rows, their amendments and delivered plan items: the endpoint's three reads."""
    rows = list(
        Note.objects.filter(practice_id=practice_id)
        .order_by("-created_at", "-id")
        .values(*NOTE_FIELDS)[:PAGE]
    )
    ids = [row["id"] for row in rows]
    amendments = rows_by_parent(
        Amendment.objects.order_by("created_at", "id"), "note_id", ids, AMENDMENT_FIELDS
    )
    delivered = rows_by_parent(
        Note.delivered_items.through.objects.all(), "note_id", ids, ("planitem_id",)
    )
    for row in rows:
        row["is_signed"] = row["signed_at"] is not None
        row["amendments"] = amendments[row["id"]]
        row["delivered_items"] = [item["planitem_id"] for item in delivered[row["id"]]]
    return JsonResponse({"results": rows})


def raw_invoices(request: HttpRequest, practice_id: int) -> JsonResponse:
    rows = list(
        Invoice.objects.filter(practice_id=practice_id)
        .order_by("-created_at", "-id")
        .values(*INVOICE_FIELDS)[:PAGE]
    )
    return JsonResponse({"results": rows})
