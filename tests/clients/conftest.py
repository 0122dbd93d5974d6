"""Fixtures of these tests: each one logs in several members; hash their passwords cheaply."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Password hashing is not what these tests test; PBKDF2 at full strength only makes them slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
