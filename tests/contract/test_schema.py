"""The OpenAPI schema is valid and complete, and the models match their migrations (API.md).

Front-ends generate their clients from `/api/v1/schema/`: an endpoint missing from it, or a schema
that does not validate, breaks them as surely as a wrong status code.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

API_PREFIX = "/api/v1/"
# the schema and its viewers describe the API
NOT_IN_SCHEMA = {"/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"}
_PARAMETER = re.compile(r"\(\?P<\w+>[^)]*\)|<(?:\w+:)?\w+>|\{[^}]+\}")


def _as_path(pattern: str) -> str:
    """A URL pattern or an OpenAPI path, with every parameter written `{}`, for comparison."""
    path = pattern.replace("^", "").replace("$", "").replace("\\", "")
    return _PARAMETER.sub("{}", path)


def _url_patterns(resolver=None, prefix: str = "/") -> list[str]:
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        pattern = str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _url_patterns(entry, prefix + pattern.lstrip("^"))
        elif isinstance(entry, URLPattern):
            if "(?P<format>" in pattern:  # `.json` suffix variants of the router's routes
                continue
            found.append(prefix + pattern)
    return found


@pytest.fixture
def schema(anon) -> dict:
    response = anon.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_every_api_url_is_a_path_of_the_schema(schema):
    documented = {_as_path(path) for path in schema["paths"]}
    served = {
        _as_path(pattern) for pattern in _url_patterns() if pattern.startswith(API_PREFIX)
    } - {_as_path(path) for path in NOT_IN_SCHEMA}
    assert served, "no URL found under /api/v1/: the URL walk is broken"
    missing = sorted(served - documented)
    assert not missing, f"served under /api/v1/ but absent from the schema: {missing}"


def test_every_documented_operation_describes_a_response(schema):
    methods = {"get", "post", "put", "patch", "delete"}
    bare = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in methods and not operation.get("responses")
    ]
    assert not bare, f"operations without a documented response: {bare}"


def test_models_and_migrations_agree():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:
        pytest.fail(
            f"models have changes without a migration (exit {exit_.code}):\n{out.getvalue()}"
        )


# Found by the schema fuzzer (tests/fuzz/): what clients generated from the schema rely on.
def test_every_operation_documents_its_error_answers(schema):
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if "bearer" in str(operation.get("security")) and "401" not in responses:
                missing.append(f"{method.upper()} {path}: 401")
            if "429" not in responses:
                missing.append(f"{method.upper()} {path}: 429")
    assert not missing, missing
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail"]


def test_write_bodies_say_unknown_fields_are_refused(schema):
    bodies = schema["components"]["schemas"]
    assert bodies["AppointmentCreateRequest"]["additionalProperties"] is False
    assert bodies["PatchedClientRequest"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("ApiKey", "last_used_at"),
        ("ApiKey", "revoked_at"),
        ("Webhook", "paused_at"),
        ("Consent", "withdrawn_at"),
        ("Consent", "witnessed_by"),
        ("AuditEvent", "actor"),
        ("Note", "signed_at"),
        ("Reminder", "sent_at"),
    ],
)
def test_fields_that_may_be_null_are_documented_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable")


def test_staff_patch_body_has_no_creation_only_fields(schema):
    body = schema["paths"]["/api/v1/staff/{id}/"]["patch"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert {"email", "password"}.isdisjoint(schema["components"]["schemas"][ref]["properties"])


def test_a_therapist_is_patched_never_put(schema):
    assert "put" not in schema["paths"]["/api/v1/therapists/{id}/"]
