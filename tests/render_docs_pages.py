"""Render `/api/v1/`, `/api/v1/docs/` and `/api/v1/redoc/` in headless Chromium, offline.

Run by hand (`.venv/bin/python tests/render_docs_pages.py`), not by pytest: CI machines have no
browser. It starts gunicorn on a free loopback port (as `make run` serves, DEBUG off), loads each
page with every other host unresolvable (so a CDN or web-font request fails as it would offline),
checks the rendered DOM has content and writes screenshots to `var/screenshots/` to look at.
tests/contract/test_front_door.py checks, in CI, that the pages load only local assets.
Needs `chromium` on PATH (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "screenshots"
# Page -> a text the page shows only once its script has rendered the schema.
PAGES = {
    "api-root": ("/api/v1/", "Backcare API"),
    "swagger": ("/api/v1/docs/", "Book an appointment"),
    "redoc": ("/api/v1/redoc/", "Book an appointment"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310  # loopback only
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the server did not answer {url}")


def chromium(*args: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    return subprocess.run(  # noqa: S603
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            # Offline: only the server under test resolves; a CDN request fails.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--window-size=1280,1600",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    failures = []
    try:
        wait_for(f"{base}/api/v1/")
        for name, (path, expected) in PAGES.items():
            shot = OUT / f"{name}.png"
            chromium(f"--screenshot={shot}", base + path)
            dom = chromium("--dump-dom", base + path).stdout
            ok = shot.is_file() and expected in dom
            print(f"{'ok  ' if ok else 'FAIL'} {path}: {shot} ({len(dom)} characters of DOM)")  # noqa: T201
            if not ok:
                failures.append(path)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
