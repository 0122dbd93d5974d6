"""Privacy duties (DOMAIN.md 4 "Retention", 8 "Privacy and records access"): the retention clock,
legal holds, the scheduled purge, erasure requests and a client's access log.

Lives in `sessions`, the one app that sees every part of a client's record (clients, complaints,
outcomes, consents, appointments, plans, notes). The clock is `Client.last_clinical_entry`, moved
forward by the receivers below on every clinical write; `retain_until` follows from it, the date of
birth and the practice's jurisdiction (`practice.retention`), so changing the jurisdiction needs no
recomputation. The purge never trusts the stored day alone: before deleting it recomputes the last
entry from the records themselves, under a row lock, and keeps anything inside retention.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import connection, models, transaction
from django.db.models import Max, Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import timezone

from clients.events import clinical_records_written
from clients.models import (
    Client,
    Complaint,
    Consent,
    ErasureOutcome,
    ErasureRequest,
    LegalHoldChange,
    MedicalClearance,
    Outcome,
)
from practice.audit import audit
from practice.errors import PreconditionFailed
from practice.mail import send_email
from practice.models import AuditAction, AuditEvent, Practice, Role, User
from practice.retention import (
    Jurisdiction,
    RetentionRule,
    birth_cutoff,
    erasure_due_by,
    latest_entry_cutoff,
    retain_until,
    rule_for,
)
from practice.webhooks import scrub_client_events
from sessions.billing.models import CancellationFee, ClientPackage, Invoice, Payment
from sessions.records.models import Amendment, IntakeRequest, Note, SessionPlan
from sessions.scheduling import reminders
from sessions.scheduling.booking import Actor, cancel_appointment
from sessions.scheduling.models import (
    Appointment,
    IdempotencyRecord,
    QuietRefusal,
    Reminder,
    ReminderStatus,
    Source,
    Status,
    WaitlistEntry,
    WaitlistStatus,
)

logger = logging.getLogger(__name__)

CLINICAL_CONTACT = (Status.CHECKED_IN, Status.COMPLETED)


# --- the clock -----------------------------------------------------------------------------------


def practice_rule(practice: Practice) -> tuple[str, RetentionRule]:
    return Jurisdiction(practice.jurisdiction).label, rule_for(practice.jurisdiction)


def client_retain_until(client: Client, practice: Practice) -> dt.date | None:
    """DOMAIN.md 4: max(last entry + N years, birth + majority + N years); None: no clinical
    record yet."""
    _, rule = practice_rule(practice)
    return retain_until(
        last_entry=client.last_clinical_entry, date_of_birth=client.date_of_birth, rule=rule
    )


# Set inside `one_clock_update()`: client id -> the latest day noted, moved once at the end.
_clock_batch: ContextVar[dict[int, dt.date] | None] = ContextVar("clock_batch", default=None)


def note_clinical_entry(*, client_id: int, practice: Practice, at: dt.datetime) -> None:
    """Move a client's clock forward to the practice-local day of `at` (never back); inside
    `one_clock_update()`, once for the whole block."""
    day = timezone.localtime(at, practice.tz).date()
    batch = _clock_batch.get()
    if batch is not None:
        batch[client_id] = max(day, batch.get(client_id, day))
        return
    _move_clock(client_id, day)


def _move_clock(client_id: int, day: dt.date) -> None:
    Client.objects.filter(pk=client_id).filter(
        Q(last_clinical_entry__isnull=True) | Q(last_clinical_entry__lt=day)
    ).update(last_clinical_entry=day)


@contextmanager
def one_clock_update() -> Iterator[None]:
    """Records written together (an intake submission: complaint, scores, consents) move each
    client's clock with one UPDATE when the block ends, not one per record. Use it inside the
    transaction that writes them (an error skips the update: the transaction rolls back anyway);
    a nested block joins the outer one."""
    if _clock_batch.get() is not None:
        yield
        return
    batch: dict[int, dt.date] = {}
    token = _clock_batch.set(batch)
    try:
        yield
    finally:
        _clock_batch.reset(token)
    for client_id, day in batch.items():
        _move_clock(client_id, day)


def _practice_of(instance: Any) -> Practice:
    cached = instance._state.fields_cache.get("practice")
    if cached is not None:
        return cached
    return Practice.objects.only("timezone").get(pk=instance.practice_id)


# Clinical writes (each saved through its service with .save()/.create(): DOMAIN.md 4 "last entry").
@receiver(post_save, sender=Note)
@receiver(post_save, sender=Complaint)
@receiver(post_save, sender=Outcome)
@receiver(post_save, sender=Consent)
@receiver(post_save, sender=MedicalClearance)
@receiver(post_save, sender=SessionPlan)
def _clinical_record_written(
    sender: type[models.Model], instance: Any, raw: bool = False, **kwargs: Any
) -> None:
    if raw or getattr(instance, "client_id", None) is None:  # fixtures; plan templates
        return
    note_clinical_entry(
        client_id=instance.client_id, practice=_practice_of(instance), at=timezone.now()
    )


@receiver(clinical_records_written)
def _clinical_records_bulk_written(
    sender: type[models.Model], *, practice: Practice, client_ids: list[int], **kwargs: Any
) -> None:
    """Clinical records a service wrote with `bulk_create` (no post_save): the same clock."""
    now = timezone.now()
    for client_id in dict.fromkeys(client_ids):
        note_clinical_entry(client_id=client_id, practice=practice, at=now)


@receiver(post_save, sender=Amendment)
def _amendment_written(
    sender: type[Amendment], instance: Amendment, raw: bool = False, **kwargs: Any
) -> None:
    if raw:
        return
    note = instance.note
    note_clinical_entry(client_id=note.client_id, practice=_practice_of(note), at=timezone.now())


@receiver(post_save, sender=Appointment)
def _visit_attended(
    sender: type[Appointment], instance: Appointment, raw: bool = False, **kwargs: Any
) -> None:
    """A visit that happened (checked in, completed) is clinical contact; a booking is not."""
    if raw or instance.status not in CLINICAL_CONTACT:
        return
    note_clinical_entry(
        client_id=instance.client_id, practice=_practice_of(instance), at=timezone.now()
    )


def last_entry_from_records(client: Client, practice: Practice) -> dt.date | None:
    """The latest clinical entry read from the records themselves (the purge's second opinion)."""
    instants = [
        Note.objects.filter(client=client).aggregate(m=Max("updated_at"))["m"],
        Amendment.objects.filter(note__client=client).aggregate(m=Max("created_at"))["m"],
        Complaint.objects.filter(client=client).aggregate(m=Max("updated_at"))["m"],
        Outcome.objects.filter(client=client).aggregate(m=Max("recorded_at"))["m"],
        *Consent.objects.filter(client=client)
        .aggregate(m=Max("signed_at"), w=Max("withdrawn_at"))
        .values(),
        SessionPlan.objects.filter(client=client).aggregate(m=Max("updated_at"))["m"],
        MedicalClearance.objects.filter(client=client).aggregate(m=Max("recorded_at"))["m"],
        Appointment.objects.filter(client=client, status__in=CLINICAL_CONTACT).aggregate(
            m=Max("updated_at")
        )["m"],
    ]
    found = [timezone.localtime(at, practice.tz).date() for at in instants if at is not None]
    return max(found, default=None)


def _verified_retain_until(client: Client, practice: Practice) -> dt.date | None:
    stored = client.last_clinical_entry
    fresh = last_entry_from_records(client, practice)
    last = max((d for d in (stored, fresh) if d is not None), default=None)
    _, rule = practice_rule(practice)
    return retain_until(last_entry=last, date_of_birth=client.date_of_birth, rule=rule)


# --- legal hold ----------------------------------------------------------------------------------


@transaction.atomic
def set_legal_hold(*, client: Client, legal_hold: bool, reason: str, by: User) -> Client:
    """Owner only (the view checks): a hold stops the purge until cleared (DOMAIN.md 4)."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    client.legal_hold = legal_hold
    client.legal_hold_reason = reason if legal_hold else ""
    client.save(update_fields=["legal_hold", "legal_hold_reason", "updated_at"])
    LegalHoldChange.objects.create(
        practice_id=client.practice_id,
        client=client,
        legal_hold=legal_hold,
        reason=reason,
        changed_by=by,
    )
    return client


# --- deleting a whole record ---------------------------------------------------------------------


def _delete_everything(client: Client) -> dict[str, int]:
    """Hard-delete a client and every record of theirs; callers have checked retention.
    Notes, plans and appointments protect the client row, so they go first."""
    counts: dict[str, int] = {}
    user_id = client.user_id
    _scrub_copies(client, names=True)
    for queryset in (
        # Money records protect the client (and a refund its payment, a credit note its invoice).
        CancellationFee.objects.filter(client=client),
        ClientPackage.objects.filter(client=client),  # its sessions' uses go with it
        Payment.objects.filter(client=client, refund_of__isnull=False),
        Payment.objects.filter(client=client),
        Invoice.objects.filter(client=client, credits__isnull=False),
        Invoice.objects.filter(client=client),
        Amendment.objects.filter(note__client=client),
        Note.objects.filter(client=client),
        SessionPlan.objects.filter(client=client),
        Appointment.objects.filter(client=client),
        Client.objects.filter(pk=client.pk),
    ):
        for label, count in queryset.delete()[1].items():
            name = label.rsplit(".", 1)[-1].lower()
            counts[name] = counts.get(name, 0) + count
    if user_id is not None:
        User.objects.filter(pk=user_id).delete()  # login, tokens, calendar feed
    return counts


def _scrub_copies(client: Client, *, names: bool) -> None:
    """Copies of the client's contact details outside their record (issue 13.5): webhook outbox
    payloads, and idempotency records of their bookings (whose request hash covers the email).
    Logs never hold contact details (config/observability.py) and rate-limit keys hash emails."""
    scrub_client_events(practice_id=client.practice_id, client_id=client.pk, names=names)
    QuietRefusal.objects.filter(client=client).delete()  # its address and times: contact data
    appointment_ids = list(Appointment.objects.filter(client=client).values_list("pk", flat=True))
    IdempotencyRecord.objects.filter(practice_id=client.practice_id).filter(
        Q(response__client=client.pk) | Q(response__appointment_id__in=appointment_ids)
    ).delete()
    _scrub_intake_contact(client, names=names)


def _scrub_intake_contact(client: Client, *, names: bool) -> None:
    """The contact section of the client's intake answers (issue 17): phone and emergency contact
    are contact data; the names and date of birth stay with a restricted record."""
    kept = () if names else ("first_name", "last_name", "date_of_birth")
    for intake in IntakeRequest.objects.filter(client=client).only("pk", "drafts"):
        contact = intake.drafts.get("contact")
        if not isinstance(contact, dict):
            continue
        drafts = {**intake.drafts, "contact": {k: v for k, v in contact.items() if k in kept}}
        IntakeRequest.objects.filter(pk=intake.pk).update(drafts=drafts)


def _log_system(
    *, practice_id: int, client_id: int, action: str, record_type: str, actor: User | None = None
) -> None:
    audit(
        practice=practice_id,
        actor=actor,
        role="system" if actor is None else "",
        action=action,
        record_type=record_type,
        record_ids=[client_id],
        client_ids=[client_id],
    )


# --- scheduled purge -----------------------------------------------------------------------------


@dataclass
class PurgeReport:
    purged: list[int] = field(default_factory=list)
    kept_inside_retention: list[int] = field(default_factory=list)
    skipped_busy: list[int] = field(default_factory=list)


def purge_candidates(practice: Practice, today: dt.date) -> models.QuerySet[Client]:
    """Clients whose stored clock says they may be past retention, legal holds excluded."""
    _, rule = practice_rule(practice)
    return Client.objects.filter(
        Q(date_of_birth__isnull=True) | Q(date_of_birth__lt=birth_cutoff(today=today, rule=rule)),
        practice=practice,
        legal_hold=False,
        last_clinical_entry__lt=latest_entry_cutoff(today=today, rule=rule),
    ).order_by("pk")


def purge_records_past_retention(*, today: dt.date | None = None) -> PurgeReport:
    """The scheduled purge (DOMAIN.md 4, 8): delete clients whose `retain_until` has passed,
    never one on legal hold, never a record inside retention.

    Each client goes in its own transaction, with its row locked (`SKIP LOCKED` on PostgreSQL) and
    hold and clock re-read from the records under that lock, so two purges running at once, or a
    note written while one runs, cannot delete anything inside retention; a second run finds
    nothing left to do.
    """
    report = PurgeReport()
    for practice in Practice.objects.all():
        day = today or timezone.localdate(timezone=practice.tz)
        for client_id in purge_candidates(practice, day).values_list("pk", flat=True):
            _purge_one(client_id, practice, day, report)
    return report


def _purge_one(client_id: int, practice: Practice, today: dt.date, report: PurgeReport) -> None:
    with transaction.atomic():
        locked = Client.objects.filter(pk=client_id, legal_hold=False)
        if connection.features.has_select_for_update_skip_locked:
            locked = locked.select_for_update(skip_locked=True)
        client = locked.first()
        if client is None:  # purged, held, or being purged by the other run
            report.skipped_busy.append(client_id)
            return
        until = _verified_retain_until(client, practice)
        if until is None or until >= today:
            report.kept_inside_retention.append(client_id)
            return
        _delete_everything(client)
        _log_system(
            practice_id=practice.pk,
            client_id=client_id,
            action=AuditAction.DELETE,
            record_type="client_purged",
        )
        report.purged.append(client_id)


# --- erasure requests ----------------------------------------------------------------------------


def _count(queryset: models.QuerySet) -> int:
    return queryset.count()


@transaction.atomic
def file_erasure_request(
    *, client: Client, requested_by: User, role: str, reason: str = ""
) -> ErasureRequest:
    """GDPR Art. 17 against the retention duty (DOMAIN.md 8 "GDPR erasure vs retention").

    In one transaction: erase contact, marketing and portal data (email, phone, reminder channels
    and opt-ins, the portal login with its tokens and calendar feed), cancel future appointments
    with their reminders and drop waiting-list entries; delete the whole record when nothing is
    under retention (or it is past `retain_until`); otherwise keep the clinical records, mark the
    client restricted, and say what was kept, under which rule, until when. The explanation is
    emailed to the client's address before that address is erased.
    """
    if role not in (Role.OWNER, Role.CLIENT):
        raise PreconditionFailed("Only the client or the practice owner may request erasure.")
    client = Client.objects.select_for_update().select_related("practice").get(pk=client.pk)
    practice = client.practice
    now = timezone.now()
    today = timezone.localdate(now, timezone=practice.tz)
    until = _verified_retain_until(client, practice)
    address = client.email
    cancelled = _cancel_what_is_planned(client, requested_by=requested_by, role=role, now=now)
    whole_record = until is None or (until < today and not client.legal_hold)
    if whole_record:
        answer = _erase_whole_record(client, until)
    else:
        answer = _restrict_record(client, cast(dt.date, until), now)  # None went the other way
    request = ErasureRequest.objects.create(
        practice=practice,
        client=None if whole_record else client,
        client_number=client.pk,
        requested_by=None if role == Role.CLIENT else requested_by,  # the client's user is gone
        requested_by_role=role,
        reason=reason,
        received_at=now,
        due_by=erasure_due_by(today, hipaa_covered=practice.hipaa_covered),
        completed_at=now,
        outcome=answer.outcome,
        erased=answer.erased + cancelled,
        kept=answer.kept,
        explanation=answer.explanation,
        emailed_to_client=bool(address),
    )
    _log_system(
        practice_id=practice.pk,
        client_id=client.pk,
        action=AuditAction.DELETE,
        record_type="client_erasure",
        actor=None if role == Role.CLIENT else requested_by,
    )
    if address:
        # The address exists only in this closure now: the row was erased in this transaction.
        explanation = answer.explanation
        transaction.on_commit(lambda: _email_explanation(address, practice.name, explanation))
    return request


@dataclass
class _ErasureAnswer:
    """What one branch of an erasure did: the first entries of `erased`, `kept`, the prose."""

    outcome: str
    erased: list[dict[str, Any]]
    kept: list[dict[str, Any]]
    explanation: str


def _explanation(**context: Any) -> str:
    """The client's explanation, one paragraph, from `sessions/erasure_explanation.txt`."""
    return " ".join(render_to_string("sessions/erasure_explanation.txt", context).split())


def _cancel_what_is_planned(
    client: Client, *, requested_by: User, role: str, now: dt.datetime
) -> list[dict[str, Any]]:
    """Future appointments: cancelled through the booking service, which cancels their reminders
    and tells subscribers; past ones are part of the treatment record. Then the reminders still
    pending and the waiting-list entries."""
    future = Appointment.objects.filter(
        client=client, start__gt=now, status=Status.BOOKED
    ).select_related("practice")
    cancelled = 0
    for appointment in future:
        cancel_appointment(
            appointment=appointment,
            reason="Erasure request",
            actor=Actor(kind=Source.STAFF, user=requested_by if role == Role.OWNER else None),
        )
        cancelled += 1
    pending = Reminder.objects.filter(client=client, status__in=reminders.PENDING).update(
        status=ReminderStatus.CANCELLED
    )
    waiting = WaitlistEntry.objects.filter(client=client, status=WaitlistStatus.WAITING).delete()[0]
    return [
        {"what": "future_appointments", "detail": f"{cancelled} cancelled"},
        {"what": "reminders", "detail": f"{pending} scheduled messages cancelled"},
        {"what": "waitlist_entries", "detail": f"{waiting} removed"},
    ]


def _erase_whole_record(client: Client, until: dt.date | None) -> _ErasureAnswer:
    """Nothing under retention (no clinical entry, or past `retain_until`): everything goes."""
    counts = _delete_everything(client)
    erased = {
        "what": "whole_record",
        "detail": "no clinical record under retention: every record deleted"
        if until is None
        else f"past its retention period (kept until {until.isoformat()}): deleted",
        "records": {k: v for k, v in counts.items() if v},
    }
    return _ErasureAnswer(
        outcome=ErasureOutcome.ERASED,
        erased=[erased],
        kept=[],
        explanation=_explanation(erased_whole=True, no_records=until is None),
    )


def _restrict_record(client: Client, until: dt.date, now: dt.datetime) -> _ErasureAnswer:
    """Clinical records under retention: erase the contact and portal data, keep and restrict
    the rest, and say under which rule and until when."""
    erased = _erase_contact_details(client, now)
    label, rule = practice_rule(client.practice)
    if client.legal_hold:
        rule_text = "a legal hold placed by the practice"
        kept_until = None
    else:
        rule_text = rule.describe(label)
        kept_until = until.isoformat()
    purge_from = (until + dt.timedelta(days=1)).isoformat()
    kept: list[dict[str, Any]] = [
        {
            "what": "treatment_records",
            "records": _kept_record_counts(client),
            "rule": rule_text,
            "kept_until": kept_until,
            "purge_from": purge_from,
        },
        {
            "what": "name_and_date_of_birth",
            "records": {},
            "rule": "identifies the treatment records; the date of birth also sets their "
            "retention for minors",
            "kept_until": kept_until,
            "purge_from": purge_from,
        },
    ]
    explanation = _explanation(
        legal_hold=client.legal_hold,
        not_before=until.isoformat(),
        kept_until=kept_until,
        rule_text=rule_text,
    )
    return _ErasureAnswer(ErasureOutcome.RESTRICTED, erased, kept, explanation)


def _erase_contact_details(client: Client, now: dt.datetime) -> list[dict[str, Any]]:
    """Contact, marketing and portal data, and their copies; the client becomes restricted."""
    erased: list[dict[str, Any]] = [
        {
            "what": "contact_details",
            "detail": "email, phone, reminder channels and reminder/marketing opt-ins",
        }
    ]
    if client.user_id is not None:
        erased.append({"what": "portal_account", "detail": "login, sessions and calendar feed"})
        User.objects.filter(pk=client.user_id).delete()  # cascades tokens and membership
    # The address a public booking came from is contact data too
    # (sessions/scheduling/public_caps.py).
    Appointment.objects.filter(client=client).update(booked_from_ip=None)
    _scrub_copies(client, names=False)
    Client.objects.filter(pk=client.pk).update(
        email="",
        phone="",
        reminder_channels=[],
        reminders_opt_out=True,
        user=None,
        restricted_at=now,
        updated_at=now,
    )
    return erased


def _kept_record_counts(client: Client) -> dict[str, int]:
    """The clinical records a restricted client keeps, by kind (kinds with none left out)."""
    records = {
        "complaints": _count(Complaint.objects.filter(client=client)),
        "outcomes": _count(Outcome.objects.filter(client=client)),
        "consents": _count(Consent.objects.filter(client=client)),
        "medical_clearances": _count(MedicalClearance.objects.filter(client=client)),
        "appointments": _count(
            Appointment.objects.filter(client=client).exclude(status=Status.CANCELLED)
        ),
        "session_plans": _count(SessionPlan.objects.filter(client=client)),
        "notes": _count(Note.objects.filter(client=client)),
    }
    return {k: v for k, v in records.items() if v}


def _email_explanation(address: str, practice_name: str, explanation: str) -> None:
    try:
        send_email(to=[address], subject=f"{practice_name}: your erasure request", body=explanation)
    except Exception:  # the answer is also in the response and in the stored request
        logger.exception("erasure explanation email failed")


# --- selectors -----------------------------------------------------------------------------------


def client_access_log(*, practice: Practice, client_id: int) -> models.QuerySet[AuditEvent]:
    """Every access-log row about one client's records (DOMAIN.md 8 "Audit controls")."""
    return (
        AuditEvent.objects.filter(practice=practice)
        .filter(AuditEvent.concerning_client(client_id))
        .select_related("actor", "api_key")
        .order_by("-at", "-id")
    )
