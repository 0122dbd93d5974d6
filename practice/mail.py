"""Every outgoing email leaves through `send_email`: account links (practice.tasks), the paused
webhook notice, erasure explanations, and the reminder outbox's sender
(sessions.scheduling.messaging)."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend


def send_email(
    *,
    to: Sequence[str],
    subject: str,
    body: str,
    connection: BaseEmailBackend | None = None,
    fail_silently: bool = False,
) -> None:
    """One plain-text message from DEFAULT_FROM_EMAIL; `connection` reuses an open SMTP session
    for a batch (sessions.scheduling.messaging.Mailer)."""
    EmailMessage(subject, body, None, list(to), connection=connection).send(
        fail_silently=fail_silently
    )
