"""Tasks of the bench's own, for the reminders figure's worker (started with `-I bench.tasks`).

`noop` is the bare task the reminders are compared with; `mark` records, in the cache both
processes share (Redis), when the worker reached it: the bench queues a mark before and after each
batch, and one solo worker takes a Redis queue in order, so the two marks time the batch between.
"""

import time

from celery import shared_task
from django.core.cache import cache


@shared_task(name="bench.noop")
def noop() -> None:
    return None


@shared_task(name="bench.mark")
def mark(key: str) -> None:
    cache.set(key, time.time(), timeout=3600)
