"""Intake before the first visit (issue 17): the request a first booking creates, drafts saved
section by section, one submission that feeds the existing clinical services (health flags,
screening, outcomes, consent), the check-in gate, and the therapist's decisions on proposals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from clients import services as client_services
from clients.models import Client, ConsentMethod, OutcomeSource
from practice.audit import audit
from practice.auth import hash_secret
from practice.errors import Invalid, InvalidTransition, PreconditionFailed
from practice.models import AuditAction, Practice, User
from sessions.records import intake_forms, privacy
from sessions.records.models import (
    INTAKE_COMPLETE,
    ConsentSignature,
    HealthFlagProposal,
    IntakeForm,
    IntakeRequest,
    IntakeStatus,
    ProposalStatus,
)
from sessions.scheduling import reminders
from sessions.scheduling.models import Appointment, Status
from sessions.scheduling.queue import dispatch_reminders_soon

OPEN = (IntakeStatus.PENDING, IntakeStatus.IN_PROGRESS)
RED_FLAG_OPEN = "red_flag_open"


# --- forms --------------------------------------------------------------------------------------


def default_form(practice: Practice) -> IntakeForm:
    """The form every practice starts with (version 1), unsaved."""
    return IntakeForm(
        practice=practice,
        version=1,
        title=intake_forms.DEFAULT_TITLE,
        consent_documents=intake_forms.DEFAULT_CONSENT_DOCUMENTS,
        questions=intake_forms.DEFAULT_QUESTIONS,
    )


@transaction.atomic
def current_form(*, practice: Practice) -> IntakeForm:
    """The practice's latest published form; the default one is published the first time a
    practice needs a form ("a default form ships with every practice")."""
    form = IntakeForm.objects.filter(practice=practice).order_by("-version").first()
    if form is not None:
        return form
    Practice.objects.select_for_update().filter(pk=practice.pk).first()  # one default, not two
    form = IntakeForm.objects.filter(practice=practice).order_by("-version").first()
    if form is None:
        form = default_form(practice)
        form.save()
    return form


@transaction.atomic
def publish_form(
    *,
    practice: Practice,
    published_by: User,
    title: str,
    consent_documents: list[dict[str, Any]],
    questions: list[dict[str, Any]],
) -> IntakeForm:
    """A new version of the form; earlier versions, and what clients answered and signed on
    them, never change (issue 17.1). Requests not yet sent keep the version they were made with."""
    current_form(practice=practice)
    Practice.objects.select_for_update().filter(pk=practice.pk).first()
    latest = IntakeForm.objects.filter(practice=practice).aggregate(v=Max("version"))["v"] or 0
    return IntakeForm.objects.create(
        practice=practice,
        version=latest + 1,
        title=title,
        consent_documents=consent_documents,
        questions=questions,
        published_by=published_by,
    )


# --- requests -------------------------------------------------------------------------------------


def _visits(client: Any) -> QuerySet[Appointment]:
    return Appointment.objects.filter(
        client=client, status__in=(Status.CHECKED_IN, Status.COMPLETED)
    )


def _settled_intakes(client: Any) -> QuerySet[IntakeRequest]:
    settled = Q(status__in=INTAKE_COMPLETE) | Q(status__in=OPEN, appointment__status=Status.BOOKED)
    return IntakeRequest.objects.filter(settled, client=client)


def with_intake_need(clients: QuerySet[Client]) -> QuerySet[Client]:
    """Clients annotated `needs_intake` (`needs_intake` below, asked before the booking exists):
    the booking's lookup of its client answers it, rather than two queries more (issue 22.1)."""
    return clients.annotate(
        needs_intake=~Exists(_visits(OuterRef("pk"))) & ~Exists(_settled_intakes(OuterRef("pk")))
    )


def needs_intake(client: Client, appointment: Appointment) -> bool:
    """A first visit: the client has had no visit, has no intake done, and no open intake waits
    on another live appointment. Answered by the client's `with_intake_need` annotation once (a
    client booked again in the same request, as a series is, may have had its intake requested
    since), else by two queries."""
    known = client.__dict__.pop("needs_intake", None)
    if known is not None:
        return bool(known)
    if _visits(client).exists():
        return False
    return not _settled_intakes(client).exclude(appointment=appointment).exists()


def request_intake_for_booking(*, appointment: Appointment) -> IntakeRequest | None:
    """Called in the booking transaction (every channel: sessions.signals): the first visit of a
    client gets an intake request and its link through the outbox (sent once, channels and
    opt-out respected, cancelled with the visit). Drafts of an earlier request whose visit was
    cancelled carry over, so the client does not start again."""
    client = appointment.client
    if not needs_intake(client, appointment):
        # Known to have none: the booking's answer reads `intake_status` without a query.
        Appointment.intake_request.related.set_cached_value(appointment, None)  # type: ignore[attr-defined]
        return None
    earlier = IntakeRequest.objects.filter(client=client, status__in=OPEN).order_by("-id").first()
    intake = IntakeRequest.objects.create(
        practice_id=appointment.practice_id,
        client=client,
        appointment=appointment,
        form=earlier.form if earlier else current_form(practice=appointment.practice),
        drafts=earlier.drafts if earlier else {},
        status=IntakeStatus.IN_PROGRESS if earlier and earlier.drafts else IntakeStatus.PENDING,
    )
    if reminders.on_intake_requested(appointment):
        dispatch_reminders_soon()
    return intake


@transaction.atomic
def resend_intake(*, intake: IntakeRequest) -> IntakeRequest:
    """Staff send the link again (issue 17.2): a new message with its own link, once."""
    intake = IntakeRequest.objects.select_for_update().get(pk=intake.pk)
    appointment = intake.appointment
    if intake.status not in OPEN or appointment is None or appointment.status != Status.BOOKED:
        raise PreconditionFailed("Only an open intake of a booked visit can be sent again.")
    if not reminders.on_intake_requested(appointment, with_reminder=False):
        raise PreconditionFailed("This client gets no messages (opted out or no address).")
    dispatch_reminders_soon()
    return intake


def intake_for_token(token: str) -> IntakeRequest | None:
    """The intake behind a link (`public/intake/{token}/`), in one query, while the link is
    valid: its message was sent (the token's hash is stored with `sent`), and the visit is booked
    (or checked in) and has not ended. Joined with what the link's view shows."""
    return (
        IntakeRequest.objects.select_related("practice", "client", "form", "appointment")
        .filter(
            appointment__reminders__token_hash=hash_secret(token),
            appointment__reminders__kind__in=reminders.INTAKE_KINDS,
            appointment__status__in=(Status.BOOKED, Status.CHECKED_IN),
            appointment__end__gt=timezone.now(),
        )
        .first()
    )


# The list of appointments reads `intake_status` as this column of each row (a LEFT JOIN of the
# request; null when there is none), issue 22.2.
INTAKE_STATUS_ROW_FIELD = "intake_request__status"


def intake_status(appointment: Appointment | dict) -> str:
    """`intake_status` of an appointment: its request's status, else `not_required`. Reads the
    request the queryset joined (`select_related("intake_request")`), or a row's column."""
    if isinstance(appointment, dict):
        return appointment[INTAKE_STATUS_ROW_FIELD] or IntakeStatus.NOT_REQUIRED
    try:
        intake = appointment.intake_request  # type: ignore[attr-defined]
    except IntakeRequest.DoesNotExist:
        return IntakeStatus.NOT_REQUIRED
    return intake.status if intake is not None else IntakeStatus.NOT_REQUIRED


def check_in_gate(*, appointment: Appointment) -> None:
    """Issue 17.4: a first visit is not checked in while its intake is incomplete (409
    `precondition_failed`), unless staff recorded that it was done on paper. Held on every path
    to `checked_in` (sessions.signals connects it to scheduling's `appointment_checking_in`)."""
    incomplete = IntakeRequest.objects.filter(
        client_id=appointment.client_id, status__in=OPEN, appointment__status=Status.BOOKED
    )
    if not incomplete.exists():
        return
    if (
        Appointment.objects.filter(
            client_id=appointment.client_id, status__in=(Status.CHECKED_IN, Status.COMPLETED)
        )
        .exclude(pk=appointment.pk)
        .exists()
    ):
        return
    raise PreconditionFailed(
        "The client's intake is not complete: ask them to submit it, or record that it was done "
        "on paper (intake-on-paper/)."
    )


@transaction.atomic
def record_intake_on_paper(
    *, appointment: Appointment, reason: str, by: User, ip_address: str | None
) -> IntakeRequest:
    """Staff record that the intake was done on paper (reason kept and audited): the check-in
    gate opens and no more intake messages go out."""
    intake = IntakeRequest.objects.select_for_update().filter(appointment=appointment).first()
    if intake is None:
        intake = IntakeRequest.objects.create(
            practice_id=appointment.practice_id,
            client_id=appointment.client_id,
            appointment=appointment,
            form=current_form(practice=appointment.practice),
        )
    if intake.status in INTAKE_COMPLETE:
        raise InvalidTransition(f"This intake is already {intake.status}.")
    # Other open requests of the client (a visit booked out of order) are settled by this one.
    others = IntakeRequest.objects.filter(client_id=appointment.client_id, status__in=OPEN)
    for other in others.exclude(pk=intake.pk):
        if other.appointment_id is not None:
            reminders.on_intake_done(other.appointment_id)
    others.update(
        status=IntakeStatus.ON_PAPER,
        on_paper_reason=reason,
        on_paper_by=by,
        on_paper_at=timezone.now(),
    )
    intake.refresh_from_db()
    reminders.on_intake_done(appointment.pk)
    audit(
        practice=appointment.practice_id,
        actor=by,
        action=AuditAction.UPDATE,
        record_type="intake",
        record_ids=[intake.pk],
        client_ids=[appointment.client_id],
        ip_address=ip_address,
    )
    return intake


# --- filling ------------------------------------------------------------------------------------


def _validated(intake: IntakeRequest, section: str, answers: Any) -> dict[str, Any]:
    return intake_forms.validate_section(
        section=section,
        answers=answers,
        form=intake.form,
        odi_licensed=intake.practice.odi_licensed,
    )


def _locked_open(intake: IntakeRequest, *, lock_client: bool = False) -> IntakeRequest:
    """The intake locked (and its client's row too with `lock_client`: one query, not two)."""
    locked = (
        IntakeRequest.objects.select_for_update(of=("self", "client") if lock_client else ("self",))
        .select_related("practice", "client", "form", "appointment")
        .get(pk=intake.pk)
    )
    if locked.status in INTAKE_COMPLETE:
        raise InvalidTransition(f"This intake is already {locked.status}.")
    return locked


@transaction.atomic
def save_intake_draft(*, intake: IntakeRequest, sections: dict[str, Any]) -> IntakeRequest:
    """Answers saved section by section, each checked field by field (API.md error shape); a
    client can come back to them until they submit."""
    intake = _locked_open(intake)
    for section, answers in sections.items():
        _validated(intake, section, answers)
    intake.drafts = {**intake.drafts, **sections}
    intake.status = IntakeStatus.IN_PROGRESS
    intake.save(update_fields=["drafts", "status", "updated_at"])
    return intake


# No savepoint of its own: the submit views hold the transaction around it (with the access-log
# row) and let any error roll all of it back.
@transaction.atomic(savepoint=False)
def submit_intake(
    *,
    intake: IntakeRequest,
    sections: dict[str, Any],
    ip_address: str | None,
    user_agent: str,
) -> IntakeRequest:
    """Submit once, in one transaction through the existing services (issue 17.3): health flags
    (added ones at once, lifted ones as proposals), the complaint with its screening (the same
    code path as staff entry: `referral_required` and the therapist's alert), the baseline
    outcomes scored by the server with `measured_at` = submission, and the signed consents. Any
    error rolls all of it back; a second submit is 409. The client's retention clock moves once
    for all the records written (`one_clock_update`)."""
    intake = _locked_open(intake, lock_client=True)
    drafts = {**intake.drafts, **sections}
    missing = intake_forms.missing_for_submit(drafts, intake.form)
    if missing:
        raise Invalid(
            "Some sections are not filled in yet.",
            errors=[
                {"field": name, "code": "required", "detail": "This section is required."}
                for name in missing
            ],
        )
    answers = {name: _validated(intake, name, value) for name, value in drafts.items()}
    now = timezone.now()
    client = intake.client  # locked with the intake
    _check_guardian(client, answers["contact"], answers["consents"], now)
    with privacy.one_clock_update():
        effects = _apply_contact_and_health(intake, client, answers["contact"], answers["health"])
        complaint = client_services.create_complaint(
            practice=intake.practice,
            client=client,
            created_by=None,
            red_flags=answers["complaint"]["red_flags"],
            source="intake",
            appointment_id=intake.appointment_id,
            pain_now=answers["baseline"]["nprs"]["pain"],
            client_locked=True,
            **{k: v for k, v in answers["complaint"].items() if k != "red_flags"},
        )
        effects["complaint"] = {"id": complaint.pk, "status": complaint.status}
        effects["outcomes"] = _apply_baseline(intake, client, complaint, answers["baseline"], now)
        effects["consents"] = _apply_consents(
            intake, client, answers["consents"], now, ip_address, user_agent
        )
    intake.drafts = drafts
    intake.effects = effects
    intake.status = IntakeStatus.SUBMITTED
    intake.submitted_at = now
    intake.submitted_from_ip = ip_address
    intake.submitted_user_agent = user_agent[:500]
    intake.save()
    if intake.appointment_id:
        reminders.on_intake_done(intake.appointment_id)
    return intake


def _check_guardian(
    client: Client, contact: dict[str, Any], consents: dict[str, Any], now: datetime
) -> None:
    """DOMAIN.md 4: a minor's consent is given by a guardian (name and relationship). The date
    of birth on file wins over the one typed in the form."""
    born = client.date_of_birth or contact["date_of_birth"]
    if intake_forms.age_on(born, now.date()) >= intake_forms.ADULT_AGE:
        return
    if not consents.get("guardian"):
        raise Invalid.on(
            "consents.guardian",
            "The client is under 18: a parent or guardian signs, with name and relationship.",
            "required",
        )


def _apply_contact_and_health(
    intake: IntakeRequest, client: Client, contact: dict[str, Any], health: dict[str, Any]
) -> dict[str, Any]:
    """One client update: the phone as given, a date of birth only where none is on file
    (staff's record wins); added health flags restrict at once (DOMAIN.md 0 rule 3), while a flag
    on file the client did not tick would lift a restriction, so it waits for a therapist as a
    proposal."""
    fields: dict[str, Any] = {}
    if contact.get("phone"):
        fields["phone"] = contact["phone"]
    if client.date_of_birth is None:
        fields["date_of_birth"] = contact["date_of_birth"]
    changed = {k: str(v) for k, v in fields.items()}
    on_file = [f for f in client.health_flags if f != RED_FLAG_OPEN]
    added = [f for f in health["flags"] if f not in on_file]
    lifted = [f for f in on_file if f not in health["flags"]]
    if added:
        fields["health_flags"] = [*client.health_flags, *added]
        fields["health_flag_regions"] = {
            **client.health_flag_regions,
            **health.get("flag_regions", {}),
        }
    if fields:
        client_services.update_client(client=client, fields=fields, by=None)
    HealthFlagProposal.objects.bulk_create(
        HealthFlagProposal(practice_id=intake.practice_id, client=client, intake=intake, flag=f)
        for f in lifted
    )
    return {"contact": changed, "health_flags": {"added": added, "proposed_removals": lifted}}


def _apply_baseline(
    intake: IntakeRequest, client: Client, complaint: Any, baseline: dict[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """The disability index and PSFS through `record_outcomes`, in one insert (the NPRS is the
    complaint's baseline, written by `create_complaint`)."""
    disability = "odi" if intake.practice.odi_licensed else "rmdq"
    written = client_services.record_outcomes(
        practice=intake.practice,
        client=client,
        complaint=complaint,
        measures={instrument: baseline[instrument] for instrument in (disability, "psfs")},
        recorded_by=None,
        measured_at=now,
        source=OutcomeSource.INTAKE,
    )
    # The NPRS is the complaint's baseline (its `pain_now`), written by `create_complaint`.
    return [{"instrument": "nprs", "score": str(complaint.pain_now)}] + [
        {"id": o.pk, "instrument": o.instrument, "score": str(o.score)} for o in written
    ]


def _apply_consents(
    intake: IntakeRequest,
    client: Client,
    consents: dict[str, Any],
    now: datetime,
    ip_address: str | None,
    user_agent: str,
) -> list[dict[str, Any]]:
    """Each signed document is a Consent record (DOMAIN.md 4) with its signature: typed name,
    time, address, user agent and the hash of the exact version signed."""
    documents = {d["kind"]: d for d in intake.form.consent_documents}
    guardian = consents.get("guardian") or {}
    signed = [documents[signature["document"]] for signature in consents["signatures"]]
    written = client_services.record_consents(
        practice=intake.practice,
        witnessed_by=None,
        rows=[
            {
                "client": client,
                "kind": document["kind"],
                "areas": document.get("areas", []),
                "version": f"intake-{intake.form.version}/{document['version']}"[:40],
                "method": ConsentMethod.WRITTEN,
                "signed_at": now,
            }
            for document in signed
        ],
    )
    ConsentSignature.objects.bulk_create(
        ConsentSignature(
            consent=consent,
            intake=intake,
            signed_name=signature["signed_name"],
            signed_at=now,
            ip_address=ip_address,
            user_agent=user_agent[:500],
            document_version=document["version"],
            document_sha256=intake_forms.document_sha256(document),
            guardian_name=guardian.get("name", ""),
            guardian_relationship=guardian.get("relationship", ""),
        )
        for consent, signature, document in zip(
            written, consents["signatures"], signed, strict=True
        )
    )
    return [{"id": c.pk, "kind": c.kind, "version": c.version} for c in written]


# --- the therapist's side ------------------------------------------------------------------------


@transaction.atomic
def decide_proposal(
    *, proposal: HealthFlagProposal, confirm: bool, by: User, note: str, ip_address: str | None
) -> HealthFlagProposal:
    """A therapist confirms (the flag is lifted) or rejects (it stays) what the client's intake
    proposed; audited. A decided proposal is not decided again (409)."""
    locked = HealthFlagProposal.objects.select_for_update().get(pk=proposal.pk)
    if locked.status != ProposalStatus.PENDING:
        raise InvalidTransition(f"This proposal is already {locked.status}.")
    if confirm:
        client = Client.objects.select_for_update().get(pk=locked.client_id)
        regions = {k: v for k, v in client.health_flag_regions.items() if k != locked.flag}
        client_services.update_client(
            client=client,
            fields={
                "health_flags": [f for f in client.health_flags if f != locked.flag],
                "health_flag_regions": regions,
            },
            by=by,
        )
    locked.status = ProposalStatus.CONFIRMED if confirm else ProposalStatus.REJECTED
    locked.decided_by = by
    locked.decided_at = timezone.now()
    locked.note = note
    locked.save(update_fields=["status", "decided_by", "decided_at", "note"])
    audit(
        practice=locked.practice_id,
        actor=by,
        action=AuditAction.UPDATE,
        record_type="health_flag_proposal",
        record_ids=[locked.pk],
        client_ids=[locked.client_id],
        ip_address=ip_address,
    )
    return locked
