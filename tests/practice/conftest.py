"""Fixtures of the practice tests."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Login and throttle tests hash many passwords; the real hasher is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
