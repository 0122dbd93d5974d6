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

from clients.instruments import SCORERS
from clients.models import Outcome
from practice.tenancy import PracticeScopedViewSet
from tests.factories import ComplaintFactory

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


# --- The schema is the reference an integrator reads (issue 15) ---------------------------------
OPERATION_METHODS = {"get", "post", "put", "patch", "delete"}
# A maintainer's identifier: a dotted module path (`config.schema.AutoSchema`), a source file, or
# the base-class docstring that leaked into 22 operations before.
_PYTHON_PATH = re.compile(
    r"\b[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[A-Za-z_]\w*\b|\b\w+\.py\b|Base of every tenant"
)


def _operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in OPERATION_METHODS:
                yield f"{method.upper()} {path}", operation


def _descriptions(node, where: str = ""):
    """Every `description` and `summary` string in the schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"description", "summary"} and isinstance(value, str):
                yield where, value
            else:
                yield from _descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _descriptions(value, f"{where}/{index}")


def test_every_operation_has_a_summary_and_a_description_for_integrators(schema):
    missing = [
        name
        for name, operation in _operations(schema)
        if not operation.get("summary") or not operation.get("description")
    ]
    assert not missing, f"describe these in config/schema_docs.py: {missing}"


def test_no_description_in_the_schema_names_python_code_or_files_outside_the_repo(schema):
    leaks = [
        (where, text)
        for where, text in _descriptions(schema)
        if _PYTHON_PATH.search(text) or re.search(r"shared/|\b(?:API|DOMAIN)\.md\b", text)
    ]
    assert not leaks, leaks


def test_outcome_answers_are_typed_per_instrument_with_a_discriminator(schema):
    body = schema["paths"]["/api/v1/outcomes/"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    outcome = schema["components"]["schemas"][ref]
    assert outcome["discriminator"]["propertyName"] == "instrument"
    mapping = outcome["discriminator"]["mapping"]
    assert set(mapping) == set(SCORERS)
    assert [variant["$ref"] for variant in outcome["oneOf"]] == list(mapping.values())
    components = schema["components"]["schemas"]
    for instrument, variant_ref in mapping.items():
        variant = components[variant_ref.split("/")[-1]]
        assert variant["properties"]["instrument"]["enum"] == [instrument]
        answers = components[variant["properties"]["answers"]["$ref"].split("/")[-1]]
        assert answers["additionalProperties"] is False
    rmdq = components["RmdqAnswers"]["properties"]["items"]
    assert rmdq["minItems"] == rmdq["maxItems"] == 24
    assert components["NprsAnswers"]["properties"]["pain"]["maximum"] == 10
    assert components["GrocAnswers"]["properties"]["change"]["minimum"] == -7


def test_the_outcome_examples_of_the_schema_are_accepted_by_the_api(schema, owner, practice):
    practice.odi_licensed = True
    practice.save(update_fields=["odi_licensed"])
    complaint = ComplaintFactory(client__practice=practice)
    examples = schema["paths"]["/api/v1/outcomes/"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    assert set(examples) == {"nprs", "odi", "rmdq", "psfs", "groc"}
    for name, example in examples.items():
        body = {**example["value"], "complaint": complaint.pk, "client": complaint.client_id}
        response = owner.api.post("/api/v1/outcomes/", body, format="json")
        assert response.status_code == 201, (name, response.content)
    assert Outcome.objects.filter(complaint=complaint, recorded_by=owner.user).count() == 5


def test_every_parameter_is_described_and_times_say_their_offset_and_days_their_zone(schema):
    undescribed = [
        f"{name} {parameter['name']}"
        for name, operation in _operations(schema)
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert not undescribed, undescribed
    appointments = schema["paths"]["/api/v1/appointments/"]["get"]["parameters"]
    by_name = {parameter["name"]: parameter["description"] for parameter in appointments}
    for name in ("start_after", "start_before", "updated_since"):
        assert "offset" in by_name[name], by_name[name]
    availability = schema["paths"]["/api/v1/availability/"]["get"]["parameters"]
    for parameter in availability:
        if parameter["name"] in {"start", "end"}:
            assert "practice's" in parameter["description"]
            assert "time zone" in parameter["description"]


def test_the_main_flows_carry_examples(schema):
    paths = schema["paths"]
    login = paths["/api/v1/auth/token/"]["post"]
    assert login["requestBody"]["content"]["application/json"]["examples"]
    assert paths["/api/v1/appointments/"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    slots = paths["/api/v1/availability/"]["get"]["responses"]["200"]["content"]
    assert slots["application/json"]["example"]["slots"][0]["start_local"].endswith("-05:00")


def test_a_view_docstring_never_becomes_an_operation_description(schema):
    docstring = (PracticeScopedViewSet.__doc__ or "").strip()
    assert docstring
    texts = [text for _where, text in _descriptions(schema)]
    assert not [text for text in texts if docstring.splitlines()[0] in text]


# --- The schema takes what the code takes (the fuzzer's known findings, closed 2026-12-05) -------


def _component(schema: dict, ref_holder: dict) -> dict:
    return schema["components"]["schemas"][ref_holder["$ref"].split("/")[-1]]


def _body(schema: dict, path: str, method: str) -> dict:
    content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
    return _component(schema, content["schema"])


def test_a_course_is_created_from_its_create_body_not_from_its_output_fields(schema):
    body = _body(schema, "/api/v1/courses/", "post")

    assert {"client", "complaint", "therapist", "service", "start"} <= set(body["required"])
    assert {"measures", "created_at", "discharged_at", "status"}.isdisjoint(body["properties"])


def test_a_technique_patch_body_leaves_out_the_code_it_refuses(schema):
    body = _body(schema, "/api/v1/techniques/{id}/", "patch")

    assert "code" not in body["properties"]
    assert "code" in _body(schema, "/api/v1/techniques/", "post")["properties"]


def test_an_intake_form_body_is_typed_down_to_its_documents_and_questions(schema):
    properties = _body(schema, "/api/v1/intake-forms/", "post")["properties"]
    documents, questions = properties["consent_documents"], properties["questions"]

    assert documents["type"] == "array"
    assert documents["minItems"] == 1
    assert not documents.get("nullable")
    assert _component(schema, documents["items"])["additionalProperties"] is False
    question = _component(schema, questions["items"])
    assert question["properties"]["required"]["type"] == "boolean"


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/v1/packages/", "services"), ("/api/v1/invoices/", "lines")],
)
def test_a_list_that_may_not_be_empty_says_so(schema, path, field):
    assert _body(schema, path, "post")["properties"][field]["minItems"] == 1


@pytest.mark.parametrize(
    ("component", "field"),
    [("ServiceRequest", "price"), ("PackageRequest", "price"), ("LineInputRequest", "unit_price")],
)
def test_an_amount_that_may_not_be_negative_has_no_sign_in_its_pattern(schema, component, field):
    pattern = schema["components"]["schemas"][component]["properties"][field]["pattern"]

    assert re.search(pattern, "12.50")
    assert not re.search(pattern, "-12.50")


def test_an_amount_that_may_be_negative_keeps_its_sign(schema):
    pattern = schema["components"]["schemas"]["Invoice"]["properties"]["balance"]["pattern"]

    assert re.search(pattern, "-12.50")


def test_a_tag_keeps_its_own_pattern_inside_a_list(schema):
    tags = schema["components"]["schemas"]["ServiceRequest"]["properties"]["room_tags"]

    assert re.search(tags["items"]["pattern"], "hot_stones")
    assert not re.search(tags["items"]["pattern"], "Hot Stones")


def test_the_invoice_list_documents_its_rows_without_lines(schema):
    page = schema["paths"]["/api/v1/invoices/"]["get"]["responses"]["200"]["content"]
    rows = _component(schema, page["application/json"]["schema"])["properties"]["results"]

    assert "lines" not in _component(schema, rows["items"])["properties"]
    assert "lines" in schema["components"]["schemas"]["Invoice"]["properties"]


@pytest.mark.parametrize(
    ("component", "field", "json_type"),
    [
        ("LiabilityTotals", "sessions_remaining", "integer"),
        ("LiabilityTotals", "liability", "string"),
        ("RevenueTotals", "total", "string"),
    ],
)
def test_report_totals_are_typed_field_by_field(schema, component, field, json_type):
    assert schema["components"]["schemas"][component]["properties"][field]["type"] == json_type


def test_an_integer_filter_is_documented_as_the_whole_number_it_takes(schema):
    (version,) = [
        parameter
        for parameter in schema["paths"]["/api/v1/intake-forms/"]["get"]["parameters"]
        if parameter["name"] == "version"
    ]

    assert version["schema"]["type"] == "integer"


def test_a_percent_up_to_100_is_documented_up_to_100(schema):
    pattern = schema["components"]["schemas"]["TaxRateRequest"]["properties"]["percent"]["pattern"]

    assert [
        bool(re.search(pattern, value)) for value in ("0", "20.5", "100.00", "100.01", "201")
    ] == [
        True,
        True,
        True,
        False,
        False,
    ]
