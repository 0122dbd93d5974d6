"""Signals this app sends, so that apps built on it can react without being imported here."""

from django.dispatch import Signal

# Sent inside the verifying transaction with user, practice and phone (from the sign-up form).
email_verified = Signal()
