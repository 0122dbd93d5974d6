"""Billing's reactions to scheduling (sessions.scheduling.events), connected in apps.ready."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from practice.models import User
from sessions.billing.invoices import invoice_appointment
from sessions.scheduling.events import appointment_status_changed
from sessions.scheduling.models import Appointment, Status


@receiver(appointment_status_changed)
def _draft_invoice_on_completion(
    sender: type, *, appointment: Appointment, before: str, actor: Any, **kwargs: Any
) -> None:
    """A completed visit is invoiced (issue 19.2): a draft with its service's line, in the
    completion's transaction, ready for fees and issue. Completing twice never bills twice."""
    if appointment.status != Status.COMPLETED:
        return
    user = getattr(actor, "user", None)
    invoice_appointment(appointment=appointment, actor=user if isinstance(user, User) else None)
