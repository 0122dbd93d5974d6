"""A write's body as the schema states it, or a 400 (`check_body`): a JSON object, naming only
fields the caller may set, each value of the JSON type its field takes. DRF's fields coerce
(`{"name": 0}` became "0", `{"price": 60}` 60.00, `{"active": 0}` false, `{"equipment": [0]}`
["0"]): a client sending the wrong type is told so instead of having its value reinterpreted
(found by the schema fuzzer).

Shared by the API's serializer bases (practice.api.base) and the intake's own (issue 17), which
may not import an api layer."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.exceptions import ErrorDetail

NOT_A_STRING = "Not a valid string."
NOT_A_BOOLEAN = "Must be true or false."


def check_body(serializer: serializers.Serializer, data: Any) -> None:
    """Every strict serializer's first step (practice.api.base, the intake's own)."""
    if not isinstance(data, dict):
        raise exceptions.ValidationError(
            {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
        )
    reject_unknown_fields(serializer, data)
    reject_wrong_types(serializer, data)


FORBIDDEN_FIELD = "Your role may not set this field."


def reject_unknown_fields(serializer: serializers.Serializer, data: dict) -> None:
    """A field the body may not set is a 400: `not_permitted` when the caller's role is what
    forbids it (the schema documents it for the roles that may), `unknown_field` otherwise."""
    writable = {name for name, field in serializer.fields.items() if not field.read_only}
    unknown = sorted(set(data) - writable)
    if unknown:
        restricted: set[str] = getattr(serializer, "restricted_fields", set())
        raise exceptions.ValidationError(
            {
                name: [
                    exceptions.ErrorDetail(FORBIDDEN_FIELD, code="not_permitted")
                    if name in restricted
                    else exceptions.ErrorDetail("This field is not accepted.", code="unknown_field")
                ]
                for name in unknown
            }
        )


def wrong_type(field: serializers.Field, value: Any) -> Any:
    """None when `value` has the JSON type `field` takes (null is the field's own business);
    else the error: a list of one ErrorDetail, or for a list an {index: [ErrorDetail]} dict."""
    if value is None:
        return None
    if isinstance(field, serializers.CharField | serializers.DecimalField):
        return None if isinstance(value, str) else [ErrorDetail(NOT_A_STRING, code="invalid")]
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else [ErrorDetail(NOT_A_BOOLEAN, code="invalid")]
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        items = {n: wrong_type(field.child, item) for n, item in enumerate(value)}
        return {n: error for n, error in items.items() if error is not None} or None
    return None


def reject_wrong_types(serializer: serializers.Serializer, data: dict) -> None:
    """A 400 naming every writable field of `serializer` whose value in `data` has the wrong
    JSON type (text and decimals are strings, yes/no fields booleans, lists of them likewise)."""
    wrong = {}
    for name, field in serializer.fields.items():
        if not field.read_only and name in data:
            error = wrong_type(field, data[name])
            if error is not None:
                wrong[name] = error
    if wrong:
        raise serializers.ValidationError(wrong)
