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
NOT_IN_SCHEMA = {"/api/v1/schema/", "/api/v1/docs/"}  # the schema and its viewer describe the API
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
