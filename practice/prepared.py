"""Queries of every request, compiled once per process instead of once per call (issue 22.2).

Django builds and compiles a queryset's SQL on every evaluation: for the bearer-token lookup (the
token joined to its user, membership and practice) that cost more than the query's round trip,
on every request of the API. `PreparedQuery` compiles a queryset once, with a stand-in value,
and then runs the same SQL with the caller's value, building the same model instances (and the
related ones of `select_related`) as the queryset would. Only for queries whose shape never
changes; the SQL still goes through Django's cursor, so query counts and logging see it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

# Stands for the value until the call: the compiled parameters hold it where the value goes.
_STAND_IN = "\x1fprepared-value\x1f"
M = TypeVar("M", bound=Model)


class PreparedQuery(Generic[M]):
    """`build(value)` is a queryset of one shape (no value changes its SQL but its parameters);
    `first(value)` returns what `build(value).first()` would, without compiling it again."""

    def __init__(self, build: Callable[[Any], QuerySet[M]]) -> None:
        self.build = build
        self._compiled: dict[str, tuple[Any, str, list[Any], int, list[Any]]] = {}

    def _compile(self, using: str) -> tuple[Any, str, list[Any], int, list[Any]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            queryset = self.build(_STAND_IN)[:1]
            compiler = queryset.query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            params = list(params)
            # select_related's populators hold no per-row state: one set serves every call.
            populators = get_related_populators(  # type: ignore[call-arg]  # stubs of Django 6
                compiler.klass_info, compiler.select, using
            )
            compiled = (compiler, sql, params, params.index(_STAND_IN), populators)
            self._compiled[using] = compiled
        return compiled

    def first(self, value: Any, using: str = "default") -> M | None:
        compiler, sql, params, position, populators = self._compile(using)
        params = [*params[:position], value, *params[position + 1 :]]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        (row,) = compiler.results_iter(results=[[row]])  # the fields' converters
        fields = compiler.klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        names = [column[0].target.attname for column in compiler.select[start:end]]
        obj = compiler.klass_info["model"].from_db(using, names, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        return cast(M, obj)
