"""The front door: `/api/v1/` (where to start), the docs pages and their assets, served locally.

The docs pages (Swagger UI, ReDoc) load their scripts from `drf-spectacular-sidecar`, served here
under `/static/` by the app itself, so the pages render offline and from a locked version, not
from a CDN. gunicorn serves no static files and Django's own static view answers only in DEBUG.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import Http404
from django.urls import reverse
from django.views.static import serve
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from sessions.api.views import PublicThrottle

DOCS_ASSETS = "drf_spectacular_sidecar/"
GUIDES = {
    "api_guide": "docs/api.md",
    "clinical_reference": "docs/clinical.md",
}
# Routes outside the router that an integrator starts from, by URL name.
MAIN_ROUTES = {
    "auth_token": "auth-token",
    "me": "me",
    "practice": "practice",
    "availability": "availability",
}


def docs_asset(request, path: str):
    """A file of the docs pages' assets (`static/drf_spectacular_sidecar/...`), or a JSON 404."""
    normalized = posixpath.normpath(path).lstrip("/")
    if not normalized.startswith(DOCS_ASSETS) or ".." in normalized.split("/"):
        raise Http404(path)
    found = finders.find(normalized)
    if not found:
        raise Http404(path)
    located = Path(found)
    response = serve(request, located.name, document_root=str(located.parent))
    # The sidecar's files change only with its version, which is in the path.
    response["Cache-Control"] = "public, max-age=86400"
    return response


class ApiRootSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    docs = serializers.URLField(help_text="Interactive reference (Swagger UI).")
    redoc = serializers.URLField(help_text="The same reference as one readable page (ReDoc).")
    schema = serializers.URLField(help_text="OpenAPI 3 schema (YAML; `?format=json` for JSON).")
    health = serializers.URLField(help_text="200 when the database and broker answer.")
    guides = serializers.DictField(
        child=serializers.CharField(),
        help_text="Guides in the repository (`docs/`): the API guide and the clinical reference.",
    )
    resources = serializers.DictField(
        child=serializers.URLField(),
        help_text="The main resources by name, each its list (or only) URL.",
    )


class ApiRootView(APIView):
    """`/api/v1/`: where a newcomer lands from `make run`; links, no data, no login."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (PublicThrottle,)
    router: DefaultRouter | None = None  # set by `as_view(router=...)` in config/urls.py

    @extend_schema(
        operation_id="api_root_retrieve", tags=["start"], responses={200: ApiRootSerializer}
    )
    def get(self, request) -> Response:
        def url(name: str) -> str:
            return request.build_absolute_uri(reverse(name))

        resources = {key: url(name) for key, name in MAIN_ROUTES.items()}
        for prefix, _viewset, basename in self.router.registry if self.router else ():
            resources[prefix.replace("-", "_")] = url(f"{basename}-list")
        answer = {
            "name": "Backcare API",
            "version": "1",
            "docs": url("docs"),
            "redoc": url("redoc"),
            "schema": url("schema"),
            "health": url("healthz"),
            "guides": GUIDES,
            "resources": dict(sorted(resources.items())),
        }
        return Response(ApiRootSerializer(answer).data)
