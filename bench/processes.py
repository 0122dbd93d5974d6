"""Real server processes for the figures that need them (gunicorn, a Celery worker).

They run against the bench's own database, with their own var/ directory (a temporary one, so the
file cache and the filesystem broker of a `make run` beside them are not touched) and with their
own Celery queue names, and they are always stopped: terminated, then killed if they linger.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connections

BIN = Path(sys.executable).parent


def bench_database_url() -> str:
    """DATABASE_URL with the bench database's name in place of the live one."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = connections["default"].settings_dict["NAME"]
    return urlunsplit(parts._replace(path=f"/{name}"))


def child_env(var_dir: str, **overrides: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.update(
        DATABASE_URL=bench_database_url(),
        BACKCARE_VAR_DIR=var_dir,
        PYTHONUNBUFFERED="1",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def running(
    args: list[str], *, env: dict[str, str], log: Path, stdout_to_log: bool = True
) -> Iterator[subprocess.Popen]:
    """Start `args` in a session of its own (so its children are ours to stop), stop on exit."""
    with log.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own venv's executables, fixed arguments
            args,
            env=env,
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log_file if stdout_to_log else subprocess.DEVNULL,
            stderr=log_file,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to the process (gunicorn and Celery shut their children down on it), then SIGKILL
    to its whole process group if anything of it is still there after `grace` seconds."""
    pgid = process.pid  # start_new_session: the group is the one the process leads
    if process.poll() is None:
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    deadline = time.monotonic() + 5
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pgid):
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def drop_redis_queues(names: list[str]) -> None:
    """Remove the bench's own queues, and kombu's binding sets for them, from the broker."""
    if not settings.REDIS_URL or not names:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.delete(
            *names,
            *(f"_kombu.binding.{name}" for name in names),
            *(f"_kombu.binding_permanent.{name}" for name in names),
        )
    finally:
        client.close()
