"""A package never goes below zero under racing completions (issue 19.4): 20 visits of one client
completed at once against a 10-session package, through the API; exactly 10 draw on it.

Real concurrency on real PostgreSQL: 20 threads on their own connections, released together by a
barrier. Each completion sees the package with sessions left; only the conditional UPDATE
(`... WHERE sessions_remaining > 0`, re-checked on the row another transaction just changed)
keeps the losers off it, and they are billed the full price instead.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from sessions.billing.models import ClientPackage, InvoiceLine, PackageUse
from sessions.scheduling.models import Appointment, Status
from tests.billing.money_setup import appointment
from tests.factories import ClientFactory, ClientPackageFactory, ServiceFactory, TherapistFactory
from tests.sessions.test_booking_races import _room_in_the_pool  # noqa: F401 - autouse fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COMPLETIONS = 20
SESSIONS = 10


def complete_together(token: str, visits: list[Appointment]) -> list[object]:
    barrier = threading.Barrier(len(visits))
    results: list[object] = [None] * len(visits)

    def run(index: int) -> None:
        api = APIClient(raise_request_exception=False)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            barrier.wait(timeout=60)
            url = f"/api/v1/appointments/{visits[index].pk}/complete/"
            results[index] = api.post(url).status_code
        except Exception as error:  # any exception is this completion's result
            results[index] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(visits))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a completion never finished"
    return results


def test_twenty_concurrent_completions_draw_a_ten_session_package_exactly_ten_times(
    therapist, practice
):
    client = ClientFactory(practice=practice)
    service = ServiceFactory(practice=practice, price=Decimal("60.00"))
    bought = ClientPackageFactory(
        client=client, sessions_total=SESSIONS, sessions_remaining=SESSIONS
    )
    bought.package.services.set([service])
    staff = TherapistFactory(practice=practice)
    visits = [
        appointment(practice, client=client, service=service, therapist=staff)
        for _ in range(COMPLETIONS)
    ]

    results = complete_together(therapist.token, visits)

    assert results == [200] * COMPLETIONS
    assert Appointment.objects.filter(status=Status.COMPLETED).count() == COMPLETIONS
    assert ClientPackage.objects.get(pk=bought.pk).sessions_remaining == 0
    assert PackageUse.objects.filter(client_package=bought).count() == SESSIONS
    lines = InvoiceLine.objects.filter(appointment__in=visits)
    assert lines.count() == COMPLETIONS
    assert lines.filter(total=0).count() == SESSIONS
    assert lines.filter(total=Decimal("60.00")).count() == COMPLETIONS - SESSIONS
