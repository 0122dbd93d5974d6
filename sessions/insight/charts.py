"""The reports as SVG charts, in the style of `progress.svg` (clients/charts.py): plain SVG, the
same fonts, colours and panel frames, no plotting dependency.

Shares are horizontal bars on a 0-100 % axis, each labelled with its count; a group too small for
a percentage (fewer than 5) is drawn as an empty outline that says so, never as a bar. Utilisation
is a line per therapist over the ISO weeks. Nothing here names a client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

WIDTH = 720
LEFT = 190  # room for the group labels left of the bars
RIGHT = 150  # room for the counts right of the bars
BAR_H, BAR_GAP = 14, 6
PANEL_TITLE = 30
PLOT_W = WIDTH - LEFT - RIGHT
COLOURS = ("#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#5d4037")
STYLE = (
    "<style>.title{font-size:14px;font-weight:bold;fill:#222}"
    ".axis{font-size:11px;fill:#555}.note{font-size:11px;fill:#666}"
    ".label{font-size:11px;fill:#333}.count{font-size:11px;fill:#333}"
    ".section{font-size:11px;font-weight:bold;fill:#555}"
    ".frame{fill:#fff;stroke:#ccc}.grid{stroke:#eee}.tick{stroke:#999}"
    ".bar{fill:#1565c0}.bar2{fill:#e65100}.small{fill:none;stroke:#999;stroke-dasharray:3 3}"
    ".series{fill:none;stroke-width:2}</style>"
)
INSTRUMENT_LABELS = {
    "nprs": "NPRS pain",
    "odi": "ODI disability",
    "rmdq": "RMDQ disability",
    "psfs": "PSFS function",
    "groc": "GROC change",
}


@dataclass(frozen=True)
class Bar:
    label: str
    share: float | None  # 0..1, None when the group is too small for a percentage
    count: str  # what the bar is a share of, e.g. "7 of 12"
    css: str = "bar"


def _document(title: str, subtitle: str, body: list[str], height: int) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">',
            STYLE,
            f'<rect width="{WIDTH}" height="{height}" fill="#fafafa"/>',
            '<text x="24" y="26" font-size="16" fill="#111" class="heading">'
            f"{escape(title)}</text>",
            f'<text x="24" y="44" class="note">{escape(subtitle)}</text>',
            *body,
            "</svg>",
        ]
    )


def _period(report: dict[str, Any]) -> str:
    period = report["period"]
    who = f", therapist {period['therapist']}" if period.get("therapist") else ""
    return f"{period['start']} to {period['end']} ({period['timezone']}){who}"


def _axis(top: int, bottom: int) -> list[str]:
    parts = []
    for tick in (0, 25, 50, 75, 100):
        x = LEFT + PLOT_W * tick / 100
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" class="grid"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" class="axis" text-anchor="middle">{tick}%</text>'
        )
    return parts


def _bars(bars: list[Bar], top: int) -> tuple[list[str], int]:
    """Bars from `top` down; returns the parts and the y below them (axis included)."""
    bottom = top + len(bars) * (BAR_H + BAR_GAP)
    parts = _axis(top - 4, bottom)
    for index, bar in enumerate(bars):
        y = top + index * (BAR_H + BAR_GAP)
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 11}" class="label" text-anchor="end">'
            f"{escape(bar.label)}</text>"
        )
        if bar.share is None:
            parts.append(
                f'<rect x="{LEFT}" y="{y}" width="{PLOT_W}" height="{BAR_H}" class="small"/>'
                f'<text x="{LEFT + 6}" y="{y + 11}" class="note">too few for a percentage'
                "</text>"
            )
            value = f"{bar.count} (n < 5)"
        else:
            parts.append(
                f'<rect x="{LEFT}" y="{y}" width="{PLOT_W * bar.share:.1f}" height="{BAR_H}" '
                f'class="{bar.css}"><title>{escape(bar.label)}: {bar.share * 100:.0f}% '
                f"({escape(bar.count)})</title></rect>"
            )
            value = f"{bar.share * 100:.0f}% ({bar.count})"
        parts.append(
            f'<text x="{LEFT + PLOT_W + 8}" y="{y + 11}" class="count">{escape(value)}</text>'
        )
    return parts, bottom + 22


def _outcome_bars(entry: dict[str, Any]) -> list[tuple[str, list[Bar]]]:
    def bars(rows: list[dict[str, Any]], key: str) -> list[Bar]:
        # A group whose complaints were never measured again has nothing to draw.
        return [
            Bar(
                _short(str(g[key]).replace("_", " ")),
                g["share"],
                f"{g['improved']} of {g['complaints']}",
            )
            for g in rows
            if g["complaints"]
        ]

    return [
        ("", bars([entry["overall"] | {"label": "all complaints"}], "label")),
        ("by duration", bars(entry["by_duration"], "duration_category")),
        ("by region", bars(entry["by_region"], "region")),
        ("by therapist", bars(entry["by_therapist"], "therapist_name")),
    ]


def _short(label: str, room: int = 28) -> str:
    """A label that fits left of the bars."""
    return label if len(label) <= room else label[: room - 1] + "…"


def _sections(title: str, sections: list[tuple[str, list[Bar]]], top: int) -> tuple[list, int]:
    parts = [f'<text x="24" y="{top + 18}" class="title">{escape(title)}</text>']
    y = top + PANEL_TITLE + 8
    for name, bars in sections:
        if not bars:
            continue
        if name:
            parts.append(f'<text x="24" y="{y + 10}" class="section">{escape(name)}</text>')
            y += 16
        drawn, y = _bars(bars, y)
        parts += drawn
    return parts, y + 8


def outcomes_svg(report: dict[str, Any]) -> str:
    """Per instrument: the share of complaints reaching a meaningful improvement."""
    body: list[str] = []
    y = 60
    for entry in report["instruments"]:
        label = INSTRUMENT_LABELS.get(entry["instrument"], entry["instrument"])
        overall = entry["overall"]
        days = overall["median_days"]
        title = f"{label}: meaningful improvement" + (
            f" (median {days:g} days, {overall['median_visits']:g} visits)"
            if days is not None
            else ""
        )
        parts, y = _sections(title, _outcome_bars(entry), y)
        body += parts
    if not report["instruments"]:
        body.append(
            '<text x="24" y="80" class="note">No complaints measured in this period.</text>'
        )
        y = 100
    return _document(
        "Outcomes: share of complaints improving meaningfully", _period(report), body, y
    )


def precedes_svg(report: dict[str, Any]) -> str:
    """Per technique: the share of complaints that used it, improved beside not improved."""
    improved, other = report["groups"]["improved"], report["groups"]["not_improved"]
    bars: list[Bar] = []
    for mine, theirs in zip(improved["techniques"], other["techniques"], strict=True):
        bars.append(
            Bar(
                _short(mine["name"].split(" (")[0]),
                mine["share"],
                f"{mine['complaints']} of {improved['complaints']}",
            )
        )
        bars.append(
            Bar(
                "",
                theirs["share"],
                f"{theirs['complaints']} of {other['complaints']}",
                css="bar2",
            )
        )
    instrument = INSTRUMENT_LABELS.get(report["instrument"], report["instrument"])
    title = f"Techniques used before the latest {instrument} re-measure"
    parts, y = _sections(title, [("", bars)], 80)
    parts += [
        '<rect x="24" y="62" width="12" height="10" class="bar"/>',
        f'<text x="42" y="71" class="note">improved ({improved["complaints"]} complaints)</text>',
        '<rect x="210" y="62" width="12" height="10" class="bar2"/>',
        f'<text x="228" y="71" class="note">not improved ({other["complaints"]} complaints)</text>',
    ]
    for group, name in ((improved, "improved"), (other, "not improved")):
        medians = ", ".join(
            f"{label} {group[key]:g}" if group[key] is not None else f"{label} —"
            for key, label in (
                ("median_sessions", "sessions"),
                ("median_total_minutes", "minutes"),
                ("median_pressure", "pressure"),
            )
        )
        parts.append(
            f'<text x="24" y="{y + 4}" class="label">{escape(name)} '
            f"({group['complaints']} complaints): median {escape(medians)}</text>"
        )
        y += 18
    parts.append(f'<text x="24" y="{y + 8}" class="note">Association, not proof.</text>')
    if not bars:
        parts.append(f'<text x="24" y="{y + 26}" class="note">No sessions in this period.</text>')
        y += 18
    return _document("What precedes improvement", _period(report), parts, y + 24)


def _rate_bars(report: dict[str, Any]) -> list[Bar]:
    """The period's attendance, rebooking and message rates as bars."""
    totals = report["totals"]
    rates = [
        Bar(
            "no-shows",
            totals["no_show_rate"] or 0.0,
            f"{totals['no_shows']} of {totals['appointments']}",
        ),
        Bar(
            "late cancellations",
            totals["late_cancellation_rate"] or 0.0,
            f"{totals['late_cancellations']} of {totals['appointments']}",
        ),
        Bar(
            "rebooked within 14 days",
            totals["rebooking_rate"] or 0.0,
            f"{totals['rebooked']} of {totals['visits']}",
        ),
    ]
    for key, label, part in (
        ("reminders", "reminders kept", "kept"),
        ("follow_ups", "follow-ups answered", "answered"),
    ):
        messages = report["messages"][key]
        rate = messages.get("kept_rate", messages.get("response_rate"))
        rates.append(Bar(label, rate or 0.0, f"{messages[part]} of {messages['sent']}"))
    return rates


def operations_svg(report: dict[str, Any]) -> str:
    """Weekly utilisation per therapist (a line each), then the period's rates as bars."""
    top, plot_h = 80, 180
    therapists = report["therapists"]
    weeks = [week["week"] for week in therapists[0]["weeks"]] if therapists else []
    parts = [
        f'<text x="24" y="{top - 14}" class="title">Utilisation per ISO week</text>',
        f'<rect x="{LEFT}" y="{top}" width="{PLOT_W}" height="{plot_h}" class="frame"/>',
    ]
    # The scale follows the busiest week (in quarters), so a quiet practice's lines are not flat.
    busiest = max((w["utilisation"] or 0 for t in therapists for w in t["weeks"]), default=0)
    scale = max(0.25, math.ceil(busiest * 4) / 4)
    for tick in (0, scale / 2, scale):
        ty = top + plot_h * (1 - tick / scale)
        parts.append(
            f'<text x="{LEFT - 8}" y="{ty + 4:.1f}" class="axis" text-anchor="end">'
            f"{tick * 100:g}%</text>"
        )
    step = PLOT_W / max(len(weeks) - 1, 1)
    label_every = max(1, round(len(weeks) / 8))
    for index, week in enumerate(weeks):
        if index % label_every == 0:
            parts.append(
                f'<text x="{LEFT + index * step:.1f}" y="{top + plot_h + 16}" class="axis" '
                f'text-anchor="middle">{escape(week[5:])}</text>'
            )
    for number, therapist in enumerate(therapists):
        colour = COLOURS[number % len(COLOURS)]
        points = " ".join(
            f"{LEFT + index * step:.1f},{top + plot_h * (1 - week['utilisation'] / scale):.1f}"
            for index, week in enumerate(therapist["weeks"])
            if week["utilisation"] is not None
        )
        if points:
            parts.append(f'<polyline points="{points}" class="series" stroke="{colour}"/>')
        parts.append(
            f'<rect x="{LEFT + PLOT_W + 10}" y="{top + number * 16}" width="10" height="10" '
            f'fill="{colour}"/><text x="{LEFT + PLOT_W + 24}" y="{top + number * 16 + 9}" '
            f'class="label">{escape(therapist["therapist_name"])}</text>'
        )
    totals = report["totals"]
    rates = _rate_bars(report)
    section, y = _sections(
        f"Rates (new clients {totals['new_clients']}, returning {totals['returning_clients']})",
        [("", rates)],
        top + plot_h + 30,
    )
    return _document("Operations", _period(report), parts + section, y + 8)
