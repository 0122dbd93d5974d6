"""Services enqueue by task name (practice.queueing): a web process, which imports no tasks
module, finds the task in Celery's registry without running Django's system checks mid-request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SCRIPT = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
import config.urls  # what a web process has loaded
import django.core.checks
def refuse(*args, **kwargs):
    raise SystemExit("system checks ran")
django.core.checks.run_checks = refuse
assert "sessions.tasks" not in sys.modules and "practice.tasks" not in sys.modules
from practice.queueing import registered_task
print(registered_task("sessions.tasks.dispatch_reminders").name)
print(registered_task("practice.tasks.dispatch_webhooks").name)
"""


def test_a_web_process_finds_tasks_by_name_without_importing_them_itself():
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "sessions.tasks.dispatch_reminders",
        "practice.tasks.dispatch_webhooks",
    ]
