"""Signals the scheduling app sends, so that apps built on it (records: courses of care) react
without being imported here (STYLE.md: a lower app never imports a higher one)."""

from django.dispatch import Signal

# Sent inside the transaction that marks an appointment `completed`, with `appointment`.
visit_completed = Signal()
