"""Lists answered from `.values()` rows instead of model instances (issue 22.2): building a model
per row cost more than reading it on the busiest reads. A row's related records are read for a
whole page at once and attached as lists of rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Model, QuerySet


def as_row(instance: Model, fields: Iterable[str]) -> dict[str, Any]:
    """A model instance as the row `.values(*fields)` would give for it; a field through a
    relation (`client__first_name`) is read from the related object already loaded."""
    return {name: _value(instance, name) for name in fields}


def row_of(value: Model | dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """What a row serializer writes from: a list's row as it is, a model read into the same row."""
    return value if isinstance(value, dict) else as_row(value, fields)


def _value(instance: Any, name: str) -> Any:
    for attribute in name.split("__"):
        instance = getattr(instance, attribute)
    return instance


def attach_rows(
    rows: list[dict[str, Any]],
    key: str,
    queryset: QuerySet[Any],
    parent: str,
    fields: Sequence[str],
) -> list[dict[str, Any]]:
    """Each of a page's rows (keyed by `id`) with its related rows under `key`: `fields` of the
    rows of `queryset` whose `parent` column is its id (`rows_by_parent`, one query)."""
    grouped = rows_by_parent(queryset, parent, [row["id"] for row in rows], fields)
    for row in rows:
        row[key] = grouped[row["id"]]
    return rows


def rows_by_parent(
    queryset: QuerySet[Any], parent: str, parent_ids: Iterable[int], fields: Sequence[str]
) -> dict[int, list[dict[str, Any]]]:
    """`fields` of the rows of `queryset` whose `parent` column is one of `parent_ids`, grouped by
    it in the queryset's order: one query for a whole page, none for an empty one."""
    grouped: dict[int, list[dict[str, Any]]] = {pk: [] for pk in parent_ids}
    if grouped:
        for row in queryset.filter(**{f"{parent}__in": grouped}).values(parent, *fields):
            grouped[row.pop(parent)].append(row)
    return grouped
