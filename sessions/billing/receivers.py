"""Billing's reactions to scheduling (sessions.scheduling.events), connected in apps.ready."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from sessions.billing import drafts, fees, packages
from sessions.scheduling.events import appointment_status_changed
from sessions.scheduling.models import Appointment, Status


@receiver(appointment_status_changed, dispatch_uid="billing.appointment_status_changed")
def _appointment_status_changed(
    sender: Any, *, appointment: Appointment, before: str, actor: Any, **kwargs: Any
) -> None:
    """One receiver, in the status change's transaction, so the order is fixed: a completion
    draws a package session before its invoice is written (a covered visit bills zero); a late
    cancellation or no-show adds the practice's fee."""
    by = getattr(actor, "user", None)
    if appointment.status == Status.COMPLETED:
        package = packages.draw_session(appointment=appointment)
        invoice = drafts.draft_for_appointment(appointment=appointment, by=by)
        drafts.add_line(invoice, drafts.service_line(appointment, covered_by_package=bool(package)))
    elif before == Status.COMPLETED:
        packages.give_back_session(appointment=appointment)
    else:
        fees.charge_fee(appointment=appointment, by=by)
