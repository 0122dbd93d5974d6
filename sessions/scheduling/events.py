"""Signals scheduling sends for apps above it (billing, records) to react to, inside the
transaction of the change: scheduling never imports them (pyproject import-linter layers)."""

from django.dispatch import Signal

# Sent by booking.move_appointment and cancel_appointment after an appointment changed status,
# with `appointment`, `before` (the old status), `actor` (booking.Actor). Receivers run in the
# same transaction: an error in one rolls the status change back.
appointment_status_changed = Signal()
