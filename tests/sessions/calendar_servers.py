"""Real servers for the outside-calendar tests (issue 20.4): no mocked HTTP.

`running_radicale`: a Radicale CalDAV server (from PyPI) in a subprocess on a loopback port,
filesystem storage in a temporary folder, htpasswd plain auth. `running_ics_server`: a
`http.server` thread serving .ics bodies with ETags (304 on If-None-Match), plus the misbehaving
answers a sync must survive: an endless body, a trickle, garbage.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import caldav

USER, PASSWORD = "therapist", "app-password-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class Radicale:
    base: str

    def client(self) -> caldav.DAVClient:
        return caldav.DAVClient(
            url=self.base,
            username=USER,
            password=PASSWORD,
            require_tls=False,
            enable_rfc6764=False,
        )

    def new_calendar(self) -> caldav.Calendar:
        cal_id = uuid.uuid4().hex[:12]
        return self.client().principal().make_calendar(name=cal_id, cal_id=cal_id)


@contextmanager
def running_radicale(folder: Path) -> Iterator[Radicale]:
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603  # our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "radicale",
            "--config",
            "",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(folder / "collections"),
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(folder / "users"),
            "--auth-htpasswd-encryption",
            "plain",
            "--logging-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        yield Radicale(f"http://127.0.0.1:{port}/")
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class IcsServer:
    """Serves `files[path]` (bytes) with a strong ETag; special paths misbehave on purpose."""

    base: str
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, If-None-Match)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _handler(server: IcsServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # http.server's name
            server.requests.append((self.path, self.headers.get("If-None-Match", "")))
            try:
                if self.path == "/endless.ics":  # 50 MB and more, no Content-Length
                    return self._endless()
                if self.path == "/trickle.ics":  # a byte at a time, for ever
                    return self._trickle()
                self._file()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        def _file(self) -> None:
            body = server.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _endless(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            chunk = b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"x" * 65_000 + b"\r\n"
            for _ in range(800):  # 52 MB
                self.wfile.write(chunk)

        def _trickle(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            for _ in range(600):
                self.wfile.write(b"X")
                self.wfile.flush()
                time.sleep(0.2)

    return Handler


@contextmanager
def running_ics_server() -> Iterator[IcsServer]:
    port = free_port()
    server = IcsServer(f"http://127.0.0.1:{port}")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), _handler(server))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
