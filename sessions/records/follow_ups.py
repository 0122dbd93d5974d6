"""Follow-up answers (API.md "Reminders and follow-ups", DOMAIN.md 6): the client's answer to a
follow-up message of the reminders outbox, its NPRS outcome, screening and alerts."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from clients.domain import RED_FLAG_QUESTIONS, ComplaintStatus, screen_text
from clients.models import Complaint, Instrument, Outcome, OutcomeSource
from clients.services import record_outcome, screen_follow_up
from practice.errors import InvalidTransition, NotFound
from sessions.records import alerts
from sessions.records.models import AlertKind, FollowUpAnswer, Note
from sessions.scheduling.models import Reminder, ReminderKind
from sessions.scheduling.reminders import follow_up_for_token, follow_up_is_open


@transaction.atomic
def answer_follow_up(
    *, token: str, pain: int, comment: str = "", red_flags: dict[str, bool] | None = None
) -> FollowUpAnswer:
    """Store the client's answer once (a second is 409): pain as an NPRS outcome, the comment
    and the red-flag checkboxes kept with it (DOMAIN.md 6). Any ticked box, or a symptom the
    comment names, is a positive screening answer of the complaint (referral, alert); pain at
    or above `alert_follow_up_pain`, or `alert_pain_rise` above pain before the session (or,
    without one, above the last pain recorded), alerts the therapist."""
    found = follow_up_for_token(token)
    if found is None or found.appointment is None or not follow_up_is_open(found):
        raise NotFound("This link is invalid or has expired.")
    reminder = Reminder.objects.select_for_update().get(pk=found.pk)
    if reminder.answered_at is not None:
        raise InvalidTransition("This question has already been answered.")
    now = timezone.now()
    # All follow-up rows of the visit (one per channel) share the one answer.
    Reminder.objects.filter(appointment=found.appointment, kind=ReminderKind.FOLLOW_UP).update(
        answered_at=now
    )
    appointment = found.appointment
    practice = found.practice
    note = Note.objects.filter(appointment=appointment).first()
    complaint = _follow_up_complaint(found, note)
    ticked = [q for q in RED_FLAG_QUESTIONS if (red_flags or {}).get(q)]
    suggested = [q for q in screen_text(comment) if q not in ticked]
    previous = _pain_to_compare(note, complaint)
    outcome = None
    if complaint is not None:
        outcome = record_outcome(
            practice=practice,
            client=found.client,
            complaint=complaint,
            instrument=Instrument.NPRS,
            answers={"pain": pain},
            recorded_by=None,
            source=OutcomeSource.FOLLOW_UP,
            measured_at=now,
        )
    answer = FollowUpAnswer.objects.create(
        practice=practice,
        client=found.client,
        appointment=appointment,
        complaint=complaint,
        pain=pain,
        comment=comment,
        red_flags=ticked,
        text_red_flags=suggested,
        outcome=outcome,
        answered_at=now,
    )
    _screen_follow_up_answer(answer, ticked=ticked, suggested=suggested)
    _alert_on_follow_up_pain(answer, previous=previous)
    return answer


def _follow_up_complaint(reminder: Reminder, note: Note | None) -> Complaint | None:
    """The complaint a follow-up answer belongs to: the visit's note's, its plan's, else the
    client's latest active one."""
    plan = getattr(reminder.appointment, "plan", None)
    return (
        (note.complaint if note and note.complaint_id else None)
        or (plan.complaint if plan and plan.complaint_id else None)
        or Complaint.objects.filter(client=reminder.client, status=ComplaintStatus.ACTIVE)
        .order_by("-created_at")
        .first()
    )


def _pain_to_compare(note: Note | None, complaint: Complaint | None) -> int | None:
    """The pain a follow-up is compared with: before that session, else the last recorded."""
    previous = note.pain_before if note is not None else None
    if previous is None and complaint is not None:
        last = (
            Outcome.objects.filter(
                complaint=complaint,
                instrument=Instrument.NPRS,
                context="now",
                superseded_at__isnull=True,
            )
            .order_by("-measured_at", "-id")
            .first()
        )
        previous = int(last.score) if last is not None else None
    return previous


def _screen_follow_up_answer(
    answer: FollowUpAnswer, *, ticked: list[str], suggested: list[str]
) -> None:
    """Ticked boxes and symptoms the comment names are positive screening answers of the
    complaint (referral, alert); without a complaint the therapist is alerted at once."""
    appointment = answer.appointment
    positive = {**dict.fromkeys(ticked, "follow_up"), **dict.fromkeys(suggested, "follow_up_text")}
    if answer.complaint is not None:
        for source in ("follow_up", "follow_up_text"):
            questions = {q: "yes" for q, s in positive.items() if s == source}
            if questions:
                screen_follow_up(
                    complaint=answer.complaint,
                    answers=questions,
                    source=source,
                    appointment_id=appointment.pk,
                )
    elif positive:  # nothing to refer: the therapist still hears at once
        alerts.raise_alert(
            practice=answer.practice,
            client=answer.client,
            kind=AlertKind.RED_FLAG,
            therapist=appointment.therapist,
            appointment=appointment,
            follow_up_answer=answer,
            questions=list(positive),
            message=f"Follow-up reports red-flag symptoms: {', '.join(positive)}.",
        )


def _alert_on_follow_up_pain(answer: FollowUpAnswer, *, previous: int | None) -> None:
    """Pain at or above `alert_follow_up_pain`, or `alert_pain_rise` above `previous`."""
    practice, pain = answer.practice, answer.pain
    reasons = []
    if pain >= practice.alert_follow_up_pain:
        reasons.append(f"Follow-up pain {pain}/10.")
    if previous is not None and pain >= previous + practice.alert_pain_rise:
        reasons.append(f"Follow-up pain {pain}/10 is {pain - previous} above {previous}/10.")
    if reasons:
        alerts.raise_alert(
            practice=practice,
            client=answer.client,
            kind=AlertKind.FOLLOW_UP_PAIN,
            therapist=answer.appointment.therapist,
            appointment=answer.appointment,
            complaint=answer.complaint,
            follow_up_answer=answer,
            message=" ".join(reasons),
        )
