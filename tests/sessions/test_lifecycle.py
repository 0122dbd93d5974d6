"""The appointment's state machine, cancellation policy, rescheduling and its history (API.md
"Booking"): booked -> checked_in -> completed; booked -> cancelled | no_show; nothing else.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from sessions.scheduling.models import Appointment, AppointmentEvent, Status
from tests.factories import AppointmentFactory
from tests.sessions.booking_setup import Bookable, local

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"

# Written out here rather than read from sessions.models.TRANSITIONS, so that a wrong table fails.
ACTIONS = {
    "check-in": Status.CHECKED_IN,
    "complete": Status.COMPLETED,
    "cancel": Status.CANCELLED,
    "no-show": Status.NO_SHOW,
}
ALLOWED = {
    (Status.BOOKED, "check-in"),
    (Status.CHECKED_IN, "complete"),
    (Status.BOOKED, "cancel"),
    (Status.BOOKED, "no-show"),
}
EVERY_MOVE = list(itertools.product(list(Status), ACTIONS))


def appointment_at(setup: Bookable, start: datetime, **kwargs) -> Appointment:
    """Written directly, so that its time need not be bookable (edges of the window)."""
    return AppointmentFactory(
        client=kwargs.pop("client", setup.client),
        therapist=setup.therapist,
        service=setup.service,
        start=start,
        **kwargs,
    )


@pytest.fixture
def frozen_now(monkeypatch) -> datetime:
    """`timezone.now()` pinned, so that an edge of the cancellation window is hit exactly."""
    now = timezone.now().replace(microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


def post(member, appointment: Appointment, action: str, data: dict | None = None):
    return member.api.post(f"{URL}{appointment.pk}/{action}/", data or {})


# --- the state machine --------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "action"), sorted(ALLOWED))
def test_allowed_moves_change_the_status(owner, bookable, before, action):
    appointment = appointment_at(bookable, local(bookable.practice, 3, 10), status=before)

    response = post(owner, appointment, action)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == ACTIONS[action]
    appointment.refresh_from_db()
    assert appointment.status == ACTIONS[action]
    assert appointment.sequence == 1
    event = appointment.events.get()
    assert event.changes["status"] == [before, ACTIONS[action]]


@pytest.mark.parametrize(("before", "action"), [move for move in EVERY_MOVE if move not in ALLOWED])
def test_every_other_move_is_409_invalid_transition(owner, bookable, before, action):
    appointment = appointment_at(bookable, local(bookable.practice, 3, 10), status=before)

    response = post(owner, appointment, action)

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "invalid_transition"
    appointment.refresh_from_db()
    assert appointment.status == before
    assert appointment.sequence == 0
    assert not appointment.events.exists()


def test_a_session_walks_from_booked_to_completed(therapist, bookable):
    appointment = appointment_at(bookable, local(bookable.practice, 3, 10))

    checked_in = post(therapist, appointment, "check-in")
    completed = post(therapist, appointment, "complete")
    again = post(therapist, appointment, "complete")

    assert checked_in.json()["status"] == "checked_in"
    assert completed.json()["status"] == "completed"
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


@pytest.mark.parametrize("action", ["check-in", "no-show"])
def test_front_desk_and_therapist_progress_appointments(front_desk, therapist, bookable, action):
    first = appointment_at(bookable, local(bookable.practice, 3, 10))
    second = appointment_at(bookable, local(bookable.practice, 3, 14))

    assert post(front_desk, first, action).status_code == 200
    assert post(therapist, second, action).status_code == 200


@pytest.mark.parametrize("action", ["check-in", "complete", "no-show"])
def test_a_client_cannot_progress_even_their_own_appointment(client_member, bookable, action):
    status = Status.CHECKED_IN if action == "complete" else Status.BOOKED
    appointment = appointment_at(
        bookable, local(bookable.practice, 3, 10), client=client_member.user.client, status=status
    )

    response = post(client_member, appointment, action)

    assert response.status_code == 403, response.content
    appointment.refresh_from_db()
    assert appointment.status == status
    assert not appointment.events.exists()


def test_another_practices_appointment_is_404(other_owner, bookable):
    appointment = appointment_at(bookable, local(bookable.practice, 3, 10))

    for action in ACTIONS:
        assert post(other_owner, appointment, action).status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


# --- cancellation and its window ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("before_window", "late"),
    [
        (timedelta(minutes=-1), True),  # a minute inside the 24 h window
        (timedelta(0), False),  # exactly 24 h ahead: the notice asked for is given
        (timedelta(minutes=1), False),
    ],
)
def test_staff_cancellation_inside_the_window_is_late(
    owner, bookable, frozen_now, before_window, late
):
    window = timedelta(hours=bookable.practice.cancellation_window_hours)
    appointment = appointment_at(bookable, frozen_now + window + before_window)

    response = post(owner, appointment, "cancel", {"reason": "Client unwell"})

    assert response.status_code == 200, response.content
    assert response.json()["late_cancellation"] is late
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.late_cancellation is late
    assert appointment.cancellation_reason == "Client unwell"


def test_the_window_follows_the_practice_policy(owner, bookable, frozen_now):
    practice = bookable.practice
    practice.cancellation_window_hours = 48
    practice.save()
    appointment = appointment_at(bookable, frozen_now + timedelta(hours=47))

    response = post(owner, appointment, "cancel")

    assert response.json()["late_cancellation"] is True


@pytest.mark.parametrize(
    ("before_window", "allowed"),
    [(timedelta(minutes=-1), False), (timedelta(0), True), (timedelta(minutes=1), True)],
)
def test_a_client_cancels_their_own_only_outside_the_window(
    client_member, bookable, frozen_now, before_window, allowed
):
    window = timedelta(hours=bookable.practice.cancellation_window_hours)
    appointment = appointment_at(
        bookable, frozen_now + window + before_window, client=client_member.user.client
    )

    response = post(client_member, appointment, "cancel", {"reason": "Away"})

    appointment.refresh_from_db()
    if allowed:
        assert response.status_code == 200, response.content
        assert appointment.status == Status.CANCELLED
        assert appointment.late_cancellation is False
    else:
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "precondition_failed"
        assert appointment.status == Status.BOOKED
        assert appointment.sequence == 0
        assert not appointment.events.exists()


def test_a_client_may_cancel_late_when_the_practice_allows_it(client_member, bookable, frozen_now):
    bookable.practice.clients_may_cancel_late = True
    bookable.practice.save()
    appointment = appointment_at(
        bookable, frozen_now + timedelta(hours=2), client=client_member.user.client
    )

    response = post(client_member, appointment, "cancel")

    assert response.status_code == 200, response.content
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.late_cancellation is True


def test_a_client_cannot_cancel_another_clients_appointment(client_member, bookable):
    appointment = appointment_at(bookable, local(bookable.practice, 5, 10))

    response = post(client_member, appointment, "cancel")

    assert response.status_code == 404, response.content
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_cancel_rejects_unknown_fields(owner, bookable):
    appointment = appointment_at(bookable, local(bookable.practice, 5, 10))

    response = post(owner, appointment, "cancel", {"reason": "x", "late_cancellation": False})

    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


# --- rescheduling ---------------------------------------------------------------------------------


def slot_starts(member, setup: Bookable, day: datetime) -> set[datetime]:
    local_day = day.astimezone(setup.practice.tz).date().isoformat()
    response = member.api.get(
        "/api/v1/availability/",
        {
            "service": setup.service.pk,
            "therapist": setup.therapist.pk,
            "start": local_day,
            "end": local_day,
        },
    )
    assert response.status_code == 200, response.content
    return {datetime.fromisoformat(slot["start"]) for slot in response.json()["slots"]}


def book(member, setup: Bookable, start: datetime) -> Appointment:
    response = member.api.post(
        URL,
        {
            "service": setup.service.pk,
            "therapist": setup.therapist.pk,
            "client": setup.client.pk,
            "start": start.isoformat(),
        },
    )
    assert response.status_code == 201, response.content
    return Appointment.objects.get(pk=response.json()["id"])


def test_reschedule_moves_the_appointment_and_frees_the_old_time(owner, bookable):
    old, new = local(bookable.practice, 3, 10), local(bookable.practice, 4, 14)
    appointment = book(owner, bookable, old)
    assert old not in slot_starts(owner, bookable, old)

    response = post(owner, appointment, "reschedule", {"start": new.isoformat()})

    assert response.status_code == 200, response.content
    assert datetime.fromisoformat(response.json()["start"]) == new
    appointment.refresh_from_db()
    assert (appointment.start, appointment.end) == (new, new + timedelta(minutes=60))
    assert appointment.blocked_until == new + timedelta(minutes=75)
    assert Appointment.objects.count() == 1  # moved, not copied
    assert old in slot_starts(owner, bookable, old)
    assert new not in slot_starts(owner, bookable, new)


def test_reschedule_may_overlap_its_own_old_time(owner, bookable):
    appointment = book(owner, bookable, local(bookable.practice, 3, 10))
    later = local(bookable.practice, 3, 10, 30)

    response = post(owner, appointment, "reschedule", {"start": later.isoformat()})

    assert response.status_code == 200, response.content
    appointment.refresh_from_db()
    assert appointment.start == later


def test_reschedule_onto_a_taken_time_is_409_and_keeps_the_old_time(owner, bookable):
    old, taken = local(bookable.practice, 3, 10), local(bookable.practice, 3, 14)
    appointment = book(owner, bookable, old)
    book(owner, bookable, taken)

    response = post(owner, appointment, "reschedule", {"start": taken.isoformat()})

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "slot_unavailable"
    appointment.refresh_from_db()
    assert appointment.start == old
    assert appointment.sequence == 0
    assert list(appointment.events.values_list("action", flat=True)) == ["created"]


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (lambda p: local(p, 3, 14, 7), "off_grid"),
        (lambda p: local(p, -1, 10), "too_soon"),
        (lambda p: local(p, p.booking_horizon_days + 1, 10), "beyond_horizon"),
        (lambda p: local(p, 3, 14).replace(tzinfo=None), "naive"),
    ],
)
def test_reschedule_follows_the_booking_rules(owner, bookable, start, code):
    old = local(bookable.practice, 3, 10)
    appointment = book(owner, bookable, old)

    response = post(
        owner, appointment, "reschedule", {"start": start(bookable.practice).isoformat()}
    )

    assert response.status_code == 400, response.content
    assert [e["code"] for e in response.json()["errors"] if e["field"] == "start"] == [code]
    appointment.refresh_from_db()
    assert appointment.start == old
    assert appointment.sequence == 0


def test_reschedule_to_a_therapist_who_does_not_offer_the_service_is_400(owner, bookable):
    appointment = book(owner, bookable, local(bookable.practice, 3, 10))
    other = owner.user.therapist  # the owner is a therapist too, offering nothing yet

    response = post(
        owner,
        appointment,
        "reschedule",
        {"start": local(bookable.practice, 3, 14).isoformat(), "therapist": other.pk},
    )

    assert response.status_code == 400, response.content
    appointment.refresh_from_db()
    assert appointment.therapist == bookable.therapist


@pytest.mark.parametrize("status", [s for s in Status if s != Status.BOOKED])
def test_only_a_booked_appointment_can_be_rescheduled(owner, bookable, status):
    appointment = appointment_at(bookable, local(bookable.practice, 3, 10), status=status)

    response = post(
        owner, appointment, "reschedule", {"start": local(bookable.practice, 4, 10).isoformat()}
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "invalid_transition"
    appointment.refresh_from_db()
    assert appointment.start == local(bookable.practice, 3, 10)


def test_a_client_reschedules_their_own_outside_the_window(client_member, bookable):
    appointment = appointment_at(
        bookable, local(bookable.practice, 3, 10), client=client_member.user.client
    )
    new = local(bookable.practice, 4, 11)

    response = post(client_member, appointment, "reschedule", {"start": new.isoformat()})

    assert response.status_code == 200, response.content
    appointment.refresh_from_db()
    assert appointment.start == new


# --- history ----------------------------------------------------------------------------------


def test_every_change_is_in_the_history_with_who_when_and_from_to(owner, front_desk, bookable):
    first, second = local(bookable.practice, 3, 10), local(bookable.practice, 4, 10)
    began = timezone.now()
    appointment = book(owner, bookable, first)
    moved = post(front_desk, appointment, "reschedule", {"start": second.isoformat()})
    assert moved.status_code == 200, moved.content
    # A first visit: its intake (issue 17) is recorded as done on paper before check-in.
    on_paper = post(front_desk, appointment, "intake-on-paper", {"reason": "At reception"})
    assert on_paper.status_code == 200, on_paper.content
    assert post(front_desk, appointment, "check-in").status_code == 200
    response = post(owner, appointment, "complete")
    ended = timezone.now()

    history = response.json()["history"]
    assert [(e["action"], e["actor"], e["actor_kind"]) for e in history] == [
        ("created", owner.user.pk, "staff"),
        ("rescheduled", front_desk.user.pk, "staff"),
        ("checked_in", front_desk.user.pk, "staff"),
        ("completed", owner.user.pk, "staff"),
    ]
    moments = [datetime.fromisoformat(e["at"]) for e in history]
    assert moments == sorted(moments)
    assert began <= moments[0]
    assert moments[-1] <= ended
    assert [datetime.fromisoformat(t) for t in history[1]["changes"]["start"]] == [first, second]
    assert history[2]["changes"]["status"] == ["booked", "checked_in"]
    assert history[3]["changes"]["status"] == ["checked_in", "completed"]
    # The same history on a plain read of the appointment.
    assert owner.api.get(f"{URL}{appointment.pk}/").json()["history"] == history


def test_the_sequence_grows_with_each_change(owner, bookable):
    appointment = book(owner, bookable, local(bookable.practice, 3, 10))
    sequences = [owner.api.get(f"{URL}{appointment.pk}/").json()["sequence"]]

    for action, data in [
        ("reschedule", {"start": local(bookable.practice, 4, 10).isoformat()}),
        ("reschedule", {"start": local(bookable.practice, 5, 10).isoformat()}),
        ("cancel", {"reason": "Moved away"}),
    ]:
        response = post(owner, appointment, action, data)
        assert response.status_code == 200, response.content
        sequences.append(response.json()["sequence"])

    assert sequences == sorted(set(sequences))
    assert len(sequences) == 4
    assert AppointmentEvent.objects.filter(appointment=appointment).count() == 4


def test_a_cancellation_records_its_lateness_and_reason(owner, bookable, frozen_now):
    appointment = appointment_at(bookable, frozen_now + timedelta(hours=3))

    response = post(owner, appointment, "cancel", {"reason": "Snow"})

    event = response.json()["history"][-1]
    assert event["action"] == "cancelled"
    assert event["actor"] == owner.user.pk
    assert event["changes"]["status"] == ["booked", "cancelled"]
    assert event["changes"]["late"] is True
