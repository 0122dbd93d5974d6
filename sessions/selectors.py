"""Reads of the sessions app that need more than one queryset line."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from practice.models import Practice, Service, TimeOff, WorkingHours
from sessions import availability
from sessions.availability import Interval, Slot
from sessions.models import Appointment, Status

MAX_RANGE_DAYS = 62


def booking_rules(
    practice: Practice, service: Service, now: datetime | None = None
) -> availability.Rules:
    now = now or timezone.now()
    return availability.Rules(
        duration=timedelta(minutes=service.duration_minutes),
        buffer=timedelta(minutes=service.buffer_minutes),
        step=timedelta(minutes=practice.slot_step_minutes),
        earliest=now + timedelta(minutes=practice.min_notice_minutes),
        latest=now + timedelta(days=practice.booking_horizon_days),
    )


def free_slots(
    *,
    practice: Practice,
    service: Service,
    first: date,
    last: date,
    therapist_id: int | None = None,
    online_only: bool = False,
    exclude_appointment: int | None = None,
    ignore_busy: bool = False,
    now: datetime | None = None,
) -> list[Slot]:
    """Bookable slots of `service` on the practice's local days first..last (API.md "Booking").

    Three set-based queries whatever the range: working hours of the therapists offering the
    service, their time off, and their live appointments; the rest is `availability`.
    """
    tz = practice.tz
    # A day's bounds in UTC, padded by a day for zones far from UTC and for long buffers.
    window_start = datetime.combine(first, datetime.min.time(), tzinfo=tz) - timedelta(days=1)
    window_end = datetime.combine(last, datetime.min.time(), tzinfo=tz) + timedelta(days=2)

    hours_qs = WorkingHours.objects.filter(
        practice=practice, therapist__active=True, therapist__services=service
    )
    if therapist_id is not None:
        hours_qs = hours_qs.filter(therapist_id=therapist_id)
    if online_only:
        hours_qs = hours_qs.filter(therapist__online_bookable=True)
    hours: dict[int, list] = defaultdict(list)
    for therapist, weekday, start, end in hours_qs.values_list(
        "therapist_id", "weekday", "start", "end"
    ):
        hours[therapist].append((weekday, start, end))
    if not hours:
        return []

    time_off: dict[int, list[Interval]] = defaultdict(list)
    booked: dict[int, list[Interval]] = defaultdict(list)
    if ignore_busy:  # the grid alone: is this a start time that could ever be booked?
        return availability.available_slots(
            hours=dict(hours),
            time_off={},
            booked={},
            first=first,
            last=last,
            tz=tz,
            rules=booking_rules(practice, service, now),
        )
    for therapist, off_start, off_end in TimeOff.objects.filter(
        therapist_id__in=hours, start__lt=window_end, end__gt=window_start
    ).values_list("therapist_id", "start", "end"):
        time_off[therapist].append(Interval(off_start, off_end))

    appointments: QuerySet = Appointment.objects.filter(
        therapist_id__in=hours, start__lt=window_end, blocked_until__gt=window_start
    ).exclude(status=Status.CANCELLED)
    if exclude_appointment is not None:
        appointments = appointments.exclude(pk=exclude_appointment)
    for therapist, start, blocked_until in appointments.values_list(
        "therapist_id", "start", "blocked_until"
    ):
        booked[therapist].append(Interval(start, blocked_until))

    return availability.available_slots(
        hours=dict(hours),
        time_off=time_off,
        booked=booked,
        first=first,
        last=last,
        tz=tz,
        rules=booking_rules(practice, service, now),
    )


def appointments_with_parties() -> QuerySet[Appointment]:
    """Appointments with what their output shows, joined or prefetched: no query per row."""
    return Appointment.objects.select_related(
        "client", "therapist__user", "service"
    ).prefetch_related("events")
