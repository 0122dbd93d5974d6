"""OWASP API5:2023 Broken Function Level Authorization: every role against every operation.

The table below is the declared expectation (API.md "Tenancy and roles") for each operation the URL
conf serves, as one letter per caller, in the order owner, therapist, front desk, client, API key,
anonymous: `Y` may call it, `-` may not (403 `permission_denied` for a logged-in caller, 401
`not_authenticated` without credentials). The operations are generated from the URL conf and each
view's allowed methods: a new endpoint, or a new method on one, fails
`test_every_served_operation_has_a_declared_expectation` until a line is added here, so nobody
ships a function without deciding who may call it.

Each caller sends a fresh token and an empty body, to a record id that does not exist: a refused
role is refused before the record is looked for (403), an admitted one gets past the role check
(400, 404, 405 for an unsupported body... anything but 401/403). Object-level rules (which record)
are API1's. Backcare meets it with one permission class (`practice.permissions.IsPracticeMember`)
reading each view's `access` / `action_access` table; views without one refuse API keys.
"""

from __future__ import annotations

import pytest
from django.urls import resolve
from rest_framework.test import APIClient

from techniques.models import Technique
from tests.conftest import login_client
from tests.contract.test_schema import _as_path, _url_patterns

pytestmark = pytest.mark.django_db

CALLERS = ("owner", "therapist", "front_desk", "client", "api_key", "anonymous")
METHODS = ("get", "post", "put", "patch", "delete")

EVERYONE = "YYYYYY"
MEMBERS = "YYYY--"
OWNER = "Y-----"
CLINICAL = "YY----"
CLINICAL_CLIENT_READS = "YY-Y--"
STAFF = "YYY---"
SCHEDULING = "YYYYY-"
CLIENT_ONLY = "---Y--"
STAFF_AND_API_KEYS = "YYY-Y-"

EXPECTED: dict[str, str] = {
    # auth and the caller
    "POST /api/v1/auth/token/": EVERYONE,
    "POST /api/v1/auth/logout/": MEMBERS,
    "POST /api/v1/auth/register/": EVERYONE,
    "GET /api/v1/auth/verify-email/": EVERYONE,
    "POST /api/v1/auth/verify-email/": EVERYONE,
    "POST /api/v1/auth/password/": MEMBERS,
    "POST /api/v1/auth/password-reset/": EVERYONE,
    "GET /api/v1/auth/password-reset/confirm/": EVERYONE,
    "POST /api/v1/auth/password-reset/confirm/": EVERYONE,
    "GET /api/v1/auth/email-change/confirm/": EVERYONE,
    "POST /api/v1/auth/email-change/confirm/": EVERYONE,
    "POST /api/v1/me/email/": MEMBERS,
    "GET /api/v1/me/": MEMBERS,
    "POST /api/v1/me/calendar/rotate/": MEMBERS,
    "GET /api/v1/me/export/": CLIENT_ONLY,
    "POST /api/v1/me/erasure-request/": CLIENT_ONLY,
    "GET /api/v1/practice/": MEMBERS,
    "PATCH /api/v1/practice/": OWNER,
    # staff, therapists, services, time off
    "GET /api/v1/staff/": OWNER,
    "POST /api/v1/staff/": OWNER,
    "GET /api/v1/staff/{}/": OWNER,
    "PATCH /api/v1/staff/{}/": OWNER,
    "DELETE /api/v1/staff/{}/": OWNER,
    "GET /api/v1/therapists/": SCHEDULING,
    "GET /api/v1/therapists/{}/": SCHEDULING,
    "PATCH /api/v1/therapists/{}/": OWNER,
    "GET /api/v1/therapists/{}/working-hours/": SCHEDULING,
    "PUT /api/v1/therapists/{}/working-hours/": CLINICAL,
    "GET /api/v1/time-off/": STAFF,
    "POST /api/v1/time-off/": STAFF,
    "GET /api/v1/time-off/{}/": STAFF,
    "PATCH /api/v1/time-off/{}/": STAFF,
    "DELETE /api/v1/time-off/{}/": STAFF,
    "GET /api/v1/services/": SCHEDULING,
    "POST /api/v1/services/": OWNER,
    "GET /api/v1/services/{}/": SCHEDULING,
    "PATCH /api/v1/services/{}/": OWNER,
    "DELETE /api/v1/services/{}/": OWNER,
    # money (issue 19): staff bill and take payments, owners void/credit/refund, clients read
    "GET /api/v1/tax-rates/": SCHEDULING,
    "POST /api/v1/tax-rates/": OWNER,
    "GET /api/v1/tax-rates/{}/": SCHEDULING,
    "PATCH /api/v1/tax-rates/{}/": OWNER,
    "DELETE /api/v1/tax-rates/{}/": OWNER,
    "GET /api/v1/invoices/": MEMBERS,
    "POST /api/v1/invoices/": STAFF,
    "GET /api/v1/invoices/{}/": MEMBERS,
    "PATCH /api/v1/invoices/{}/": STAFF,
    "POST /api/v1/invoices/{}/issue/": STAFF,
    "POST /api/v1/invoices/{}/void/": OWNER,
    "POST /api/v1/invoices/{}/credit-notes/": OWNER,
    "POST /api/v1/invoices/{}/pay-online/": MEMBERS,
    "GET /api/v1/invoices/{}/pdf/": MEMBERS,
    "GET /api/v1/payments/": MEMBERS,
    "POST /api/v1/payments/": STAFF,
    "GET /api/v1/payments/{}/": MEMBERS,
    "POST /api/v1/payments/{}/refund/": OWNER,
    "POST /api/v1/billing/providers/{}/webhook/": EVERYONE,
    # integrations and the access log: the owner's
    "GET /api/v1/audit-events/": OWNER,
    "GET /api/v1/audit-events/{}/": OWNER,
    "GET /api/v1/api-keys/": OWNER,
    "POST /api/v1/api-keys/": OWNER,
    "GET /api/v1/api-keys/{}/": OWNER,
    "DELETE /api/v1/api-keys/{}/": OWNER,
    "GET /api/v1/webhooks/": OWNER,
    "POST /api/v1/webhooks/": OWNER,
    "GET /api/v1/webhooks/{}/": OWNER,
    "PATCH /api/v1/webhooks/{}/": OWNER,
    "DELETE /api/v1/webhooks/{}/": OWNER,
    "GET /api/v1/webhooks/{}/deliveries/": OWNER,
    "POST /api/v1/webhooks/{}/deliveries/{}/redeliver/": OWNER,
    "GET /api/v1/deleted/": STAFF_AND_API_KEYS,
    # clients and their records
    "GET /api/v1/clients/": SCHEDULING,
    "POST /api/v1/clients/": "YYY-Y-",  # a client signs up through auth/register/
    "GET /api/v1/clients/{}/": SCHEDULING,
    "PATCH /api/v1/clients/{}/": SCHEDULING,
    "GET /api/v1/clients/{}/export/": CLINICAL_CLIENT_READS,
    "GET /api/v1/clients/{}/clearances/": CLINICAL,
    "POST /api/v1/clients/{}/clearances/": CLINICAL,
    "POST /api/v1/clients/{}/clearances/{}/revoke/": CLINICAL,
    "POST /api/v1/clients/{}/erasure/": OWNER,
    "POST /api/v1/clients/{}/legal-hold/": OWNER,
    "GET /api/v1/clients/{}/access-log/": OWNER,
    "GET /api/v1/erasure-requests/": OWNER,
    "GET /api/v1/erasure-requests/{}/": OWNER,
    "GET /api/v1/consents/": CLINICAL_CLIENT_READS,
    "POST /api/v1/consents/": CLINICAL,
    "GET /api/v1/consents/{}/": CLINICAL_CLIENT_READS,
    "POST /api/v1/consents/{}/withdraw/": CLINICAL_CLIENT_READS,
    "GET /api/v1/complaints/": CLINICAL_CLIENT_READS,
    "POST /api/v1/complaints/": CLINICAL,
    "GET /api/v1/complaints/{}/": CLINICAL_CLIENT_READS,
    "PATCH /api/v1/complaints/{}/": CLINICAL,
    "POST /api/v1/complaints/{}/clear/": CLINICAL,
    "POST /api/v1/complaints/{}/resolve/": CLINICAL,
    "POST /api/v1/complaints/{}/reopen/": CLINICAL,
    "GET /api/v1/complaints/{}/progress/": CLINICAL_CLIENT_READS,
    "GET /api/v1/complaints/{}/progress.svg": CLINICAL_CLIENT_READS,
    "GET /api/v1/outcomes/": CLINICAL_CLIENT_READS,
    "POST /api/v1/outcomes/": CLINICAL_CLIENT_READS,  # a client answers for themselves
    "GET /api/v1/outcomes/{}/": CLINICAL_CLIENT_READS,
    "GET /api/v1/techniques/": MEMBERS,
    "POST /api/v1/techniques/": CLINICAL,
    "GET /api/v1/techniques/{}/": MEMBERS,
    "PATCH /api/v1/techniques/{}/": CLINICAL,
    "DELETE /api/v1/techniques/{}/": OWNER,
    "GET /api/v1/techniques/{}/contraindication-changes/": OWNER,
    # scheduling
    "GET /api/v1/availability/": SCHEDULING,
    "GET /api/v1/appointments/": SCHEDULING,
    "POST /api/v1/appointments/": SCHEDULING,
    "POST /api/v1/appointments/series/": SCHEDULING,
    "GET /api/v1/appointments/{}/": SCHEDULING,
    "POST /api/v1/appointments/{}/cancel/": SCHEDULING,
    "POST /api/v1/appointments/{}/reschedule/": SCHEDULING,
    "POST /api/v1/appointments/{}/check-in/": STAFF,
    "POST /api/v1/appointments/{}/complete/": STAFF,
    "POST /api/v1/appointments/{}/no-show/": STAFF,
    "GET /api/v1/waitlist/": MEMBERS,
    "POST /api/v1/waitlist/": MEMBERS,
    "GET /api/v1/waitlist/{}/": MEMBERS,
    "POST /api/v1/waitlist/{}/cancel/": MEMBERS,
    "GET /api/v1/reminders/": MEMBERS,
    "GET /api/v1/reminders/{}/": MEMBERS,
    "GET /api/v1/alerts/": CLINICAL,
    "GET /api/v1/alerts/{}/": CLINICAL,
    "POST /api/v1/alerts/{}/acknowledge/": CLINICAL,
    # clinical records
    "GET /api/v1/session-plans/": CLINICAL_CLIENT_READS,
    "POST /api/v1/session-plans/": CLINICAL,
    "GET /api/v1/session-plans/{}/": CLINICAL_CLIENT_READS,
    "PATCH /api/v1/session-plans/{}/": CLINICAL,
    "GET /api/v1/notes/": CLINICAL_CLIENT_READS,
    "POST /api/v1/notes/": CLINICAL,
    "GET /api/v1/notes/{}/": CLINICAL_CLIENT_READS,
    "PATCH /api/v1/notes/{}/": CLINICAL,
    "POST /api/v1/notes/{}/sign/": CLINICAL,
    "GET /api/v1/notes/{}/amendments/": CLINICAL,
    "POST /api/v1/notes/{}/amendments/": CLINICAL,
    # without an account: the secret in the URL (or nothing) is the credential
    "GET /api/v1/calendar/{}.ics": EVERYONE,
    "GET /api/v1/public/{}/": EVERYONE,
    "GET /api/v1/public/{}/services/": EVERYONE,
    "GET /api/v1/public/{}/therapists/": EVERYONE,
    "GET /api/v1/public/{}/availability/": EVERYONE,
    "POST /api/v1/public/{}/bookings/": EVERYONE,
    "GET /api/v1/public/bookings/{}/": EVERYONE,
    "GET /api/v1/public/bookings/{}/cancel/": EVERYONE,
    "POST /api/v1/public/bookings/{}/cancel/": EVERYONE,
    "GET /api/v1/public/bookings/{}/reschedule/": EVERYONE,
    "POST /api/v1/public/bookings/{}/reschedule/": EVERYONE,
    "GET /api/v1/public/follow-ups/{}/": EVERYONE,
    "POST /api/v1/public/follow-ups/{}/": EVERYONE,
    "GET /api/v1/public/unsubscribe/{}/": EVERYONE,
    "POST /api/v1/public/unsubscribe/{}/": EVERYONE,
    "GET /api/v1/public/waitlist-offers/{}/claim/": EVERYONE,
    "POST /api/v1/public/waitlist-offers/{}/claim/": EVERYONE,
    "GET /api/v1/schema/": EVERYONE,
    "GET /api/v1/docs/": EVERYONE,
    "GET /api/v1/redoc/": EVERYONE,
    "GET /api/v1/": EVERYONE,
    "GET /static/{}": EVERYONE,  # the docs pages' scripts and styles
    # money, issue 19 part B: packages, packages sold, fees, reports
    "GET /api/v1/packages/": MEMBERS,
    "POST /api/v1/packages/": OWNER,
    "GET /api/v1/packages/{}/": MEMBERS,
    "PATCH /api/v1/packages/{}/": OWNER,
    "GET /api/v1/client-packages/": MEMBERS,
    "POST /api/v1/client-packages/": STAFF,
    "GET /api/v1/client-packages/{}/": MEMBERS,
    "POST /api/v1/client-packages/{}/restore/": OWNER,
    "GET /api/v1/fees/": MEMBERS,
    "GET /api/v1/fees/{}/": MEMBERS,
    "POST /api/v1/fees/{}/waive/": OWNER,
    "GET /api/v1/reports/revenue/": OWNER,
    "GET /api/v1/reports/outstanding/": OWNER,
    "GET /api/v1/reports/package-liability/": OWNER,
    # operations
    "GET /healthz": EVERYONE,
    "GET /metrics": "------",  # its own METRICS_TOKEN only (API8); no API credential opens it
}


def served_operations() -> set[str]:
    """`METHOD /path/{}/` for every method each routed view answers."""
    found = set()
    for pattern in _url_patterns():
        path = _as_path(pattern)
        view = resolve(path.replace("{}", "1")).func
        view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
        # HEAD and OPTIONS follow GET and the view itself (DRF adds `head` to a viewset's actions
        # once it has served a GET, so it is left out here rather than counted sometimes).
        allowed = set(getattr(view_class, "http_method_names", METHODS)) & set(METHODS)
        actions = getattr(view, "actions", None)
        if actions:
            methods = set(actions) & allowed
        elif view_class is not None:
            methods = {m for m in METHODS if hasattr(view_class, m)} & allowed
        else:  # a plain function view
            methods = {"get"}
        found |= {f"{method.upper()} {path}" for method in methods}
    return found


def test_every_served_operation_has_a_declared_expectation():
    served = served_operations()
    missing = sorted(served - set(EXPECTED))
    stale = sorted(set(EXPECTED) - served)
    assert not missing, f"declare who may call these in EXPECTED: {missing}"
    assert not stale, f"EXPECTED names operations that are no longer served: {stale}"


def test_the_table_is_well_formed():
    assert all(len(row) == len(CALLERS) and set(row) <= {"Y", "-"} for row in EXPECTED.values())


def concrete(path: str) -> str:
    """A URL for the pattern: slug of the practice, unknown ids and tokens."""
    if path.startswith("/api/v1/public/{}/"):
        path = path.replace("{}", "north", 1)
    return path.replace("{}", "999999")


@pytest.fixture
def callers(members, owner) -> dict:
    key = owner.api.post("/api/v1/api-keys/", {"name": "matrix"}, format="json").json()["key"]

    def fresh(caller: str) -> APIClient:
        if caller == "anonymous":
            return APIClient()
        if caller == "api_key":
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
            return api
        return login_client(members[caller].user)[0]

    return fresh


@pytest.mark.parametrize("operation", sorted(EXPECTED))
def test_each_caller_gets_exactly_what_the_table_declares(operation, callers, settings):
    settings.METRICS_TOKEN = ""
    method, path = operation.split(" ", 1)
    url = concrete(path)
    wrong = []
    for caller, expected in zip(CALLERS, EXPECTED[operation], strict=True):
        api = callers(caller)
        call = getattr(api, method.lower())
        response = call(url) if method == "GET" else call(url, {}, format="json")
        admitted = response.status_code not in (401, 403) and not (
            path == "/metrics" and response.status_code == 404
        )
        if admitted != (expected == "Y"):
            wrong.append(f"{caller}: {response.status_code}")
            continue
        if expected == "-" and path != "/metrics":
            code = "not_authenticated" if caller == "anonymous" else "permission_denied"
            status = 401 if caller == "anonymous" else 403
            body = response.json()
            if response.status_code != status or body.get("code") != code:
                wrong.append(f"{caller}: {response.status_code} {body}")
        if expected == "-" and response.status_code < 400:
            wrong.append(f"{caller}: refused but answered {response.status_code}")
    assert not wrong, f"{operation}: {wrong}"


# --- a function inside an operation: the contraindication matrix (security finding 13.4) --------


def test_only_the_owner_changes_the_contraindication_matrix(members, practice):
    """PATCH techniques/{id}/ is a clinician's operation, but its `contraindications` are the
    owner's: a therapist who empties effleurage's column is refused and nothing changes."""
    effleurage = Technique.objects.get(practice=practice, code="effleurage")
    before = list(effleurage.contraindications.values_list("flag", "rule", "max_pressure"))
    url = f"/api/v1/techniques/{effleurage.pk}/"

    refused = members["therapist"].api.patch(url, {"contraindications": []}, format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert list(effleurage.contraindications.values_list("flag", "rule", "max_pressure")) == before
    allowed = members["owner"].api.patch(url, {"contraindications": []}, format="json")
    assert allowed.status_code == 200
