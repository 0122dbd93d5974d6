"""Logs an operator can follow: a request id on every line, one access line per request.

`RequestMiddleware` takes a sane `X-Request-ID` or makes one, keeps it in a contextvar for the
request (the log filter reads it), echoes it on the response, writes the access line and records
the request metrics (`config.metrics`). Celery tasks log their task id and the request id that
enqueued them (carried in a message header). Imported by `config.celery` before settings exist:
nothing here reads settings or models at import time.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from contextvars import ContextVar, Token
from typing import Any

import pythonjsonlogger.json
from celery.signals import before_task_publish, task_postrun, task_prerun
from pythonjsonlogger.core import RESERVED_ATTRS

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "backcare_request_id"
# An incoming id is kept only if it is a short token: it is echoed in a header and written to
# every log line, so anything else (spaces, quotes, newlines, megabytes) is replaced.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Probes hit these every few seconds; their access lines are DEBUG so INFO logs stay readable.
QUIET_ROUTES = frozenset({"/healthz", "/metrics"})

access_logger = logging.getLogger("backcare.access")


def sane_request_id(incoming: str | None) -> str:
    if incoming and _SANE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


# --- logging ----------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (None outside a request or task), and `task_id` inside a
    Celery task. Attach it to handlers: a logger's filter misses records propagated to it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        task_id = task_id_var.get()
        if task_id is not None and not hasattr(record, "task_id"):
            record.task_id = task_id
        return True


class RedactFilter(logging.Filter):
    """Keeps secrets and personal data out of library lines.

    `django.request` names the raw path of a failed request, which may hold a secret link's token
    (calendar feeds, public booking links): the path is logged with those parts masked. Celery
    attaches a task's arguments to its received/succeeded/failed lines: they are dropped (a task
    takes ids, but some take contact details)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and isinstance(record.args, tuple) and len(record.args) == 2:
            record.args = (record.args[0], loggable_path(request))
        data = getattr(record, "data", None)
        if record.name.startswith("celery.") and isinstance(data, dict):
            record.data = {k: v for k, v in data.items() if k not in ("args", "kwargs")}
        return True


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """One JSON object a line: timestamp (UTC, ISO 8601), level, logger, message, request_id, then
    the record's extra fields (the access line's method, route, status...; task_id in a task)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        # django.request attaches the request object, whose repr holds the raw path.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(**kwargs)


class TextFormatter(logging.Formatter):
    """Console lines for people (`LOG_FORMAT=text`): the ids come after the level."""

    def format(self, record: logging.LogRecord) -> str:
        ids = f"req={getattr(record, 'request_id', None) or '-'}"
        task_id = getattr(record, "task_id", None)
        if task_id:
            ids += f" task={task_id}"
        record.ids = ids
        return super().format(record)


# --- the request ------------------------------------------------------------------------------

_CONVERTER = re.compile(r"<\w+:(\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_SECRET_KWARG = re.compile(r"token|secret|key", re.IGNORECASE)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(request) -> str:
    """The URL pattern that answered, placeholders for ids and tokens (`/api/v1/clients/<pk>/`):
    metric labels stay few whatever the paths. `unmatched` when no pattern did."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None:
        return "unmatched"
    route = _REGEX_GROUP.sub(r"<\1>", match.route)
    route = _CONVERTER.sub(r"<\1>", route).replace("^", "").replace("$", "").replace("\\", "")
    return "/" + route


def loggable_path(request) -> str:
    """The path with URL parts named like secrets (`<token>`) masked; never the query string."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in match.kwargs.items() if match is not None else ():
        if _SECRET_KWARG.search(name) and value:
            path = path.replace(str(value), "***")
    return path


def _principal(request) -> dict[str, Any]:
    """Ids of who called, from what authentication already loaded (never a query, never an email).

    DRF sets `user` and `auth` on the Django request; the bearer token's lookup joined the
    membership, an API key row carries its practice."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    key = getattr(user, "key", None)  # practice.auth.ApiKeyPrincipal
    if key is not None:
        return {"api_key_id": key.pk, "practice_id": key.practice_id}
    out: dict[str, Any] = {"user_id": user.pk}
    descriptor = getattr(type(user), "membership", None)
    if descriptor is not None and descriptor.is_cached(user):
        membership = getattr(user, "membership", None)
        if membership is not None:
            out["practice_id"] = membership.practice_id
    return out


class RequestMiddleware:
    """Outermost middleware: request id, access line, request metrics."""

    def __init__(self, get_response) -> None:
        # Imported here, once the apps are ready: config.celery imports this module earlier.
        from config.metrics import observe_request

        self.get_response = get_response
        self.observe_request = observe_request

    def __call__(self, request: Any) -> Any:
        request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            route = route_template(request)
            method = request.method if request.method in METHODS else "other"
            self.observe_request(method, route, response.status_code, duration)
            path = loggable_path(request)
            access_logger.log(
                logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                "%s %s %s %.1fms",
                request.method,
                path,
                response.status_code,
                duration * 1000,
                extra={
                    "method": request.method,
                    "path": path,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1),
                    **_principal(request),
                },
            )
            response[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            request_id_var.reset(token)


# --- Celery: the task id on its lines, the request id that enqueued it ------------------------

_task_tokens: dict[str, tuple[Token, Token]] = {}


@before_task_publish.connect(weak=False)
def _publish_request_id(headers: dict | None = None, **_: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


@task_prerun.connect(weak=False)
def _enter_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None:
        return
    # Eager tasks (tests) publish nothing: they keep the request id of the caller's context.
    inherited = getattr(getattr(task, "request", None), TASK_HEADER, None)
    request_token = request_id_var.set(inherited or request_id_var.get())
    _task_tokens[task_id] = (request_token, task_id_var.set(task_id))


@task_postrun.connect(weak=False)
def _leave_task(task_id: str | None = None, **_: Any) -> None:
    tokens = _task_tokens.pop(task_id or "", None)
    if tokens is not None:
        with contextlib.suppress(ValueError):  # set in another context: nothing to restore here
            task_id_var.reset(tokens[1])
            request_id_var.reset(tokens[0])
