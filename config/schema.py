"""OpenAPI generation: every operation documents the error answers it can give (API.md "Errors"),
and request bodies say that unknown fields are refused.

drf-spectacular documents only the success of an operation. Clients generated from the schema, and
the schema fuzzer (tests/fuzz/), must also know the error statuses and their one body shape
`{"code", "detail", "errors"?}`; which ones an operation can answer follows from its view
(authentication, permissions, throttles) and its inputs (body, query, path), so they are derived
here once rather than written on each view. An explicit `extend_schema` response wins.

Summaries and descriptions come from one table (`config/schema_docs.py`), applied by the
postprocessing hook `document_operations`, never from docstrings: those are written for the code's
maintainers. The hook also types what a serializer cannot say (outcome `answers` per instrument),
describes query parameters (units, time zones) and adds examples of the main flows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular import openapi
from rest_framework import serializers

from clients.instruments import ODI_MIN_ANSWERED, ODI_SECTIONS, PSFS_MAX_ACTIVITIES, RMDQ_ITEMS
from config.schema_docs import operation_doc
from practice.api.base import StrictModelSerializer, StrictSerializer
from practice.schema import ErrorSerializer
from practice.tenancy import PracticeModelSerializer
from sessions.records import intake_forms

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


def _capped(pattern: str, field: serializers.DecimalField) -> str:
    """A non-negative decimal's pattern, held to a maximum that is a power of ten (a tax rate's
    100 percent): up to that many whole digits, or the maximum itself. Other maximums keep the
    digit-count pattern."""
    cap = field.max_value
    if cap is None or cap < 1 or Decimal(cap).normalize().as_tuple().digits != (1,):
        return pattern
    zeros = len(str(int(cap))) - 1
    places = field.decimal_places
    return rf"^(?:\d{{0,{zeros}}}(?:\.\d{{0,{places}}})?|1{'0' * zeros}(?:\.0{{0,{places}}})?)$"


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

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature
        """No docstring becomes a description: `config/schema_docs.py` writes them all."""
        return ""

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        schema.pop("description", None)  # a serializer's docstring speaks to maintainers
        if direction == "request" and isinstance(
            serializer, StrictModelSerializer | StrictSerializer | intake_forms.Strict
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
        """What drf-spectacular leaves out of a field's schema, so that a value the schema
        allows is one the field takes (the fuzzer's `schema_valid_input_is_refused_only_for_rules`).
        """
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and "pattern" not in schema
            # A RegexField's own pattern says more (drf-spectacular adds it after this).
            and not any(isinstance(v, RegexValidator) for v in field.validators)
        ):
            # DRF trims the value first: "  " is blank, so a valid one has a non-space character.
            schema["pattern"] = r"\S"
        if (
            isinstance(field, serializers.DecimalField)
            and field.min_value is not None
            and field.min_value >= 0
            and schema.get("pattern", "").startswith("^-?")
        ):
            # A decimal string's pattern allows a sign; a field with a minimum of 0 refuses it.
            schema["pattern"] = "^" + schema["pattern"].removeprefix("^-?")
            schema["pattern"] = _capped(schema["pattern"], field)
        if (
            isinstance(field, serializers.ManyRelatedField | serializers.ListField)
            and not field.allow_empty
            and schema.get("type") == "array"
        ):
            schema["minItems"] = max(schema.get("minItems", 0), 1)  # "This list may not be empty."
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
        # A page past the end is a 404 too, and so is a query naming a record that is not there
        # where the view says so (the reports' `?therapist=`).
        if "path" in locations or paginated or getattr(view, "query_names_a_record", False):
            statuses.append("404")
        if writes:
            statuses.append("409")
        if has_body:
            statuses += ["413", "415"]
        if view.get_throttles():
            statuses.append("429")
        return statuses


# --- Postprocessing: descriptions, parameters, typed outcome answers, examples ------------------
_OFFSET_TIME = (
    "ISO 8601 date-time with a UTC offset, e.g. `2026-03-02T09:00:00-05:00` or `...Z`; "
    "a time without an offset is a 400."
)
PARAMETERS = {
    "start_after": f"Only those starting at or after this time. {_OFFSET_TIME}",
    "start_before": f"Only those starting before this time. {_OFFSET_TIME}",
    "start__gte": f"Only those starting at or after this time. {_OFFSET_TIME}",
    "start__lte": f"Only those starting at or before this time. {_OFFSET_TIME}",
    "end__gte": f"Only those ending at or after this time. {_OFFSET_TIME}",
    "end__lte": f"Only those ending at or before this time. {_OFFSET_TIME}",
    "updated_since": "Only rows changed at or after this time; send back the `Sync-Since` "
    f"header of the previous answer to miss nothing. {_OFFSET_TIME}",
    "page": "Page number, from 1; a page past the last is a 404.",
    "page_size": "Results per page, 1 to 100.",
    "cursor": "Opaque cursor: follow the `next` and `previous` links rather than building it.",
    "ordering": "Field to sort by; prefix `-` for descending.",
    "search": "Case-insensitive text to look for.",
    "Idempotency-Key": "Any string of at most 200 characters, unique per booking attempt: the "
    "same key with the same body answers the first response again; with another body, 409 "
    "`idempotency_key_reused`.",
    "slug": "The practice's public slug, as in its booking page address.",
    "token": "The secret token of the link that was sent.",
    "delivery_id": "Id of the delivery.",
    "client": "Id of the client.",
    "therapist": "Id of the therapist.",
    "service": "Id of the service.",
    "appointment": "Id of the appointment.",
    "complaint": "Id of the complaint.",
    "author": "Id of the user who wrote it.",
    "actor": "Id of the user who acted.",
}

_INTEGER = "integer"


def _scale(low: int, high: int, description: str) -> dict:
    return {"type": _INTEGER, "minimum": low, "maximum": high, "description": description}


ANSWERS: dict[str, dict] = {
    "nprs": {
        "type": "object",
        "description": "Numeric Pain Rating Scale: pain now, 0 (none) to 10 (worst imaginable).",
        "properties": {"pain": _scale(0, 10, "Pain, 0-10.")},
        "required": ["pain"],
        "additionalProperties": False,
    },
    "odi": {
        "type": "object",
        "description": "Oswestry Disability Index: each section 0-5 (the statement chosen, "
        "0 = no disability). At least 8 of the 10 sections; `sex_life` may be left out. Only "
        "when the practice has `odi_licensed`. Score: percent of the answered maximum.",
        "properties": {name: _scale(0, 5, "0-5.") for name in ODI_SECTIONS},
        "minProperties": ODI_MIN_ANSWERED,
        "additionalProperties": False,
    },
    "rmdq": {
        "type": "object",
        "description": "Roland-Morris Disability Questionnaire: 24 statements, true when it "
        "applies today. Score: how many apply, 0-24.",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "boolean"},
                "minItems": RMDQ_ITEMS,
                "maxItems": RMDQ_ITEMS,
            }
        },
        "required": ["items"],
        "additionalProperties": False,
    },
    "psfs": {
        "type": "object",
        "description": "Patient-Specific Functional Scale: 1 to 5 activities the client names, "
        "each rated 0 (unable) to 10 (as before). Score: their mean.",
        "properties": {
            "activities": {
                "type": "array",
                "minItems": 1,
                "maxItems": PSFS_MAX_ACTIVITIES,
                "items": {
                    "type": "object",
                    "properties": {
                        "activity": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 200,
                            "pattern": r"\S",
                        },
                        "score": _scale(0, 10, "0-10."),
                    },
                    "required": ["activity", "score"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["activities"],
        "additionalProperties": False,
    },
    "groc": {
        "type": "object",
        "description": "Global Rating of Change: -7 (a very great deal worse) to +7 (a very "
        "great deal better), 0 = about the same.",
        "properties": {"change": _scale(-7, 7, "-7 to 7.")},
        "required": ["change"],
        "additionalProperties": False,
    },
}

EXAMPLE_ANSWERS = {
    "nprs": {"pain": 6},
    "odi": dict.fromkeys(ODI_SECTIONS[:7] + ODI_SECTIONS[8:], 2),
    "rmdq": {"items": [True] * 8 + [False] * 16},
    "psfs": {"activities": [{"activity": "Gardening", "score": 4}]},
    "groc": {"change": 3},
}

REQUEST_EXAMPLES: dict[str, dict[str, dict]] = {
    "auth_token_create": {
        "owner": {"value": {"email": "owner@demo.test", "password": "backcare-demo"}}
    },
    "appointments_create": {
        "staff booking": {
            "value": {"service": 1, "therapist": 1, "client": 1, "start": "2026-03-02T14:00:00Z"}
        },
    },
    "public_bookings_create": {
        "new client": {
            "value": {
                "service": 1,
                "therapist": 1,
                "start": "2026-03-02T09:00:00-05:00",
                "first_name": "Ana",
                "last_name": "Silva",
                "email": "ana@example.com",
                "phone": "+14165550100",
            }
        }
    },
    "outcomes_create": {
        instrument: {
            "value": {"complaint": 1, "instrument": instrument, "answers": answers},
            "summary": instrument.upper(),
        }
        for instrument, answers in EXAMPLE_ANSWERS.items()
    },
}

_SLOT = {
    "start": "2026-03-02T14:00:00Z",
    "end": "2026-03-02T15:00:00Z",
    "start_local": "2026-03-02T09:00:00-05:00",
    "end_local": "2026-03-02T10:00:00-05:00",
    "therapist": 1,
}
RESPONSE_EXAMPLES: dict[str, dict] = {
    "availability_retrieve": {"timezone": "America/Toronto", "slots": [_SLOT]},
    "public_availability_retrieve": {"timezone": "America/Toronto", "slots": [_SLOT]},
    "auth_token_create": {
        "token": "<token>",
        "user": {
            "id": 1,
            "email": "owner@demo.test",
            "first_name": "Olive",
            "last_name": "Owner",
            "email_verified_at": "2026-01-05T10:00:00Z",
        },
    },
}


def _outcome_bodies(components: dict) -> dict:
    """One request shape per instrument, chosen by `instrument` (a discriminated `oneOf`)."""
    base = components["OutcomeWriteRequest"]
    variants = {}
    for instrument, answers in ANSWERS.items():
        name = instrument.capitalize()
        components[f"{name}Answers"] = answers
        variant = f"Outcome{name}Request"
        components[variant] = {
            **base,
            "properties": {
                **base["properties"],
                "instrument": {"type": "string", "enum": [instrument]},
                "answers": {"$ref": f"#/components/schemas/{name}Answers"},
            },
        }
        variants[instrument] = f"#/components/schemas/{variant}"
    components["OutcomeCreateRequest"] = {
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "instrument", "mapping": variants},
        "description": "An outcome: `answers` take the shape of the `instrument`.",
    }
    return {"$ref": "#/components/schemas/OutcomeCreateRequest"}


def document_operations(result, generator, request, public):
    """drf-spectacular postprocessing hook (settings `POSTPROCESSING_HOOKS`)."""
    components = result.get("components", {}).get("schemas", {})
    outcome_body = _outcome_bodies(components) if "OutcomeWriteRequest" in components else None
    for methods in result["paths"].values():
        for operation in methods.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            operation_id = operation["operationId"]
            doc = operation_doc(operation_id)
            if doc is not None:
                operation["summary"] = doc.summary
                operation["description"] = doc.description
            for parameter in operation.get("parameters", []):
                if parameter["name"] in PARAMETERS and (
                    not parameter.get("description") or parameter["in"] != "path"
                ):
                    parameter["description"] = PARAMETERS[parameter["name"]]
                elif not parameter.get("description"):
                    parameter["description"] = f"Only those whose `{parameter['name']}` is this."
            content = operation.get("requestBody", {}).get("content", {})
            if operation_id == "outcomes_create" and outcome_body is not None:
                for media in content.values():
                    media["schema"] = outcome_body
            for name, example in REQUEST_EXAMPLES.get(operation_id, {}).items():
                for media in content.values():
                    media.setdefault("examples", {})[name] = example
            if operation_id in RESPONSE_EXAMPLES:
                for status, response in operation["responses"].items():
                    if status.startswith("2"):
                        for media in response.get("content", {}).values():
                            media["example"] = RESPONSE_EXAMPLES[operation_id]
    return result
