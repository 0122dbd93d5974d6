"""iCalendar feeds of appointments (API.md "Calendar"): stable UIDs, growing SEQUENCE, cancelled
events kept as STATUS:CANCELLED, times in UTC with the practice's zone named; no clinical content,
and a therapist's feed shows only the client's first name and last initial."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from django.utils import timezone
from icalendar import Calendar, Event

from practice.models import Practice
from sessions.scheduling.models import Appointment, Status

THERAPIST = "therapist"
CLIENT = "client"


def _summary(appointment: Appointment, audience: str) -> str:
    if audience == THERAPIST:
        client = appointment.client
        initial = f" {client.last_name[:1]}." if client.last_name else ""
        return f"{appointment.service.name}: {client.first_name}{initial}"
    return f"{appointment.service.name} with {appointment.therapist.user.first_name}"


def appointment_uid(appointment_id: int, practice_slug: str) -> str:
    """The appointment's calendar UID: the same in the feeds and in a CalDAV write-back."""
    return f"appointment-{appointment_id}@{practice_slug}.backcare"


def feed(*, practice: Practice, appointments: Iterable[Appointment], audience: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Backcare//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{practice.name} appointments")
    calendar.add("x-wr-timezone", practice.timezone)
    stamp = timezone.now().astimezone(UTC)
    for appointment in appointments:
        event = Event()
        event.add("uid", appointment_uid(appointment.pk, practice.slug))
        event.add("sequence", appointment.sequence)
        event.add("dtstamp", stamp)
        event.add("dtstart", appointment.start.astimezone(UTC))
        event.add("dtend", appointment.end.astimezone(UTC))
        event.add("summary", _summary(appointment, audience))
        event.add("location", practice.name)
        event.add("status", "CANCELLED" if appointment.status == Status.CANCELLED else "CONFIRMED")
        event.add("last-modified", appointment.updated_at.astimezone(UTC))
        calendar.add_component(event)
    return calendar.to_ical()
