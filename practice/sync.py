"""Cheap sync for integrations: `?updated_since=` on lists and `ETag`/`If-None-Match` on details.

Most removals are soft (a cancelled appointment, an inactive service or therapist): they carry a
new `updated_at`, so `updated_since` returns them too and a front-end sees every change. Hard
deletions (erasure, purge, removed time off) leave a tombstone in `deleted/` (practice.tombstones).
Every list answers a `Sync-Since` header: send it back as the next `updated_since` and no change is
missed, even one whose transaction committed after this answer (the overlap may repeat a row;
upsert).
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, filters, status
from rest_framework.response import Response

# A write's updated_at is stamped before its transaction commits; a transaction that commits late
# keeps its earlier stamp. The next `updated_since` a client should send therefore lags the
# server's clock by more than any transaction lasts (they are short: well under this).
SYNC_OVERLAP = timedelta(minutes=1)
SYNC_HEADER = "Sync-Since"


def next_sync_since() -> str:
    """What a client sends as `updated_since` next time (the `Sync-Since` response header)."""
    return (timezone.now() - SYNC_OVERLAP).isoformat()


def sync_field(model) -> str | None:
    """The time a row last changed (`updated_at`, or the model's `sync_field`), if it has one."""
    name = getattr(model, "sync_field", "updated_at")
    return name if any(f.name == name for f in model._meta.get_fields()) else None


class UpdatedSinceFilter(filters.BaseFilterBackend):
    param = "updated_since"

    def filter_queryset(self, request, queryset, view) -> QuerySet[Any]:
        raw = request.query_params.get(self.param)
        if raw is None:
            return queryset
        field = sync_field(queryset.model)
        if field is None:
            raise exceptions.ValidationError({self.param: ["Not offered on this list."]})
        try:
            when = parse_datetime(raw.replace(" ", "+"))
            # In UTC: PostgreSQL takes offsets up to 15:59, ISO 8601 up to 23:59 (a 500 found
            # by the schema fuzzer); year 1 at +05:00 is before datetime.min in UTC.
            when = when.astimezone(dt.UTC) if when and when.tzinfo else when
        except (ValueError, OverflowError):  # well-formed but impossible, e.g. month 13
            when = None
        if when is None or when.tzinfo is None:
            raise exceptions.ValidationError(
                {self.param: ["An ISO 8601 time with an offset, e.g. 2026-11-28T10:00:00Z."]}
            )
        check = getattr(view, "check_updated_since", None)
        if check is not None:
            check(when)
        return queryset.filter(**{f"{field}__gte": when})

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        model = getattr(getattr(view, "queryset", None), "model", None)
        if model is None or sync_field(model) is None:
            return []
        return [
            {
                "name": self.param,
                "in": "query",
                "required": False,
                "description": "Only rows changed at or after this time (ISO 8601 with offset).",
                "schema": {"type": "string", "format": "date-time"},
            }
        ]


def etag_for(instance) -> str | None:
    updated = getattr(instance, "updated_at", None)
    if updated is None:
        return None
    return f'W/"{instance.pk}-{int(updated.timestamp() * 1_000_000)}"'


if TYPE_CHECKING:
    # Only for the checker: importing rest_framework.generics here at run time is a cycle
    # (generics reads DEFAULT_FILTER_BACKENDS as it loads, and they name this module's filter).
    from rest_framework.generics import GenericAPIView as _GenericView
else:
    _GenericView = object  # a mixin: the view class it joins brings get_object and friends


class ETagRetrieveMixin(_GenericView):
    """Detail reads carry an ETag; `If-None-Match` with it answers 304 and no body."""

    def retrieve(self, request, *args, **kwargs) -> Response:
        instance = self.get_object()
        etag = etag_for(instance)
        if etag is not None and etag in request.headers.get("If-None-Match", ""):
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = Response(self.get_serializer(instance).data)
        if etag is not None:
            response["ETag"] = etag
            response["Vary"] = "Authorization"
        return response
