"""OpenAPI generation: every operation documents the error answers it can give (API.md "Errors"),
and request bodies say that unknown fields are refused.

drf-spectacular documents only the success of an operation. Clients generated from the schema, and
the schema fuzzer (tests/fuzz/), must also know the error statuses and their one body shape
`{"code", "detail", "errors"?}`; which ones an operation can answer follows from its view
(authentication, permissions, throttles) and its inputs (body, query, path), so they are derived
here once rather than written on each view. An explicit `extend_schema` response wins.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from rest_framework import serializers

from practice.api.base import StrictModelSerializer, StrictSerializer
from practice.schema import ErrorSerializer
from practice.tenancy import PracticeModelSerializer

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

_DESCRIPTIONS = {
    "400": "Invalid input (`invalid`, with `errors`) or a rule the input breaks.",
    "401": "Missing, invalid or expired credentials (`not_authenticated`).",
    "403": "The caller's role may not do this (`permission_denied`).",
    "404": "No such object for this caller (`not_found`).",
    "409": "The change conflicts with the current state (`slot_unavailable`, "
    "`invalid_transition`, `note_locked`, `precondition_failed`, `idempotency_key_reused`, ...).",
    "413": "The request body is too large (`request_too_large`).",
    "415": "The request body is not JSON (`unsupported_media_type`).",
    "429": "Rate limited (`throttled`); `Retry-After` says when to try again.",
}


# Sent on every answer a rate limit counted (practice.throttling), of the tightest such limit.
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {
        "description": "Requests allowed in the window of the limit closest to running out.",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in that window.",
        "schema": {"type": "integer"},
    },
    "RateLimit-Reset": {
        "description": "Seconds until a request is counted off that window again.",
        "schema": {"type": "integer"},
    },
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses an operation can answer."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        for status in self._error_statuses(operation):
            if status in responses:
                continue
            response: dict[str, Any] = {
                "description": _DESCRIPTIONS[status],
                "content": {"application/json": {"schema": error}},
            }
            if status == "429":
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before retrying.",
                        "schema": {"type": "integer"},
                    },
                    **RATE_LIMIT_HEADERS,
                }
            responses[status] = response
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(
            serializer, StrictModelSerializer | StrictSerializer
        ):
            schema["additionalProperties"] = False  # API.md: unknown fields in a write are a 400
        if direction == "response" and isinstance(serializer, PracticeModelSerializer):
            # A field some role does not see is absent from that role's answers.
            hidden = set().union(*serializer.hidden_fields.values())
            required = [name for name in schema.get("required", []) if name not in hidden]
            if required:
                schema["required"] = required
            else:
                schema.pop("required", None)
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and "pattern" not in schema
        ):
            # DRF trims the value first: "  " is blank, so a valid one has a non-space character.
            schema["pattern"] = r"\S"
        return schema

    def _error_statuses(self, operation: dict) -> list[str]:
        view = self.view
        parameters = operation.get("parameters", [])
        locations = {parameter["in"] for parameter in parameters}
        has_body = "requestBody" in operation
        writes = self.method in UNSAFE_METHODS
        statuses = []
        # A write can break a rule the body's shape cannot show (a built-in technique, the last
        # owner); a read only through its query.
        if has_body or writes or locations & {"query", "header"}:
            statuses.append("400")
        if view.get_authenticators():
            statuses.append("401")
        if any(type(permission).__name__ != "AllowAny" for permission in view.get_permissions()):
            statuses.append("403")
        paginated = any(parameter["name"] in {"page", "cursor"} for parameter in parameters)
        if "path" in locations or paginated:  # a page past the end is a 404 too
            statuses.append("404")
        if writes:
            statuses.append("409")
        if has_body:
            statuses += ["413", "415"]
        if view.get_throttles():
            statuses.append("429")
        return statuses
