"""Signals scheduling sends, so that the apps above it (records, billing) react without being
imported here (STYLE.md: a lower app never imports a higher one). Receivers are connected by
sessions.signals; each runs inside the transaction of the change, so an error in one rolls the
change back."""

from django.dispatch import Signal

# Sent inside the booking transaction, after the appointment row is saved, on every booking path
# (staff, client, public page, waitlist claim, series: all go through `book_appointment`), with
# `appointment` and `actor`. Records creates the intake request of a client's first visit.
appointment_booked = Signal()

# Sent inside the check-in transaction, with the appointment row locked and before its status
# changes, with `appointment` and `actor`: a receiver that raises a DomainError (e.g. 409
# `precondition_failed` for an incomplete intake) stops the check-in on every path to
# `checked_in` (API `check-in/`, bulk or any later caller of `move_appointment`).
appointment_checking_in = Signal()

# Sent by booking.move_appointment and cancel_appointment after an appointment changed status,
# with `appointment`, `before` (the old status), `actor` (booking.Actor).
appointment_status_changed = Signal()

# Sent inside the transaction that marks an appointment `completed`, with `appointment`
# (courses of care count the visit and ask for the measures due, issue 18.2).
visit_completed = Signal()
