"""Reads of the clients app: progress of a complaint against its baseline (DOMAIN.md 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from clients import instruments
from clients.models import Complaint, Instrument, Outcome
from practice.models import Practice

# Which NPRS readings form the series: like is compared with like (DOMAIN.md 3, NPRS context).
SERIES_CONTEXT: dict[str, str] = {Instrument.NPRS: "now"}


@dataclass
class Point:
    date: date
    score: Decimal


@dataclass
class Progress:
    instrument: str
    series: list[Point] = field(default_factory=list)
    change: instruments.Change | None = None


def practice_thresholds(practice: Practice) -> instruments.Thresholds:
    """The practice's MCIDs and percentage rule (DOMAIN.md 3 defaults, set per practice)."""
    return instruments.Thresholds(
        mcid={
            Instrument.NPRS: Decimal(practice.mcid_nprs),
            Instrument.ODI: Decimal(practice.mcid_odi),
            Instrument.RMDQ: Decimal(practice.mcid_rmdq),
            Instrument.PSFS: Decimal(practice.mcid_psfs),
            Instrument.GROC: Decimal(practice.mcid_groc),
        },
        meaningful_percent=Decimal(practice.meaningful_percent),
    )


def complaint_progress(complaint: Complaint, practice: Practice) -> dict[str, Progress]:
    """Per instrument: series in the order of the times the scores describe (`measured_at`, so a
    late note does not reorder it), baseline (first score), latest, and the change rules under
    the practice's thresholds. Superseded (corrected) scores are left out. One query."""
    progress: dict[str, Progress] = {}
    thresholds = practice_thresholds(practice)
    tz = practice.tz
    outcomes = Outcome.objects.filter(complaint=complaint, superseded_at__isnull=True)
    for outcome in outcomes.order_by("measured_at", "id"):
        wanted = SERIES_CONTEXT.get(outcome.instrument)
        if wanted is not None and outcome.context != wanted:
            continue
        rule = instruments.RULES[outcome.instrument]
        value = outcome.score_percent if rule.uses_percent else outcome.score
        if value is None:
            continue
        entry = progress.setdefault(outcome.instrument, Progress(outcome.instrument))
        entry.series.append(Point(outcome.measured_at.astimezone(tz).date(), Decimal(value)))
    for instrument, entry in progress.items():
        # GROC already rates change since treatment began: its reference is "no change" (0).
        baseline = Decimal(0) if instrument == Instrument.GROC else entry.series[0].score
        entry.change = instruments.change(instrument, baseline, entry.series[-1].score, thresholds)
    return progress
