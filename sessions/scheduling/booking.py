"""Services that book, move, cancel and progress appointments (API.md "Booking").

Each is one transaction. The slot check here gives clear errors; on Postgres the exclusion
constraint (migration 0002) is what makes "exactly one request wins a slot" true under races.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from clients.models import Client
from clients.selectors import has_open_red_flag
from clients.services import announce_client
from practice.auth import new_secret
from practice.errors import Invalid, InvalidTransition, PreconditionFailed, SlotUnavailable
from practice.metrics import BOOKING_CONFLICTS
from practice.models import Practice, Service, Therapist, User
from practice.webhooks import record_event
from sessions.scheduling import reminders
from sessions.scheduling.availability import Slot
from sessions.scheduling.calendar_write_back import queue_write_back
from sessions.scheduling.events import (
    appointment_booked,
    appointment_checking_in,
    appointment_status_changed,
    visit_completed,
)
from sessions.scheduling.idempotency import write_atomically
from sessions.scheduling.models import (
    TRANSITIONS,
    Appointment,
    AppointmentEvent,
    QuietRefusal,
    Source,
    Status,
)
from sessions.scheduling.public_caps import check_public_booking_caps
from sessions.scheduling.queue import dispatch_reminders_soon, offer_freed_time_soon
from sessions.scheduling.selectors import booking_rules, free_slots

SELF_SERVICE = (Source.CLIENT, Source.PUBLIC)


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (staff or client), the public page, or an API key."""

    kind: str
    user: User | None = None


def online_block(client: Client) -> str | None:
    """Why this client may not book themselves online, or None (DOMAIN.md 0 rule 2, DOMAIN.md 8)."""
    if client.restricted_at is not None:  # kept after an erasure request (DOMAIN.md 8)
        return "This client's record is restricted: it cannot be booked."
    if has_open_red_flag(client):
        # DOMAIN.md 0, rule 2: no online self-booking until a therapist records a clearance.
        return "Please contact the practice to book your next session."
    return None


def _check_bookable(
    *, practice: Practice, service: Service, therapist: Therapist, client: Client, actor: Actor
) -> None:
    if client.restricted_at is not None:  # kept after an erasure request (DOMAIN.md 8)
        raise PreconditionFailed("This client's record is restricted: it cannot be booked.")
    _check_offered_online(service=service, therapist=therapist, actor=actor)
    if actor.kind in SELF_SERVICE:
        blocked = online_block(client)
        if blocked is not None:
            raise PreconditionFailed(blocked)


def _check_offered_online(*, service: Service, therapist: Therapist, actor: Actor) -> None:
    if not service.active:
        raise Invalid.on("service", "This service is no longer offered.")
    if not therapist.active:
        raise Invalid.on("therapist", "This therapist is not taking bookings.")
    # Whether the therapist offers the service is asked only when the slot is not found
    # (`_check_slot`): the slot query joins it already, and a booking saves a round trip.
    if actor.kind in SELF_SERVICE and not (service.online_bookable and therapist.online_bookable):
        raise Invalid.on("service", "This service cannot be booked online.")


def _check_slot(
    *,
    practice: Practice,
    service: Service,
    therapist: Therapist,
    start: datetime,
    exclude: int | None = None,
    self_service: bool = False,
) -> Slot:
    """The free slot at `start` (with its free rooms); 400 for a time that can never be booked,
    409 `slot_unavailable` for one that is taken (for a client or the public page, also by a
    quiet refusal: issue 13.3), by the room it needs or by the therapist's hands-on limits."""
    day = start.astimezone(practice.tz).date()
    common: dict[str, Any] = {"practice": practice, "service": service, "first": day, "last": day}
    slots = free_slots(
        therapist_id=therapist.pk,
        exclude_appointment=exclude,
        hold_quiet_refusals=self_service,
        **common,
    )
    for slot in slots:
        if slot.start == start:
            return slot
    if not therapist.services.filter(pk=service.pk).exists():
        raise Invalid.on("therapist", "This therapist does not offer this service.")
    rules = booking_rules(practice, service)
    if start < rules.earliest:
        raise Invalid.on(
            "start", f"Bookings need {practice.min_notice_minutes} minutes' notice.", "too_soon"
        )
    if start >= rules.latest:
        raise Invalid.on(
            "start",
            f"Bookings open {practice.booking_horizon_days} days ahead at most.",
            "beyond_horizon",
        )
    grid = free_slots(therapist_id=therapist.pk, ignore_busy=True, **common)
    if not any(slot.start == start for slot in grid):
        raise Invalid.on(
            "start", "This is not a bookable start time (working hours and slot steps).", "off_grid"
        )
    BOOKING_CONFLICTS.labels(detected_by="check").inc()
    raise SlotUnavailable()


def _room_for(slot: Slot, keep: int | None = None) -> int | None:
    """The room a booking takes: the one it holds if still free (a reschedule), else the first
    free suitable one; None for a service that needs no room (issue 20.1)."""
    if keep is not None and keep in slot.rooms:
        return keep
    return slot.rooms[0] if slot.rooms else None


# Advisory-lock namespace of `_take_turns` (any constant the app uses for nothing else).
HANDS_ON_LOCK = 2002


def _is_limited(therapist: Therapist) -> bool:
    """Whether hands-on limits or a recovery gap constrain the therapist's bookings (issue 20.2)."""
    return bool(
        therapist.max_daily_minutes is not None
        or therapist.max_weekly_minutes is not None
        or therapist.recovery_minutes
    )


def _take_turns(therapist: Therapist) -> None:
    """Bookings of a therapist with hands-on limits or a recovery gap take turns from here to
    their commit (issue 20.2): no constraint sees "the day's last 60 minutes", so two racing
    bookings at different times would both pass the check. A transaction-level advisory lock per
    therapist (one round trip, none for therapists without limits) makes the second one check
    after the first has committed. SQLite runs one writer at a time anyway."""
    if _is_limited(therapist) and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [HANDS_ON_LOCK, therapist.pk])


# Postgres "deadlock_detected". Two transactions writing overlapping rows each wait for the other
# in the exclusion check; Postgres aborts one of them, which has lost the slot to the other.
DEADLOCK_DETECTED = "40P01"


def _save_live(appointment: Appointment, **save_kwargs: Any) -> None:
    """Save, turning the exclusion constraint's refusal into 409 `slot_unavailable`.

    No savepoint of its own: every caller is atomic and gives up on the error, so the enclosing
    transaction rolls back anyway (and a booking saves two round trips)."""
    try:
        appointment.save(**save_kwargs)
    except IntegrityError as error:
        if "no_overlap" in str(error):  # the therapist's or the room's exclusion constraint
            BOOKING_CONFLICTS.labels(detected_by="constraint").inc()
            raise SlotUnavailable() from None
        raise
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == DEADLOCK_DETECTED:
            BOOKING_CONFLICTS.labels(detected_by="constraint").inc()
            raise SlotUnavailable() from None
        raise


def announce(appointment: Appointment, event: str) -> None:
    """Webhook outbox row, in this transaction: scheduling data only (API.md "Webhooks"); and
    the write-back outbox rows of the therapist's CalDAV calendars (issue 20.4)."""
    queue_write_back(appointment, new=event == "appointment.created")
    record_event(
        practice=appointment.practice_id,
        type=event,
        data={
            "id": appointment.pk,
            "status": appointment.status,
            "start": appointment.start,
            "end": appointment.end,
            "client": appointment.client_id,
            "therapist": appointment.therapist_id,
            "service": appointment.service_id,
            "late_cancellation": appointment.late_cancellation,
        },
    )


def _log(appointment: Appointment, actor: Actor, action: str, **changes: Any) -> AppointmentEvent:
    return AppointmentEvent.objects.create(
        appointment=appointment,
        actor=actor.user,
        actor_kind=actor.kind,
        action=action,
        changes={k: v.isoformat() if isinstance(v, datetime) else v for k, v in changes.items()},
    )


@write_atomically
def book_appointment(
    *,
    practice: Practice,
    service: Service,
    therapist: Therapist,
    client: Client,
    start: datetime,
    actor: Actor,
    with_manage_link: bool = False,
    client_ip: str | None = None,
) -> tuple[Appointment, str | None]:
    """Book one slot (API.md "Booking"); returns the appointment and, if asked, its manage token.
    One transaction, with no savepoint of its own inside an Idempotency-Key's (issue 22.1)."""
    _check_bookable(
        practice=practice, service=service, therapist=therapist, client=client, actor=actor
    )
    if actor.kind == Source.CLIENT:  # the public page checks its caps before finding the client
        check_public_booking_caps(
            practice=practice, email=client.email, client_ip=client_ip, client=client
        )
    _take_turns(therapist)
    slot = _check_slot(
        practice=practice,
        service=service,
        therapist=therapist,
        start=start,
        self_service=actor.kind in SELF_SERVICE,
    )
    end = start + timedelta(minutes=service.duration_minutes)
    token, token_hash = new_secret("bk_") if with_manage_link else (None, None)
    appointment = Appointment(
        practice=practice,
        client=client,
        therapist=therapist,
        service=service,
        room_id=_room_for(slot),
        start=start,
        end=end,
        blocked_until=end + timedelta(minutes=service.buffer_minutes),
        source=actor.kind,
        booked_by=actor.user,
        manage_token_hash=token_hash,
        booked_from_ip=client_ip,
    )
    _save_live(appointment)
    created = _log(appointment, actor, "created", status=Status.BOOKED, start=start)
    _knows_its_history(appointment, [created])
    if reminders.on_booked(appointment):
        dispatch_reminders_soon()
    appointment_booked.send(sender=Appointment, appointment=appointment, actor=actor)
    announce(appointment, "appointment.created")
    return appointment, token


def _knows_its_history(appointment: Appointment, events: list[AppointmentEvent]) -> None:
    """A new appointment's history is the event just written: kept as its prefetched `events`,
    so the answer to the booking need not read it back (issue 22.1)."""
    history = AppointmentEvent.objects.filter(appointment=appointment)
    history._result_cache = events
    history._prefetch_done = True  # type: ignore[attr-defined]  # as Django's own prefetch does
    appointment._prefetched_objects_cache = {"events": history}  # type: ignore[attr-defined]


def _locked(appointment: Appointment) -> Appointment:
    # of=("self",): lock the appointment row only. Without it Postgres also locks the joined
    # practice, service and therapist rows FOR UPDATE, which serializes every change in the
    # practice and deadlocks against concurrent bookings' foreign-key checks on those rows.
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("practice", "service", "therapist")
        .get(pk=appointment.pk)
    )


def _inside_window(appointment: Appointment | QuietRefusal, now: datetime) -> bool:
    window = timedelta(hours=appointment.practice.cancellation_window_hours)
    return now > appointment.start - window


@transaction.atomic
def cancel_appointment(*, appointment: Appointment, reason: str, actor: Actor) -> Appointment:
    """`booked` -> `cancelled`; inside the practice's window it is a `late_cancellation`.

    Clients (and the public manage link) may cancel inside the window only if policy allows.
    """
    appointment = _locked(appointment)
    _check_move(appointment, Status.CANCELLED)
    now = timezone.now()
    late = _inside_window(appointment, now)
    if late and actor.kind in SELF_SERVICE and not appointment.practice.clients_may_cancel_late:
        raise PreconditionFailed(
            f"Cancellations within {appointment.practice.cancellation_window_hours} hours of the "
            "appointment go through the practice."
        )
    appointment.status = Status.CANCELLED
    appointment.late_cancellation = late
    appointment.cancellation_reason = reason
    appointment.sequence += 1
    appointment.save(
        update_fields=[
            "status",
            "late_cancellation",
            "cancellation_reason",
            "sequence",
            "updated_at",
        ]
    )
    _log(appointment, actor, "cancelled", status=[Status.BOOKED, Status.CANCELLED], late=late)
    reminders.on_ended(appointment)
    announce(appointment, "appointment.cancelled")
    offer_freed_time_soon(appointment.therapist_id, appointment.start, appointment.blocked_until)
    appointment_status_changed.send(
        Appointment, appointment=appointment, before=Status.BOOKED, actor=actor
    )
    return appointment


def _check_move(appointment: Appointment, to: str) -> None:
    if to not in TRANSITIONS.get(appointment.status, set()):
        raise InvalidTransition(f"An appointment that is {appointment.status} cannot become {to}.")


@transaction.atomic
def move_appointment(*, appointment: Appointment, to: str, actor: Actor) -> Appointment:
    """check-in, complete, no-show: the state machine of API.md "Booking", not time-gated."""
    appointment = _locked(appointment)
    _check_move(appointment, to)
    if to == Status.CHECKED_IN:  # preconditions owned by higher apps (an incomplete intake)
        appointment_checking_in.send(sender=Appointment, appointment=appointment, actor=actor)
    before = appointment.status
    appointment.status = to
    appointment.sequence += 1
    appointment.save(update_fields=["status", "sequence", "updated_at"])
    _log(appointment, actor, to, status=[before, to])
    if to == Status.NO_SHOW:
        reminders.on_ended(appointment)
    elif to == Status.COMPLETED:
        reminders.on_completed(appointment)
        visit_completed.send(sender=Appointment, appointment=appointment)
    announce(appointment, "appointment.updated")
    appointment_status_changed.send(
        Appointment, appointment=appointment, before=before, actor=actor
    )
    return appointment


@transaction.atomic
def reschedule_appointment(
    *, appointment: Appointment, start: datetime, therapist: Therapist | None, actor: Actor
) -> Appointment:
    """Move a booked appointment; the old time is freed only if the new one is taken (one row)."""
    appointment = _locked(appointment)
    if appointment.status != Status.BOOKED:
        raise InvalidTransition("Only a booked appointment can be rescheduled.")
    if (
        actor.kind in SELF_SERVICE
        and _inside_window(appointment, timezone.now())
        and not appointment.practice.clients_may_cancel_late
    ):
        raise PreconditionFailed("Changes this close to the appointment go through the practice.")
    therapist = therapist or appointment.therapist
    service = appointment.service
    _check_bookable(
        practice=appointment.practice,
        service=service,
        therapist=therapist,
        client=appointment.client,
        actor=actor,
    )
    _take_turns(therapist)
    slot = _check_slot(
        practice=appointment.practice,
        service=service,
        therapist=therapist,
        start=start,
        exclude=appointment.pk,
        self_service=actor.kind in SELF_SERVICE,
    )
    old_start, old_therapist = appointment.start, appointment.therapist_id
    old_until, old_room = appointment.blocked_until, appointment.room_id
    appointment.start = start
    appointment.end = start + timedelta(minutes=service.duration_minutes)
    appointment.blocked_until = appointment.end + timedelta(minutes=service.buffer_minutes)
    appointment.therapist = therapist
    appointment.room_id = _room_for(slot, keep=appointment.room_id)
    appointment.sequence += 1
    _save_live(appointment)
    moved_room = (
        {"room": [old_room, appointment.room_id]} if old_room != appointment.room_id else {}
    )
    _log(
        appointment,
        actor,
        "rescheduled",
        start=[old_start.isoformat(), start.isoformat()],
        therapist=[old_therapist, therapist.pk],
        **moved_room,
    )
    if reminders.on_rescheduled(appointment):
        dispatch_reminders_soon()
    announce(appointment, "appointment.updated")
    offer_freed_time_soon(old_therapist, old_start, old_until)
    return appointment


def reschedule_public_appointment(
    *, appointment: Appointment | QuietRefusal, start: datetime, therapist_id: int | None
) -> Appointment | QuietRefusal:
    """The manage link's `reschedule/` (API.md "Public booking"): the booking rules of the public
    page (an online-bookable therapist of the practice, the notice, horizon and slot grid) and
    its cancellation window, as a client moving their own booking. A quiet refusal's link
    answers the same way (issue 13.3) and moves only the refusal."""
    therapist = None
    if therapist_id is not None:
        therapist = Therapist.objects.filter(
            practice_id=appointment.practice_id, pk=therapist_id, active=True, online_bookable=True
        ).first()
        if therapist is None:
            raise Invalid.on("therapist", "Unknown therapist.", "does_not_exist")
    if isinstance(appointment, QuietRefusal):
        return reschedule_quiet_refusal(refusal=appointment, start=start, therapist=therapist)
    return reschedule_appointment(
        appointment=appointment, start=start, therapist=therapist, actor=Actor(kind=Source.PUBLIC)
    )


@transaction.atomic
def reschedule_quiet_refusal(
    *, refusal: QuietRefusal, start: datetime, therapist: Therapist | None
) -> QuietRefusal:
    """Its manage link's `reschedule/`, with a booking's checks and answers; it still holds no
    time in the diary (a refusal's id is no appointment's: never look one up by it)."""
    refusal = (
        QuietRefusal.objects.select_for_update(of=("self",))
        .select_related("practice", "service", "therapist")
        .get(pk=refusal.pk)
    )
    if refusal.status != Status.BOOKED:
        raise InvalidTransition("Only a booked appointment can be rescheduled.")
    if _inside_window(refusal, timezone.now()) and not refusal.practice.clients_may_cancel_late:
        raise PreconditionFailed("Changes this close to the appointment go through the practice.")
    therapist = therapist or refusal.therapist
    service = refusal.service
    _check_offered_online(service=service, therapist=therapist, actor=Actor(kind=Source.PUBLIC))
    _check_slot(practice=refusal.practice, service=service, therapist=therapist, start=start)
    refusal.start = start
    refusal.end = start + timedelta(minutes=service.duration_minutes)
    refusal.therapist = therapist
    refusal.save(update_fields=["start", "end", "therapist"])
    return refusal


@dataclass
class Occurrence:
    start: datetime
    appointment: Appointment | None = None
    error: str | None = None


def series_starts(start: datetime, tz: tzinfo, every_days: int, count: int) -> list[datetime]:
    """Same local wall-clock time every N days: a weekly 10:00 stays 10:00 across DST."""
    local = start.astimezone(tz)
    return [
        datetime.combine(
            local.date() + timedelta(days=every_days * i),
            local.timetz().replace(tzinfo=None),
            tzinfo=tz,
        )
        for i in range(count)
    ]


@transaction.atomic
def book_series(
    *,
    practice: Practice,
    service: Service,
    therapist: Therapist,
    client: Client,
    start: datetime,
    every_days: int,
    count: int,
    all_or_nothing: bool,
    actor: Actor,
) -> list[Occurrence]:
    """A course of care: up to 12 sessions, all booked or none (or the free ones)."""
    occurrences = [
        Occurrence(start=when) for when in series_starts(start, practice.tz, every_days, count)
    ]
    for index, occurrence in enumerate(occurrences):
        try:
            with transaction.atomic():
                occurrence.appointment, _ = book_appointment(
                    practice=practice,
                    service=service,
                    therapist=therapist,
                    client=client,
                    start=occurrence.start,
                    actor=actor,
                )
        except SlotUnavailable as error:
            occurrence.error = error.detail
        except Invalid as error:
            # The first start is the request's own input: off-grid, past or beyond the horizon, or
            # a therapist who does not offer the service, is a 400 (API.md "Booking"), not a list of
            # unavailable occurrences. Later ones may fall past the horizon: those are not free.
            if index == 0:
                raise
            occurrence.error = error.detail
    if all_or_nothing and any(o.error for o in occurrences):
        transaction.set_rollback(True)
        for occurrence in occurrences:
            occurrence.appointment = None
    return occurrences


def visit_error(
    index: int, start: datetime, tz: tzinfo, error: Invalid | SlotUnavailable
) -> Invalid:
    """A visit that does not fit, as a 400 naming it (issue 18 "Bad input"): `visits.<i>` with
    the booking rule's code (`slot_unavailable`, `beyond_horizon`, `too_soon`, `off_grid`)."""
    code = error.errors[0]["code"] if error.errors else error.code
    when = start.astimezone(tz).strftime("%a %d %b %Y %H:%M")
    detail = f"Visit {index + 1} ({when}): {error.detail}"
    return Invalid(detail, errors=[{"field": f"visits.{index}", "code": code, "detail": detail}])


@transaction.atomic
def book_visits(
    *,
    practice: Practice,
    service: Service,
    therapist: Therapist,
    client: Client,
    starts: list[datetime],
    actor: Actor,
    first_index: int = 0,
) -> list[Appointment]:
    """Book several visits in one transaction, all or none (a course of care, issue 18.1), with
    every rule of `book_appointment`. The free slots are read once for the whole range, not once
    per visit; a start that does not fit is a 400 naming the visit (`visit_error`, counted from
    `first_index`). The exclusion constraint still settles races: a visit lost to one is 409."""
    _check_bookable(
        practice=practice, service=service, therapist=therapist, client=client, actor=actor
    )
    if not starts:
        return []
    _take_turns(therapist)
    tz = practice.tz
    self_service = actor.kind in SELF_SERVICE
    days = [start.astimezone(tz).date() for start in starts]
    slots = free_slots(
        practice=practice,
        service=service,
        first=min(days),
        last=max(days),
        therapist_id=therapist.pk,
        hold_quiet_refusals=self_service,
    )
    free = {slot.start: slot for slot in slots}
    # Hands-on limits count the visits booked here too, so a limited therapist's visits are each
    # checked against the diary as this transaction has written it (issue 20.2).
    limited = _is_limited(therapist)
    appointments = []
    for index, start in enumerate(starts, start=first_index):
        slot = None if limited else free.get(start)
        if slot is None:  # the precise reason, or a slot that came free since the read
            slot = _visit_slot(index, start, practice, service, therapist, self_service)
        end = start + timedelta(minutes=service.duration_minutes)
        appointment = Appointment(
            practice=practice,
            client=client,
            therapist=therapist,
            service=service,
            room_id=_room_for(slot),
            start=start,
            end=end,
            blocked_until=end + timedelta(minutes=service.buffer_minutes),
            source=actor.kind,
            booked_by=actor.user,
        )
        _save_live(appointment)
        appointments.append(appointment)
    _after_booking_many(appointments, actor)
    return appointments


def _visit_slot(
    index: int,
    start: datetime,
    practice: Practice,
    service: Service,
    therapist: Therapist,
    self_service: bool,
) -> Slot:
    """One visit's slot checked on its own, or a 400 naming the visit (`visit_error`)."""
    try:
        return _check_slot(
            practice=practice,
            service=service,
            therapist=therapist,
            start=start,
            self_service=self_service,
        )
    except (Invalid, SlotUnavailable) as error:
        raise visit_error(index, start, practice.tz, error) from None


def _after_booking_many(appointments: list[Appointment], actor: Actor) -> None:
    """History, reminders and webhook events of freshly booked visits, as `book_appointment`
    writes them for one."""
    AppointmentEvent.objects.bulk_create(
        AppointmentEvent(
            appointment=appointment,
            actor=actor.user,
            actor_kind=actor.kind,
            action="created",
            changes={"status": Status.BOOKED, "start": appointment.start.isoformat()},
        )
        for appointment in appointments
    )
    if reminders.on_booked_many(appointments):
        dispatch_reminders_soon()
    for appointment in appointments:
        appointment_booked.send(sender=Appointment, appointment=appointment, actor=actor)
        announce(appointment, "appointment.created")


def _refuse_quietly(
    *,
    practice: Practice,
    service: Service,
    therapist: Therapist,
    client: Client,
    start: datetime,
    client_ip: str | None,
) -> tuple[QuietRefusal, str]:
    """A client who may not book online, answered by the public page like anyone (issue 13.3).

    The answer must not depend on whom the email belongs to: the same checks in the same order as
    a booking (a taken slot is 409 `slot_unavailable`, as for anyone), then the same 201, a manage
    link that shows and cancels like a booking's, and a place under the same caps. Nothing is
    booked; the reason goes to the client by email (sessions/scheduling/reminders.py)."""
    _check_offered_online(service=service, therapist=therapist, actor=Actor(kind=Source.PUBLIC))
    _check_slot(
        practice=practice, service=service, therapist=therapist, start=start, self_service=True
    )
    if reminders.on_online_booking_refused(client):
        dispatch_reminders_soon()
    token, token_hash = new_secret("bk_")
    refusal = QuietRefusal.objects.create(
        practice=practice,
        client=client,
        service=service,
        therapist=therapist,
        start=start,
        end=start + timedelta(minutes=service.duration_minutes),
        manage_token_hash=token_hash,
        booked_from_ip=client_ip,
    )
    return refusal, token


def cancel_by_manage_link(
    *, booked: Appointment | QuietRefusal, reason: str
) -> Appointment | QuietRefusal:
    """`public/bookings/{token}/cancel/`: a booking is cancelled as the client would; a quiet
    refusal answers the same way (issue 13.3)."""
    if isinstance(booked, QuietRefusal):
        return cancel_quiet_refusal(refusal=booked, reason=reason)
    return cancel_appointment(appointment=booked, reason=reason, actor=Actor(kind=Source.PUBLIC))


@transaction.atomic
def cancel_quiet_refusal(*, refusal: QuietRefusal, reason: str) -> QuietRefusal:
    """Its manage link's `cancel/`, with a booking's rules and answers (nothing else to undo)."""
    refusal = QuietRefusal.objects.select_for_update().select_related("practice").get(pk=refusal.pk)
    if refusal.status != Status.BOOKED:
        raise InvalidTransition(f"Cannot go from {refusal.status} to cancelled.")
    late = timezone.now() > refusal.start - timedelta(
        hours=refusal.practice.cancellation_window_hours
    )
    if late and not refusal.practice.clients_may_cancel_late:
        raise PreconditionFailed(
            f"Cancellations within {refusal.practice.cancellation_window_hours} hours of the "
            "appointment go through the practice."
        )
    refusal.status = Status.CANCELLED
    refusal.late_cancellation = late
    refusal.save(update_fields=["status", "late_cancellation"])
    return refusal


@transaction.atomic
def reissue_manage_link(*, appointment_id: int | None, refusal_id: int | None = None) -> str:
    """A fresh manage token for a public booking or quiet refusal (its idempotent replay, issue
    13.10); the old one stops working."""
    token, token_hash = new_secret("bk_")
    if appointment_id is not None:
        Appointment.objects.filter(pk=appointment_id, source=Source.PUBLIC).update(
            manage_token_hash=token_hash
        )
    if refusal_id is not None:
        QuietRefusal.objects.filter(pk=refusal_id).update(manage_token_hash=token_hash)
    return token


def manage_url(token: str) -> str:
    return f"{settings.BASE_URL}/api/v1/public/bookings/{token}/"


def client_for_public_booking(
    *, practice: Practice, first_name: str, last_name: str, email: str, phone: str
) -> Client:
    """The practice's client with this email, or a new one. The caller never learns which:
    nothing about an existing record is changed or shown (API.md "Public booking")."""
    # A record whose email came from staff, or from an account that proved it; never one whose
    # email an account holder typed without proof (issue 13.2).
    proven = Q(user__isnull=True) | Q(
        user__email_verified_at__isnull=False, user__email__iexact=email.strip()
    )
    existing = (
        Client.objects.filter(proven, practice=practice, email__iexact=email.strip())
        .order_by("id")
        .first()
    )
    if existing is not None:
        return existing
    client = Client.objects.create(
        practice=practice,
        first_name=first_name,
        last_name=last_name,
        email=email.strip().lower(),
        phone=phone,
    )
    announce_client(client)
    return client


@transaction.atomic
def book_public_appointment(
    *,
    practice: Practice,
    service: Service,
    therapist: Therapist,
    start: datetime,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    client_ip: str | None,
) -> tuple[Appointment | QuietRefusal, str]:
    """Book from the public page (API.md "Public booking") for a new or matching client.

    Refused with 429 `throttled`, before anything is written, while this email or address already
    holds its allowance of live public bookings (sessions/scheduling/public_caps.py, OWASP API6)."""
    check_public_booking_caps(practice=practice, email=email, client_ip=client_ip)
    client = client_for_public_booking(
        practice=practice, first_name=first_name, last_name=last_name, email=email, phone=phone
    )
    if online_block(client) is not None:
        return _refuse_quietly(
            practice=practice,
            service=service,
            therapist=therapist,
            client=client,
            start=start,
            client_ip=client_ip,
        )
    appointment, token = book_appointment(
        practice=practice,
        service=service,
        therapist=therapist,
        client=client,
        start=start,
        actor=Actor(kind=Source.PUBLIC),
        with_manage_link=True,
        client_ip=client_ip,
    )
    assert token is not None  # noqa: S101 - with_manage_link always issues one
    return appointment, token
