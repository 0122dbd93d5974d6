"""Signals this app sends, so that apps built on it (sessions: alerts) react without being
imported here (STYLE.md: a lower app never imports a higher one)."""

from django.dispatch import Signal

# Sent inside the screening transaction with `complaint`, `positive` (questions newly answered
# `yes`, or newly computed age flags), `unsure` (questions answered `unsure`), `by` (a user or
# None) and `appointment_id` (the visit a follow-up answer is about, else None).
screening_recorded = Signal()

# Sent inside the transaction that records scored outcomes, with `outcomes` (those recorded
# together: one, or an intake's baseline) (sessions: a course of care reviews its response, 18.3).
outcome_recorded = Signal()

# Sent after clinical records were written with `bulk_create` (which sends no `post_save`), with
# `practice` and `client_ids`: sessions moves those clients' retention clocks (DOMAIN.md 4).
clinical_records_written = Signal()
