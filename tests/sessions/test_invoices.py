"""Invoices through the API (issue 19.1, 19.2, 19.7): prices and tax, drafts on completion,
gapless numbers at issue, immutability, void, credit notes, PDFs, roles, sync and webhooks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from practice.models import AuditEvent, Role, WebhookEvent
from sessions.billing.models import Invoice, InvoiceSequence
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    InvoiceFactory,
    ServiceFactory,
    TaxRateFactory,
    WebhookSubscriptionFactory,
)

pytestmark = pytest.mark.django_db


def _completed(owner, appointment) -> dict:
    assert owner.api.post(f"/api/v1/appointments/{appointment.pk}/check-in/").status_code == 200
    answer = owner.api.post(f"/api/v1/appointments/{appointment.pk}/complete/")
    assert answer.status_code == 200, answer.json()
    return answer.json()


@pytest.fixture
def vat(practice):
    return TaxRateFactory(practice=practice, name="VAT", percent=20, inclusive=True)


@pytest.fixture
def visit(practice, vat):
    service = ServiceFactory(
        practice=practice, name="Deep tissue", price=Decimal("72.00"), tax_rate=vat
    )
    return AppointmentFactory(practice=practice, service=service, client__practice=practice)


def _draft(api, client, lines=None, **extra) -> dict:
    body = {
        "client": client.pk,
        "lines": lines or [{"description": "Massage", "unit_price": "50.00"}],
    }
    answer = api.post("/api/v1/invoices/", {**body, **extra}, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


# --- 19.1 prices and tax ----------------------------------------------------------------------


def test_owner_sets_currency_and_tax_rates_and_services_carry_them(owner, practice):
    assert (
        owner.api.patch("/api/v1/practice/", {"currency": "GBP"}, format="json").status_code == 200
    )
    rate = owner.api.post(
        "/api/v1/tax-rates/", {"name": "VAT", "percent": "20.00", "inclusive": True}, format="json"
    )
    assert rate.status_code == 201, rate.json()
    service = owner.api.post(
        "/api/v1/services/",
        {"name": "Sports", "duration_minutes": 45, "price": "55.50", "tax_rate": rate.json()["id"]},
        format="json",
    )
    assert service.status_code == 201, service.json()
    assert service.json()["tax_rate"] == rate.json()["id"]
    practice.refresh_from_db()
    assert practice.currency == "GBP"


@pytest.mark.parametrize(
    "body",
    [{"currency": "XXX"}, {"currency": "eur"}],
)
def test_unknown_currency_is_400(owner, practice, body):
    answer = owner.api.patch("/api/v1/practice/", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "currency"
    practice.refresh_from_db()
    assert practice.currency == "EUR"


@pytest.mark.parametrize("percent", ["-1", "100.01", "abc"])
def test_tax_rate_percent_out_of_range_is_400(owner, percent):
    answer = owner.api.post(
        "/api/v1/tax-rates/", {"name": "Bad", "percent": percent}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"


def test_service_price_finer_than_the_currency_is_400(owner, practice):
    practice.currency = "JPY"
    practice.save()
    answer = owner.api.post(
        "/api/v1/services/",
        {"name": "Shiatsu", "duration_minutes": 60, "price": "5500.50"},
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "price"


def test_only_owners_write_tax_rates(therapist, front_desk, client_member):
    for member in (therapist, front_desk, client_member):
        answer = member.api.post(
            "/api/v1/tax-rates/", {"name": "GST", "percent": "10"}, format="json"
        )
        assert answer.status_code == 403
        assert member.api.get("/api/v1/tax-rates/").status_code == 200


# --- 19.2 invoices -----------------------------------------------------------------------------


def test_completing_an_appointment_drafts_its_invoice_with_the_services_price_and_tax(owner, visit):
    _completed(owner, visit)
    invoice = Invoice.objects.get(appointment=visit)
    assert invoice.status == "draft"
    assert invoice.number is None
    detail = owner.api.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert detail["total"] == "72.00"
    assert detail["tax_total"] == "12.00"
    assert detail["subtotal"] == "60.00"
    (line,) = detail["lines"]
    assert line["description"] == "Deep tissue"
    assert line["tax_name"] == "VAT"
    assert line["treatment_date"] == visit.start.date().isoformat()
    # asking for the visit's invoice again answers the same draft, never a second one
    again = owner.api.post("/api/v1/invoices/", {"appointment": visit.pk}, format="json")
    assert again.status_code == 201
    assert again.json()["id"] == invoice.pk
    assert Invoice.objects.filter(appointment=visit).count() == 1


def test_an_appointment_not_completed_is_not_invoiced_on_demand(owner, visit):
    answer = owner.api.post("/api/v1/invoices/", {"appointment": visit.pk}, format="json")
    assert answer.status_code == 409
    assert not Invoice.objects.exists()


def test_issue_numbers_invoices_in_order_and_drafts_have_none(owner, practice):
    client = ClientFactory(practice=practice)
    first, second, third = (_draft(owner.api, client) for _ in range(3))
    assert first["number"].startswith("draft-")
    for draft in (second, first):
        answer = owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/")
        assert answer.status_code == 200, answer.json()
    numbers = dict(Invoice.objects.filter(number__isnull=False).values_list("pk", "number"))
    assert numbers == {second["id"]: 1, first["id"]: 2}
    assert owner.api.get(f"/api/v1/invoices/{first['id']}/").json()["number"] == "INV-000002"
    assert Invoice.objects.get(pk=third["id"]).number is None


def test_a_rolled_back_issue_gives_its_number_back(owner, practice, monkeypatch):
    client = ClientFactory(practice=practice)
    draft = _draft(owner.api, client)

    def broken(**kwargs):
        raise RuntimeError("the outbox is down")

    monkeypatch.setattr("sessions.billing.invoices.record_event", broken)
    with pytest.raises(RuntimeError):
        owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/")
    monkeypatch.undo()
    assert Invoice.objects.get(pk=draft["id"]).number is None
    assert owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/").json()["sequence_number"] == 1


def test_issued_invoices_are_immutable(owner, practice):
    client = ClientFactory(practice=practice)
    draft = _draft(owner.api, client)
    owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/")
    answer = owner.api.patch(
        f"/api/v1/invoices/{draft['id']}/", {"notes": "changed"}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "invoice_locked"
    assert owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/").status_code == 409
    assert Invoice.objects.get(pk=draft["id"]).notes == ""


def test_drafts_can_be_edited_and_lines_replaced(owner, practice):
    client = ClientFactory(practice=practice)
    draft = _draft(owner.api, client)
    answer = owner.api.patch(
        f"/api/v1/invoices/{draft['id']}/",
        {
            "lines": [
                {"description": "A", "unit_price": "10.00", "quantity": 2},
                {"description": "B", "unit_price": "0.50"},
            ],
            "notes": "thanks",
        },
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["total"] == "20.50"
    assert len(answer.json()["lines"]) == 2


@pytest.mark.parametrize(
    "line",
    [
        {"description": "Negative", "unit_price": "-5.00"},
        {"description": "Too fine", "unit_price": "5.001"},
        {"description": "No quantity", "unit_price": "5.00", "quantity": 0},
        {"unit_price": "5.00"},
        {"description": "Unknown", "unit_price": "5.00", "practice": 2},
    ],
)
def test_bad_lines_are_400_and_write_nothing(owner, practice, line):
    client = ClientFactory(practice=practice)
    answer = owner.api.post(
        "/api/v1/invoices/", {"client": client.pk, "lines": [line]}, format="json"
    )
    assert answer.status_code == 400, answer.json()
    assert answer.json()["code"] == "invalid"
    assert not Invoice.objects.exists()


def test_an_empty_list_of_lines_is_400_and_writes_nothing(owner, practice):
    client = ClientFactory(practice=practice)

    answer = owner.api.post("/api/v1/invoices/", {"client": client.pk, "lines": []}, format="json")

    assert answer.status_code == 400, answer.json()
    assert [error["field"] for error in answer.json()["errors"]] == ["lines"]
    assert not Invoice.objects.exists()


def test_a_list_row_is_the_invoice_without_its_lines(owner, practice):
    draft = _draft(owner.api, ClientFactory(practice=practice))

    (row,) = owner.api.get("/api/v1/invoices/").json()["results"]

    assert row == {name: value for name, value in draft.items() if name != "lines"}


def test_an_empty_invoice_cannot_be_issued(owner, practice):
    client = ClientFactory(practice=practice)
    draft = _draft(owner.api, client, lines=[{"description": "Free", "unit_price": "0.00"}])
    answer = owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/")
    assert answer.status_code == 400
    assert Invoice.objects.get(pk=draft["id"]).status == "draft"


def test_only_owners_void_and_a_void_number_stays_used(owner, therapist, front_desk, practice):
    client = ClientFactory(practice=practice)
    draft = _draft(owner.api, client)
    owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/")
    for member in (therapist, front_desk):
        answer = member.api.post(
            f"/api/v1/invoices/{draft['id']}/void/", {"reason": "x"}, format="json"
        )
        assert answer.status_code == 403
    answer = owner.api.post(
        f"/api/v1/invoices/{draft['id']}/void/", {"reason": "Wrong client"}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "void"
    assert answer.json()["sequence_number"] == 1
    assert InvoiceSequence.objects.get(practice=practice).last_number == 1
    assert (
        owner.api.post(
            f"/api/v1/invoices/{draft['id']}/void/", {"reason": "again"}, format="json"
        ).status_code
        == 409
    )


def test_a_credit_note_corrects_an_issued_invoice(owner, practice):
    client = ClientFactory(practice=practice)
    draft = _draft(owner.api, client)
    owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/")
    answer = owner.api.post(
        f"/api/v1/invoices/{draft['id']}/credit-notes/",
        {
            "reason": "Shortened session",
            "lines": [{"description": "Refund 10 min", "unit_price": "10.00"}],
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    note = answer.json()
    assert note["kind"] == "credit_note"
    assert note["number"] == "CN-000002"
    assert note["credits"] == draft["id"]
    invoice = owner.api.get(f"/api/v1/invoices/{draft['id']}/").json()
    assert (invoice["credited"], invoice["balance"]) == ("10.00", "40.00")
    too_much = owner.api.post(
        f"/api/v1/invoices/{draft['id']}/credit-notes/",
        {"reason": "x", "lines": [{"description": "Too much", "unit_price": "40.01"}]},
        format="json",
    )
    assert too_much.status_code == 400
    assert Invoice.objects.filter(kind="credit_note").count() == 1


def test_credit_notes_need_an_issued_invoice(owner, practice):
    draft = _draft(owner.api, ClientFactory(practice=practice))
    answer = owner.api.post(
        f"/api/v1/invoices/{draft['id']}/credit-notes/",
        {"reason": "x", "lines": [{"description": "a", "unit_price": "1.00"}]},
        format="json",
    )
    assert answer.status_code == 409


def test_pdfs_of_invoice_receipt_and_insurance_receipt(owner, visit, practice):
    therapist = visit.therapist
    therapist.registration_number = "AMT-12345"
    therapist.save()
    _completed(owner, visit)
    invoice = Invoice.objects.get(appointment=visit)
    owner.api.post(f"/api/v1/invoices/{invoice.pk}/issue/")
    for document in ("invoice", "receipt", "insurance_receipt"):
        answer = owner.api.get(f"/api/v1/invoices/{invoice.pk}/pdf/?document={document}")
        assert answer.status_code == 200
        assert answer["Content-Type"] == "application/pdf"
        assert answer.content.startswith(b"%PDF")
    assert owner.api.get(f"/api/v1/invoices/{invoice.pk}/pdf/?document=letter").status_code == 400


# --- roles --------------------------------------------------------------------------------------


def test_clients_see_only_their_own_issued_invoices(owner, client_member, practice):
    own = client_member.user.client
    mine = _draft(owner.api, own)
    owner.api.post(f"/api/v1/invoices/{mine['id']}/issue/")
    my_draft = _draft(owner.api, own)
    other = _draft(owner.api, ClientFactory(practice=practice))
    owner.api.post(f"/api/v1/invoices/{other['id']}/issue/")
    listed = client_member.api.get("/api/v1/invoices/").json()["results"]
    assert [row["id"] for row in listed] == [mine["id"]]
    assert client_member.api.get(f"/api/v1/invoices/{other['id']}/").status_code == 404
    assert client_member.api.get(f"/api/v1/invoices/{my_draft['id']}/").status_code == 404
    assert client_member.api.get(f"/api/v1/invoices/{other['id']}/pdf/").status_code == 404
    assert client_member.api.get(f"/api/v1/invoices/{mine['id']}/pdf/").status_code == 200
    assert (
        client_member.api.post("/api/v1/invoices/", {"client": own.pk}, format="json").status_code
        == 403
    )


def test_another_practices_invoice_is_404(owner, other_practice):
    foreign = InvoiceFactory(client=ClientFactory(practice=other_practice))
    assert owner.api.get(f"/api/v1/invoices/{foreign.pk}/").status_code == 404
    assert owner.api.post(f"/api/v1/invoices/{foreign.pk}/issue/").status_code == 404
    answer = owner.api.post(
        "/api/v1/invoices/",
        {"client": foreign.client_id, "lines": [{"description": "a", "unit_price": "1"}]},
        format="json",
    )
    assert answer.status_code == 400


def test_money_writes_are_audited(owner, practice):
    draft = _draft(owner.api, ClientFactory(practice=practice))
    owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/")
    writes = AuditEvent.objects.filter(record_type="invoice").exclude(action="read")
    assert [event.action for event in writes.order_by("at", "id")] == ["create", "update"]
    assert all(event.actor_id == owner.user.pk for event in writes)


# --- 19.7 webhooks and sync --------------------------------------------------------------------


def test_issuing_sends_invoice_issued(owner, practice):
    WebhookSubscriptionFactory(practice=practice, events=["invoice.issued"])
    draft = _draft(owner.api, ClientFactory(practice=practice))
    assert not WebhookEvent.objects.exists()
    owner.api.post(f"/api/v1/invoices/{draft['id']}/issue/")
    (event,) = WebhookEvent.objects.all()
    assert event.type == "invoice.issued"
    assert event.data["number"] == "INV-000001"
    assert event.data["total"] == "50.00"


def test_webhook_subscriptions_accept_the_money_events(owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    answer = owner.api.post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/x", "events": ["invoice.issued", "payment.recorded"]},
        format="json",
    )
    assert answer.status_code == 201, answer.json()


def test_updated_since_lists_only_changed_invoices(owner, practice):
    old = InvoiceFactory(client=ClientFactory(practice=practice))
    Invoice.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timezone.timedelta(days=2))
    new = InvoiceFactory(client=ClientFactory(practice=practice))
    since = (timezone.now() - timezone.timedelta(days=1)).isoformat()
    answer = owner.api.get("/api/v1/invoices/", {"updated_since": since})
    assert [row["id"] for row in answer.json()["results"]] == [new.pk]
    assert "Sync-Since" in answer


def test_invoice_list_runs_a_constant_number_of_queries(
    owner, practice, django_assert_max_num_queries
):
    for _ in range(30):
        InvoiceFactory(client=ClientFactory(practice=practice))
    with django_assert_max_num_queries(8):
        answer = owner.api.get("/api/v1/invoices/?page_size=100")
    assert len(answer.json()["results"]) == 30


@pytest.mark.parametrize("role", [Role.THERAPIST, Role.FRONT_DESK])
def test_staff_draft_and_issue(members, practice, role):
    api = members[role].api
    draft = _draft(api, ClientFactory(practice=practice))
    assert api.post(f"/api/v1/invoices/{draft['id']}/issue/").status_code == 200


def test_opening_an_invoice_or_its_pdf_is_in_the_access_log(owner, practice):
    invoice = InvoiceFactory(client=ClientFactory(practice=practice))
    owner.api.get(f"/api/v1/invoices/{invoice.pk}/")
    owner.api.get(f"/api/v1/invoices/{invoice.pk}/pdf/")
    reads = AuditEvent.objects.filter(record_type="invoice", action="read")
    assert reads.count() == 2
    assert {event.client_id for event in reads} == {invoice.client_id}
