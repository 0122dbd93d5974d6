"""Writes of the clients app: complaints and red flags, clearance, consent, sign-up links."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clients import instruments
from clients.domain import ComplaintStatus
from clients.models import Client, Complaint, Consent, Instrument, Outcome, RedFlagAnswer
from practice.errors import IdentityNotProven, Invalid, InvalidTransition, PreconditionFailed
from practice.models import Practice, User
from practice.webhooks import record_event


def _record_red_flags(*, complaint: Complaint, answers: dict[str, str], by: User | None) -> bool:
    """Keep each answer with time and asker (DOMAIN.md 2a); True when any answer is `yes`.

    Every answer is kept, a repeat included: questions are re-asked at each visit, and a `yes`
    given again after a clearance is new information that reopens the referral.
    """
    now = timezone.now()
    RedFlagAnswer.objects.bulk_create(
        RedFlagAnswer(complaint=complaint, question=q, answer=a, asked_at=now, asked_by=by)
        for q, a in answers.items()
    )
    complaint.red_flags = {**complaint.red_flags, **answers}
    return any(answer == "yes" for answer in answers.values())


@transaction.atomic
def create_complaint(
    *,
    practice: Practice,
    client: Client,
    created_by: User | None,
    red_flags: dict[str, str] | None = None,
    **fields: Any,
) -> Complaint:
    """A complaint, its red-flag answers and its baseline NPRS (API.md "Complaints").

    Any `yes` puts it in `referral_required` (DOMAIN.md 0, rule 2).
    """
    _check_onset(fields.get("onset_date"), practice=practice)
    complaint = Complaint(practice=practice, client=client, created_by=created_by, **fields)
    complaint.save()
    if _record_red_flags(complaint=complaint, answers=red_flags or {}, by=created_by):
        complaint.status = ComplaintStatus.REFERRAL_REQUIRED
    complaint.save(update_fields=["red_flags", "status"])
    Outcome.objects.create(
        practice=practice,
        client=client,
        complaint=complaint,
        instrument=Instrument.NPRS,
        answers={"pain": complaint.pain_now},
        score=complaint.pain_now,
        recorded_at=complaint.created_at,
        recorded_by=created_by,
    )
    return complaint


@transaction.atomic
def update_complaint(
    *,
    complaint: Complaint,
    updated_by: User | None,
    red_flags: dict[str, str] | None = None,
    **fields: Any,
) -> Complaint:
    """Edit intake fields; a red flag answered `yes` reopens referral even after clearance."""
    if "onset_date" in fields:
        _check_onset(fields["onset_date"], practice=complaint.practice)
    for name, value in fields.items():
        setattr(complaint, name, value)
    if red_flags and _record_red_flags(complaint=complaint, answers=red_flags, by=updated_by):
        complaint.status = ComplaintStatus.REFERRAL_REQUIRED
        complaint.cleared_at = None
    complaint.save()
    return complaint


@transaction.atomic
def clear_complaint(*, complaint: Complaint, note: str, cleared_by: User) -> Complaint:
    """A therapist records the referral outcome, lifting `referral_required` (DOMAIN.md 2a)."""
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if locked.status != ComplaintStatus.REFERRAL_REQUIRED:
        raise InvalidTransition("Only a complaint in referral_required can be cleared.")
    locked.status = ComplaintStatus.ACTIVE
    locked.cleared_at = timezone.now()
    locked.cleared_by = cleared_by
    locked.clearance_note = note
    locked.save(
        update_fields=["status", "cleared_at", "cleared_by", "clearance_note", "updated_at"]
    )
    return locked


def _check_onset(onset: date | None, *, practice: Practice) -> None:
    """Not in the future, counted in the practice's days (API.md "Conventions")."""
    if onset is not None and onset > timezone.localdate(timezone=practice.tz):
        raise Invalid.on("onset_date", "The onset date cannot be in the future.")


@transaction.atomic
def withdraw_consent(*, consent: Consent) -> Consent:
    if consent.withdrawn_at is not None:
        raise InvalidTransition("This consent is already withdrawn.")
    consent.withdrawn_at = timezone.now()
    consent.save(update_fields=["withdrawn_at"])
    return consent


def holds_personal_data(client: Client) -> bool:
    """A record a stranger must not get by owning its email alone (issue 13.1): any clinical
    entry, health flags or a date of birth."""
    return bool(client.last_clinical_entry or client.health_flags or client.date_of_birth)


def link_client_on_verification(
    *, user: User, practice: Practice, phone: str = "", date_of_birth: date | None = None
) -> Client:
    """After email verification: link the practice's unlinked client with that email, or create one.

    Runs inside the verifying transaction; the row lock stops two verifications linking one record.
    A record holding personal data is linked only with its date of birth (the second factor the
    client knows); one with clinical data but no date of birth on file only by the practice.
    """
    existing = (
        Client.objects.select_for_update()
        .filter(practice=practice, email__iexact=user.email, user__isnull=True)
        .order_by("id")
        .first()
    )
    if existing is not None:
        if holds_personal_data(existing):
            if existing.date_of_birth is None:
                raise PreconditionFailed(
                    "The practice holds a record for this email: ask them to link it to your"
                    " account."
                )
            if date_of_birth != existing.date_of_birth:
                raise IdentityNotProven.on(
                    "date_of_birth",
                    "Give the date of birth the practice has on file to link your record.",
                    code="identity_not_proven",
                )
        existing.user = user
        existing.save(update_fields=["user", "updated_at"])
        return existing
    client = Client.objects.create(
        practice=practice,
        user=user,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        phone=phone,
    )
    announce_client(client)
    return client


@transaction.atomic
def record_outcome(
    *,
    practice: Practice,
    client: Client,
    complaint: Complaint,
    instrument: str,
    answers: Any,
    recorded_by: User | None,
    context: str = "now",
    recorded_at: datetime | None = None,
) -> Outcome:
    """Score raw answers on the server (DOMAIN.md 3); out-of-range answers are a 400, never clipped.

    ODI only where the practice holds the licence; PSFS re-rates the baseline's activities.
    """
    if complaint.client_id != client.pk:
        raise Invalid.on("complaint", "This complaint belongs to another client.")
    if instrument == Instrument.ODI and not practice.odi_licensed:
        raise Invalid.on(
            "instrument", "ODI needs a licence: set odi_licensed on the practice.", "not_licensed"
        )
    try:
        result = instruments.score(instrument, answers)
    except instruments.AnswerError as error:
        raise Invalid.on(f"answers.{error.field}", error.detail) from None
    if instrument == Instrument.PSFS:
        baseline = (
            Outcome.objects.filter(complaint=complaint, instrument=Instrument.PSFS)
            .order_by("recorded_at", "id")
            .first()
        )
        if baseline is not None:
            expected = sorted(
                a.strip().lower() for a in instruments.psfs_activities(baseline.answers)
            )
            given = sorted(a.strip().lower() for a in instruments.psfs_activities(answers))
            if given != expected:
                raise Invalid.on(
                    "answers.activities",
                    "Re-rate the same activities as the baseline: "
                    + ", ".join(instruments.psfs_activities(baseline.answers)),
                )
    return Outcome.objects.create(
        practice=practice,
        client=client,
        complaint=complaint,
        instrument=instrument,
        answers=answers,
        score=result.score,
        score_percent=result.percent,
        context=context,
        recorded_at=recorded_at or timezone.now(),
        recorded_by=recorded_by,
    )


def follow_account_email(*, user: User, previous: str) -> None:
    """A proven email change (issue 13.2) moves the linked client record's email with it."""
    Client.objects.filter(user=user).update(email=user.email, updated_at=timezone.now())


def announce_client(client: Client) -> None:
    """`client.created` for integrations: contact details only, never clinical content."""
    record_event(
        practice=client.practice_id,
        type="client.created",
        data={
            "id": client.pk,
            "first_name": client.first_name,
            "last_name": client.last_name,
            "email": client.email,
            "phone": client.phone,
        },
    )
