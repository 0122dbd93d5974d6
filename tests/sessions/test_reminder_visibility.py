"""Who sees which message rows in `reminders/` (DOMAIN.md 8, minimum necessary): an alert is for
clinicians; "your online booking was not made" tells why a client may not book online (an open
referral or a restricted record), so the front desk and API keys do not see it; the client does."""

from __future__ import annotations

import pytest

from sessions.scheduling.models import ReminderKind
from sessions.scheduling.reminders import on_online_booking_refused

pytestmark = pytest.mark.django_db

REMINDERS = "/api/v1/reminders/"


def kinds(member) -> set[str]:
    response = member.api.get(REMINDERS)
    assert response.status_code == 200, response.content
    return {row["kind"] for row in response.json()["results"]}


def test_an_online_booking_refusal_is_seen_by_clinicians_and_the_client_only(
    owner, therapist, front_desk, client_member
):
    assert on_online_booking_refused(client_member.user.client)

    assert ReminderKind.ONLINE_BLOCKED in kinds(owner)
    assert ReminderKind.ONLINE_BLOCKED in kinds(therapist)
    assert ReminderKind.ONLINE_BLOCKED in kinds(client_member)
    assert ReminderKind.ONLINE_BLOCKED not in kinds(front_desk)
    filtered = front_desk.api.get(REMINDERS, {"kind": ReminderKind.ONLINE_BLOCKED}).json()
    assert filtered["results"] == []
