"""Draw a realistic `progress.svg` and render it to PNG with headless Chromium, to look at.

Run by hand (`.venv/bin/python tests/render_progress_chart.py`), not by pytest: CI machines have no
browser. Writes `var/screenshots/progress.svg` and `progress.png`. The data: an NPRS series with
before- and after-session scores on the same days and two readings on one day, an RMDQ series, a
PSFS series that gets worse. tests/clients/test_progress.py checks the chart's structure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from clients import instruments  # noqa: E402
from clients.charts import chart_title, progress_svg  # noqa: E402
from clients.selectors import Point, Progress  # noqa: E402

OUT = ROOT / "var" / "screenshots"
TZ = ZoneInfo("Europe/London")
START = datetime(2026, 1, 5, 10, 0, tzinfo=TZ)


def point(days: float, hour: int, score: float) -> Point:
    at = START + timedelta(days=days)
    at = at.replace(hour=hour)
    return Point(at.date(), Decimal(str(score)), at)


def series(instrument: str, points: list[Point], after: list[Point] | None = None) -> Progress:
    baseline = points[0].score if instrument != "groc" else Decimal(0)
    return Progress(
        instrument,
        points,
        instruments.change(instrument, baseline, points[-1].score),
        after or [],
    )


def main() -> int:
    nprs = series(
        "nprs",
        [
            point(0, 10, 7),
            point(7, 10, 6),
            point(14, 10, 5),
            point(14, 18, 6),  # two readings on one day
            point(16, 9, 4),
            point(28, 10, 4),
            point(42, 10, 3),
        ],
        after=[point(7, 11, 4), point(14, 11, 3), point(28, 11, 2), point(42, 11, 2)],
    )
    rmdq = series("rmdq", [point(0, 10, 12), point(28, 10, 9), point(42, 10, 6)])
    psfs = series("psfs", [point(0, 10, 5), point(21, 10, 4.5), point(42, 10, 2.5)])
    title = chart_title(
        first_name="Robin", last_name="Ashdown", regions=[{"region": "lumbar", "side": "left"}]
    )
    svg = progress_svg({"nprs": nprs, "rmdq": rmdq, "psfs": psfs}, title)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "progress.svg").write_text(svg)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium is not installed: only the SVG was written")  # noqa: T201
        return 1
    subprocess.run(  # noqa: S603
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=640,780",
            f"--screenshot={OUT / 'progress.png'}",
            (OUT / "progress.svg").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    print(OUT / "progress.png")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
