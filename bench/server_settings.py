"""Settings of the bench's gunicorn: the project's settings, with Celery's default queue renamed.

A booking publishes `dispatch_reminders` after commit. Under the bench those messages go to a queue
of the bench's own (BENCH_CELERY_QUEUE), which it deletes afterwards, instead of the queue that a
worker of `make run` on the same broker would pick them up from.
"""

import os

from config.settings import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "bench")
