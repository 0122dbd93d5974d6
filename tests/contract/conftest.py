"""Contract suites create many users (100 staff for a query count); hash their passwords cheaply."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Password hashing is not what these suites test; PBKDF2 at full strength only makes them slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
