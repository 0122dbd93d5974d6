"""Reads of the clients app: progress of a complaint against its baseline (DOMAIN.md 3), and
the client-level safety facts plans are checked against (open red flags, medical clearances)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from clients import instruments
from clients.domain import ComplaintStatus
from clients.models import (
    Client,
    Complaint,
    ComplaintClearance,
    Instrument,
    MedicalClearance,
    Outcome,
    RedFlagAnswer,
)
from practice.models import Practice
from practice.rows import attach_rows

# Which NPRS readings form the series: like is compared with like (DOMAIN.md 3, NPRS context).
SERIES_CONTEXT: dict[str, str] = {Instrument.NPRS: "now"}
# Pain after a session (a note's `pain_after`): kept out of the series, drawn apart on the chart.
POST_SESSION_CONTEXT = "post_session"


# The columns an outcome is drawn from (OutcomeSerializer): the list reads exactly these with
# `.values()` (issue 22.2).
OUTCOME_ROW_FIELDS = (
    "id", "client_id", "complaint_id", "instrument", "answers", "score", "score_percent",
    "context", "source", "measured_at", "recorded_at", "recorded_by_id", "corrects_id",
    "superseded_at",
)  # fmt: skip
# The columns a complaint list row is drawn from (ComplaintSerializer reads exactly these), and
# those of its red-flag answers and clearances.
COMPLAINT_ROW_FIELDS = (
    "id", "client_id", "regions", "onset_date", "onset_precision", "onset_type", "episode",
    "mechanism", "pain_now", "pain_worst_24h", "pain_best_24h", "notes", "red_flags", "status",
    "referral_urgency", "age_red_flags", "cleared_at", "cleared_by_id", "clearance_note",
    "resolved_at", "created_by_id", "created_at", "updated_at",
)  # fmt: skip
RED_FLAG_ROW_FIELDS = ("question", "answer", "source", "asked_at", "asked_by_id")
CLEARANCE_ROW_FIELDS = ("note", "referral_urgency", "cleared_by_id", "cleared_at")


def with_complaint_history(rows: list[dict]) -> list[dict]:
    """A page of complaint rows (`.values(*COMPLAINT_ROW_FIELDS)`) with each one's red-flag
    answers and clearances, oldest first, as rows too: two queries whatever the page's size, and
    no model built (the complaints list is a busy read, issue 22.2)."""
    answers = RedFlagAnswer.objects.order_by("asked_at", "id")
    attach_rows(rows, "red_flag_list", answers, "complaint_id", RED_FLAG_ROW_FIELDS)
    clearances = ComplaintClearance.objects.order_by("cleared_at", "id")
    return attach_rows(rows, "clearance_list", clearances, "complaint_id", CLEARANCE_ROW_FIELDS)


@dataclass
class Point:
    date: date
    score: Decimal
    at: datetime | None = None  # the local time it was recorded: the chart spaces points by it


@dataclass
class Progress:
    instrument: str
    series: list[Point] = field(default_factory=list)
    change: instruments.Change | None = None
    # Scores outside the series drawn beside it (NPRS after a session); not part of the change.
    post_session: list[Point] = field(default_factory=list)


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
    after_sessions: dict[str, list[Point]] = {}
    thresholds = practice_thresholds(practice)
    tz = practice.tz
    outcomes = Outcome.objects.filter(complaint=complaint, superseded_at__isnull=True)
    for outcome in outcomes.order_by("measured_at", "id"):
        rule = instruments.RULES[outcome.instrument]
        value = outcome.score_percent if rule.uses_percent else outcome.score
        if value is None:
            continue
        local = outcome.measured_at.astimezone(tz)
        point = Point(local.date(), Decimal(value), local)
        wanted = SERIES_CONTEXT.get(outcome.instrument)
        if wanted is not None and outcome.context != wanted:
            if outcome.context == POST_SESSION_CONTEXT:
                after_sessions.setdefault(outcome.instrument, []).append(point)
            continue
        entry = progress.setdefault(outcome.instrument, Progress(outcome.instrument))
        entry.series.append(point)
    for instrument, points in after_sessions.items():
        if instrument in progress:  # no baseline, no chart: never a panel of post-session alone
            progress[instrument].post_session = points
    for instrument, entry in progress.items():
        # GROC already rates change since treatment began: its reference is "no change" (0).
        baseline = Decimal(0) if instrument == Instrument.GROC else entry.series[0].score
        entry.change = instruments.change(instrument, baseline, entry.series[-1].score, thresholds)
    return progress


def has_open_red_flag(client: Client) -> bool:
    """DOMAIN.md 0 rule 2, decided per client: any complaint of theirs in `referral_required`
    blocks session plans, their delivery and online self-booking, whichever complaint a plan
    names, until a therapist records the referral outcome (`complaints/{id}/clear/`). Read from
    the complaints themselves, never from the `red_flag_open` health flag kept beside them."""
    return Complaint.objects.filter(
        client=client, status=ComplaintStatus.REFERRAL_REQUIRED
    ).exists()


def current_clearance_flags(client: Client, on: date) -> set[str]:
    """The flags this client holds an unexpired, unrevoked medical clearance for on day `on` (the
    session's day, DOMAIN.md 2b)."""
    return set(
        MedicalClearance.objects.filter(
            client=client, cleared_on__lte=on, expires_on__gte=on, revoked_at__isnull=True
        ).values_list("flag", flat=True)
    )
