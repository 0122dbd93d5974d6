"""`progress.svg`: one small chart per instrument, drawn as plain SVG (no plotting dependency).

Each panel shows the series as a line with dots, the baseline as a dashed line, and the band within
one MCID of the baseline shaded: a point outside the band on the "better" side is a meaningful
improvement (DOMAIN.md 3). Better is always drawn upwards, so every panel reads the same way.
"""

from __future__ import annotations

from decimal import Decimal
from xml.sax.saxutils import escape

from clients import instruments
from clients.selectors import Progress

WIDTH, PANEL_HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 40, 36
SCALES = {  # instrument -> (low, high, label)
    "nprs": (0, 10, "NPRS pain 0-10 (lower is better)"),
    "odi": (0, 100, "ODI disability % (lower is better)"),
    "rmdq": (0, 24, "RMDQ 0-24 (lower is better)"),
    "psfs": (0, 10, "PSFS function 0-10 (higher is better)"),
    "groc": (-7, 7, "GROC change -7..+7 (higher is better)"),
}


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _panel(progress: Progress, top: int) -> list[str]:
    low, high, label = SCALES[progress.instrument]
    rule = instruments.RULES[progress.instrument]
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = PANEL_HEIGHT - TOP - BOTTOM

    def y(value: Decimal) -> float:
        fraction = (float(value) - low) / (high - low)
        if not rule.higher_is_better:
            fraction = 1 - fraction  # better is up
        return top + TOP + plot_h * (1 - fraction)

    count = len(progress.series)

    def x(index: int) -> float:
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    change = progress.change
    assert change is not None  # noqa: S101 - selector always fills it
    parts = [
        f'<text x="{LEFT}" y="{top + 24}" class="title">{escape(label)}</text>',
        f'<rect x="{LEFT}" y="{top + TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>',
    ]
    if rule.mcid is not None:
        band_low = max(Decimal(low), change.baseline - rule.mcid)
        band_high = min(Decimal(high), change.baseline + rule.mcid)
        y1, y2 = sorted((y(band_low), y(band_high)))
        parts.append(
            f'<rect x="{LEFT}" y="{y1:.1f}" width="{plot_w}" height="{y2 - y1:.1f}" class="band">'
            f"<title>within one MCID ({rule.mcid}) of baseline</title></rect>"
        )
    base_y = y(change.baseline)
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{base_y:.1f}" y2="{base_y:.1f}" '
        f'class="baseline"/><text x="{LEFT + plot_w - 4}" y="{base_y - 4:.1f}" '
        f'class="note" text-anchor="end">baseline {_number(change.baseline)}</text>'
    )
    for tick in (low, (low + high) / 2, high):
        ty = y(Decimal(tick))
        parts.append(
            f'<text x="{LEFT - 8}" y="{ty + 4:.1f}" class="axis" text-anchor="end">{tick:g}</text>'
        )
    points = " ".join(f"{x(i):.1f},{y(p.score):.1f}" for i, p in enumerate(progress.series))
    parts.append(f'<polyline points="{points}" class="series"/>')
    for i, point in enumerate(progress.series):
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(point.score):.1f}" r="4" class="dot">'
            f"<title>{point.date.isoformat()}: {_number(point.score)}</title></circle>"
        )
    first, last = progress.series[0].date, progress.series[-1].date
    bottom = top + TOP + plot_h + 18
    parts.append(f'<text x="{LEFT}" y="{bottom}" class="axis">{first.isoformat()}</text>')
    if count > 1:
        parts.append(
            f'<text x="{LEFT + plot_w}" y="{bottom}" class="axis" text-anchor="end">'
            f"{last.isoformat()}</text>"
        )
    verdict_class = "good" if change.meaningful else ("bad" if change.worse else "flat")
    verdict = (
        "meaningful improvement"
        if change.meaningful
        else ("worse" if change.worse else "no meaningful change yet")
    )
    parts.append(
        f'<text x="{WIDTH - RIGHT}" y="{top + 24}" class="verdict {verdict_class}" '
        'text-anchor="end">'
        f"latest {_number(change.latest)}: {verdict}</text>"
    )
    return parts


def progress_svg(progress: dict[str, Progress], title: str) -> str:
    panels = [progress[name] for name in SCALES if name in progress]
    height = max(1, len(panels)) * PANEL_HEIGHT + 40
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">',
        "<style>.title{font-size:14px;font-weight:bold;fill:#222}"
        ".axis{font-size:11px;fill:#555}.note{font-size:11px;fill:#666}"
        ".verdict{font-size:12px}.good{fill:#1b5e20}.bad{fill:#b71c1c}.flat{fill:#555}"
        ".frame{fill:#fff;stroke:#ccc}"
        ".band{fill:#e3f2fd}.baseline{stroke:#777;stroke-dasharray:5 4}"
        ".series{fill:none;stroke:#1565c0;stroke-width:2}.dot{fill:#1565c0}</style>",
        f'<rect width="{WIDTH}" height="{height}" fill="#fafafa"/>',
        f'<text x="{LEFT}" y="26" font-size="16" fill="#111">{escape(title)}</text>',
    ]
    if not panels:
        body.append(f'<text x="{LEFT}" y="60" class="note">No outcome scores yet.</text>')
    for index, panel in enumerate(panels):
        body += _panel(panel, 40 + index * PANEL_HEIGHT)
    body.append("</svg>")
    return "\n".join(body)
