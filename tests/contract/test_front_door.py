"""The first hour of a new user (issue 15): `/api/v1/` answers, the docs pages work offline, the
documentation a clone carries is the documentation it links to.

The pages are checked here for what they load (only this server's own assets, each served); that
they also render is checked by hand in headless Chromium with `tests/render_docs_pages.py`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from practice.webhooks import signature_header

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


# --- /api/v1/ -------------------------------------------------------------------------------------


def test_the_api_root_links_the_docs_schema_health_and_main_resources(anon):
    response = anon.get("/api/v1/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["docs"] == "http://testserver/api/v1/docs/"
    assert body["redoc"] == "http://testserver/api/v1/redoc/"
    assert body["schema"] == "http://testserver/api/v1/schema/"
    assert body["health"] == "http://testserver/healthz"
    assert set(body["guides"].values()) == {"docs/api.md", "docs/clinical.md"}
    for name in ("auth_token", "me", "practice", "availability", "clients", "appointments"):
        assert body["resources"][name].startswith("http://testserver/api/v1/"), name


def test_every_link_of_the_api_root_is_served(anon, owner):
    body = anon.get("/api/v1/").json()
    links = [body["docs"], body["redoc"], body["schema"], *body["resources"].values()]
    for link in links:
        path = link.removeprefix("http://testserver")
        response = owner.api.get(path)
        # Served: auth/token/ is POST-only (405), availability/ wants its query (400).
        assert response.status_code in (200, 400, 405), (path, response.status_code)
    for guide in body["guides"].values():
        assert (ROOT / guide).is_file(), guide


# --- the docs pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_docs_pages_load_only_assets_this_server_serves(anon, page):
    response = anon.get(page)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for cdn in ("cdn.", "unpkg", "jsdelivr", "googleapis"):
        assert cdn not in html, cdn
    references = _REFERENCE.findall(html)
    scripts = [ref for ref in references if ref.endswith(".js")]
    assert scripts, "the page loads no script"
    for reference in references:
        assert reference.startswith("/"), f"{page} loads {reference} from elsewhere"
        asset = anon.get(reference)
        assert asset.status_code == 200, reference
        assert b"".join(asset.streaming_content), reference


def test_the_docs_assets_route_serves_nothing_but_the_docs_assets(anon):
    for path in (
        "/static/drf_spectacular_sidecar/../../config/settings.py",
        "/static/rest_framework/css/bootstrap.min.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/missing.js",
    ):
        response = anon.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/json"), path


# --- the documentation a clone carries -----------------------------------------------------------


def test_neither_readme_nor_schema_points_at_files_outside_the_repository(anon):
    readme = (ROOT / "README.md").read_text()
    schema = anon.get("/api/v1/schema/", {"format": "json"}).content.decode()
    for name, text in (("README.md", readme), ("schema", schema)):
        assert "shared/" not in text, name
        assert not re.search(r"(?<![\w/])(?:API|DOMAIN)\.md", text), name


def test_the_readme_links_the_guides_and_they_cover_what_an_integrator_needs():
    readme = (ROOT / "README.md").read_text()
    assert "docs/api.md" in readme
    assert "docs/clinical.md" in readme
    guide = (ROOT / "docs" / "api.md").read_text().lower()
    for topic in (
        "authorization: bearer",
        "error",
        "pagination",
        "updated_since",
        "idempotency-key",
        "backcare-signature",
        "hmac",
        "429",
    ):
        assert topic in guide, topic
    clinical = (ROOT / "docs" / "clinical.md").read_text().lower()
    for topic in ("red flag", "contraindication", "oswestry", "mcid", "sources"):
        assert topic in clinical, topic


def test_the_webhook_snippet_of_the_guide_verifies_a_real_signature():
    """The guide's Python snippet, run against a signature made the way deliveries are signed."""
    guide = (ROOT / "docs" / "api.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", guide, re.DOTALL)
    assert snippet, "the guide has no Python snippet"
    namespace: dict = {}
    exec(snippet.group(1), namespace)  # noqa: S102  # our own documentation
    body = b'{"id": "evt_1", "type": "appointment.created"}'
    header = signature_header("whsec_test", body, 1_700_000_000)
    verify = namespace["verify"]
    assert verify(body, header, "whsec_test", now=1_700_000_010)
    assert not verify(body + b" ", header, "whsec_test", now=1_700_000_010)
    assert not verify(body, header, "whsec_test", now=1_700_000_000 + 3600)


def test_base_url_follows_port_by_default_and_the_readme_says_so():
    environment = {k: v for k, v in os.environ.items() if k != "BASE_URL"}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings", "PORT": "9123"})
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.BASE_URL)",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "http://127.0.0.1:9123"
    row = next(
        line for line in (ROOT / "README.md").read_text().splitlines() if "`BASE_URL`" in line
    )
    assert "PORT" in row, row
