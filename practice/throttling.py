"""Rate limits of authenticated callers (API.md "Conventions": 429 `throttled` with Retry-After).

A member is limited per user, an API key per key. DRF's UserRateThrottle keys on `request.user.pk`,
which an API key's principal lacks (it is None): alone, it would put every key of every practice
in one shared bucket, so one busy integration would throttle all the others.
"""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

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
