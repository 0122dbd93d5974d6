"""django-filter, skipped when a request names no filter (the common list page).

Building a FilterSet (and, with `filterset_fields`, its class) and validating its form costs a
list page as much as its serializer; with no filter parameters there is nothing to filter.
"""

from __future__ import annotations

from django_filters import BooleanFilter, CharFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions

# Query parameters that belong to pagination, ordering, search and sync, not to a FilterSet.
NOT_FILTERS = {"page", "page_size", "cursor", "ordering", "search", "updated_since", "format"}


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
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
