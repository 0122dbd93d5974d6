"""Outcome measures (DOMAIN.md 3): pure scoring of raw answers and the change rules.

No ORM here. Answers out of range are rejected, never clipped; nothing is imputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ODI_SECTIONS = (
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
)
ODI_OPTIONAL = {"sex_life"}
ODI_MIN_ANSWERED = 8  # product choice (DOMAIN.md 3): fewer sections answered is refused
RMDQ_ITEMS = 24
PSFS_MAX_ACTIVITIES = 5


class AnswerError(ValueError):
    """An answer the instrument does not allow; `field` points into the answers."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class Score:
    score: Decimal
    percent: Decimal | None = None


@dataclass(frozen=True)
class ChangeRule:
    """Minimal clinically important difference and minimal detectable change, in score units."""

    mcid: Decimal | None
    mdc: Decimal | None
    higher_is_better: bool
    uses_percent: bool = False  # ODI is judged on its 0-100 % score


RULES = {
    "nprs": ChangeRule(mcid=Decimal(2), mdc=Decimal(2), higher_is_better=False),
    "odi": ChangeRule(mcid=Decimal(10), mdc=Decimal(10), higher_is_better=False, uses_percent=True),
    "rmdq": ChangeRule(mcid=Decimal(5), mdc=Decimal(5), higher_is_better=False),
    # PSFS MCID is not verified (DOMAIN.md 3: "≈2 often quoted"); MDC 2 for the mean.
    "psfs": ChangeRule(mcid=Decimal(2), mdc=Decimal(2), higher_is_better=True),
    # GROC rates change itself; +3 ("somewhat better") is a common default, set per practice.
    "groc": ChangeRule(mcid=Decimal(3), mdc=None, higher_is_better=True),
}


def _integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnswerError(field, f"Must be a whole number from {low} to {high}.")
    if not low <= value <= high:
        raise AnswerError(field, f"Must be from {low} to {high}.")
    return value


def _object(answers: Any, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(answers, dict):
        raise AnswerError("answers", "Must be an object.")
    unknown = sorted(set(answers) - allowed)
    if unknown:
        raise AnswerError(unknown[0], "Not a question of this instrument.")
    missing = sorted(required - set(answers))
    if missing:
        raise AnswerError(missing[0], "This answer is required.")
    return answers


def score_nprs(answers: Any) -> Score:
    answers = _object(answers, {"pain"}, {"pain"})
    return Score(Decimal(_integer(answers["pain"], "pain", 0, 10)))


def score_odi(answers: Any) -> Score:
    """`sum / (5 × answered) × 100`; a skipped section shrinks the denominator (DOMAIN.md 3)."""
    answers = _object(answers, set(ODI_SECTIONS), set())
    values = {name: _integer(value, name, 0, 5) for name, value in answers.items()}
    missing = [name for name in ODI_SECTIONS if name not in values]
    if len(values) < ODI_MIN_ANSWERED:
        raise AnswerError(missing[0], f"At least {ODI_MIN_ANSWERED} of 10 sections are needed.")
    total = sum(values.values())
    percent = Decimal(total * 100) / Decimal(5 * len(values))
    return Score(Decimal(total), percent.quantize(Decimal("0.1"), ROUND_HALF_UP))


def score_rmdq(answers: Any) -> Score:
    answers = _object(answers, {"items"}, {"items"})
    items = answers["items"]
    if not isinstance(items, list) or len(items) != RMDQ_ITEMS:
        raise AnswerError("items", f"Must be a list of {RMDQ_ITEMS} true/false answers.")
    for index, item in enumerate(items):
        if not isinstance(item, bool):
            raise AnswerError(f"items.{index}", "Must be true or false.")
    return Score(Decimal(sum(items)))


def psfs_activities(answers: Any) -> list[str]:
    return [entry["activity"] for entry in answers["activities"]]


def score_psfs(answers: Any) -> Score:
    """Mean of the rated activities, rounded to 1 decimal (DOMAIN.md 3)."""
    answers = _object(answers, {"activities"}, {"activities"})
    activities = answers["activities"]
    if not isinstance(activities, list) or not 1 <= len(activities) <= PSFS_MAX_ACTIVITIES:
        raise AnswerError("activities", f"Rate 1 to {PSFS_MAX_ACTIVITIES} activities.")
    names = set()
    scores = []
    for index, entry in enumerate(activities):
        if not isinstance(entry, dict) or set(entry) != {"activity", "score"}:
            raise AnswerError(f"activities.{index}", 'Each is {"activity", "score"}.')
        name = entry["activity"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise AnswerError(f"activities.{index}.activity", "Name the activity (200 chars).")
        if name.strip().lower() in names:
            raise AnswerError(f"activities.{index}.activity", "Each activity once.")
        names.add(name.strip().lower())
        scores.append(_integer(entry["score"], f"activities.{index}.score", 0, 10))
    mean = Decimal(sum(scores)) / Decimal(len(scores))
    return Score(mean.quantize(Decimal("0.1"), ROUND_HALF_UP))


def score_groc(answers: Any) -> Score:
    answers = _object(answers, {"change"}, {"change"})
    return Score(Decimal(_integer(answers["change"], "change", -7, 7)))


SCORERS = {
    "nprs": score_nprs,
    "odi": score_odi,
    "rmdq": score_rmdq,
    "psfs": score_psfs,
    "groc": score_groc,
}


def score(instrument: str, answers: Any) -> Score:
    if instrument not in SCORERS:
        raise AnswerError("instrument", "Unknown instrument.")
    return SCORERS[instrument](answers)


@dataclass(frozen=True)
class Change:
    baseline: Decimal
    latest: Decimal
    improvement: Decimal
    improvement_percent: Decimal | None
    meaningful: bool
    beyond_error: bool | None
    worse: bool


@dataclass(frozen=True)
class Thresholds:
    """A practice's change thresholds (DOMAIN.md 3 defaults): MCID per instrument and the
    percentage rule. Passed in as values, so this module stays pure."""

    mcid: dict[str, Decimal | None]
    meaningful_percent: Decimal = Decimal(30)


DEFAULT_THRESHOLDS = Thresholds(mcid={name: rule.mcid for name, rule in RULES.items()})


def change(
    instrument: str,
    baseline: Decimal,
    latest: Decimal,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Change:
    """DOMAIN.md 3 "Change logic": improvement is positive when the client is better; percent is
    null on a zero baseline; meaningful = MCID, or the percentage rule when the change is at
    least the measurement error (MDC: NPRS 1 -> 0 is 100 % but within error, not meaningful);
    beyond_error = MDC; worse = -MCID."""
    rule = RULES[instrument]
    improvement = latest - baseline if rule.higher_is_better else baseline - latest
    percent = (
        None
        if baseline == 0
        else (improvement / abs(baseline) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    )
    mcid = thresholds.mcid.get(instrument, rule.mcid)
    beyond_error = None if rule.mdc is None else improvement >= rule.mdc
    meaningful = (mcid is not None and improvement >= mcid) or (
        percent is not None
        and percent >= thresholds.meaningful_percent
        and beyond_error is not False
    )
    return Change(
        baseline=baseline,
        latest=latest,
        improvement=improvement,
        improvement_percent=percent,
        meaningful=bool(meaningful),
        beyond_error=beyond_error,
        worse=mcid is not None and improvement <= -mcid,
    )
