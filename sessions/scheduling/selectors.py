"""Reads of the sessions app that need more than one queryset line."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import models
from django.db.models import (
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone

from practice.config_versions import remember, trusted
from practice.models import DateOverride, Practice, Room, Service, TimeOff, WorkingHours
from practice.prepared import PreparedRows
from practice.rows import attach_rows
from sessions.scheduling import availability
from sessions.scheduling.availability import Interval, Slot
from sessions.scheduling.models import (
    Appointment,
    AppointmentEvent,
    BusyBlock,
    QuietRefusal,
    Status,
)

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
        deep=is_deep(service.pressure_level),
    )


def is_deep(pressure_level: int | None) -> bool:
    """A deep session (Walton 4-5): the therapist's recovery gap follows it (issue 20.2)."""
    return pressure_level is not None and pressure_level >= Service.DEEP_PRESSURE


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

    Set-based queries whatever the range: the weekly hours and date overrides of the therapists
    offering the service with their hands-on limits (one), the service's rooms if it needs one
    (one), and what is busy: their time off and outside busy blocks and the live appointments of
    those therapists and rooms (one, `_busy`); the rest is `availability`. With
    `hold_quiet_refusals` (what the public sees and books), a live quiet refusal holds its time
    like a booking, so that no later public answer tells it apart from one (issue 13.3).
    """
    diaries = _diaries(
        practice, service, first, last, therapist_id=therapist_id, online_only=online_only
    )
    if not diaries.hours:
        return []
    days: dict[str, Any] = {"first": first, "last": last, "tz": practice.tz}
    if ignore_busy:  # the grid alone: is this a start time that could ever be booked?
        return availability.available_slots(
            hours=diaries.hours,
            overrides=diaries.overrides,
            time_off={},
            booked={},
            rules=booking_rules(practice, service, now),
            **days,
        )
    window = _window(practice, first, last, whole_weeks=diaries.weekly_limits)
    rooms = _suitable_rooms(practice, service) if service.needs_room else None
    if rooms == []:  # it needs a room and none suits: nothing to offer
        return []
    taken = _busy(
        diaries,
        rooms,
        window,
        exclude_appointment=exclude_appointment,
        hold_quiet_refusals=hold_quiet_refusals,
    )
    return availability.available_slots(
        hours=diaries.hours,
        overrides=diaries.overrides,
        time_off=taken.time_off,
        booked=taken.booked,
        limits=diaries.limits,
        hands_on=taken.hands_on,
        rooms=None if rooms is None else availability.RoomPlan(rooms, taken.room_busy()),
        rules=booking_rules(practice, service, now),  # "now" as the busy times were read
        **days,
    )


WeeklyHours = dict[int, list[tuple[int, time, time]]]  # therapist -> (weekday, start, end)


@dataclass
class Diaries:
    """What the therapists offering a service make available: weekly hours, date overrides (a
    date's hours, none for a day off) and hands-on limits."""

    hours: WeeklyHours = field(default_factory=dict)
    overrides: dict[int, dict[date, list[tuple[time, time]]]] = field(default_factory=dict)
    limits: dict[int, availability.Limits] = field(default_factory=dict)

    @property
    def weekly_limits(self) -> bool:
        return any(limit.weekly is not None for limit in self.limits.values())

    @property
    def recovery(self) -> bool:
        return any(limit.recovery for limit in self.limits.values())

    def between(self, first: date, last: date) -> Diaries:
        """This diary cut to the days first..last: what reading first..last would have given."""
        overrides = {
            therapist: in_range
            for therapist, days in self.overrides.items()
            if (in_range := {day: hours for day, hours in days.items() if first <= day <= last})
        }
        keep = {
            therapist
            for therapist, weekly in self.hours.items()
            if weekly or therapist in overrides
        }
        return Diaries(
            hours={therapist: self.hours[therapist] for therapist in keep},
            overrides=overrides,
            limits={therapist: self.limits[therapist] for therapist in keep},
        )

    def add(self, row: tuple) -> None:
        therapist, weekday, day, start, end, daily, weekly, recovery = row
        self.hours.setdefault(therapist, [])
        if therapist not in self.limits:
            self.limits[therapist] = availability.Limits(
                daily=None if daily is None else timedelta(minutes=daily),
                weekly=None if weekly is None else timedelta(minutes=weekly),
                recovery=timedelta(minutes=recovery),
            )
        if day is None:
            self.hours[therapist].append((weekday, start, end))
            return
        dated = self.overrides.setdefault(therapist, {}).setdefault(day, [])
        if start is not None:  # a row without hours is a day off
            dated.append((start, end))


DIARY_COLUMNS = (
    "therapist_id",
    "weekday",
    "day",
    "start",
    "end",
    "therapist__max_daily_minutes",
    "therapist__max_weekly_minutes",
    "therapist__recovery_minutes",
)


def _diaries(
    practice: Practice,
    service: Service,
    first: date,
    last: date,
    *,
    therapist_id: int | None,
    online_only: bool,
) -> Diaries:
    """Weekly hours and the overrides of first..last of the active therapists offering `service`,
    with their limits: one query (a UNION ALL of the two tables). For a trusted practice
    (`practice.config_versions`), the diary of every day a booking or an availability request
    may ask for is read once per version and day, and cut to first..last."""
    today = timezone.now().astimezone(practice.tz).date()
    span_first, span_last = today + DIARY_SPAN[0], today + DIARY_SPAN[1]

    def read(first: date, last: date) -> Diaries:
        return _read_diaries(
            practice, service, first, last, therapist_id=therapist_id, online_only=online_only
        )

    if not (trusted(practice) and span_first <= first and last <= span_last):
        return read(first, last)
    key = ("diaries", service.pk, therapist_id, online_only, today)
    return remember(practice, key, lambda: read(span_first, span_last)).between(first, last)


# The days a kept diary covers, from today: a week back (a practice's day starts before UTC's),
# and beyond the longest horizon plus the longest range a request may ask for.
DIARY_SPAN = (timedelta(days=-7), timedelta(days=365 + MAX_RANGE_DAYS + 7))


def _read_diaries(
    practice: Practice,
    service: Service,
    first: date,
    last: date,
    *,
    therapist_id: int | None,
    online_only: bool,
) -> Diaries:
    who = Q(practice=practice, therapist__active=True, therapist__services=service)
    if therapist_id is not None:
        who &= Q(therapist_id=therapist_id)
    if online_only:
        who &= Q(therapist__online_bookable=True)
    weekly = (
        WorkingHours.objects.filter(who)
        .order_by()  # a compound statement's parts take no ORDER BY
        .annotate(day=Value(None, output_field=DateField()))
        .values_list(*DIARY_COLUMNS)
    )
    dated = (
        DateOverride.objects.filter(who, date__gte=first, date__lte=last)
        .order_by()
        .annotate(day=F("date"), weekday=Value(-1, output_field=IntegerField()))
        .values_list(*DIARY_COLUMNS)
    )
    diaries = Diaries()
    for row in weekly.union(dated, all=True):
        diaries.add(row)
    return diaries


def _window(practice: Practice, first: date, last: date, *, whole_weeks: bool) -> Interval:
    """The local days first..last in UTC, padded by a day for zones far from UTC and for long
    buffers; widened to whole local weeks when a weekly hands-on limit counts the week."""
    if whole_weeks:
        first = first - timedelta(days=first.weekday())
        last = last + timedelta(days=6 - last.weekday())
    return Interval(
        datetime.combine(first, datetime.min.time(), tzinfo=practice.tz) - timedelta(days=1),
        datetime.combine(last, datetime.min.time(), tzinfo=practice.tz) + timedelta(days=2),
    )


def _suitable_rooms(practice: Practice, service: Service) -> list[int]:
    """The active rooms `service` may use (issue 20.1): the rooms it names and those whose
    equipment holds all its tags; naming neither, any active room of the practice. One query, or
    none when the practice's configuration has not changed since (`practice.config_versions`)."""
    key = ("rooms", service.pk)
    return remember(practice, key, lambda: _read_suitable_rooms(practice, service))


def _read_suitable_rooms(practice: Practice, service: Service) -> list[int]:
    named = Service.rooms.through.objects.filter(service_id=service.pk, room_id=OuterRef("pk"))
    rows = list(
        Room.objects.filter(practice=practice)
        .annotate(named=Exists(named))
        .order_by("id")
        .values_list("id", "active", "equipment", "named")
    )
    tags = set(service.room_tags or ())
    if not tags and not any(row[3] for row in rows):
        return [room for room, active, _, _ in rows if active]
    return [
        room
        for room, active, equipment, is_named in rows
        if active and (is_named or (tags and tags <= set(equipment or ())))
    ]


@dataclass
class Taken:
    """Busy times as availability needs them: each therapist's time off (outside calendars'
    busy blocks included) and occupied time (buffer or recovery included), their sessions (for
    the hands-on tallies), each room's occupied time."""

    time_off: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    booked: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    hands_on: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    rooms: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))

    def room_busy(self) -> dict[int, availability.Busy]:
        return {room: availability.Busy(taken) for room, taken in self.rooms.items()}


# What a row of `_busy` is: time off (or an outside calendar's busy block, issue 20.4), a live
# appointment, or a live quiet refusal (issue 13.3).
OFF, APPOINTMENT, REFUSAL = 0, 1, 2
BUSY_COLUMNS = (
    "busy_kind", "therapist_id", "busy_room", "start", "end", "busy_until", "busy_pressure",
    "busy_buffer",
)  # fmt: skip


def _busy_rows(model: type[models.Model], kind: int, **columns: Any) -> QuerySet[Any]:
    """One part of `_busy`'s UNION: its kind and the columns it has; the others are NULL."""
    # Typed NULLs: Postgres would take a column that is NULL in the first parts for text.
    blank: dict[str, Any] = {
        "busy_room": Cast(Value(None), IntegerField()),
        "busy_until": Value(None, output_field=DateTimeField()),  # typed by the appointments
        "busy_pressure": Cast(Value(None), IntegerField()),
        "busy_buffer": Cast(Value(None), IntegerField()),
    }
    return (
        model._default_manager.order_by()  # a compound statement's parts take no ORDER BY
        .annotate(busy_kind=Value(kind, output_field=IntegerField()), **(blank | columns))
        .values_list(*BUSY_COLUMNS)
    )


def _busy(
    diaries: Diaries,
    rooms: list[int] | None,
    window: Interval,
    *,
    exclude_appointment: int | None,
    hold_quiet_refusals: bool,
) -> Taken:
    """What is busy in `window` for the therapists, or in the rooms: one UNION ALL query (issue
    22.1: the booking's slot re-check) of their time off, their outside calendars' busy blocks,
    the live appointments of the therapists or in the rooms, and with `hold_quiet_refusals` (the
    public side) the therapists' live quiet refusals. Compiled once per shape (`_BUSY`)."""
    flags = (bool(rooms), diaries.recovery, hold_quiet_refusals, exclude_appointment is not None)
    values: dict[str, Any] = {
        "therapists": list(diaries.hours),
        "start": window.start,
        "end": window.end,
    }
    if rooms:
        values["rooms"] = rooms
    if exclude_appointment is not None:
        values["exclude"] = exclude_appointment
    taken = Taken()
    for row in _BUSY.rows(flags, **values):
        _take(taken, diaries, rooms, row)
    return taken


def _busy_query(
    flags: tuple[bool, bool, bool, bool],
    *,
    therapists: list[int],
    start: datetime,
    end: datetime,
    rooms: list[int] | None = None,
    exclude: int | None = None,
) -> QuerySet[Any]:
    """`_busy`'s query: `flags` say whether it has rooms, needs each session's pressure (a
    recovery gap), holds quiet refusals, and leaves one appointment out."""
    with_rooms, recovery, refusals, excluding = flags
    overlapping = Q(start__lt=end)
    off = overlapping & Q(therapist_id__in=therapists, end__gt=start)
    whose = Q(therapist_id__in=therapists)
    if with_rooms:
        whose |= Q(room_id__in=rooms)
    appointments = _busy_rows(
        Appointment,
        APPOINTMENT,
        busy_room=F("room_id"),
        busy_until=F("blocked_until"),
        # a join only when a recovery gap needs each session's pressure
        **({"busy_pressure": F("service__pressure_level")} if recovery else {}),
    ).filter(whose, overlapping, blocked_until__gt=start)
    appointments = appointments.exclude(status=Status.CANCELLED)
    if excluding:
        appointments = appointments.exclude(pk=exclude)
    parts = [appointments, _busy_rows(BusyBlock, OFF).filter(off)]
    if refusals:
        refusals_part = _busy_rows(QuietRefusal, REFUSAL, busy_buffer=F("service__buffer_minutes"))
        parts.append(refusals_part.filter(off).exclude(status=Status.CANCELLED))
    return _busy_rows(TimeOff, OFF).filter(off).union(*parts, all=True)


_BUSY = PreparedRows(_busy_query)


def _take(taken: Taken, diaries: Diaries, rooms: list[int] | None, row: tuple) -> None:
    kind, therapist, room, start, end, blocked_until, pressure, buffer = row
    if kind == OFF:
        taken.time_off[therapist].append(Interval(start, end))
        return
    if kind == REFUSAL:  # held like a booking, with its buffer, and counted like one
        taken.booked[therapist].append(Interval(start, end + timedelta(minutes=buffer)))
        taken.hands_on[therapist].append(Interval(start, end))
        return
    if room is not None and rooms:
        taken.rooms[room].append(Interval(start, blocked_until))
    limits = diaries.limits.get(therapist)
    if limits is None:  # in one of the rooms, someone else's diary
        return
    taken.booked[therapist].append(
        availability.occupied(
            start, end, blocked_until, deep=is_deep(pressure), recovery=limits.recovery
        )
    )
    if limits.caps_time:
        taken.hands_on[therapist].append(Interval(start, end))


def appointments_with_parties() -> QuerySet[Appointment]:
    """Appointments with what their output shows, joined or prefetched: no query per row."""
    return Appointment.objects.select_related(
        "client", "therapist__user", "service"
    ).prefetch_related("events")


# The columns an appointment's output is drawn from, the parties' names joined: the list reads
# exactly these with `.values()` (issue 22.2), a model gives the same through its joined parties
# (`practice.rows.as_row`).
APPOINTMENT_ROW_FIELDS = (
    "id", "status", "start", "end", "client_id", "client__first_name", "client__last_name",
    "therapist_id", "therapist__user__first_name", "therapist__user__last_name", "service_id",
    "service__name", "room_id", "late_cancellation", "cancellation_reason", "source", "sequence",
    "created_at", "updated_at",
)  # fmt: skip
EVENT_ROW_FIELDS = ("at", "actor_id", "actor_kind", "action", "changes")


def with_appointment_history(rows: list[dict]) -> list[dict]:
    """A page of appointment rows (`.values(*APPOINTMENT_ROW_FIELDS)`) with each one's history,
    oldest first, as rows too: one query whatever the page's size, no model built."""
    events = AppointmentEvent.objects.order_by("at", "id")
    return attach_rows(rows, "event_list", events, "appointment_id", EVENT_ROW_FIELDS)
