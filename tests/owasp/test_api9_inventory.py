"""OWASP API9:2023 Improper Inventory Management.

An endpoint nobody knows about is an endpoint nobody secures. Backcare's inventory is its OpenAPI
schema (`/api/v1/schema/`): every route of the URL conf under `/api/v1/` is a path of the schema,
every path of the schema is routed (no documented ghost that a stale client keeps calling), and
there is one API version. Outside `/api/v1/` only `/healthz` and `/metrics` (operations endpoints,
not API) and `/static/` (the docs pages' own assets, nothing else) are served: no admin, no debug
toolbar, no browsable API, no format-suffix duplicates of routes. `/api/v1/` itself is the API's
index of links (config.views.ApiRootView), not DRF's router root.
"""

from __future__ import annotations

import re

import pytest
from django.urls import resolve

from config.views import ApiRootView
from tests.contract.test_schema import NOT_IN_SCHEMA, _as_path, _url_patterns

pytestmark = pytest.mark.django_db

API_PREFIX = "/api/v1/"
OUTSIDE_THE_API = {"/healthz", "/metrics", "/static/{}"}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema(anon) -> dict:
    response = anon.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


def served() -> set[str]:
    return {_as_path(pattern) for pattern in _url_patterns()}


def test_every_schema_path_is_routed(schema):
    routed = served()
    ghosts = sorted(path for path in schema["paths"] if _as_path(path) not in routed)
    assert not ghosts, f"documented but not served: {ghosts}"


def test_every_route_under_the_api_is_in_the_schema(schema):
    documented = {_as_path(path) for path in schema["paths"]}
    exempt = {_as_path(path) for path in NOT_IN_SCHEMA}
    undocumented = sorted(
        path for path in served() if path.startswith(API_PREFIX) and path not in documented | exempt
    )
    assert not undocumented, f"served but not in the schema: {undocumented}"


def test_only_health_metrics_and_docs_assets_are_served_outside_the_api():
    outside = {path for path in served() if not path.startswith(API_PREFIX)}
    assert outside <= OUTSIDE_THE_API, (
        f"undocumented routes outside /api/v1/: {outside - OUTSIDE_THE_API}"
    )
    assert "/healthz" in outside


def test_there_is_one_api_version(schema):
    assert all(path.startswith(API_PREFIX) for path in schema["paths"])
    assert all(path.startswith(API_PREFIX) for path in served() - OUTSIDE_THE_API)
    assert schema["info"]["version"] == "1"


def test_no_format_suffix_or_root_view_duplicates_a_route():
    patterns = _url_patterns()
    assert not [p for p in patterns if "format" in p], "format-suffix routes are served"
    assert resolve(API_PREFIX).func.view_class is ApiRootView, "the router's root view is served"


@pytest.mark.parametrize("path", ["/admin/", "/api/v2/clients/", "/api/clients/", "/__debug__/"])
def test_what_is_not_in_the_inventory_is_404(anon, path):
    assert anon.get(path).status_code == 404


def test_every_documented_operation_is_answered_by_its_view(schema, owner):
    """A documented method that the view does not offer would be a ghost operation (405)."""
    ghosts: list[str] = []
    for path, operations in schema["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path.replace("{slug}", "north"))
        view = resolve(concrete).func
        allowed = set(getattr(view, "actions", {}) or {})
        if not allowed:
            view_class = getattr(view, "view_class", getattr(view, "cls", None))
            allowed = {m for m in METHODS if hasattr(view_class, m)}
        ghosts.extend(
            f"{method.upper()} {path}"
            for method in operations
            if method in METHODS and method not in allowed
        )
    assert not ghosts, f"documented operations the view does not offer: {ghosts}"
