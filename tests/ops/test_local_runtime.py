"""The local runtime leaves its files under var/ (issue 14.11, 15.11): the embedded broker's
exchange tables are not written to `control/` in the working directory (once committed by mistake),
kombu does not warn about a missing hostname, and each gunicorn master has its own control socket
under var/ instead of the one ~/.gunicorn/gunicorn.ctl that two instances would fight over.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from gunicorn.config import Config
from kombu import Connection, Exchange, Queue

ROOT = Path(settings.BASE_DIR)
VAR_DIR = Path(settings.VAR_DIR)


@pytest.fixture
def embedded_broker(settings, monkeypatch, tmp_path):
    if not settings.CELERY_BROKER_URL.startswith("filesystem:"):
        pytest.skip("REDIS_URL is set: the embedded broker is not in use")
    monkeypatch.chdir(tmp_path)  # kombu's default control folder is relative to this
    return tmp_path


def test_the_embedded_broker_keeps_its_exchange_tables_under_var(embedded_broker, caplog):
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    control = Path(options["control_folder"])
    assert control.is_relative_to(VAR_DIR)

    caplog.set_level(logging.WARNING, logger="kombu")
    with Connection(settings.CELERY_BROKER_URL, transport_options=options) as connection:
        connection.info()
        exchange = Exchange("test-local-runtime", type="direct")
        Queue("test-local-runtime", exchange, routing_key="x")(connection.default_channel).declare()

    assert (control / "test-local-runtime.exchange").exists()
    assert not (embedded_broker / "control").exists()
    assert "No hostname was supplied" not in caplog.text


def test_no_broker_files_at_the_root_of_the_checkout():
    assert not (ROOT / "control").exists()


def _gunicorn_control_socket() -> str:
    """What gunicorn started from the checkout would use (it reads ./gunicorn.conf.py)."""
    code = (
        "from gunicorn.config import Config\n"
        "import runpy\n"
        "cfg = Config()\n"
        "for key, value in runpy.run_path('gunicorn.conf.py').items():\n"
        "    if key in cfg.settings: cfg.set(key, value)\n"
        "print(cfg.control_socket)\n"
    )
    return subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BACKCARE_VAR_DIR": str(VAR_DIR)},
    ).stdout.strip()


def test_each_gunicorn_master_has_its_own_control_socket_under_var():
    assert Config().control_socket.startswith(str(Path.home()))  # gunicorn's shared default

    first, second = _gunicorn_control_socket(), _gunicorn_control_socket()

    assert Path(first).parent == VAR_DIR
    assert first != second
