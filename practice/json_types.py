"""A JSON value of the type the schema states, or a 400: DRF's fields coerce (`{"name": 0}` became
"0", `{"price": 60}` 60.00, `{"active": 0}` false, `{"equipment": [0]}` ["0"]), and a client sending
the wrong type is told so instead of having its value reinterpreted (found by the schema fuzzer).

Shared by the API's serializer bases (practice.api.base) and the intake's own (issue 17), which
may not import an api layer."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

NOT_A_STRING = "Not a valid string."
NOT_A_BOOLEAN = "Must be true or false."


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
