"""Writes of the clients app: complaints and red flags, clearance, consent, medical clearances,
sign-up links."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from clients import instruments
from clients.domain import (
    TRAUMA_MECHANISMS,
    ComplaintStatus,
    age_red_flags,
    referral_urgency,
)
from clients.events import clinical_records_written, outcome_recorded, screening_recorded
from clients.models import (
    Client,
    Complaint,
    ComplaintClearance,
    Consent,
    Instrument,
    MedicalClearance,
    Outcome,
    OutcomeSource,
    RedFlagAnswer,
)
from practice.errors import IdentityNotProven, Invalid, InvalidTransition, PreconditionFailed
from practice.models import Practice, User
from practice.vocabulary import CLEARANCE_FLAGS
from practice.webhooks import record_event

RED_FLAG_OPEN = "red_flag_open"  # DOMAIN.md 2b: the health flag an open referral keeps set
CLEARANCE_MAX_DAYS = 366  # a clearance lasts at most a year (a leap year's day included)


def _record_red_flags(
    *, complaint: Complaint, answers: dict[str, str], by: User | None, source: str = "staff"
) -> None:
    """Keep each answer with time, asker and source (DOMAIN.md 2a); the latest per question on
    the complaint.

    Every answer is kept, a repeat included: questions are re-asked at each visit, and a `yes`
    given again after a clearance is new information that reopens the referral.
    """
    now = timezone.now()
    RedFlagAnswer.objects.bulk_create(
        RedFlagAnswer(
            complaint=complaint, question=q, answer=a, asked_at=now, asked_by=by, source=source
        )
        for q, a in answers.items()
    )


def _check_trauma_question(mechanism: str, answers: dict[str, str]) -> None:
    """DOMAIN.md 1: a fall or vehicle mechanism asks the trauma question; 400 until answered.
    `answers` are the complaint's answers as they will be after the write."""
    if mechanism in TRAUMA_MECHANISMS and "major_trauma" not in answers:
        raise Invalid.on(
            "red_flags.major_trauma",
            f"A {mechanism.replace('_', ' ')} mechanism needs the major_trauma question "
            "answered (yes, no or unsure).",
            "required",
        )


def _screen(
    *,
    complaint: Complaint,
    answers: dict[str, str],
    by: User | None,
    source: str = "staff",
    appointment_id: int | None = None,
) -> None:
    """The red-flag rules on one write, whatever its path (DOMAIN.md 0 rule 2, 2a; API.md
    "Complaints"): answers kept; any new `yes` (or newly computed age flag) puts the complaint in
    `referral_required` with its urgency, reopening a cleared referral; `unsure` asks for a
    review; sessions raises the alerts (`screening_recorded`). The complaint is saved here once
    it is assessed (a new one: a single insert), before its answers and alerts that point at it;
    the caller then calls `sync_red_flag_open`."""
    # A `yes` already standing on an open referral is a repeat, not news: no second alert.
    standing = (
        {q for q, a in complaint.red_flags.items() if a == "yes"}
        if complaint.status == ComplaintStatus.REFERRAL_REQUIRED
        else set()
    )
    complaint.red_flags = {**complaint.red_flags, **answers}
    before = set(complaint.age_red_flags or [])
    complaint.age_red_flags = age_red_flags(
        complaint.client.date_of_birth, complaint.onset_date, complaint.episode
    )
    positive = [q for q, a in answers.items() if a == "yes"]
    positive += [flag for flag in complaint.age_red_flags if flag not in before]
    unsure = [q for q, a in answers.items() if a == "unsure"]
    if positive:
        complaint.status = ComplaintStatus.REFERRAL_REQUIRED
        complaint.resolved_at = None
        # A new referral: the last clearance is history (ComplaintClearance), not current.
        complaint.cleared_at = None
        complaint.cleared_by = None
        complaint.clearance_note = ""
    if complaint.status == ComplaintStatus.REFERRAL_REQUIRED:
        current = [q for q, a in complaint.red_flags.items() if a == "yes"]
        complaint.referral_urgency = referral_urgency([*current, *complaint.age_red_flags])
    news = [q for q in positive if q not in standing]
    complaint.save()
    _record_red_flags(complaint=complaint, answers=answers, by=by, source=source)
    if news or unsure:
        screening_recorded.send(
            sender=Complaint,
            complaint=complaint,
            positive=news,
            unsure=unsure,
            by=by,
            appointment_id=appointment_id,
        )


def sync_red_flag_open(*, client_id: int, locked: Client | None = None) -> None:
    """DOMAIN.md 2b: the client's `red_flag_open` health flag is set while any of their complaints
    is `referral_required` and removed when none is. Called by every write that can change a
    complaint's status, and after a client's own edit (the flag is not typed in). `locked` is the
    client as this transaction holds its row locked and last wrote it (no re-read); it is kept up
    to date in place."""
    client = locked if locked is not None else Client.objects.select_for_update().get(pk=client_id)
    is_open = Complaint.objects.filter(
        client_id=client_id, status=ComplaintStatus.REFERRAL_REQUIRED
    ).exists()
    flags = [f for f in client.health_flags if f != RED_FLAG_OPEN]
    if is_open:
        flags.append(RED_FLAG_OPEN)
    if flags != client.health_flags:
        client.health_flags = flags
        client.save(update_fields=["health_flags", "updated_at"])


@transaction.atomic
def create_complaint(
    *,
    practice: Practice,
    client: Client,
    created_by: User | None,
    red_flags: dict[str, str] | None = None,
    source: str = "staff",
    appointment_id: int | None = None,
    client_locked: bool = False,
    **fields: Any,
) -> Complaint:
    """A complaint, its red-flag answers and its baseline NPRS (API.md "Complaints").

    Any `yes` puts it in `referral_required` (DOMAIN.md 0, rule 2). `source` names where the
    answers came from (staff, or the client's own `intake`); `appointment_id` is the visit whose
    therapist the screening alerts (issue 17: the intake of a first visit). `client_locked`: the
    caller holds the client's row locked and `client` is current (the intake submission), so the
    `red_flag_open` sync does not read it again.
    """
    _check_onset(fields.get("onset_date"), practice=practice)
    complaint = Complaint(practice=practice, client=client, created_by=created_by, **fields)
    _check_trauma_question(complaint.mechanism, red_flags or {})
    _screen(
        complaint=complaint,
        answers=red_flags or {},
        by=created_by,
        source=source,
        appointment_id=appointment_id,
    )
    Outcome.objects.create(
        practice=practice,
        client=client,
        complaint=complaint,
        instrument=Instrument.NPRS,
        answers={"pain": complaint.pain_now},
        score=complaint.pain_now,
        source=OutcomeSource.INTAKE,
        measured_at=complaint.created_at,
        recorded_at=complaint.created_at,
        recorded_by=created_by,
    )
    sync_red_flag_open(client_id=client.pk, locked=client if client_locked else None)
    return complaint


@transaction.atomic
def update_complaint(
    *,
    complaint: Complaint,
    updated_by: User | None,
    red_flags: dict[str, str] | None = None,
    **fields: Any,
) -> Complaint:
    """Edit intake fields; a red flag answered `yes` reopens referral even after clearance;
    a changed `pain_now` corrects the baseline it recorded (DOMAIN.md 3, 4)."""
    if "onset_date" in fields:
        _check_onset(fields["onset_date"], practice=complaint.practice)
    complaint = Complaint.objects.select_for_update().select_related("client").get(pk=complaint.pk)
    old_pain = complaint.pain_now
    for name, value in fields.items():
        setattr(complaint, name, value)
    _check_trauma_question(complaint.mechanism, {**complaint.red_flags, **(red_flags or {})})
    _screen(complaint=complaint, answers=red_flags or {}, by=updated_by)
    if complaint.pain_now != old_pain:
        _correct_baseline(complaint=complaint, by=updated_by)
    sync_red_flag_open(client_id=complaint.client_id)
    return complaint


def _correct_baseline(*, complaint: Complaint, by: User | None) -> None:
    """The intake's NPRS follows `pain_now` as a correction: the old score stays, superseded."""
    now = timezone.now()
    old = (
        Outcome.objects.select_for_update()
        .filter(
            complaint=complaint,
            instrument=Instrument.NPRS,
            source=OutcomeSource.INTAKE,
            superseded_at__isnull=True,
        )
        .first()
    )
    Outcome.objects.create(
        practice_id=complaint.practice_id,
        client_id=complaint.client_id,
        complaint=complaint,
        instrument=Instrument.NPRS,
        answers={"pain": complaint.pain_now},
        score=complaint.pain_now,
        source=OutcomeSource.INTAKE,
        measured_at=old.measured_at if old else complaint.created_at,
        recorded_at=now,
        recorded_by=by,
        corrects=old,
    )
    if old is not None:
        old.superseded_at = now
        old.save(update_fields=["superseded_at"])


@transaction.atomic
def clear_complaint(*, complaint: Complaint, note: str, cleared_by: User) -> Complaint:
    """A therapist records the referral outcome, lifting `referral_required` (DOMAIN.md 2a);
    every clearance is kept as history."""
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
    ComplaintClearance.objects.create(
        complaint=locked,
        note=note,
        referral_urgency=locked.referral_urgency,
        cleared_by=cleared_by,
        cleared_at=locked.cleared_at,
    )
    sync_red_flag_open(client_id=locked.client_id)
    return locked


@transaction.atomic
def resolve_complaint(*, complaint: Complaint) -> Complaint:
    """`active` -> `resolved`. An open referral is cleared first: resolving must not hide it."""
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if locked.status != ComplaintStatus.ACTIVE:
        raise InvalidTransition(
            "Only an active complaint can be resolved (clear a referral first)."
        )
    locked.status = ComplaintStatus.RESOLVED
    locked.resolved_at = timezone.now()
    locked.save(update_fields=["status", "resolved_at", "updated_at"])
    sync_red_flag_open(client_id=locked.client_id)
    return locked


@transaction.atomic
def reopen_complaint(*, complaint: Complaint) -> Complaint:
    """`resolved` -> `active` (a recurrence); screening answers given later still apply."""
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if locked.status != ComplaintStatus.RESOLVED:
        raise InvalidTransition("Only a resolved complaint can be reopened.")
    locked.status = ComplaintStatus.ACTIVE
    locked.resolved_at = None
    locked.save(update_fields=["status", "resolved_at", "updated_at"])
    sync_red_flag_open(client_id=locked.client_id)
    return locked


@transaction.atomic
def screen_follow_up(
    *, complaint: Complaint, answers: dict[str, str], source: str, appointment_id: int | None
) -> Complaint:
    """A client's follow-up answer reports red-flag symptoms (DOMAIN.md 6): the same rules as a
    therapist's screening, asked by nobody."""
    locked = Complaint.objects.select_for_update().select_related("client").get(pk=complaint.pk)
    _screen(
        complaint=locked, answers=answers, by=None, source=source, appointment_id=appointment_id
    )
    sync_red_flag_open(client_id=locked.client_id)
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


def record_outcome(
    *,
    practice: Practice,
    client: Client,
    complaint: Complaint,
    instrument: str,
    answers: Any,
    recorded_by: User | None,
    context: str = "now",
    measured_at: datetime | None = None,
    source: str = OutcomeSource.RECORDED,
) -> Outcome:
    """One scored outcome: `record_outcomes` with one instrument."""
    (outcome,) = record_outcomes(
        practice=practice,
        client=client,
        complaint=complaint,
        measures={instrument: answers},
        recorded_by=recorded_by,
        context=context,
        measured_at=measured_at,
        source=source,
    )
    return outcome


@transaction.atomic
def record_outcomes(
    *,
    practice: Practice,
    client: Client,
    complaint: Complaint,
    measures: dict[str, Any],
    recorded_by: User | None,
    context: str = "now",
    measured_at: datetime | None = None,
    source: str = OutcomeSource.RECORDED,
) -> list[Outcome]:
    """Score raw answers on the server (DOMAIN.md 3); out-of-range answers are a 400, never clipped.

    `measures` maps each instrument to its raw answers, all taken at one time (an intake's
    baseline: one insert). ODI only where the practice holds the licence; PSFS re-rates the
    baseline's activities. `measured_at` is the time the scores describe (default now).
    """
    now = timezone.now()
    if complaint.client_id != client.pk:
        raise Invalid.on("complaint", "This complaint belongs to another client.")
    scored = [
        (name, answers, _scored(practice, complaint, name, answers))
        for name, answers in measures.items()
    ]
    outcomes = Outcome.objects.bulk_create(
        Outcome(
            practice=practice,
            client=client,
            complaint=complaint,
            instrument=instrument,
            answers=answers,
            score=result.score,
            score_percent=result.percent,
            context=context,
            source=source,
            measured_at=measured_at or now,
            recorded_at=now,
            recorded_by=recorded_by,
        )
        for instrument, answers, result in scored
    )
    clinical_records_written.send(sender=Outcome, practice=practice, client_ids=[client.pk])
    outcome_recorded.send(sender=Outcome, outcomes=outcomes)
    return outcomes


def _scored(
    practice: Practice, complaint: Complaint, instrument: str, answers: Any
) -> instruments.Score:
    if instrument == Instrument.ODI and not practice.odi_licensed:
        raise Invalid.on(
            "instrument", "ODI needs a licence: set odi_licensed on the practice.", "not_licensed"
        )
    try:
        result = instruments.score(instrument, answers)
    except instruments.AnswerError as error:
        raise Invalid.on(f"answers.{error.field}", error.detail) from None
    if instrument == Instrument.PSFS:
        _check_psfs_activities(complaint, answers)
    return result


def _check_psfs_activities(complaint: Complaint, answers: Any) -> None:
    """A PSFS follow-up re-rates the baseline's activities (same names, any order or case)."""
    baseline = (
        Outcome.objects.filter(
            complaint=complaint, instrument=Instrument.PSFS, superseded_at__isnull=True
        )
        .order_by("measured_at", "id")
        .first()
    )
    if baseline is None:
        return
    expected = sorted(a.strip().lower() for a in instruments.psfs_activities(baseline.answers))
    given = sorted(a.strip().lower() for a in instruments.psfs_activities(answers))
    if given != expected:
        raise Invalid.on(
            "answers.activities",
            "Re-rate the same activities as the baseline: "
            + ", ".join(instruments.psfs_activities(baseline.answers)),
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


@transaction.atomic
def record_medical_clearance(
    *,
    practice: Practice,
    client: Client,
    recorded_by: User,
    flag: str,
    cleared_on: date,
    expires_on: date,
    **fields: Any,
) -> MedicalClearance:
    """A medical clearance for a "clearance first" flag (DOMAIN.md 2b): who gave it, when, on which
    document or note, until when. Plans for the client read it while it is current."""
    if client.restricted_at is not None:  # kept after an erasure request (DOMAIN.md 8)
        raise PreconditionFailed("This client's record is restricted: it cannot be changed.")
    if flag not in CLEARANCE_FLAGS:
        raise Invalid.on("flag", f"Clearances are for {', '.join(CLEARANCE_FLAGS)}.")
    if flag not in client.health_flags:
        raise Invalid.on(
            "flag", f"This client has no {flag} health flag: record the flag before its clearance."
        )
    today = timezone.localdate(timezone=practice.tz)
    if cleared_on > today:
        raise Invalid.on("cleared_on", "A clearance cannot be given in the future.")
    if expires_on < cleared_on:
        raise Invalid.on("expires_on", "A clearance expires on or after the day it is given.")
    if expires_on > cleared_on + timedelta(days=CLEARANCE_MAX_DAYS):
        raise Invalid.on(
            "expires_on", "A clearance lasts at most a year: ask for a new one after that."
        )
    if not (fields.get("document") or fields.get("note")):
        raise Invalid.on(
            "document", "Name the clearance document or write a note of it.", "required"
        )
    return MedicalClearance.objects.create(
        practice=practice,
        client=client,
        recorded_by=recorded_by,
        flag=flag,
        cleared_on=cleared_on,
        expires_on=expires_on,
        **fields,
    )


# --- client records and consent (the writes of clients/api/views.py) -----------------------------


@transaction.atomic
def create_client(*, practice: Practice, fields: dict[str, Any]) -> Client:
    """A client record made by staff; `red_flag_open` follows the complaints, not what was sent
    (DOMAIN.md 2b), and integrations hear `client.created`."""
    client = Client.objects.create(practice=practice, **fields)
    sync_red_flag_open(client_id=client.pk)
    client.refresh_from_db()
    announce_client(client)
    return client


@transaction.atomic
def update_client(
    *, client: Client, fields: dict[str, Any], by: User | None
) -> tuple[Client, list[MedicalClearance]]:
    """An edit cannot drop `red_flag_open` while a referral is open, nor invent one (DOMAIN.md
    2b): it follows the client's complaints, not what an edit of health_flags sends. A clearance
    flag added again (a new clot) revokes the old clearances of that flag (returned, to audit)."""
    flags_before = list(client.health_flags)
    for field, value in fields.items():
        setattr(client, field, value)
    client.save()
    # The save wrote every field and holds the row's lock: the instance is the row, no re-read.
    sync_red_flag_open(client_id=client.pk, locked=client)
    revoked = revoke_clearances_for_new_flags(client=client, flags_before=flags_before, by=by)
    return client, revoked


def record_consent(
    *, practice: Practice, witnessed_by: User | None, fields: dict[str, Any]
) -> Consent:
    """A consent record (DOMAIN.md 4), witnessed by the clinician who enters it (none for one the
    client signed themselves through the intake, issue 17)."""
    (consent,) = record_consents(practice=practice, witnessed_by=witnessed_by, rows=[fields])
    return consent


def record_consents(
    *, practice: Practice, witnessed_by: User | None, rows: list[dict[str, Any]]
) -> list[Consent]:
    """Consent records signed together (an intake's documents) in one insert; the retention
    clock moves as for any clinical record (`clinical_records_written`)."""
    consents = Consent.objects.bulk_create(
        Consent(practice=practice, witnessed_by=witnessed_by, **fields) for fields in rows
    )
    clinical_records_written.send(
        sender=Consent, practice=practice, client_ids=[c.client_id for c in consents]
    )
    return consents


@transaction.atomic
def revoke_medical_clearance(
    *, clearance: MedicalClearance, by: User | None, reason: str
) -> MedicalClearance:
    """A clinician withdraws a clearance (e.g. the clinician's letter is withdrawn): kept as
    history, no longer current for any plan or delivery."""
    locked = MedicalClearance.objects.select_for_update().get(pk=clearance.pk)
    if locked.revoked_at is not None:
        raise InvalidTransition("This clearance is already revoked.")
    locked.revoked_at = timezone.now()
    locked.revoked_by = by
    locked.revocation_reason = reason
    locked.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
    return locked


def revoke_clearances_for_new_flags(
    *, client: Client, flags_before: list[str], by: User | None
) -> list[MedicalClearance]:
    """A clearance flag newly added to a client (a new clot, a new pregnancy) is a new condition:
    the clearances given for the old one stop being current. Called wherever health flags change.
    No clearance flag added: nothing to do, not even a savepoint."""
    added = [f for f in client.health_flags if f in CLEARANCE_FLAGS and f not in flags_before]
    if not added:
        return []
    with transaction.atomic():
        revoked = list(
            MedicalClearance.objects.select_for_update().filter(
                client=client, flag__in=added, revoked_at__isnull=True
            )
        )
        now = timezone.now()
        for clearance in revoked:
            clearance.revoked_at = now
            clearance.revoked_by = by
            clearance.revocation_reason = "The flag was recorded again: a new clearance is needed."
        MedicalClearance.objects.bulk_update(
            revoked, ["revoked_at", "revoked_by", "revocation_reason"]
        )
    return revoked
