"""The load test's own processes: a private PostgreSQL cluster, a private Redis, and per run the
app under test (gunicorn and one Celery worker with beat).

Nothing here touches the shared Postgres (5432) or Redis (6379): the cluster lives in a directory
of the load test's own under /tmp, listens on 127.0.0.1 on a port of its own, and is removed at the
end, as is the Redis (no persistence: `--save "" --appendonly no`). Every process is started in a
session of its own and stopped by its own id.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class ServiceError(RuntimeError):
    pass


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As servers bind: a port whose old connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(preferred: int | None = None) -> int:
    if preferred and port_free(preferred):
        return preferred
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path.name}: no log)"


def _run(args: list[str], what: str, timeout: float = 120) -> str:
    done = subprocess.run(  # noqa: S603 - fixed arguments, our own binaries
        args, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise ServiceError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin() -> Path:
    configured = os.environ.get("LOADTEST_PG_BIN")
    if configured:
        return Path(configured)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceError("no PostgreSQL binaries (initdb): set LOADTEST_PG_BIN")


class PrivatePostgres:
    """A throwaway cluster: initdb in `base`/pg, trust auth on 127.0.0.1:`port`.

    initdb refuses to run as root, so as root the cluster's commands run as `postgres`
    (runuser); its directories are owned by that user.
    """

    def __init__(self, base: Path, port: int):
        self.bin = _pg_bin()
        self.port = port
        self.data = base / "pg" / "data"
        self.run_dir = base / "pg" / "run"  # socket and server log
        self.log = self.run_dir / "postgres.log"

    def _as_postgres(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def _pg_ctl(self, *args: str, what: str) -> None:
        _run(self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]), what)

    def init(self) -> None:
        self.run_dir.mkdir(parents=True)
        self.data.parent.chmod(0o755)
        if os.geteuid() == 0:
            for path in (self.data.parent, self.run_dir):
                shutil.chown(path, "postgres", "postgres")
        _run(
            self._as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            "initdb",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.run_dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        self._pg_ctl("-l", str(self.log), "-w", "-t", "60", "-o", options, "start", what="start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop", what="stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5)

    def create_database(self, name: str, template: str | None = None) -> None:
        with self.connect() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            clause = f' TEMPLATE "{template}"' if template else ""
            connection.execute(f'CREATE DATABASE "{name}"{clause}')

    def destroy(self) -> None:
        if self.running():
            with suppress(ServiceError, subprocess.TimeoutExpired):
                self.stop("immediate")


# --- Redis --------------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server on 127.0.0.1:`port` with no persistence: a restart loses everything in it,
    queued Celery messages included (the harshest broker restart)."""

    def __init__(self, base: Path, port: int):
        self.port = port
        self.dir = base / "redis"
        self.pidfile = self.dir / "redis.pid"
        self.log = self.dir / "redis.log"
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        _run(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
                "--logfile",
                str(self.log),
                "--dir",
                str(self.dir),
            ],
            "redis-server",
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.05)
        raise ServiceError(f"redis did not answer on {self.port}:\n{tail(self.log)}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            connection.sendall(b"FLUSHALL\r\n")
            if not connection.recv(16).startswith(b"+OK"):
                raise ServiceError("redis FLUSHALL failed")

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with suppress(FileNotFoundError):
            self.pidfile.unlink()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# --- the app under test ---------------------------------------------------------------------------


class Process:
    """A child in a session (process group) of its own, so it and its children stop together."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.log = log
        with log.open("ab") as log_file:
            self.popen = subprocess.Popen(  # noqa: S603 - our own venv's executables
                args,
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> set[int]:
        """Direct children's pids (gunicorn's workers), read from /proc."""
        found = set()
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with suppress(OSError, IndexError, ValueError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.pid:
                    found.add(int(Path(stat).parent.name))
        return found

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM, then SIGKILL to the whole process group if anything of it lingers."""
        pgid = self.pid
        if self.alive():
            with suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def app_env(*, database_url: str, redis_url: str, var_dir: Path, mail_dir: Path) -> dict[str, str]:
    """The app's environment: only the load test's own services, throttles out of the way."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "CELERY_", "THROTTLE_", "EMAIL_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BACKCARE_VAR_DIR=str(var_dir),
        SECRET_KEY="loadtest-secret-key-not-for-production-0123456789abcdef",  # noqa: S106
        DEBUG="false",
        # One file per message sent, so the test can count what went out.
        EMAIL_URL=f"filemail:///{mail_dir}",
        SMS_URL="console://",
        # The run measures the app, not 429s: far above what 32 clients can send.
        THROTTLE_USER="1000000/min",
        THROTTLE_API_KEY="1000000/min",
        THROTTLE_LOGIN_EMAIL="1000/min",
        THROTTLE_LOGIN_IP="1000/min",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_app(
    *, env: dict[str, str], run_dir: Path, port: int, workers: int, threads: int
) -> tuple[Process, Process]:
    metrics_dir = run_dir / "prometheus"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    gunicorn = Process(
        "gunicorn",
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "60",
        ],
        # As `make run` serves it: request metrics shared by the workers through a directory.
        {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        run_dir / "gunicorn.log",
    )
    celery = Process(
        "celery",
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--beat",
            "--pool=solo",
            "--loglevel=WARNING",
            f"--schedule={run_dir / 'celerybeat-schedule'}",
            f"--hostname=loadtest@{port}",
        ],
        env,
        run_dir / "celery.log",
    )
    return gunicorn, celery


def wait_healthy(base_url: str, server: Process, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise ServiceError(f"gunicorn exited:\n{tail(server.log)}")
        with suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    raise ServiceError(f"gunicorn did not answer /healthz in {timeout:.0f} s:\n{tail(server.log)}")


def manage(args: list[str], env: dict[str, str], what: str, timeout: float = 600) -> str:
    return _run_env([sys.executable, *args], env, what, timeout)


def _run_env(args: list[str], env: dict[str, str], what: str, timeout: float) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise ServiceError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout
