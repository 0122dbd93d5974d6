"""No read goes unlogged (issue 22.2): the access-log row of a read is written when the read is
answered and also when the request fails after the read, exactly once either way."""

from __future__ import annotations

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from clients.api.serializers import ClientSerializer
from practice.models import AuditEvent
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

CLIENTS = "/api/v1/clients/"


def _reads() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="read", record_type="client"))


def _failing_serializer(monkeypatch) -> None:
    def broken(self, instance):
        raise RuntimeError("the serializer broke after the read")

    monkeypatch.setattr(ClientSerializer, "to_representation", broken)


def _api(member) -> APIClient:
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {member.token}")
    return api


def test_a_list_that_fails_after_the_read_still_logs_the_page_it_read(owner, practice, monkeypatch):
    shown = ClientFactory.create_batch(3, practice=practice)
    _failing_serializer(monkeypatch)

    response = _api(owner).get(CLIENTS)

    assert response.status_code == 500
    (event,) = _reads()
    assert sorted(event.ids) == sorted(c.pk for c in shown)
    assert event.actor == owner.user


def test_a_detail_read_that_fails_after_the_read_is_logged(therapist, practice, monkeypatch):
    client = ClientFactory(practice=practice)
    _failing_serializer(monkeypatch)

    with pytest.raises(RuntimeError, match="after the read"):
        therapist.api.get(f"{CLIENTS}{client.pk}/")

    (event,) = _reads()
    assert event.ids == [client.pk]
    assert event.client_id == client.pk


def test_an_answered_read_is_logged_once(owner, practice):
    ClientFactory.create_batch(2, practice=practice)

    assert owner.api.get(CLIENTS).status_code == 200
    assert owner.api.get(f"{CLIENTS}{ClientFactory(practice=practice).pk}/").status_code == 200

    assert [len(e.ids) for e in sorted(_reads(), key=lambda e: e.pk)] == [2, 1]


def test_a_request_refused_before_the_read_logs_nothing(front_desk, owner, practice):
    client = ClientFactory(practice=practice)

    assert owner.api.get(f"{CLIENTS}{client.pk + 1000}/").status_code == 404
    assert owner.api.get(CLIENTS, {"page_size": "many"}).status_code == 400

    assert _reads() == []


# --- on PostgreSQL, outside any transaction, as the app serves reads --------------------------


def _from_another_connection(sql: str, params: list) -> list[tuple]:
    """Ask the database through a connection of its own: what is committed, not what this
    test's connection could see of its own work."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        other.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_every_answered_read_is_committed_before_its_answer_leaves(owner, practice):
    """The row of a read is written without waiting for the WAL flush (practice.audit), yet it is
    committed by the time the answer is out: another connection sees one row per read at once,
    with nothing queued in a worker or a broker that a restart could lose."""
    ClientFactory.create_batch(3, practice=practice)
    table = AuditEvent._meta.db_table
    for number in range(1, 6):
        response = owner.api.get(CLIENTS)
        assert response.status_code == 200
        rows = _from_another_connection(
            f"SELECT record_ids FROM {table} WHERE action = 'read' ORDER BY id",  # noqa: S608
            [],
        )
        assert len(rows) == number
        assert AuditEvent(record_ids=rows[-1][0]).ids == [
            c["id"] for c in response.json()["results"]
        ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_read_leaves_the_connection_waiting_for_disk_again(owner, practice):
    """`synchronous_commit` is off for the access-log row's own transaction only: the next
    statement on the connection (a write's, say) commits durably as before."""
    ClientFactory(practice=practice)

    assert owner.api.get(CLIENTS).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_commits_its_log_row_with_it(owner, practice):
    """A write's row is in the write's transaction: written with it, durably, or not at all."""
    response = owner.api.post(CLIENTS, {"first_name": "Ada", "last_name": "Lovelace"})
    assert response.status_code == 201

    rows = _from_another_connection(
        f"SELECT record_ids FROM {AuditEvent._meta.db_table} WHERE action = 'create'",  # noqa: S608
        [],
    )
    assert rows == [(AuditEvent.encode([response.json()["id"]]),)]
