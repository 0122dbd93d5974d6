"""Billing's reactions to scheduling (sessions.scheduling.events), connected in apps.ready."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from practice.models import User
from sessions.billing import fees, packages
from sessions.billing.invoices import invoice_appointment
from sessions.scheduling.events import appointment_status_changed
from sessions.scheduling.models import Appointment, Status


@receiver(appointment_status_changed, dispatch_uid="billing.appointment_status_changed")
def _appointment_status_changed(
    sender: type, *, appointment: Appointment, before: str, actor: Any, **kwargs: Any
) -> None:
    """One receiver, in the status change's transaction, so the order is fixed:

    - a completed visit draws a package session first (issue 19.4), then is invoiced (19.2): a
      draft with its service's line, zero when a package covers it. Completing twice never bills
      or draws twice;
    - leaving `completed` (no path does today) gives the package session back;
    - a late cancellation or no-show adds the practice's fee line to a draft (19.5).
    """
    user = getattr(actor, "user", None)
    by = user if isinstance(user, User) else None
    if appointment.status == Status.COMPLETED:
        packages.draw_session(appointment=appointment)
        invoice_appointment(appointment=appointment, actor=by)
    elif before == Status.COMPLETED:
        packages.give_back_session(appointment=appointment)
    else:
        fees.charge_fee(appointment=appointment, by=by)
