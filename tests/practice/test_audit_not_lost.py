"""No read goes unlogged (issue 22.2): the access-log row of a read is written when the read is
answered and also when the request fails after the read, exactly once either way."""

from __future__ import annotations

import pytest
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
