"""Packages (issue 19.4): products of N sessions, sold to clients, drawn by completed visits.

A completed appointment draws one session from the client's package that covers its service and
expires first (earliest `expires_on`, then the oldest sale). The draw is one conditional UPDATE
(`... SET sessions_remaining = sessions_remaining - 1 WHERE id = ? AND sessions_remaining > 0`):
under racing completions PostgreSQL re-checks the condition on the row another transaction just
changed, so a package never goes below zero and exactly as many visits draw as it had sessions
(tests/billing/test_package_races.py). The check constraint keeps it between 0 and the sold count.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clients.models import Client
from practice.audit import audit
from practice.errors import Invalid, InvalidTransition, PreconditionFailed
from practice.models import AuditAction, Practice, User
from sessions.billing.invoices import LineInput, create_invoice
from sessions.billing.models import ClientPackage, LineKind, Package, PackageUse
from sessions.billing.money import fits
from sessions.scheduling.models import Appointment, Status


def _check_price(price: Decimal, currency: str) -> None:
    if price < 0:
        raise Invalid.on("price", "A price cannot be negative.", "min_value")
    if not fits(price, currency):
        raise Invalid.on("price", f"{currency} has no amounts this small.", "precision")


@transaction.atomic
def create_package(*, practice: Practice, fields: dict[str, Any]) -> Package:
    """A package product (issue 19.4); its price in the practice's currency's minor units."""
    services = fields.pop("services")
    _check_price(fields["price"], practice.currency)
    if Package.objects.filter(practice=practice, name=fields["name"]).exists():
        raise Invalid.on("name", "A package with this name exists.", "unique")
    package = Package.objects.create(practice=practice, **fields)
    package.services.set(services)
    return package


@transaction.atomic
def update_package(*, package: Package, fields: dict[str, Any]) -> Package:
    """Change a product; packages already sold keep their sessions, price and expiry."""
    services = fields.pop("services", None)
    if "price" in fields:
        _check_price(fields["price"], package.practice.currency)
    name = fields.get("name")
    clash = Package.objects.filter(practice_id=package.practice_id, name=name)
    if name is not None and clash.exclude(pk=package.pk).exists():
        raise Invalid.on("name", "A package with this name exists.", "unique")
    for name, value in fields.items():
        setattr(package, name, value)
    package.save()
    if services is not None:
        package.services.set(services)
    return package


@transaction.atomic
def sell_package(
    *, practice: Practice, package: Package, client: Client, by: User
) -> ClientPackage:
    """Sell a package to a client: its sessions, its expiry (`expiry_days` from today in the
    practice's days) and a draft invoice with the package's line for staff to issue."""
    if not package.active:
        raise Invalid.on("package", "This package is no longer sold.", "inactive")
    if client.restricted_at is not None:  # kept after an erasure request (DOMAIN.md 8)
        raise PreconditionFailed("This client's record is restricted.")
    today = timezone.now().astimezone(practice.tz).date()
    invoice = create_invoice(
        practice=practice,
        client=client,
        actor=by,
        lines=[
            LineInput(
                kind=LineKind.PACKAGE,
                description=f"{package.name}: {package.sessions} sessions",
                unit_price=package.price,
            )
        ],
    )
    return ClientPackage.objects.create(
        practice=practice,
        client=client,
        package=package,
        sessions_total=package.sessions,
        sessions_remaining=package.sessions,
        price=package.price,
        currency=practice.currency,
        expires_on=today + timedelta(days=package.expiry_days),
        invoice=invoice,
        sold_by=by,
    )


def draw_session(
    *, appointment: Appointment, prefer: int | None = None
) -> ClientPackage | None:
    """One session for a completed appointment from the client's package that expires first and
    covers its service, or None (then the visit is invoiced at its price). `prefer` (a course's
    own package, issue 19.4) is tried first when it covers the visit. Runs inside the
    completion's transaction; a visit draws at most once (a unique constraint on live uses)."""
    existing = PackageUse.objects.filter(appointment=appointment, returned_at__isnull=True).first()
    if existing is not None:
        return existing.client_package
    day = appointment.start.astimezone(appointment.practice.tz).date()
    candidates = (
        ClientPackage.objects.filter(
            client_id=appointment.client_id,
            sessions_remaining__gt=0,
            expires_on__gte=day,
            package__services=appointment.service_id,
        )
        .order_by("expires_on", "id")
        .values_list("pk", flat=True)
    )
    ordered = list(candidates)
    if prefer in ordered:
        ordered.remove(prefer)
        ordered.insert(0, prefer)
    for pk in ordered:
        # The condition is re-checked on the latest row version when another completion got
        # there first: the race this module's docstring describes.
        drawn = ClientPackage.objects.filter(pk=pk, sessions_remaining__gt=0).update(
            sessions_remaining=F("sessions_remaining") - 1, updated_at=timezone.now()
        )
        if drawn:
            PackageUse.objects.create(client_package_id=pk, appointment=appointment)
            return ClientPackage.objects.get(pk=pk)
    return None


def give_back_session(
    *, appointment: Appointment, by: User | None = None, reason: str = ""
) -> PackageUse | None:
    """Undo `draw_session`: the package gets the session back and the use is marked returned.
    None when the appointment holds no session."""
    use = (
        PackageUse.objects.select_for_update()
        .filter(appointment=appointment, returned_at__isnull=True)
        .first()
    )
    if use is None:
        return None
    ClientPackage.objects.filter(pk=use.client_package_id).update(
        sessions_remaining=F("sessions_remaining") + 1, updated_at=timezone.now()
    )
    use.returned_at = timezone.now()
    use.returned_by = by
    use.return_reason = reason
    use.save(update_fields=["returned_at", "returned_by", "return_reason"])
    return use


@transaction.atomic
def restore_session(
    *, client_package: ClientPackage, appointment: Appointment, reason: str, by: User
) -> ClientPackage:
    """An owner gives a session back (a completion recorded by mistake, a visit the practice
    chose not to count), with a reason kept on the use; audited. Issue 19.4."""
    if not PackageUse.objects.filter(
        appointment=appointment, client_package=client_package
    ).exists():
        raise Invalid.on("appointment", "This appointment drew no session of this package.")
    use = give_back_session(appointment=appointment, by=by, reason=reason)
    if use is None:
        raise InvalidTransition("This session was given back already.")
    audit(
        practice=client_package.practice_id,
        actor=by,
        role="owner",
        action=AuditAction.UPDATE,
        record_type="package_use",
        record_ids=[use.pk],
        client_ids=[client_package.client_id],
    )
    return ClientPackage.objects.get(pk=client_package.pk)


def on_status_changed(*, appointment: Appointment, before: str) -> ClientPackage | None:
    """Completion draws a session; leaving `completed` (no path does today: the state machine of
    API.md "Booking" ends there) gives it back."""
    if appointment.status == Status.COMPLETED:
        return draw_session(appointment=appointment)
    if before == Status.COMPLETED:
        give_back_session(appointment=appointment)
    return None
