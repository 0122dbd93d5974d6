"""Invoice numbers survive races (issue 19.2): 20 invoices created and issued at once get the
numbers 1..20, each once, and issues rolled back in between leave no gap.

Real concurrency on real PostgreSQL: threads on their own connections, released together by a
barrier. Without the locked counter row two issues would read the same last number.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from sessions.billing import invoices
from sessions.billing.invoices import LineInput
from sessions.billing.models import Invoice, InvoiceSequence
from tests.factories import ClientFactory
from tests.sessions.test_booking_races import _room_in_the_pool  # noqa: F401 - autouse fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CREATIONS = 20
ROLLBACKS = 5


class Refused(Exception):
    """Raised after an issue took its number, so that its transaction rolls back."""


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[index] = jobs[index]()
        except Exception as error:  # any exception is the job's result here
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a racing job never finished"
    return results


def test_twenty_concurrent_invoices_are_numbered_uniquely_and_without_gaps(owner, practice):
    clients = ClientFactory.create_batch(CREATIONS, practice=practice)
    doomed = [
        invoices.create_invoice(
            practice=practice,
            client=clients[0],
            lines=[LineInput(description="x", unit_price=1)],
            actor=None,
        )
        for _ in range(ROLLBACKS)
    ]

    def create_and_issue(client_id: int) -> Callable[[], object]:
        def job() -> object:
            api = APIClient(raise_request_exception=False)
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.token}")
            body = {"client": client_id, "lines": [{"description": "Massage", "unit_price": "60"}]}
            created = api.post("/api/v1/invoices/", body, format="json")
            assert created.status_code == 201, created.content
            issued = api.post(f"/api/v1/invoices/{created.json()['id']}/issue/")
            return issued.status_code

        return job

    def issue_then_roll_back(draft: Invoice) -> Callable[[], object]:
        def job() -> object:
            with transaction.atomic():
                invoices.issue_invoice(invoice=draft, actor=None)
                raise Refused

        return job

    jobs = [create_and_issue(client.pk) for client in clients]
    jobs += [issue_then_roll_back(draft) for draft in doomed]
    results = run_together(jobs)

    assert results[:CREATIONS] == [200] * CREATIONS
    assert all(isinstance(result, Refused) for result in results[CREATIONS:])
    numbers = sorted(Invoice.objects.filter(number__isnull=False).values_list("number", flat=True))
    assert numbers == list(range(1, CREATIONS + 1))
    assert InvoiceSequence.objects.get(practice=practice).last_number == CREATIONS
    assert Invoice.objects.filter(pk__in=[d.pk for d in doomed], number__isnull=True).count() == 5


def test_racing_payments_never_pay_more_than_owed(owner, practice):
    draft = invoices.create_invoice(
        practice=practice,
        client=ClientFactory(practice=practice),
        lines=[LineInput(description="x", unit_price=100)],
        actor=None,
    )
    invoice = invoices.issue_invoice(invoice=draft, actor=None)

    def pay() -> object:
        api = APIClient(raise_request_exception=False)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.token}")
        body = {"invoice": invoice.pk, "amount": "30.00", "currency": "EUR", "method": "cash"}
        return api.post("/api/v1/payments/", body, format="json").status_code

    results = run_together([pay for _ in range(10)])
    assert sorted(results) == [201, 201, 201] + [400] * 7
    invoice.refresh_from_db()
    assert invoice.paid == 90
