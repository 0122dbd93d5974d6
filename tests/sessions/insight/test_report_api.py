"""The report routes (issue 21.4): who may read them, bad input, the SVG charts and CSV tables."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from clients.models import Client
from practice.models import Therapist
from tests.factories import TherapistFactory
from tests.sessions.insight.data import complaint, local, score, session

pytestmark = pytest.mark.django_db

REPORTS = ("outcomes", "what-precedes-improvement", "operations")
RANGE = "?start=2026-03-01&end=2026-04-30"


@pytest.fixture
def some_data(practice, owner):
    a = Therapist.objects.get(user=owner.user)
    a.user.first_name = "=HYPERLINK(evil)"  # a name a spreadsheet would run as a formula
    a.user.save()
    for hour, (base, latest) in enumerate(((8, 4), (8, 8), (6, 2), (7, 3), (5, 5), (9, 2)), 9):
        c = complaint(practice, onset=date(2026, 2, 1))
        score(c, local("2026-03-02"), base)
        session(c, a, local("2026-03-03", f"{hour:02d}:00"), [("effleurage", 10, 2)])
        score(c, local("2026-03-16"), latest)
    return a


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("suffix", ["/", ".svg", ".csv"])
def test_front_desk_and_clients_are_refused(report, suffix, front_desk, client_member):
    for member in (front_desk, client_member):
        response = member.api.get(f"/api/v1/reports/{report}{suffix}")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?start=2024-01-01&end=2026-01-02", "end"),  # more than two years
        ("?start=2026-03-02&end=2026-03-01", "end"),  # end before start
        ("?start=yesterday", "start"),
        ("?therapist=abc", "therapist"),
        ("?colour=blue", "colour"),
    ],
)
def test_bad_ranges_are_400_with_the_field(owner, report, query, field):
    response = owner.api.get(f"/api/v1/reports/{report}/{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert [error["field"] for error in body["errors"]] == [field]


def test_two_years_exactly_is_allowed(owner):
    assert (
        owner.api.get("/api/v1/reports/outcomes/?start=2024-01-01&end=2025-12-31").status_code
        == 200
    )


@pytest.mark.parametrize("report", REPORTS)
def test_another_practices_therapist_is_404(owner, other_practice, report):
    theirs = TherapistFactory(practice=other_practice)
    response = owner.api.get(f"/api/v1/reports/{report}/?therapist={theirs.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_default_period_is_the_last_90_local_days(owner):
    period = owner.api.get("/api/v1/reports/operations/").json()["period"]
    days = (date.fromisoformat(period["end"]) - date.fromisoformat(period["start"])).days
    assert days == 89
    assert period["timezone"] == "Europe/London"


@pytest.mark.parametrize("report", REPORTS)
def test_svg_chart_is_well_formed_and_names_no_client(owner, some_data, report):
    response = owner.api.get(f"/api/v1/reports/{report}.svg{RANGE}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(response.content)  # noqa: S314 - the chart our own server just drew
    assert root.tag.endswith("svg")
    assert root.findall(".//{http://www.w3.org/2000/svg}rect")
    text = response.content.decode()
    assert not any(client.last_name in text for client in Client.objects.all())


def test_outcomes_svg_draws_shares_and_marks_small_groups(owner, some_data):
    text = owner.api.get(f"/api/v1/reports/outcomes.svg{RANGE}").content.decode()
    assert "67% (4 of 6)" in text  # 8->4, 6->2, 7->3, 9->2 improved
    assert "too few for a percentage" not in text or "(n &lt; 5)" in text


@pytest.mark.parametrize("report", REPORTS)
def test_csv_is_a_download_with_safe_cells(owner, some_data, report):
    response = owner.api.get(f"/api/v1/reports/{report}.csv{RANGE}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{report}-2026-03-01-2026-04-30.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) > 1
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def test_outcomes_csv_rows_match_the_json(owner, some_data):
    rows = list(
        csv.DictReader(
            io.StringIO(owner.api.get(f"/api/v1/reports/outcomes.csv{RANGE}").content.decode())
        )
    )
    overall = next(row for row in rows if row["by"] == "overall")
    assert (overall["complaints"], overall["improved"], overall["share"]) == ("6", "4", "0.667")
    therapist = next(row for row in rows if row["by"] == "therapist")
    assert therapist["group"].startswith("'=")  # written as text, not run as a formula


def test_operations_csv_has_a_row_per_week_and_totals(owner, some_data):
    text = owner.api.get(f"/api/v1/reports/operations.csv{RANGE}").content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[-1]["therapist_name"] == "all therapists"
    assert any(row["week"] == "2026-W10" for row in rows)
