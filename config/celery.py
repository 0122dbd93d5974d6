"""The Celery app: configured from Django settings (CELERY_*), tasks from each app's tasks.py.

Worker and beat log through Django's LOGGING (JSON or text, request and task ids) rather than
Celery's own format; `config.observability` carries the request id from the web to the task.
"""

import logging
import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import setup_logging
from django.conf import settings

# Also connects the signals that carry the request id.
from config.observability import RequestIdFilter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("backcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect(weak=False)
def _use_django_logging(**_) -> None:
    """A receiver here stops Celery from replacing the root logger's handlers with its own.

    Django applies LOGGING when it sets up; apply it here only if that has not happened yet (an
    embedded test worker must not reset the handlers a test attached)."""
    handlers = logging.getLogger().handlers
    if not any(isinstance(f, RequestIdFilter) for h in handlers for f in h.filters):
        dictConfig(settings.LOGGING)
