"""Signals this app sends, so that apps built on it can react without being imported here."""

from django.dispatch import Signal

# Sent inside the verifying transaction with user, practice, phone (from the sign-up form) and
# date_of_birth (given when confirming, or None); a receiver may refuse by raising a DomainError.
email_verified = Signal()
# Sent inside the transaction of a proven email change, with user and previous (the old email).
email_changed = Signal()
