"""Services of the clinical record: session plans checked against contraindications, SOAP notes
that lock when signed, and amendments kept beside the original (API.md "Clinical records")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from clients.domain import ComplaintStatus
from clients.models import Client, Complaint, ConsentKind, Instrument, Outcome, OutcomeSource
from clients.selectors import current_clearance_flags, has_open_red_flag
from clients.services import record_outcome
from practice.audit import audit
from practice.errors import Invalid, NoteLocked, PermissionDenied, PreconditionFailed
from practice.models import AuditAction, Practice, User
from sessions.records.course_selectors import course_plan_start
from sessions.records.models import Amendment, Note, PlanItem, SessionPlan, delivered_entry
from sessions.scheduling.models import Appointment, Status
from techniques import rules
from techniques.models import Technique

SENSITIVE_REGIONS = {"gluteal"}


def _cells(techniques: list[Technique]) -> dict[int, list[rules.Cell]]:
    return {
        technique.pk: [
            rules.Cell(row.flag, row.rule, row.max_pressure)
            for row in technique.contraindications.all()
        ]
        for technique in techniques
    }


@dataclass(frozen=True)
class ClientSafety:
    """What a client's plan items are checked against, read once per request (DOMAIN.md 2b)."""

    flags: list[str]
    flag_regions: dict[str, list[str]]
    cleared_flags: set[str]


def session_day(appointment: Appointment | None, practice: Practice) -> date:
    """The day a plan or delivery is for, in the practice's days: its appointment's (a clearance
    must hold on the session's day, not on the day the plan is written); today without one."""
    if appointment is None:
        return timezone.localdate(timezone=practice.tz)
    return timezone.localdate(appointment.start, timezone=practice.tz)


def client_safety(client: Client, practice: Practice, on: date) -> ClientSafety:
    """The client's flags and the clearances current on day `on` (the session's); 409
    `precondition_failed` while any complaint of theirs is in `referral_required` (DOMAIN.md 0
    rule 2: no plan, no delivery until cleared), whichever complaint the plan names and however
    old the plan is."""
    if has_open_red_flag(client):
        raise PreconditionFailed(
            "This client has a complaint in referral_required: no treatment is planned or "
            "delivered until a therapist records the referral outcome (complaints/{id}/clear/)."
        )
    return ClientSafety(
        flags=list(client.health_flags),
        flag_regions=dict(client.health_flag_regions),
        cleared_flags=current_clearance_flags(client, on),
    )


def _check_items(
    *,
    client: Client | None,
    items: list[dict],
    practice: Practice,
    safety: ClientSafety | None,
    field: str = "items",
    kept: bool = False,
) -> list[dict]:
    """Clearances, whole-body flags, the contraindication matrix (techniques.rules; DOMAIN.md 2b,
    2c) and sensitive-area consent (DOMAIN.md 4) per item.

    A refusal is a 400 naming technique, flag and rule, unless the item has `override_reason`;
    an override is kept on the item (what it overrode) for the audit trail.

    `kept` re-checks stored items (a PATCH without items, a delivery): see `_unanswered`.
    """
    if client is None:  # a template has no client to check against
        return [dict(item, overridden=[]) for item in items]
    if safety is None:  # a client's items are never checked without their flags
        raise ValueError("client_safety(...) is read before a client's items are checked")
    techniques = list(
        Technique.objects.filter(pk__in={item["technique"].pk for item in items}).prefetch_related(
            "contraindications"
        )
    )
    cells = _cells(techniques)
    usual = {technique.pk: technique.usual_pressure_max for technique in techniques}
    has_sensitive_consent = None
    errors, checked = [], []
    for index, item in enumerate(items):
        technique = item["technique"]
        violations = rules.check_item(
            technique=technique.code,
            cells=cells.get(technique.pk, []),
            client_flags=safety.flags,
            flag_regions=safety.flag_regions,
            region=item["region"],
            pressure=item.get("pressure"),
            usual_pressure=usual.get(technique.pk),
            cleared_flags=safety.cleared_flags,
        )
        errors += _refusals(_unanswered(violations, item, kept=kept), f"{field}.{index}.technique")
        if item["region"] in SENSITIVE_REGIONS and practice.sensitive_area_consent_required:
            if has_sensitive_consent is None:  # a client has few consents: check in Python
                has_sensitive_consent = _has_sensitive_consent(client, item["region"])
            if not has_sensitive_consent:
                errors.append(_consent_required(item["region"], f"{field}.{index}.region"))
        checked.append(
            dict(item, overridden=[{"flag": v.flag, "rule": v.rule} for v in violations])
        )
    if errors:
        raise Invalid(
            errors[0]["detail"]
            if len(errors) == 1
            else "Some items are contraindicated for this client. " + rules.OVERRIDE_HINT,
            errors=errors,
        )
    return checked


def _unanswered(
    violations: list[rules.Violation], item: dict, *, kept: bool
) -> list[rules.Violation]:
    """What an item's override does not answer. A fresh `override_reason` answers all; a stored
    item's reason only the (flag, rule) pairs it was given for (`overridden`), so a flag or a
    lapsed clearance recorded since needs a fresh, audited override on a new plan write."""
    if kept:
        covered = {(o["flag"], o["rule"]) for o in item.get("overridden", [])}
        return [v for v in violations if (v.flag, v.rule) not in covered]
    return [] if item.get("override_reason") else violations


def _refusals(violations: list[rules.Violation], where: str) -> list[dict[str, str]]:
    return [
        {
            "field": where,
            "code": f"contraindicated_{v.rule}",
            "detail": f"{v.detail} {rules.OVERRIDE_HINT}",
        }
        for v in violations
    ]


def _has_sensitive_consent(client: Client, region: str) -> bool:
    return any(
        region in consent.areas
        for consent in client.consents.filter(
            kind=ConsentKind.SENSITIVE_AREA, withdrawn_at__isnull=True
        )
    )


def _consent_required(region: str, where: str) -> dict[str, str]:
    return {
        "field": where,
        "code": "consent_required",
        "detail": f"Work on the {region} region needs an active sensitive-area consent.",
    }


def _as_item(item: PlanItem) -> dict:
    return {
        "technique": item.technique,
        "region": item.region,
        "side": item.side,
        "minutes": item.minutes,
        "pressure": item.pressure,
        "notes": item.notes,
        "override_reason": item.override_reason,
        "overridden": item.overridden,
    }


def _write_items(plan: SessionPlan, items: list[dict]) -> None:
    plan.items.all().delete()
    PlanItem.objects.bulk_create(
        PlanItem(
            plan=plan,
            position=position,
            technique=item["technique"],
            region=item["region"],
            side=item.get("side", ""),
            minutes=item["minutes"],
            pressure=item.get("pressure"),
            notes=item.get("notes", ""),
            override_reason=item.get("override_reason", ""),
            overridden=item["overridden"],
        )
        for position, item in enumerate(items)
    )


@transaction.atomic
def save_plan(
    *,
    practice: Practice,
    by: User,
    ip: str | None,
    plan: SessionPlan | None = None,
    appointment: Appointment | None = None,
    complaint: Complaint | None = None,
    name: str = "",
    items: list[dict] | None = None,
    template: SessionPlan | None = None,
    **fields: Any,
) -> SessionPlan:
    """Create or replace a plan (API.md "Session plans"); all items are checked, all or nothing."""
    if plan is not None and appointment is not None and appointment.pk != plan.appointment_id:
        # Moving the plan would skip the checks of its items against the other client/length.
        raise Invalid.on("appointment", "A plan stays with its appointment; start a new plan.")
    appointment = appointment if appointment is not None else getattr(plan, "appointment", None)
    complaint = complaint if complaint is not None else getattr(plan, "complaint", None)
    client = appointment.client if appointment is not None else None
    # Every write to a client's plan (create, PATCH with or without items, a template applied)
    # is refused while a red flag is open (DOMAIN.md 0 rule 2), whichever complaint it names.
    safety = (
        client_safety(client, practice, session_day(appointment, practice))
        if client is not None
        else None
    )
    template, complaint = course_plan_start(plan, appointment, items, template, complaint)
    _check_plan_target(plan, appointment=appointment, complaint=complaint, client=client, name=name)
    if items is None and template is not None:
        items = _from_template(template, fields)
    if appointment is not None and items is not None:
        _check_length(appointment, items)
    checked = (
        _check_items(client=client, items=items, practice=practice, safety=safety)
        if items
        else items
    )
    if items is None and plan is not None and client is not None:
        # A PATCH without items keeps them: they still meet today's flags and clearances, or
        # carry their override (a flag recorded since the plan was made is not skipped).
        kept = [_as_item(i) for i in plan.items.select_related("technique")]
        if kept:
            _check_items(client=client, items=kept, practice=practice, safety=safety, kept=True)
    if plan is not None and checked is not None:
        _check_items_replaceable(plan)
    if plan is None:
        plan = _new_plan(practice=practice, by=by, appointment=appointment)
    plan.appointment = appointment
    plan.client = client
    plan.complaint = complaint
    plan.name = name or plan.name
    for field_name, value in fields.items():
        setattr(plan, field_name, value)
    plan.save()
    if checked is not None:
        _write_items(plan, checked)
        if any(item["overridden"] for item in checked):
            _audit_overrides(plan, practice=practice, by=by, client=client, ip=ip)
    return plan


def _from_template(template: SessionPlan, fields: dict[str, Any]) -> list[dict]:
    """A template's items (and its goals and home care, where not given) for a new plan."""
    fields.setdefault("goals", template.goals)
    fields.setdefault("home_care", template.home_care)
    # A template's overrides were for no one: each item is checked for this client afresh.
    return [
        dict(_as_item(i), override_reason="") for i in template.items.select_related("technique")
    ]


def _check_items_replaceable(plan: SessionPlan) -> None:
    if Note.objects.filter(delivered_items__plan=plan).exists():
        # Replacing the items would silently drop them from the notes that record them delivered.
        raise PreconditionFailed(
            "Items of this plan are recorded as delivered in a note; they can no longer be "
            "replaced."
        )


def _new_plan(*, practice: Practice, by: User, appointment: Appointment | None) -> SessionPlan:
    if appointment is not None and SessionPlan.objects.filter(appointment=appointment).exists():
        raise Invalid.on(
            "appointment", "This appointment already has a plan: change that one.", "unique"
        )
    return SessionPlan(practice=practice, created_by=by)


def _check_plan_target(
    plan: SessionPlan | None,
    *,
    appointment: Appointment | None,
    complaint: Complaint | None,
    client: Client | None,
    name: str,
) -> None:
    """A plan is for an appointment (and the complaint of its client, cleared for treatment),
    or a template with a name."""
    if appointment is None and not (name or getattr(plan, "name", "")):
        raise Invalid.on("appointment", "A plan is for an appointment, or a template with a name.")
    if appointment is not None and name:
        raise Invalid.on("name", "Only templates have a name.")
    if complaint is not None:
        if client is None or complaint.client_id != client.pk:
            raise Invalid.on("complaint", "This complaint belongs to another client.")
        if complaint.status == ComplaintStatus.REFERRAL_REQUIRED:
            raise PreconditionFailed(
                "This complaint needs a referral outcome before treatment is planned "
                "(complaints/{id}/clear/)."
            )


def _check_length(appointment: Appointment, items: list[dict]) -> None:
    length = (appointment.end - appointment.start).total_seconds() / 60
    total = sum(item["minutes"] for item in items)
    if total > length:
        raise Invalid.on(
            "items",
            f"The items take {total} minutes; the appointment has {int(length)}.",
            "too_long",
        )


def _audit_overrides(
    plan: SessionPlan, *, practice: Practice, by: User, client: Client | None, ip: str | None
) -> None:
    audit(
        practice=practice,
        actor=by,
        action=AuditAction.UPDATE,
        record_type="session_plan_override",
        record_ids=[plan.pk],
        client_ids=[client.pk] if client is not None else (),
        ip_address=ip,
    )


def _pain_outcome(
    note: Note, value: int | None, context: str, source: str, by: User
) -> Outcome | None:
    complaint = note.complaint
    if value is None or complaint is None:
        return None
    # The time the score describes is the session's (its start, or end for pain after), not
    # the note's writing: a note written days later keeps the series in order (DOMAIN.md 3).
    appointment = note.appointment
    if appointment is not None:
        measured_at = (
            appointment.start if source == OutcomeSource.SESSION_BEFORE else appointment.end
        )
        measured_at = min(measured_at, timezone.now())
    else:
        measured_at = note.created_at or timezone.now()
    return record_outcome(
        practice=note.practice,
        client=note.client,
        complaint=complaint,
        instrument=Instrument.NPRS,
        answers={"pain": value},
        recorded_by=by,
        context=context,
        source=source,
        measured_at=measured_at,
    )


def _sync_pain(note: Note, by: User) -> None:
    """pain_before / pain_after are NPRS outcomes too: replaced whenever the draft changes."""
    for attr, context, source in (
        ("pain_before", "now", OutcomeSource.SESSION_BEFORE),
        ("pain_after", "post_session", OutcomeSource.SESSION_AFTER),
    ):
        link = f"{attr}_outcome"
        old = getattr(note, link)
        if (
            old is not None
            and old.score == getattr(note, attr)
            and (old.complaint_id == note.complaint_id)
        ):
            continue
        setattr(note, link, _pain_outcome(note, getattr(note, attr), context, source, by))
        if old is not None:
            old.delete()


@transaction.atomic
def create_note(
    *,
    practice: Practice,
    author: User,
    client: Client | None = None,
    appointment: Appointment | None = None,
    delivered_items: list[PlanItem] | None = None,
    **fields: Any,
) -> Note:
    if appointment is not None:
        if client is not None and client.pk != appointment.client_id:
            raise Invalid.on("client", "The appointment is another client's.")
        client = appointment.client
    if client is None:
        raise Invalid.on("client", "A note is about a client (or an appointment).", "required")
    complaint = fields.get("complaint")
    if complaint is not None and complaint.client_id != client.pk:
        raise Invalid.on("complaint", "This complaint belongs to another client.")
    if appointment is not None and Note.objects.filter(appointment=appointment).exists():
        raise Invalid.on(
            "appointment", "This appointment already has a note: edit or amend it.", "unique"
        )
    note = Note(practice=practice, author=author, client=client, appointment=appointment, **fields)
    _check_pain_after(note, appointment)
    _check_delivered(note, delivered_items, practice)
    _sync_pain(note, author)
    note.save()
    if delivered_items:
        note.delivered_items.set(delivered_items)
    return note


def _check_pain_after(note: Note, appointment: Appointment | None) -> None:
    """`pain_after` is the pain after the session (DOMAIN.md 3): not before it has started."""
    if (
        note.pain_after is not None
        and appointment is not None
        and appointment.status == Status.BOOKED
        and appointment.start > timezone.now()
    ):
        raise PreconditionFailed(
            "pain_after is recorded once the session has started (check the client in first)."
        )


def _check_delivered(note: Note, items: list[PlanItem] | None, practice: Practice) -> None:
    """Delivered items come from this appointment's plan, and delivering them is checked like
    planning them, against today's facts: refused (409) while a red flag is open even for a plan
    made before it, and each item still meets the client's flags and clearances or carries its
    override (DOMAIN.md 0 rules 2, 3)."""
    if not items:
        return
    for index, item in enumerate(items):
        if note.appointment_id is None or item.plan.appointment_id != note.appointment_id:
            raise Invalid.on(
                f"delivered_items.{index}", "Delivered items come from this appointment's plan."
            )
    _check_items(
        client=note.client,
        items=[_as_item(item) for item in items],
        practice=practice,
        safety=client_safety(note.client, practice, session_day(note.appointment, practice)),
        field="delivered_items",
        kept=True,
    )


@transaction.atomic
def update_note(
    *, note: Note, by: User, delivered_items: list[PlanItem] | None = None, **fields: Any
) -> Note:
    """Only the author edits, and only until signed (409 `note_locked` after)."""
    note = Note.objects.select_for_update().get(pk=note.pk)
    if note.author_id != by.pk:
        raise PermissionDenied("Only the author edits a note; others add amendments once signed.")
    if note.is_signed:
        raise NoteLocked()
    complaint = fields.get("complaint", note.complaint)
    if complaint is not None and complaint.client_id != note.client_id:
        raise Invalid.on("complaint", "This complaint belongs to another client.")
    for name, value in fields.items():
        setattr(note, name, value)
    if fields.get("pain_after") is not None:
        _check_pain_after(note, note.appointment)
    _check_delivered(note, delivered_items, note.practice)
    _sync_pain(note, by)
    note.save()
    if delivered_items is not None:
        note.delivered_items.set(delivered_items)
    return note


@transaction.atomic
def sign_note(*, note: Note, by: User) -> Note:
    note = Note.objects.select_for_update().get(pk=note.pk)
    if note.author_id != by.pk:
        raise PermissionDenied("Only the author signs a note.")
    if note.is_signed:
        raise NoteLocked("This note is already signed.")
    note.signed_at = timezone.now()
    # What was delivered is fixed at signing: a technique renamed later must not change what a
    # signed note says (DOMAIN.md 0 rule 7). The API and the FHIR export read this snapshot.
    note.delivered_snapshot = [
        delivered_entry(item)
        for item in note.delivered_items.select_related("technique").order_by("position", "id")
    ]
    note.save(update_fields=["signed_at", "delivered_snapshot", "updated_at"])
    return note


@transaction.atomic
def amend_note(*, note: Note, by: User, kind: str, text: str, reason: str = "") -> Amendment:
    """Corrections after signing, marked as such with their own author and time (DOMAIN.md 4)."""
    note = Note.objects.select_for_update().get(pk=note.pk)
    if not note.is_signed:
        raise PreconditionFailed("A draft is edited by its author; amend a note once it is signed.")
    return Amendment.objects.create(note=note, author=by, kind=kind, text=text, reason=reason)
