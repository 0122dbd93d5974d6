"""docker-compose.yml, checked without Docker (issue 14.9, 15.12): it is valid against the Compose
specification's JSON schema (the copy check-jsonschema vendors: no network), every command it runs
exists in this checkout, the app starts only after migrations, and Redis keeps what it persists.

`make test` runs the same schema check through check-jsonschema's CLI.
"""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from celery.bin.celery import celery as celery_cli
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(settings.BASE_DIR)
COMPOSE = ROOT / "docker-compose.yml"
# Programs of the postgres and redis images, and the shell's own: not this checkout's to provide.
NOT_OURS = {"sh", "rm", "mkdir", "exec", "redis-server", "redis-cli", "pg_isready"}


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", path],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_compose_file_is_valid_against_the_compose_specification():
    result = check_jsonschema(COMPOSE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_mistake(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE.read_text().replace(
            "condition: service_completed_successfully", "condition: service_finished"
        )
    )

    result = check_jsonschema(broken)

    assert result.returncode != 0
    assert "service_finished" in result.stdout + result.stderr


def _app_services(compose: dict) -> dict[str, dict]:
    return {name: spec for name, spec in compose["services"].items() if "build" in spec}


def _commands(spec: dict) -> list[list[str]]:
    """Each simple command a service runs: its `command` and its healthcheck's."""
    found: list[list[str]] = []
    texts: list[list[str]] = []
    command = spec.get("command")
    if command:
        texts.append(command if isinstance(command, list) else shlex.split(command))
    test = spec.get("healthcheck", {}).get("test")
    if test and test[0] in ("CMD", "CMD-SHELL"):
        texts.append(test[1:] if test[0] == "CMD" else shlex.split(test[1]))
    for argv in texts:
        if argv[:2] == ["sh", "-c"]:
            argv = shlex.split(argv[2])
        part: list[str] = []
        for word in [*argv, "&&"]:
            if word in ("&&", "||", ";"):
                if part:
                    found.append(part)
                part = []
            elif not (not part and "=" in word):  # VAR=value before a program
                part.append(word)
    return [argv[1:] if argv[0] == "exec" else argv for argv in found]


def _check_exists(argv: list[str]) -> None:
    program, args = argv[0], argv[1:]
    if program == "python":
        if args[0] == "-c":
            return
        assert args[0] == "manage.py", argv
        assert args[1] in get_commands(), f"no management command {args[1]!r}: {argv}"
    elif program == "celery":
        assert args[:2] == ["-A", "config"], argv
        assert importlib.util.find_spec("config.celery") is not None
        assert args[2] in celery_cli.commands, f"no celery command {args[2]!r}: {argv}"
    elif program == "gunicorn":
        assert importlib.util.find_spec(args[0]) is not None, argv
    else:
        assert program in NOT_OURS, f"unknown program {program!r}: {argv}"


def test_every_command_the_app_services_run_exists(compose):
    commands = [c for spec in _app_services(compose).values() for c in _commands(spec)]

    assert {c[0] for c in commands} >= {"python", "celery", "gunicorn"}
    for argv in commands:
        _check_exists(argv)


def test_a_command_that_does_not_exist_is_caught():
    with pytest.raises(AssertionError, match="no management command"):
        _check_exists(["python", "manage.py", "load_demos"])
    with pytest.raises(AssertionError, match="no celery command"):
        _check_exists(["celery", "-A", "config", "wroker"])


def test_worker_beat_and_web_start_after_migrations_have_run(compose):
    services = compose["services"]
    migrate = services["migrate"]

    assert _commands(migrate) == [["python", "manage.py", "migrate", "--noinput"]]
    assert migrate.get("restart") == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name
        assert "migrate" not in " ".join(" ".join(c) for c in _commands(services[name])), name


def test_redis_persistence_lives_on_a_volume(compose):
    """README "Backups": Redis holds only the queue and rate-limit counters, kept across a
    restart by its append-only file; without a volume that file would die with the container."""
    redis = compose["services"]["redis"]
    command = redis["command"]

    assert command[command.index("--appendonly") + 1] == "yes"
    volumes = dict(volume.split(":", 1) for volume in redis["volumes"])
    assert volumes.get("redisdata") == "/data"
    assert "redisdata" in compose["volumes"]
