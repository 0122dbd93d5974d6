"""What the booking tests share: a bookable therapist and local wall-clock times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from clients.models import Client
from practice.models import Practice, Service, Therapist
from practice.services import set_working_hours
from sessions.records.intake import current_form
from sessions.records.models import IntakeRequest, IntakeStatus
from tests.factories import ClientFactory, ServiceFactory


@dataclass
class Bookable:
    practice: Practice
    therapist: Therapist
    service: Service
    client: Client


def make_bookable(practice: Practice, therapist_user) -> Bookable:
    """A therapist working 09:00-17:00 local every day, offering a 60-min service (+15 buffer)."""
    row = therapist_user.therapist
    service = ServiceFactory(practice=practice, duration_minutes=60, buffer_minutes=15)
    row.services.add(service)
    set_working_hours(
        therapist=row,
        intervals=[{"weekday": day, "start": time(9), "end": time(17)} for day in range(7)],
    )
    return Bookable(practice, row, service, ClientFactory(practice=practice))


def local(practice: Practice, days: int, hour: int, minute: int = 0) -> datetime:
    """The practice's local wall-clock time `days` from today, as an aware UTC instant."""
    day: date = timezone.now().astimezone(practice.tz).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=practice.tz).astimezone(UTC)


def intake_done(client: Client) -> None:
    """The client's intake is on file (issue 17), so their bookings send only the appointment's
    own messages: for tests that count reminders."""
    IntakeRequest.objects.create(
        practice=client.practice,
        client=client,
        form=current_form(practice=client.practice),
        status=IntakeStatus.ON_PAPER,
    )
