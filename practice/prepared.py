"""Queries of every request, compiled once per process instead of once per call (issue 22.2).

Django builds and compiles a queryset's SQL on every evaluation: for the bearer-token lookup (the
token joined to its user, membership and practice) that cost more than the query's round trip,
on every request of the API. `PreparedQuery` compiles a queryset once, with a stand-in value,
and then runs the same SQL with the caller's value, building the same model instances (and the
related ones of `select_related`) as the queryset would. Only for queries whose shape never
changes; the SQL still goes through Django's cursor, so query counts and logging see it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
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


# Stand-ins for `PreparedRows`: integers and instants no real id or time takes.
_STAND_IN_INT = -(10**15)
_STAND_IN_TIME = datetime(1901, 1, 1, tzinfo=UTC)


class PreparedRows:
    """`build(flags, **values)` is a `.values_list()` queryset whose SQL is decided by `flags`
    (a hashable: which parts it has) and by how many items each list of `values` holds; every
    value is an id, a list of ids or an aware datetime, and reaches the SQL as a parameter.
    `rows(flags, **values)` returns the rows iterating it would (the fields' converters
    applied), compiling the queryset once per shape and process instead of on every call: for a
    query of several parts, Django's building and compiling cost more than running it."""

    def __init__(self, build: Callable[..., QuerySet[Any]]) -> None:
        self.build = build
        self._compiled: dict[Hashable, tuple[Any, str, list[Any], dict[int, tuple]]] = {}

    def rows(self, flags: Hashable, using: str = "default", **values: Any) -> list[tuple]:
        shape = (using, flags, *((name, _length(value)) for name, value in sorted(values.items())))
        compiled = self._compiled.get(shape)
        if compiled is None:
            compiled = self._compiled[shape] = self._compile(flags, using, values)
        compiler, sql, params, slots = compiled
        ops = connections[using].ops
        run = list(params)
        for position, (name, index) in slots.items():
            value = values[name] if index is None else values[name][index]
            run[position] = _adapted(ops, value)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, run)
            fetched = cursor.fetchall()
        return list(compiler.results_iter(results=[fetched], tuple_expected=True))

    def _compile(
        self, flags: Hashable, using: str, values: dict[str, Any]
    ) -> tuple[Any, str, list[Any], dict[int, tuple]]:
        stand_ins: dict[str, Any] = {}
        where: dict[Any, tuple] = {}  # a stand-in as the SQL's parameters hold it -> its value
        ops = connections[using].ops
        for number, (name, value) in enumerate(sorted(values.items())):
            if isinstance(value, list | tuple):
                stand_ins[name] = [_stand_in(0, number, i) for i in range(len(value))]
                where.update({_adapted(ops, s): (name, i) for i, s in enumerate(stand_ins[name])})
            else:
                stand_ins[name] = _stand_in(value, number, 0)
                where[_adapted(ops, stand_ins[name])] = (name, None)
        compiler = self.build(flags, **stand_ins).query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        params = list(params)
        slots = {
            position: where[param]
            for position, param in enumerate(params)
            if isinstance(param, Hashable) and param in where
        }
        if set(where.values()) - set(slots.values()):
            raise ValueError(f"not every value reaches {sql!r} as a parameter")
        return compiler, sql, params, slots


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, list | tuple) else None


def _stand_in(example: Any, number: int, index: int) -> Any:
    offset = number * 10_000 + index + 1
    if isinstance(example, datetime):
        return _STAND_IN_TIME + timedelta(seconds=offset)
    return _STAND_IN_INT - offset


def _adapted(ops: Any, value: Any) -> Any:
    """A value as a queryset's parameters hold it (SQLite keeps datetimes as text)."""
    return ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
