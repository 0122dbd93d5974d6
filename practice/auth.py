"""Bearer tokens: issued at login, stored as SHA-256, expiring, revocable (API.md "Conventions")."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from practice.config_versions import trust
from practice.models import API_KEY_ROLE, ApiKey, AuthToken, Practice, User
from practice.prepared import PreparedQuery

TOKEN_PREFIX = "bct_"  # noqa: S105 - public prefixes that make leaked secrets greppable
API_KEY_PREFIX = "bck_"


def hash_secret(secret: str) -> str:
    """Secrets are 32 random bytes: plain SHA-256 suffices; no slow hash is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> tuple[str, str]:
    """A fresh secret and its hash: the secret is shown once, only the hash is kept."""
    secret = prefix + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def issue_token(user: User) -> str:
    secret, key_hash = new_secret(TOKEN_PREFIX)
    AuthToken.objects.create(
        user=user,
        key_hash=key_hash,
        expires_at=timezone.now() + timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS),
    )
    return secret


def revoke_token(token: AuthToken) -> None:
    AuthToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


# Every request's first query: compiled once per process (its compilation cost more than the
# query itself, issue 22.2).
_TOKEN_BY_HASH = PreparedQuery(
    lambda key_hash: AuthToken.objects.select_related("user__membership__practice").filter(
        key_hash=key_hash
    )
)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`; sets `request.practice` and `request.role` from membership.

    One query: the token row joined to its user, membership and practice.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User | ApiKeyPrincipal, object] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            secret = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        if secret.startswith(API_KEY_PREFIX):
            return self._api_key(request, secret)
        token = _TOKEN_BY_HASH.first(hash_secret(secret))
        now = timezone.now()
        if token is None or token.revoked_at is not None or token.expires_at <= now:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("Account disabled.")
        membership = getattr(user, "membership", None)
        request.practice = membership.practice if membership else None  # type: ignore[attr-defined]
        if membership:
            trust(membership.practice)  # read just now: its config_version may key the cache
        request.role = membership.role if membership else None  # type: ignore[attr-defined]
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

    def _api_key(self, request: Request, secret: str) -> tuple[ApiKeyPrincipal, ApiKey]:
        key = (
            ApiKey.objects.select_related("practice")
            .filter(key_hash=hash_secret(secret), revoked_at__isnull=True)
            .first()
        )
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # at most once a minute
        request.practice = key.practice  # type: ignore[attr-defined]
        trust(key.practice)
        request.role = API_KEY_ROLE  # type: ignore[attr-defined]
        return ApiKeyPrincipal(key), key


class PracticeRequest(Request):
    """A request as `BearerAuthentication` leaves it, for the type checker: the caller's practice
    and role (`API_KEY_ROLE` for a key). Scoped views only ever see it authenticated."""

    practice: Practice
    role: str | None


class ApiKeyPrincipal:
    """`request.user` for a request made with an API key: authenticated, but no person."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = None
        self.id = None

    def __str__(self) -> str:
        return f"API key {self.key.prefix}… ({self.key.name})"


# --- calendar feed URLs ---------------------------------------------------------------------------
# A feed URL carries a signed (user id, calendar_version): nothing secret is stored, and rotating
# bumps the version so every older URL stops verifying.
_CALENDAR_SALT = "backcare.calendar"


def calendar_token(user: User) -> str:

    return signing.Signer(salt=_CALENDAR_SALT).sign(f"{user.pk}.{user.calendar_version}")


def user_for_calendar_token(token: str) -> User | None:

    try:
        value = signing.Signer(salt=_CALENDAR_SALT).unsign(token)
        user_id, version = (int(part) for part in value.split("."))
    except (signing.BadSignature, ValueError):
        return None
    return (
        User.objects.select_related("membership__practice")
        .filter(pk=user_id, calendar_version=version, is_active=True)
        .first()
    )


def calendar_url(user: User) -> str:
    return f"{settings.BASE_URL}/api/v1/calendar/{calendar_token(user)}.ics"
