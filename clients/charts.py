"""`progress.svg`: one small chart per instrument, drawn as plain SVG (no plotting dependency).

Each panel shows the series as a line with dots placed by date, the baseline as a dashed line, and
the band within one MCID of the baseline shaded and labelled: a point outside the band on the
"better" side is a meaningful improvement (clinical reference, section 3). Better is always drawn
upwards, so every panel reads the same way. Pain after a session is drawn apart (hollow diamonds,
not joined to the line): it is not compared with the before-session series. The heading names the
client by initials and the complaint by its regions, nothing more: a chart gets printed and shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from clients import instruments
from clients.selectors import Point, Progress

WIDTH, PANEL_HEIGHT = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 40, 40
HEADER = 84  # title and legend above the first panel
MIN_GAP = 14  # px between two readings, however close in time (several on one day stay apart)
DATE_LABEL_GAP = 76  # px between two date labels on the time axis
SCALES = {  # instrument -> (low, high, label)
    "nprs": (0, 10, "NPRS pain 0-10 (lower is better)"),
    "odi": (0, 100, "ODI disability % (lower is better)"),
    "rmdq": (0, 24, "RMDQ 0-24 (lower is better)"),
    "psfs": (0, 10, "PSFS function 0-10 (higher is better)"),
    "groc": (-7, 7, "GROC change -7..+7 (higher is better)"),
}
BAND_MEANING = "within one MCID of baseline"


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _moment(point: Point) -> datetime:
    return point.at or datetime.combine(point.date, datetime.min.time())


def chart_title(*, first_name: str, last_name: str, regions: list[dict]) -> str:
    """`Progress of A.B., lumbar (left)`: initials and regions only, never a name or a date."""
    initials = "".join(f"{name.strip()[0].upper()}." for name in (first_name, last_name) if name)
    places = ", ".join(
        f"{entry.get('region', '?')} ({entry['side']})" if entry.get("side") else entry["region"]
        for entry in regions
        if entry.get("region")
    )
    return f"Progress of {initials or 'client'}, {places or 'back'}"


def _x_positions(moments: list[datetime], plot_w: float) -> list[float]:
    """x of each reading (sorted by time): by date, then pushed apart to at least MIN_GAP."""
    if len(moments) == 1:
        return [LEFT + plot_w / 2]
    first, last = moments[0], moments[-1]
    span = (last - first).total_seconds()
    xs = [LEFT + (plot_w * (m - first).total_seconds() / span if span else 0.0) for m in moments]
    gap = min(MIN_GAP, plot_w / (len(xs) - 1))
    for i in range(1, len(xs)):  # forward: apart from the one before
        xs[i] = max(xs[i], xs[i - 1] + gap)
    xs[-1] = min(xs[-1], LEFT + plot_w)
    for i in range(len(xs) - 2, -1, -1):  # backward: back inside the frame, still apart
        xs[i] = min(xs[i], xs[i + 1] - gap)
    return xs


@dataclass(frozen=True)
class _Frame:
    """One panel's plot area and how a score maps onto it (better is up)."""

    top: int
    low: float
    high: float
    higher_is_better: bool
    plot_w: int = WIDTH - LEFT - RIGHT
    plot_h: int = PANEL_HEIGHT - TOP - BOTTOM

    def y(self, value: Decimal) -> float:
        fraction = (float(value) - self.low) / (self.high - self.low)
        if not self.higher_is_better:
            fraction = 1 - fraction  # better is up
        return self.top + TOP + self.plot_h * (1 - fraction)


Reading = tuple[Point, bool]  # a point of the series, and whether it was taken after a session


def _panel(progress: Progress, top: int, visits: Sequence[datetime] = ()) -> list[str]:
    low, high, label = SCALES[progress.instrument]
    rule = instruments.RULES[progress.instrument]
    frame = _Frame(top=top, low=low, high=high, higher_is_better=rule.higher_is_better)
    plot_w, plot_h = frame.plot_w, frame.plot_h
    readings: list[Reading] = sorted(
        [(point, False) for point in progress.series]
        + [(point, True) for point in progress.post_session],
        key=lambda reading: _moment(reading[0]),
    )
    # Visits (a course of care's, issue 18.5) share the time axis with the readings.
    tagged = sorted(
        [(_moment(point), 0, i) for i, (point, _after) in enumerate(readings)]
        + [(when, 1, j) for j, when in enumerate(visits)]
    )
    placed = list(zip(_x_positions([t[0] for t in tagged], plot_w), tagged, strict=True))
    xs = [x for x, (_m, kind, _i) in placed if kind == 0]
    visit_xs = [(x, i + 1) for x, (_m, kind, i) in placed if kind == 1]

    change = progress.change
    assert change is not None  # noqa: S101 - selector always fills it
    parts = [
        f'<text x="{LEFT}" y="{top + 24}" class="title">{escape(label)}</text>',
        f'<rect x="{LEFT}" y="{top + TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>',
    ]
    if rule.mcid is not None:
        parts += _band(frame, rule.mcid, change.baseline)
    base_y = frame.y(change.baseline)
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{base_y:.1f}" y2="{base_y:.1f}" '
        f'class="baseline"/><text x="{LEFT + plot_w - 4}" y="{base_y - 4:.1f}" '
        f'class="note" text-anchor="end">baseline {_number(change.baseline)}</text>'
    )
    for tick in (low, (low + high) / 2, high):
        ty = frame.y(Decimal(tick))
        parts.append(
            f'<text x="{LEFT - 8}" y="{ty + 4:.1f}" class="axis" text-anchor="end">{tick:g}</text>'
        )
    parts += _visit_marks(frame, visit_xs)
    parts += _marks(frame, xs, readings)
    parts += _date_labels(frame, xs, readings)
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


def _visit_marks(frame: _Frame, visit_xs: list[tuple[float, int]]) -> list[str]:
    """A dotted line per visit of the course, numbered at the top every few visits."""
    top, bottom = frame.top + TOP, frame.top + TOP + frame.plot_h
    every = max(1, len(visit_xs) // 10)
    parts = []
    for x, number in visit_xs:
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" class="visit">'
            f"<title>visit {number}</title></line>"
        )
        if number == 1 or number % every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{top - 3}" class="visitlabel" text-anchor="middle">'
                f"{number}</text>"
            )
    return parts


def _band(frame: _Frame, mcid: Decimal, baseline: Decimal) -> list[str]:
    """The band around the baseline inside which a change is not clinically meaningful."""
    band_low = max(Decimal(frame.low), baseline - mcid)
    band_high = min(Decimal(frame.high), baseline + mcid)
    y1, y2 = sorted((frame.y(band_low), frame.y(band_high)))
    return [
        f'<rect x="{LEFT}" y="{y1:.1f}" width="{frame.plot_w}" height="{y2 - y1:.1f}" '
        f'class="band"><title>{BAND_MEANING} (MCID {_number(mcid)}): change inside it is not '
        "clinically meaningful</title></rect>",
        f'<text x="{LEFT + 4}" y="{y1 + 12:.1f}" class="bandlabel">'
        f"{BAND_MEANING} (±{_number(mcid)})</text>",
    ]


def _marks(frame: _Frame, xs: list[float], readings: list[Reading]) -> list[str]:
    """The series line through the scores, a dot per score and a diamond per after-session."""
    on_line = [(x, point) for x, (point, after) in zip(xs, readings, strict=True) if not after]
    points = " ".join(f"{x:.1f},{frame.y(point.score):.1f}" for x, point in on_line)
    parts = [f'<polyline points="{points}" class="series"/>']
    for x, (point, after) in zip(xs, readings, strict=True):
        py = frame.y(point.score)
        if after:
            parts.append(
                f'<path d="M{x:.1f},{py - 5:.1f} l5,5 l-5,5 l-5,-5 z" class="post">'
                f"<title>{point.date.isoformat()}: {_number(point.score)} after the session"
                "</title></path>"
            )
        else:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{py:.1f}" r="4" class="dot">'
                f"<title>{point.date.isoformat()}: {_number(point.score)}</title></circle>"
            )
    return parts


def _date_labels(frame: _Frame, xs: list[float], readings: list[Reading]) -> list[str]:
    """A tick and a date under the readings, skipping those too close to one already labelled."""
    floor = frame.top + TOP + frame.plot_h
    bottom = floor + 16
    parts: list[str] = []
    labelled: list[float] = []
    last_x = xs[-1]
    for x, (point, _after) in zip(xs, readings, strict=True):
        if any(abs(x - done) < DATE_LABEL_GAP for done in labelled):
            continue
        if labelled and x != last_x and last_x - x < DATE_LABEL_GAP:
            continue  # keep room for the last date
        labelled.append(x)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{floor}" '
            f'y2="{floor + 4}" class="tick"/>'
            f'<text x="{x:.1f}" y="{bottom}" class="axis" text-anchor="middle">'
            f"{point.date.strftime('%d %b')}</text>"
        )
    return parts


def _legend(top: int) -> list[str]:
    x = LEFT
    return [
        f'<rect x="{x}" y="{top - 9}" width="18" height="10" class="key-band"/>',
        f'<text x="{x + 24}" y="{top}" class="note">{BAND_MEANING}</text>',
        f'<line x1="{x + 190}" x2="{x + 210}" y1="{top - 4}" y2="{top - 4}" class="key-baseline"/>',
        f'<text x="{x + 216}" y="{top}" class="note">baseline (first score)</text>',
        f'<circle cx="{x + 350}" cy="{top - 4}" r="4" class="key-dot"/>',
        f'<text x="{x + 358}" y="{top}" class="note">score</text>',
        f'<path d="M{x + 410},{top - 9} l5,5 l-5,5 l-5,-5 z" class="key-post"/>',
        f'<text x="{x + 420}" y="{top}" class="note">pain after a session</text>',
        f'<text x="{x}" y="{top + 18}" class="note">Band: less than one MCID (minimal clinically '
        "important difference) from baseline.</text>",
    ]


def progress_svg(progress: dict[str, Progress], title: str, visits: Sequence[datetime] = ()) -> str:
    """The chart; `visits` (local times) are marked on every panel as numbered dotted lines."""
    panels = [progress[name] for name in SCALES if name in progress]
    height = max(1, len(panels)) * PANEL_HEIGHT + HEADER
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">',
        "<style>.title{font-size:14px;font-weight:bold;fill:#222}"
        ".axis{font-size:11px;fill:#555}.note{font-size:11px;fill:#666}"
        ".bandlabel{font-size:10px;fill:#0d47a1}"
        ".verdict{font-size:12px}.good{fill:#1b5e20}.bad{fill:#b71c1c}.flat{fill:#555}"
        ".frame{fill:#fff;stroke:#ccc}.tick{stroke:#999}"
        # The legend's keys look like what they explain, under their own classes.
        ".band,.key-band{fill:#e3f2fd}"
        ".baseline,.key-baseline{stroke:#777;stroke-dasharray:5 4}"
        ".series{fill:none;stroke:#1565c0;stroke-width:2}.dot,.key-dot{fill:#1565c0}"
        ".post,.key-post{fill:#fff;stroke:#e65100;stroke-width:2}"
        ".visit{stroke:#8e24aa;stroke-dasharray:2 3}.visitlabel{font-size:9px;fill:#8e24aa}"
        "</style>",
        f'<rect width="{WIDTH}" height="{height}" fill="#fafafa"/>',
        f'<text x="{LEFT}" y="26" font-size="16" fill="#111" class="heading">'
        f"{escape(title)}</text>",
    ]
    if not panels:
        body.append(f'<text x="{LEFT}" y="60" class="note">No outcome scores yet.</text>')
    else:
        body += _legend(50)
        if visits:
            body.append(
                f'<text x="{WIDTH - RIGHT}" y="26" class="note" text-anchor="end">'
                f"dotted: the course's {len(visits)} visits</text>"
            )
    for index, panel in enumerate(panels):
        body += _panel(panel, HEADER + index * PANEL_HEIGHT, visits)
    body.append("</svg>")
    return "\n".join(body)
