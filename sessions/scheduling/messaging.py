"""Channels for reminders: email through Django's backend, SMS through a small backend interface.

SMS_URL picks the SMS backend: unset or `console://` prints; `https://user:token@host/path` posts
`{"to", "from", "body"}` as JSON with basic auth (the shape of common SMS HTTP APIs).
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.parse
import urllib.request
from base64 import b64encode

from django.conf import settings
from django.core.mail import get_connection

from practice.mail import send_email

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """Worth retrying later (network trouble, 5xx)."""


class PermanentError(Exception):
    """Retrying will not help (bad number, 4xx)."""


class ConsoleSms:
    def send(self, *, to: str, body: str) -> None:
        logger.info("SMS to %s: %s", to, body)
        print(f"[sms] to {to}: {body}")  # noqa: T201 - the console backend's whole point


class HttpSms:
    def __init__(self, url: str, sender: str) -> None:
        parts = urllib.parse.urlsplit(url)
        host = str(parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        self.endpoint: str = urllib.parse.urlunsplit(
            (str(parts.scheme), host, str(parts.path), str(parts.query), "")
        )
        self.auth = b64encode(f"{parts.username or ''}:{parts.password or ''}".encode()).decode()
        self.sender = sender

    def send(self, *, to: str, body: str) -> None:
        request = urllib.request.Request(  # noqa: S310 - the URL is the deployment's setting
            self.endpoint,
            data=json.dumps({"to": to, "from": self.sender, "body": body}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {self.auth}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                return
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code == 429:
                raise TransientError(f"SMS provider answered {error.code}") from error
            raise PermanentError(f"SMS provider refused: {error.code}") from error
        except OSError as error:
            raise TransientError(f"SMS provider unreachable: {error}") from error


def sms_backend() -> ConsoleSms | HttpSms:
    url = getattr(settings, "SMS_URL", "") or "console://"
    if url.startswith("console:"):
        return ConsoleSms()
    return HttpSms(url, getattr(settings, "SMS_FROM", "Backcare"))


class Mailer:
    """The channels of one batch of messages: one mail connection (an SMTP session, not one per
    message) and one SMS backend, closed when the batch is done."""

    def __enter__(self) -> Mailer:
        self.mail = get_connection()
        with contextlib.suppress(OSError):  # each message then fails on its own row, retried
            self.mail.open()
        self.sms = sms_backend()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):
            self.mail.close()

    def deliver(self, *, channel: str, to: str, subject: str, body: str) -> None:
        if not to:
            raise PermanentError(f"No {channel} address for this client.")
        if channel == "sms":
            self.sms.send(to=to, body=body)
            return
        try:
            send_email(to=[to], subject=subject, body=body, connection=self.mail)
        except OSError as error:  # SMTP trouble is worth another try
            raise TransientError(str(error)) from error
