"""The money reports answer an unknown ?format= with a 400 naming it (found by schemathesis)."""

import pytest

pytestmark = pytest.mark.django_db
def test_unknown_report_format_is_400(owner):
    r = owner.api.get("/api/v1/reports/revenue/?format=AAA")
    assert r.status_code == 400, r.content
    assert r.json()["errors"][0]["field"] == "format"
