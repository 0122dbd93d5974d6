"""Rate limits of authenticated callers (API.md "Conventions": 429 `throttled` with Retry-After).

A member is limited per user, an API key per key. DRF's UserRateThrottle keys on `request.user.pk`,
which an API key's principal lacks (it is None): alone, it would put every key of every practice
in one shared bucket, so one busy integration would throttle all the others.
"""

from __future__ import annotations

import hashlib
import ipaddress

from django.core.cache import cache
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle, UserRateThrottle

from practice.models import ApiKey


class MemberRateThrottle(UserRateThrottle):
    """DRF's per-user (or, anonymous, per-address) limit; API keys have their own below."""

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            return None
        return super().get_cache_key(request, view)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """The `api_key` rate, counted per key; requests made without a key are not its concern."""

    scope = "api_key"

    def get_cache_key(self, request, view):
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


class AddressRateThrottle(SimpleRateThrottle):
    """A `scope` rate counted per caller address (`client_address`), for endpoints without login."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class IdempotencyKeyRateThrottle(AddressRateThrottle):
    """New `Idempotency-Key`s per caller address (`public_idempotency_keys`).

    A public booking's key is not tied to the address (a phone moving from Wi-Fi to mobile
    retries from another one and must get its first answer back), so guessing keys is slowed
    here instead: each address may bring only so many keys it has not sent before per period.
    A retry with a key the address already used does not count again.
    """

    scope = "public_idempotency_keys"

    def allow_request(self, request, view):
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
