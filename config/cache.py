"""The Redis cache, failing open: it holds only rate-limit counters, never state.

API.md "Reminders and follow-ups" (and the issue's fault list): with Redis down, booking,
cancelling and rescheduling still succeed. Django's RedisCache raises on every call when Redis is
unreachable, which made every throttled request a 500; here a read misses and a write is dropped
(logged), so requests go through unthrottled until Redis is back.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


def _unavailable(operation: str, error: Exception) -> None:
    logger.warning("Redis cache unavailable (%s): %s", operation, error)


class FailOpenRedisCache(RedisCache):
    def get(self, key, default=None, version=None) -> Any:
        try:
            return super().get(key, default, version)
        except UNAVAILABLE as error:
            _unavailable("get", error)
            return default

    def get_many(self, keys, version=None) -> dict:
        try:
            return super().get_many(keys, version)
        except UNAVAILABLE as error:
            _unavailable("get_many", error)
            return {}

    def has_key(self, key, version=None) -> bool:
        try:
            return super().has_key(key, version)
        except UNAVAILABLE as error:
            _unavailable("has_key", error)
            return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except UNAVAILABLE as error:
            _unavailable("add", error)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> None:
        try:
            super().set(key, value, timeout, version)
        except UNAVAILABLE as error:
            _unavailable("set", error)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None) -> list:
        try:
            return super().set_many(data, timeout, version)
        except UNAVAILABLE as error:
            _unavailable("set_many", error)
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        try:
            return super().touch(key, timeout, version)
        except UNAVAILABLE as error:
            _unavailable("touch", error)
            return False

    def delete(self, key, version=None) -> bool:
        try:
            return super().delete(key, version)
        except UNAVAILABLE as error:
            _unavailable("delete", error)
            return False

    def delete_many(self, keys, version=None) -> None:
        try:
            super().delete_many(keys, version)
        except UNAVAILABLE as error:
            _unavailable("delete_many", error)

    def incr(self, key, delta=1, version=None) -> int:
        # Failure counters of the login limit (practice/throttling.py) count with incr.
        try:
            return super().incr(key, delta, version)
        except UNAVAILABLE as error:
            _unavailable("incr", error)
            return 0
