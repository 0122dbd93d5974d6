"""Rate limits (API.md "Conventions": 429 `throttled` with Retry-After) and their headers.

Every limit is a `RateLimited` throttle: the answer carries `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` (the IETF httpapi draft's names) of the limit closest
to running out, so that integrations can pace themselves instead of meeting a 429.

A member is limited per user, an API key per key. DRF's UserRateThrottle keys on `request.user.pk`,
which an API key's principal lacks (it is None): alone, it would put every key of every practice
in one shared bucket, so one busy integration would throttle all the others.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle, UserRateThrottle

from practice.models import ApiKey

LIMITS_ATTRIBUTE = "backcare_rate_limits"


@dataclass(frozen=True)
class LimitState:
    scope: str
    limit: int
    remaining: int
    reset: int  # seconds until a request is counted off again (the oldest one in the window)


class RateLimited(SimpleRateThrottle):
    """A DRF rate throttle that notes how much of its limit the request left, for the headers."""

    # set by SimpleRateThrottle.__init__ from the rate (the DRF stubs do not declare them)
    num_requests: int | None
    duration: int

    def allow_request(self, request, view) -> bool:
        allowed = super().allow_request(request, view)
        if getattr(self, "key", None) is not None and self.num_requests:
            history = self.history
            reset = self.duration - (self.now - history[-1]) if history else self.duration
            state = LimitState(
                scope=str(self.scope),
                limit=self.num_requests,
                remaining=max(0, self.num_requests - len(history)),
                reset=max(1, math.ceil(reset)),
            )
            note_limit(request, state)
        return allowed


def note_limit(request, state: LimitState) -> None:
    """Keep a limit's state on the request; the middleware answers the tightest one."""
    django_request = getattr(request, "_request", request)
    states = getattr(django_request, LIMITS_ATTRIBUTE, [])
    setattr(django_request, LIMITS_ATTRIBUTE, [*states, state])


class RateLimitHeadersMiddleware:
    """Writes the RateLimit-* headers of the tightest limit a request met (none met: none)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        states = getattr(request, LIMITS_ATTRIBUTE, None)
        if states:
            tightest = min(states, key=lambda state: (state.remaining, -state.reset))
            response["RateLimit-Limit"] = str(tightest.limit)
            response["RateLimit-Remaining"] = str(tightest.remaining)
            response["RateLimit-Reset"] = str(tightest.reset)
        return response


class MemberRateThrottle(RateLimited, UserRateThrottle):
    """DRF's per-user (or, anonymous, per-address) limit; API keys have their own below."""

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiKey):
            return None
        return super().get_cache_key(request, view)


class ApiKeyRateThrottle(RateLimited):
    """The `api_key` rate, counted per key; requests made without a key are not its concern."""

    scope = "api_key"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


def caller_ip(request) -> str | None:
    """The caller's own address, or None if the request carries no valid one.

    DRF's `get_ident` honours NUM_PROXIES: behind a reverse proxy REMOTE_ADDR is the proxy's, and
    a forged X-Forwarded-For is ignored. The audit log records this (DOMAIN.md 8 "from where")."""
    try:
        return str(ipaddress.ip_address((BaseThrottle().get_ident(request) or "").strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The caller's address as limits count it, or None if the request carries no valid one.

    An IPv6 caller is counted by its /64: one subscriber is usually given a whole /64, so counting
    single addresses would let a script take a fresh one for every request and never meet a
    per-address limit.
    """
    raw = caller_ip(request)
    if raw is None:
        return None
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False).network_address)
    return str(address)


def client_address(request) -> str:
    """`client_ip`, or DRF's raw ident when it is not an address (a rate-limit key all the same)."""
    return client_ip(request) or BaseThrottle().get_ident(request) or ""


class AddressRateThrottle(RateLimited):
    """A `scope` rate counted per caller address (`client_address`), for endpoints without login."""

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class IdempotencyKeyRateThrottle(AddressRateThrottle):
    """New `Idempotency-Key`s per caller address (`public_idempotency_keys`).

    A public booking's key is not tied to the address (a phone moving from Wi-Fi to mobile
    retries from another one and must get its first answer back), so guessing keys is slowed
    here instead: each address may bring only so many keys it has not sent before per period.
    A retry with a key the address already used does not count again.
    """

    scope = "public_idempotency_keys"

    def allow_request(self, request, view) -> bool:
        key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if request.method != "POST" or not key or self.rate is None:
            return True
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        ident = client_address(request)
        seen = self.cache_format % {"scope": self.scope, "ident": f"{ident}:{digest}"}
        if cache.get(seen):
            return True
        if not super().allow_request(request, view):
            return False
        cache.set(seen, True, self.duration)
        return True


def hashed_ident(value: str) -> str:
    """A cache-key-safe, non-reversible stand-in for an email (or any caller-given text).

    Keys never hold raw emails: they would be readable in Redis, and memcached-unsafe characters
    in them raise CacheKeyWarning."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


class AttemptCounter:
    """Counts the attempts a caller chooses to count (failed logins, bookings made), not requests.

    `limits` are (scope, rate) pairs, each counted in a fixed window per its own key; `check`
    raises 429 `throttled` once any count reached its rate, `record` adds one to each. Given the
    request, both note each limit's state for the RateLimit-* headers, like a `RateLimited`.
    """

    def __init__(self, *limits: tuple[str, str]) -> None:
        self.limits = limits

    def _windows(self, idents: dict[str, str], now: float):
        """Fixed windows: the key names the window, so `add` + `incr` count atomically."""
        parser = SimpleRateThrottle.__new__(SimpleRateThrottle)
        for scope, rate_setting in self.limits:
            rate = SimpleRateThrottle.THROTTLE_RATES.get(rate_setting)
            allowed, seconds = parser.parse_rate(rate)
            if allowed is None or seconds is None:
                continue
            window = int(now // seconds)
            yield f"attempts:{scope}:{idents[scope]}:{window}", allowed, (window + 1) * seconds

    def check(self, idents: dict[str, str], request=None) -> None:
        now = time.time()
        for key, allowed, window_end in self._windows(idents, now):
            used = cache.get(key) or 0
            self._note(request, key, allowed, used, window_end - now)
            if used >= allowed:
                raise exceptions.Throttled(wait=max(1, math.ceil(window_end - now)))

    def record(self, idents: dict[str, str], request=None) -> None:
        now = time.time()
        for key, allowed, window_end in self._windows(idents, now):
            timeout = max(1, math.ceil(window_end - now))
            cache.add(key, 0, timeout=timeout)
            try:
                used = cache.incr(key)
            except ValueError:  # expired between add and incr: start the count again
                cache.add(key, 1, timeout=timeout)
                used = 1
            self._note(request, key, allowed, used, window_end - now)

    @staticmethod
    def _note(request, key: str, allowed: int, used: int, reset: float) -> None:
        if request is not None:
            scope = key.split(":", 2)[1]
            state = LimitState(scope, allowed, max(0, allowed - used), max(1, math.ceil(reset)))
            note_limit(request, state)


# Login: five failures per (email, address) a minute; a slower cap per email from everywhere, so
# a password guess spread over many addresses still stops, while a stranger's five wrong passwords
# no longer lock the owner out (issue 13.6).
LOGIN_FAILURES = AttemptCounter(
    ("login_email_ip", "login_email"), ("login_email", "login_email_all")
)


def login_idents(request, email: str) -> dict[str, str]:
    account = hashed_ident(email)
    return {
        "login_email_ip": f"{account}:{client_address(request)}",
        "login_email": account,
    }


# Reset links mailed to one address: a few an hour, counted for unknown emails too (so the 429
# tells nothing about the account), keeping a stranger from flooding someone's mailbox.
PASSWORD_RESETS = AttemptCounter(("password_reset_email", "password_reset_email"))


def reset_idents(email: str) -> dict[str, str]:
    return {"password_reset_email": hashed_ident(email)}
