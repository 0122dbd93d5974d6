"""Reads of the sessions app that need more than one queryset line."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from practice.models import Practice, Service, TimeOff, WorkingHours
from sessions.scheduling import availability
from sessions.scheduling.availability import Interval, Slot
from sessions.scheduling.models import Appointment, BusyBlock, QuietRefusal, Status

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
    hold_quiet_refusals: bool = False,
    now: datetime | None = None,
) -> list[Slot]:
    """Bookable slots of `service` on the practice's local days first..last (API.md "Booking").

    Three set-based queries whatever the range: working hours of the therapists offering the
    service, their time off, and their live appointments; the rest is `availability`. With
    `hold_quiet_refusals` (what the public sees and books), a live quiet refusal holds its time
    like a booking, so that no later public answer tells it apart from one (issue 13.3).
    """
    hours = _working_hours(practice, service, therapist_id=therapist_id, online_only=online_only)
    if not hours:
        return []
    if ignore_busy:  # the grid alone: is this a start time that could ever be booked?
        return availability.available_slots(
            hours=hours,
            time_off={},
            booked={},
            first=first,
            last=last,
            tz=practice.tz,
            rules=booking_rules(practice, service, now),
        )
    # A day's bounds in UTC, padded by a day for zones far from UTC and for long buffers.
    window = Interval(
        datetime.combine(first, datetime.min.time(), tzinfo=practice.tz) - timedelta(days=1),
        datetime.combine(last, datetime.min.time(), tzinfo=practice.tz) + timedelta(days=2),
    )
    time_off, booked = _busy(list(hours), window, exclude_appointment=exclude_appointment)
    if hold_quiet_refusals:
        for therapist, held in _quiet_refusals(list(hours), window).items():
            booked[therapist] = [*booked.get(therapist, []), *held]
    return availability.available_slots(
        hours=hours,
        time_off=time_off,
        booked=booked,
        first=first,
        last=last,
        tz=practice.tz,
        rules=booking_rules(practice, service, now),  # "now" as the busy times were read
    )


WeeklyHours = dict[int, list[tuple[int, time, time]]]  # therapist -> (weekday, start, end)


def _working_hours(
    practice: Practice, service: Service, *, therapist_id: int | None, online_only: bool
) -> WeeklyHours:
    """The weekly hours of the active therapists offering `service` (one query)."""
    hours_qs = WorkingHours.objects.filter(
        practice=practice, therapist__active=True, therapist__services=service
    )
    if therapist_id is not None:
        hours_qs = hours_qs.filter(therapist_id=therapist_id)
    if online_only:
        hours_qs = hours_qs.filter(therapist__online_bookable=True)
    hours: WeeklyHours = defaultdict(list)
    for therapist, weekday, start, end in hours_qs.values_list(
        "therapist_id", "weekday", "start", "end"
    ):
        hours[therapist].append((weekday, start, end))
    return dict(hours)


def _busy(
    therapist_ids: list[int], window: Interval, *, exclude_appointment: int | None
) -> tuple[dict[int, list[Interval]], dict[int, list[Interval]]]:
    """The therapists' time off (with their outside calendars' busy blocks) and live
    appointments (blocked until their buffer ends) that reach into `window`: two queries."""
    time_off: dict[int, list[Interval]] = defaultdict(list)
    # Busy times synced from outside calendars (issue 20.4) count as time off: one UNION query.
    off = TimeOff.objects.filter(
        therapist_id__in=therapist_ids, start__lt=window.end, end__gt=window.start
    ).values_list("therapist_id", "start", "end")
    outside = BusyBlock.objects.filter(
        therapist_id__in=therapist_ids, start__lt=window.end, end__gt=window.start
    ).values_list("therapist_id", "start", "end")
    for therapist, off_start, off_end in off.order_by().union(outside.order_by(), all=True):
        time_off[therapist].append(Interval(off_start, off_end))
    booked: dict[int, list[Interval]] = defaultdict(list)
    appointments: QuerySet[Appointment] = Appointment.objects.filter(
        therapist_id__in=therapist_ids, start__lt=window.end, blocked_until__gt=window.start
    ).exclude(status=Status.CANCELLED)
    if exclude_appointment is not None:
        appointments = appointments.exclude(pk=exclude_appointment)
    for therapist, start, blocked_until in appointments.values_list(
        "therapist_id", "start", "blocked_until"
    ):
        booked[therapist].append(Interval(start, blocked_until))
    return time_off, booked


def _quiet_refusals(therapist_ids: list[int], window: Interval) -> dict[int, list[Interval]]:
    """Live quiet refusals reaching into `window`, held like bookings (with their buffer) on the
    public side (issue 13.3): one query."""
    held: dict[int, list[Interval]] = defaultdict(list)
    refusals = QuietRefusal.objects.filter(
        therapist_id__in=therapist_ids, start__lt=window.end, end__gt=window.start
    ).exclude(status=Status.CANCELLED)
    for therapist, start, end, buffer in refusals.values_list(
        "therapist_id", "start", "end", "service__buffer_minutes"
    ):
        held[therapist].append(Interval(start, end + timedelta(minutes=buffer)))
    return held


def appointments_with_parties() -> QuerySet[Appointment]:
    """Appointments with what their output shows, joined or prefetched: no query per row."""
    return Appointment.objects.select_related(
        "client", "therapist__user", "service"
    ).prefetch_related("events")
