"""Baselines: bare Django views that read the same rows as an endpoint, with `.values()`.

No authentication, permissions, serializers, pagination or audit: what is left is the database read,
JSON encoding and Django's request handling, the floor the API endpoint is measured against.
They are mounted only by bench/urls.py, never by config.urls.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from clients.models import Client, Complaint, RedFlagAnswer

PAGE = 100

# The columns behind ClientSerializer and ComplaintSerializer's fields.
CLIENT_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "health_flags",
    "reminder_channels",
    "user_id",
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
    "cleared_at",
    "cleared_by_id",
    "clearance_note",
    "created_by_id",
    "created_at",
    "updated_at",
)
RED_FLAG_FIELDS = ("complaint_id", "question", "answer", "asked_at", "asked_by_id")


def raw_clients(request: HttpRequest, practice_id: int) -> JsonResponse:
    rows = list(
        Client.objects.filter(practice_id=practice_id)
        .order_by("last_name", "first_name", "id")
        .values(*CLIENT_FIELDS)[:PAGE]
    )
    return JsonResponse({"results": rows})


def raw_complaints(request: HttpRequest, practice_id: int) -> JsonResponse:
    """The complaint rows plus their red-flag history, the two reads the endpoint makes."""
    rows = list(
        Complaint.objects.filter(practice_id=practice_id)
        .order_by("-created_at", "-id")
        .values(*COMPLAINT_FIELDS)[:PAGE]
    )
    history: dict[int, list[dict]] = {row["id"]: [] for row in rows}
    for answer in (
        RedFlagAnswer.objects.filter(complaint_id__in=history)
        .order_by("asked_at", "id")
        .values(*RED_FLAG_FIELDS)
    ):
        history[answer.pop("complaint_id")].append(answer)
    for row in rows:
        row["red_flag_history"] = history[row["id"]]
    return JsonResponse({"results": rows})
