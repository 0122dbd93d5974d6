"""Serializer bases every app builds on: unknown fields and naive datetimes are a 400 (API.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.db import models
from django.utils import timezone
from rest_framework import exceptions, serializers

from practice.json_types import check_body


def utc_iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with `Z`, as DRF writes datetimes here (TIME_ZONE is UTC), but without
    DRF's per-value time-zone lookups: list endpoints format thousands of these."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# The dates any request may name (issue 13.11): year 1 or 9999 overflowed in slot arithmetic (a
# 500 on the public availability page). Births since 1900; bookings, time off and filters well
# within two centuries.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def check_date_window(value: date) -> None:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise serializers.ValidationError(
            f"Must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}.",
            code="out_of_range",
        )


class BoundedDateField(serializers.DateField):
    """A date inside EARLIEST_DATE..LATEST_DATE."""

    def to_internal_value(self, value) -> Any:
        parsed = super().to_internal_value(value)
        check_date_window(parsed)
        return parsed


class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that must carry an offset (API.md: a naive time is a 400), inside the window."""

    default_error_messages = {"naive": "Include a UTC offset, e.g. 2026-03-01T10:00:00+01:00."}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        check_date_window(value.date())
        return super().enforce_timezone(value)

    def to_representation(self, value) -> Any:
        if isinstance(value, datetime):
            return utc_iso(value)
        return super().to_representation(value)


class StrictModelSerializer(serializers.ModelSerializer):
    """Model serializer that rejects fields it does not accept (API.md: unknown fields are a 400).

    That is what stops a body from setting `practice`, `author`, `status` and other server-owned
    fields: they are read-only or absent here, so naming them is an error, not silently ignored.
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: AwareDateTimeField,
        models.DateField: BoundedDateField,
    }

    def to_internal_value(self, data) -> Any:
        check_body(self, data)
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """A body, or a value inside one (a range, a region, a line). A value is given whole, in a
    PATCH too: DRF's partial update reaches into nested serializers and would let their required
    fields be left out (`{"min": 5}` for a range was a 500, a region without its side was kept)."""

    def to_internal_value(self, data) -> Any:
        check_body(self, data)
        if self.parent is not None and getattr(self.root, "partial", False):
            reject_missing_fields(self, data)
        return super().to_internal_value(data)


def reject_missing_fields(serializer: serializers.Serializer, data: dict) -> None:
    missing = [
        name
        for name, field in serializer.fields.items()
        if field.required and not field.read_only and name not in data
    ]
    if missing:
        required = exceptions.ErrorDetail("This field is required.", code="required")
        raise exceptions.ValidationError({name: [required] for name in missing})
