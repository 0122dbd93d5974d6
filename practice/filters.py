"""django-filter, skipped when a request names no filter (the common list page).

Building a FilterSet (and, with `filterset_fields`, its class) and validating its form costs a
list page as much as its serializer; with no filter parameters there is nothing to filter.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend

# Query parameters that belong to pagination, ordering, search and sync, not to a FilterSet.
NOT_FILTERS = {"page", "page_size", "cursor", "ordering", "search", "updated_since", "format"}


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        if not set(request.query_params) - NOT_FILTERS:
            return queryset
        return super().filter_queryset(request, queryset, view)
