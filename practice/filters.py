"""django-filter, skipped when a request names no filter (the common list page).

Building a FilterSet (and, with `filterset_fields`, its class) and validating its form costs a
list page as much as its serializer; with no filter parameters there is nothing to filter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django_filters import BooleanFilter, CharFilter
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as RestFilterSet
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions

# Query parameters that belong to pagination, ordering, search and sync, not to a FilterSet.
NOT_FILTERS = {"page", "page_size", "cursor", "ordering", "search", "updated_since", "format"}


class FilterBackend(DjangoFilterBackend):
    def get_filterset_class(self, view, queryset=None) -> Any:
        # Declared through `filterset_fields`: built on PracticeFilterSet (below). Classes written
        # out inherit from it, and a test checks that every list route's filters do.
        self.filterset_base = PracticeFilterSet
        return super().get_filterset_class(view, queryset)

    def filter_queryset(self, request, queryset, view) -> QuerySet[Any]:
        if not set(request.query_params) - NOT_FILTERS:
            return queryset
        filterset = self.get_filterset(request, queryset, view)
        if filterset is not None:
            reject_unusable_values(filterset, request.query_params)
        return super().filter_queryset(request, queryset, view)


def reject_unusable_values(filterset, params) -> None:
    """`?active=maybe` or `?start_before=` is a 400, not a filter silently dropped (django-filter
    reads both as unset, so the caller would get every row back; found by the schema fuzzer)."""
    wrong: dict[str, list[str]] = {}
    for name, field in filterset.filters.items():
        values = params.getlist(name) if name in params else []
        if isinstance(field, BooleanFilter) and any(v not in ("true", "false") for v in values):
            wrong[name] = ["Must be true or false."]
        elif "" in values and not isinstance(field, CharFilter):
            wrong[name] = ["Must not be empty."]
    if wrong:
        raise exceptions.ValidationError(wrong)


class _UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, handed to the database in UTC: PostgreSQL takes offsets up to 15:59,
    ISO 8601 up to 23:59 (`+19:15` was a 500, found by the schema fuzzer)."""

    def to_python(self, value) -> dt.datetime | None:
        value = super().to_python(value)
        if value is None or timezone.is_naive(value):
            return value
        try:
            return value.astimezone(dt.UTC)
        except OverflowError as error:  # year 1 at +05:00 is before datetime.min in UTC
            raise forms.ValidationError("Out of range.", code="invalid") from error


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _UtcIsoDateTimeField


class _IdField(forms.IntegerField):
    """A row id as the database can hold it: a 20-digit number was a 500 on SQLite."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(django_filters.NumberFilter):
    """A related row by its plain id (issue 13.8).

    django-filter's default for a foreign key checks the id against every row of the table: another
    practice's id passed (200, empty) and an unknown one failed (400), which told a caller which
    ids exist elsewhere. A plain id filters the already scoped queryset, so both answer 200 empty.
    """

    field_class = _IdField


class _WholeNumberField(forms.IntegerField):
    """A whole number within the database's 64-bit range."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1})
class WholeNumberFilter(django_filters.NumberFilter):
    """An integer column, filtered by a whole number: django-filter's NumberFilter takes any
    decimal, so `?version=0.5` answered 200 and an empty list where the schema says integer
    (found by the schema fuzzer); now it is a 400 naming the parameter."""

    field_class = _WholeNumberField


INTEGER_COLUMNS = (
    models.SmallIntegerField,
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
)


class PracticeFilterSet(RestFilterSet):
    """The one base of every FilterSet: related rows by plain id, whole numbers for integer
    columns, times handed over in UTC."""

    FILTER_DEFAULTS = {
        **RestFilterSet.FILTER_DEFAULTS,
        **{column: {"filter_class": WholeNumberFilter} for column in INTEGER_COLUMNS},
        models.DateTimeField: {"filter_class": IsoDateTimeFilter},
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
    }
