"""OWASP API8:2023 Security Misconfiguration.

Backcare is configured from the environment (config/settings.py) with safe defaults:
- `manage.py check --deploy` is clean for a production-like environment (DEBUG=0, a real
  SECRET_KEY, a public ALLOWED_HOSTS): a deployment reached by a public name (or an https BASE_URL)
  redirects to HTTPS and sends HSTS for a year by default, trusting the proxy's X-Forwarded-Proto;
  `/healthz` and `/metrics` are exempt from the redirect (probes speak plain HTTP inside);
  cookies are secure. Local runs (`make run`, compose, tests: local host names) stay on HTTP.
- Every API answer carries X-Content-Type-Options: nosniff, Referrer-Policy, X-Frame-Options: DENY
  and Cross-Origin-Opener-Policy.
- CORS is an allow-list from CORS_ALLOWED_ORIGINS; empty by default, so no CORS header is ever
  sent and no other site's page can read an answer; never with credentials.
- Errors never show a stack trace or a debug page: a crash is a JSON 500 `server_error`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
APP = "https://app.example.com"


def run_check(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "ALLOWED_HOSTS", "SECRET_KEY", "BASE_URL", "SECURE_SSL_REDIRECT"}
        and not key.startswith("SECURE_HSTS")
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env(**extra: str) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "api.example.com",
        **extra,
    }


def settings_in(env: dict[str, str], *names: str) -> dict:
    """Settings as a fresh process with `env` reads them."""
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}))"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    for key in ("BASE_URL", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        if key not in env:
            environment.pop(key, None)
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


# --- check --deploy and HTTPS ----------------------------------------------------------------


def test_check_deploy_is_clean_for_a_production_like_environment():
    result = run_check(**production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_debug_left_on():
    """The check really runs: the same environment with DEBUG on is a failure (W018)."""
    result = run_check(**production_env(DEBUG="1"))

    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr


def test_a_production_deployment_is_https_only_by_default():
    values = settings_in(
        production_env(),
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
    )

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 86400
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SESSION_COOKIE_SECURE"] is values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_local_runs_stay_on_plain_http():
    """`make run` (nothing set) and compose (local names) must not redirect to an HTTPS port."""
    for env in ({}, {"ALLOWED_HOSTS": "localhost,127.0.0.1,web", "SECRET_KEY": "x" * 60}):
        values = settings_in(env, "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS")
        assert values == {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0}, env


def test_the_environment_can_turn_the_redirect_off_behind_a_proxy_that_owns_https():
    values = settings_in(
        production_env(SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0"),
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
    )

    assert values == {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0}


def test_with_the_redirect_on_http_is_redirected_and_the_proxy_header_is_honoured(settings, owner):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.token}")

    plain = api.get("/api/v1/me/")
    behind_proxy = api.get("/api/v1/me/", HTTP_X_FORWARDED_PROTO="https")
    probe = api.get("/healthz")

    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    assert behind_proxy.status_code == 200
    assert "max-age=31536000" in behind_proxy["Strict-Transport-Security"]
    assert probe.status_code != 301  # health probes are exempt


# --- headers on API answers --------------------------------------------------------------------

ANSWERS = [
    ("get", "/api/v1/me/", True),
    ("get", "/api/v1/clients/", True),
    ("post", "/api/v1/auth/token/", False),
    ("get", "/api/v1/public/north/services/", False),
    ("get", "/api/v1/no-such-thing/", False),
    ("get", "/api/v1/me/", False),  # 401
]


@pytest.mark.parametrize(("method", "path", "logged_in"), ANSWERS)
def test_security_headers_are_on_every_api_answer(method, path, logged_in, owner, anon):
    api = owner.api if logged_in else anon

    response = getattr(api, method)(path, {}, format="json") if method == "post" else api.get(path)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Content-Type"].startswith("application/json")


# --- CORS --------------------------------------------------------------------------------------


def preflight(api: APIClient, origin: str, path: str = "/api/v1/clients/"):
    return api.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


def test_by_default_no_origin_gets_cors_headers(owner, anon):
    assert django_settings.CORS_ALLOWED_ORIGINS == []

    response = owner.api.get("/api/v1/clients/", HTTP_ORIGIN=APP)
    options = preflight(anon, APP)

    assert response.status_code == 200
    assert not any(name.lower().startswith("access-control-") for name in response.headers)
    assert not any(name.lower().startswith("access-control-") for name in options.headers)


def test_an_allowed_origin_gets_cors_headers_without_credentials(settings, owner, anon):
    settings.CORS_ALLOWED_ORIGINS = [APP]

    response = owner.api.get("/api/v1/clients/", HTTP_ORIGIN=APP)
    options = preflight(anon, APP)

    assert response["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Credentials" not in response
    assert "sync-since" in response["Access-Control-Expose-Headers"].lower()
    assert options.status_code == 200
    assert options["Access-Control-Allow-Origin"] == APP
    assert "authorization" in options["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "null",
    ],
)
def test_an_origin_not_on_the_list_gets_no_cors_headers(settings, owner, anon, origin):
    settings.CORS_ALLOWED_ORIGINS = [APP]

    response = owner.api.get("/api/v1/clients/", HTTP_ORIGIN=origin)
    options = preflight(anon, origin)

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in options


def test_the_allow_list_is_read_from_the_environment():
    values = settings_in(
        {"CORS_ALLOWED_ORIGINS": f"{APP},https://admin.example.com"}, "CORS_ALLOWED_ORIGINS"
    )

    assert values["CORS_ALLOWED_ORIGINS"] == [APP, "https://admin.example.com"]


# --- errors: no stack traces, no debug pages ------------------------------------------------


@pytest.fixture
def crashing_view(monkeypatch):
    """`me/` raising an unexpected error, as a bug would."""
    from practice.api import views

    def crash(self, request):
        raise RuntimeError("secret internals: /srv/backcare/settings.py line 42")

    monkeypatch.setattr(views.MeView, "get", crash)


def test_a_crash_is_a_json_500_without_a_traceback(crashing_view, owner):
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.token}")

    response = api.get("/api/v1/me/")

    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "detail": "Internal server error."}
    text = response.content.decode()
    for leak in ("Traceback", "secret internals", "settings.py", "RuntimeError"):
        assert leak not in text


@pytest.mark.parametrize("path", ["/nothing-here", "/api/v1/nothing/here/", "/admin/", "/static/x"])
def test_an_unknown_path_is_a_json_404_not_a_debug_page(anon, path):
    response = anon.get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "<html" not in response.content.decode().lower()


def test_debug_is_off_unless_the_environment_turns_it_on():
    assert django_settings.DEBUG is False
    assert settings_in({}, "DEBUG") == {"DEBUG": False}


def test_no_browsable_api_or_other_html_renderer_is_offered(owner):
    response = owner.api.get("/api/v1/clients/", HTTP_ACCEPT="text/html")

    assert response.status_code in (200, 406)
    assert "<html" not in response.content.decode().lower()
