"""API conventions in one place: error JSON, pagination and body parsing.

API.md "Conventions": every error is `{"code", "detail"}` (+ `errors` for 400 `invalid`), lists
paginate as `{"next", "previous", "results"}`. The strict serializer bases (unknown fields and naive
datetimes are 400) are in `practice.api.base`, below every app.
"""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, pagination, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from practice.errors import DomainError
from practice.paging import MAX_OFFSET, page_size_from, whole_number

logger = logging.getLogger(__name__)

# DRF exception class -> contract code.
_CODES: dict[type[Exception], str] = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "invalid",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error dict/list -> `[{"field", "code", "detail"}]` with dotted field paths."""
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" and not prefix else str(key)
            out += flatten_errors(value, f"{prefix}.{name}" if prefix else name)
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            for item in detail:
                out.append(
                    {
                        "field": prefix or "non_field_errors",
                        "code": getattr(item, "code", "invalid") or "invalid",
                        "detail": str(item),
                    }
                )
        else:
            for index, item in enumerate(detail):
                if item:
                    out += flatten_errors(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        out.append(
            {
                "field": prefix or "non_field_errors",
                "code": getattr(detail, "code", "invalid") or "invalid",
                "detail": str(detail),
            }
        )
    return out


def error_body(code: str, detail: str, errors: list[dict[str, str]] | None = None) -> dict:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if errors is None and code == "invalid":  # API.md: a 400 `invalid` always lists its errors
        errors = [{"field": "non_field_errors", "code": "invalid", "detail": detail}]
    if errors is not None:
        body["errors"] = errors
    return body


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Turn every exception into the contract's error JSON."""
    # Imported here: rest_framework.views reads the parser and pagination settings, which name
    # classes of this module, while it is being defined.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DomainError):
        refused = Response(error_body(exc.code, exc.detail, exc.errors), status=exc.status)
        retry_after = getattr(exc, "retry_after", None)  # a domain limit (practice.errors)
        if retry_after is not None:
            refused["Retry-After"] = str(retry_after)
        return refused
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, IntegrityError):
        # A constraint the serializer did not anticipate: the write is refused, not a 500.
        logger.info("integrity error answered as 409: %s", exc)
        return Response(
            error_body("conflict", "The change conflicts with existing data."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, RequestDataTooBig):
        # DRF reads `request.body` itself for JSON, so Django's size check fires before our parser.
        exc = RequestTooLarge()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if not isinstance(exc, exceptions.APIException):  # DRF handles only its own exceptions
        return response
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), exc.default_code)
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        detail = errors[0]["detail"] if len(errors) == 1 else "The request has invalid fields."
        response.data = error_body("invalid", detail, errors)
    else:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            response["Retry-After"] = str(max(1, int(wait + 0.999)))
            detail = f"Too many requests; try again in {response['Retry-After']} seconds."
        response.data = error_body(code, str(detail))
    return response


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_server_error(request) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)


def json_bad_request(request, exception=None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            error_body(RequestTooLarge.default_code, str(RequestTooLarge.default_detail)),
            status=413,
        )
    return JsonResponse(error_body("invalid", "Bad request."), status=400)


def json_permission_denied(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)


class LimitedJSONParser(JSONParser):
    """JSON no bigger than DATA_UPLOAD_MAX_MEMORY_SIZE (DRF streams past Django's own check)."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if declared > limit:
            raise RequestTooLarge()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge()
        # Depth first, on the bytes: json.loads of 100,000 nested brackets is a RecursionError
        # (a 500 on the unauthenticated `auth/token/`, issue 13.11) before any check could run.
        if _nesting_depth(raw) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        return super().parse(io.BytesIO(raw), media_type, parser_context)


# No body the API takes nests deeper than a few levels (a plan's items, an answer's list).
MAX_JSON_DEPTH = 32


def _nesting_depth(raw: bytes) -> int:
    """The deepest nesting of `[`/`{` outside strings; a linear scan, no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


class PageNumberPagination(pagination.PageNumberPagination):
    """`{"next", "previous", "results"}` with `?page_size=` up to 100.

    No COUNT(*): one extra row tells whether there is a next page, so a page costs one query.
    A `page` that is not a whole number from 1, too deep to be one, or past the last page (other
    than page 1 of an empty list) is a 404 (API.md "Paging limits").
    """

    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None) -> list[Any] | None:
        self.request = request
        size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param)
        number = 1 if raw is None else whole_number(raw)
        if number is None or (number - 1) * size > MAX_OFFSET:
            raise exceptions.NotFound("Invalid page.")
        self.number = number
        offset = (number - 1) * size
        rows = list(queryset[offset : offset + size + 1])
        if not rows and number > 1:
            raise exceptions.NotFound("Invalid page: past the last one.")
        self.has_next = len(rows) > size
        return rows[:size]

    def get_page_size(self, request) -> int:  # type: ignore[override]
        return page_size_from(
            request,
            param=self.page_size_query_param,
            default=int(self.page_size or 25),
            maximum=self.max_page_size,
        )

    def _page_url(self, number: int) -> str:
        url = self.request.build_absolute_uri()  # type: ignore[union-attr]
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_paginated_response(self, data) -> Response:
        return Response(
            OrderedDict(
                [
                    ("next", self._page_url(self.number + 1) if self.has_next else None),
                    ("previous", self._page_url(self.number - 1) if self.number > 1 else None),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "From 1; past the last page (or not a whole number) is a 404.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
