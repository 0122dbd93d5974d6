"""Money reports (issue 19.6): revenue by local day/week/month, therapist and service; what is
owed, aged 0-30/31-60/61+ days; package liability; CSV with formula-safe cells; owners only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from practice.models import User
from sessions.billing.models import ClientPackage, InvoiceKind, InvoiceStatus
from tests.billing.money_setup import days_ago, issued_invoice, package
from tests.factories import ClientFactory, ServiceFactory, TherapistFactory

pytestmark = pytest.mark.django_db

REVENUE = "/api/v1/reports/revenue/"
OUTSTANDING = "/api/v1/reports/outstanding/"
LIABILITY = "/api/v1/reports/package-liability/"


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# --- revenue --------------------------------------------------------------------------------------


@pytest.fixture
def diary(practice):
    """Two therapists, two services, invoices around a London month end (UTC+1 in summer)."""
    anna, ben = (TherapistFactory(practice=practice) for _ in range(2))
    for therapist, first, last in ((anna, "Anna", "Lee"), (ben, "Ben", "Ode")):
        User.objects.filter(pk=therapist.user_id).update(first_name=first, last_name=last)
    deep = ServiceFactory(practice=practice, name="Deep tissue")
    relax = ServiceFactory(practice=practice, name="Relaxation")
    client = ClientFactory(practice=practice)
    june_30_late = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 1 July 00:30 in London
    july_2 = datetime(2026, 7, 2, 10, tzinfo=UTC)
    common = {"client": client}
    issued_invoice(
        practice,
        amount="60.00",
        issued_at=datetime(2026, 6, 30, 12, tzinfo=UTC),
        therapist=anna,
        service=deep,
        **common,
    )
    issued_invoice(
        practice, amount="60.00", issued_at=june_30_late, therapist=anna, service=deep, **common
    )
    paid = issued_invoice(
        practice,
        amount="45.00",
        issued_at=july_2,
        therapist=ben,
        service=relax,
        paid="45.00",
        status=InvoiceStatus.PAID,
        **common,
    )
    issued_invoice(
        practice,
        amount="10.00",
        issued_at=july_2,
        therapist=ben,
        service=relax,
        kind=InvoiceKind.CREDIT_NOTE,
        credits=paid,
        **common,
    )
    issued_invoice(
        practice,
        amount="999.00",
        issued_at=july_2,
        therapist=ben,
        service=relax,
        status=InvoiceStatus.VOID,
        **common,
    )
    return anna, ben, deep, relax


def test_revenue_by_month_counts_local_months_and_subtracts_credit_notes(owner, diary):

    response = owner.api.get(
        REVENUE, {"period": "month", "start": "2026-06-01", "end": "2026-07-31"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["currency"] == "EUR"
    got = [(r["period"], r["therapist_name"], r["service_name"], r["total"]) for r in body["rows"]]
    assert got == [
        ("2026-06-01", "Anna Lee", "Deep tissue", "60.00"),
        ("2026-07-01", "Anna Lee", "Deep tissue", "60.00"),  # 00:30 on 1 July, London time
        ("2026-07-01", "Ben Ode", "Relaxation", "35.00"),  # 45 less a 10 credit note; void ignored
    ]
    assert body["totals"]["total"] == "155.00"


def test_revenue_by_day_and_week(owner, diary):
    days = owner.api.get(REVENUE, {"period": "day", "start": "2026-06-30", "end": "2026-07-02"})
    weeks = owner.api.get(REVENUE, {"period": "week", "start": "2026-06-29", "end": "2026-07-05"})

    assert [r["period"] for r in days.json()["rows"]] == ["2026-06-30", "2026-07-01", "2026-07-02"]
    assert {r["period"] for r in weeks.json()["rows"]} == {"2026-06-29"}  # the Monday
    assert weeks.json()["totals"]["total"] == "155.00"


def test_revenue_outside_the_range_is_left_out(owner, diary):
    response = owner.api.get(REVENUE, {"period": "day", "start": "2026-07-02", "end": "2026-07-02"})

    assert response.json()["totals"]["total"] == "35.00"


def test_revenue_as_csv(owner, diary):
    response = owner.api.get(
        REVENUE, {"period": "month", "start": "2026-06-01", "end": "2026-07-31", "format": "csv"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = rows_of(response)
    assert rows[0] == {
        "period": "2026-06-01",
        "therapist": "Anna Lee",
        "service": "Deep tissue",
        "lines": "1",
        "net": "60.00",
        "tax": "0.00",
        "total": "60.00",
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"period": "year"}, "period"),
        ({"start": "2026-07-02", "end": "2026-07-01"}, "end"),
        ({"period": "day", "start": "2024-01-01", "end": "2026-01-01"}, "start"),
        ({"start": "yesterday"}, "start"),
        # An empty value was read as left out (DRF's HTML-form rule; found by the schema fuzzer).
        ({"start": ""}, "start"),
        ({"end": ""}, "end"),
    ],
)
def test_a_bad_revenue_query_is_400(owner, query, field):
    response = owner.api.get(REVENUE, query)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in [error["field"] for error in response.json()["errors"]]


def test_a_bad_csv_query_answers_json_errors(owner):
    response = owner.api.get(REVENUE, {"period": "year", "format": "csv"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_revenue_takes_a_fixed_number_of_queries(owner, practice, django_assert_max_num_queries):
    therapist = TherapistFactory(practice=practice)
    client = ClientFactory(practice=practice)
    for day in range(40):
        service = ServiceFactory(practice=practice)
        issued_invoice(
            practice,
            client=client,
            amount="50.00",
            issued_at=days_ago(day),
            therapist=therapist,
            service=service,
        )

    # auth, role, the grouped query, therapist and service names, the throttle's cache
    with django_assert_max_num_queries(6):
        response = owner.api.get(REVENUE, {"period": "day"})

    assert response.status_code == 200
    assert response.json()["totals"]["total"] == "1500.00"  # the 30 days of the default range


# --- outstanding ----------------------------------------------------------------------------------


def test_outstanding_balances_are_aged_by_days_since_issue(owner, practice):
    ana = ClientFactory(practice=practice, first_name="Ana", last_name="Berg")
    cai = ClientFactory(practice=practice, first_name="Cai", last_name="Dunn")
    issued_invoice(practice, client=ana, amount="60.00", paid="20.00", issued_at=days_ago(5))
    issued_invoice(practice, client=ana, amount="50.00", issued_at=days_ago(45))
    issued_invoice(practice, client=cai, amount="70.00", issued_at=days_ago(90))
    issued_invoice(
        practice,
        client=cai,
        amount="30.00",
        paid="30.00",
        issued_at=days_ago(90),
        status=InvoiceStatus.PAID,
    )
    issued_invoice(
        practice, client=cai, amount="80.00", issued_at=days_ago(1), status=InvoiceStatus.VOID
    )

    body = owner.api.get(OUTSTANDING).json()

    assert [(r["client_name"], r["buckets"], r["total"]) for r in body["rows"]] == [
        ("Ana Berg", {"0_30": "40.00", "31_60": "50.00", "61_plus": "0.00"}, "90.00"),
        ("Cai Dunn", {"0_30": "0.00", "31_60": "0.00", "61_plus": "70.00"}, "70.00"),
    ]
    assert body["totals"] == {
        "0_30": "40.00",
        "31_60": "50.00",
        "61_plus": "70.00",
        "total": "160.00",
    }


def test_outstanding_csv_cells_are_formula_safe(owner, practice):
    sly = ClientFactory(practice=practice, first_name='=HYPERLINK("x")', last_name="")
    issued_invoice(practice, client=sly, amount="60.00", issued_at=days_ago(2))

    response = owner.api.get(OUTSTANDING, {"format": "csv"})

    assert response.status_code == 200
    assert rows_of(response)[0]["client"] == '\'=HYPERLINK("x")'


# --- package liability ----------------------------------------------------------------------------


def test_package_liability_is_the_unused_sessions_worth(owner, practice):
    service = ServiceFactory(practice=practice)
    product = package(practice, [service], sessions=3, price=Decimal("100.00"))
    client = ClientFactory(practice=practice, first_name="Ana", last_name="Berg")
    today = timezone.localdate()

    def sell(remaining: int, expires_on: date) -> ClientPackage:
        return ClientPackage.objects.create(
            practice=practice,
            client=client,
            package=product,
            sessions_total=3,
            sessions_remaining=remaining,
            price=product.price,
            currency="EUR",
            expires_on=expires_on,
        )

    open_one = sell(2, today + timedelta(days=30))
    sell(0, today + timedelta(days=30))  # used up
    sell(3, today - timedelta(days=1))  # expired

    body = owner.api.get(LIABILITY).json()

    assert [
        (r["client_package"], r["sessions_remaining"], r["liability"]) for r in body["rows"]
    ] == [
        (open_one.pk, 2, "66.67")  # 100 x 2 / 3, half-up
    ]
    assert body["totals"] == {"sessions_remaining": 2, "liability": "66.67"}
    csv_rows = rows_of(owner.api.get(LIABILITY, {"format": "csv"}))
    assert csv_rows[0]["liability"] == "66.67"
    assert csv_rows[0]["package"] == product.name


# --- who may ask ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [REVENUE, OUTSTANDING, LIABILITY])
@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_reports_are_for_owners_only(members, url, role):
    response = members[role].api.get(url)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("url", [REVENUE, OUTSTANDING, LIABILITY])
def test_reports_show_only_the_callers_practice(other_owner, owner, practice, url):
    client = ClientFactory(practice=practice)
    issued_invoice(practice, client=client, amount="60.00", issued_at=days_ago(1))

    body = other_owner.api.get(url).json()

    assert body["rows"] == []
