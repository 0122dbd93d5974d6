"""The safety check of one plan item (DOMAIN.md 2b, 2c): pure, over plain values.

Three rule sets, in this order:

1. Clearance (DOMAIN.md 2b): `dvt`, `uncontrolled_hypertension_cardiac`, `pregnancy_high_risk`
   and `cancer_active_treatment` refuse every technique until a current (unexpired) medical
   clearance for that flag is recorded; the caller passes the cleared flags.
2. Whole-body flags (DOMAIN.md 2b "general", 2c first row): `dvt`, `fever_acute_illness` and
   `red_flag_open` refuse every technique, built-in or a practice's own, whatever its matrix rows
   say (`dvt` lifts with its clearance: "no massage until medically cleared").
3. The practice's matrix cells: refuse, refuse on the flagged region only ("local"), or cap the
   pressure. An item without a pressure is checked at the technique's usual pressure (the top of
   its range); where a cap applies and the technique has no usual pressure, the item is refused
   until it names one.

Clients and techniques never import each other, so the caller passes the client's flags (and, for
local flags, the regions they affect) and its current clearances as plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from practice.vocabulary import CLEARANCE_FLAGS, WHOLE_BODY_FLAGS

__all__ = ["CLEARANCE_FLAGS", "WHOLE_BODY_FLAGS", "Cell", "Violation", "check_item"]

REFUSE, LOCAL, CAP = "refuse", "local", "cap"
CLEARANCE_REQUIRED = "clearance_required"

# A high-risk pregnancy is a pregnancy: its caps apply too once it is cleared.
IMPLIED_FLAGS = {"pregnancy_high_risk": ("pregnancy",)}

OVERRIDE_HINT = (
    'To go ahead anyway, give the item an "override_reason"; the override is kept and audited.'
)


@dataclass(frozen=True)
class Cell:
    flag: str
    rule: str
    max_pressure: int | None = None


@dataclass(frozen=True)
class Violation:
    technique: str
    flag: str
    rule: str
    detail: str


def client_flags_with_implied(flags: Iterable[str]) -> set[str]:
    expanded = set(flags)
    for flag in list(expanded):
        expanded.update(IMPLIED_FLAGS.get(flag, ()))
    return expanded


def check_item(
    *,
    technique: str,
    cells: Iterable[Cell],
    client_flags: Iterable[str],
    flag_regions: Mapping[str, Iterable[str]],
    region: str,
    pressure: int | None,
    usual_pressure: int | None = None,
    cleared_flags: Iterable[str] = (),
) -> list[Violation]:
    """Every rule that this item breaks for this client (empty: allowed).

    A local flag with no recorded region is treated as affecting every region: without knowing
    where the surgery or lesion is, the safe answer is to refuse until the region is recorded.
    """
    flags = client_flags_with_implied(client_flags)
    cleared = set(cleared_flags)
    violations = [
        Violation(
            technique,
            flag,
            CLEARANCE_REQUIRED,
            f"{technique} needs a current medical clearance for {flag} "
            "(clients/{id}/clearances/).",
        )
        for flag in CLEARANCE_FLAGS
        if flag in flags and flag not in cleared
    ]
    violations += [
        Violation(
            technique,
            flag,
            REFUSE,
            f"{technique} is contraindicated with {flag} (it applies to all treatment).",
        )
        for flag in WHOLE_BODY_FLAGS
        if flag in flags and flag not in CLEARANCE_FLAGS
    ]
    effective = pressure if pressure is not None else usual_pressure
    for cell in cells:
        if cell.flag not in flags or cell.flag in WHOLE_BODY_FLAGS:
            continue  # whole-body flags are decided above, for every technique alike
        detail = _cell_refusal(
            technique, cell, flag_regions.get(cell.flag, ()), region, pressure, effective
        )
        if detail is not None:
            violations.append(Violation(technique, cell.flag, cell.rule, detail))
    return violations


def _cell_refusal(
    technique: str,
    cell: Cell,
    flag_regions: Iterable[str],
    region: str,
    pressure: int | None,
    effective: int | None,
) -> str | None:
    """Why one matrix cell of a flag the client has refuses the item; None if it allows it."""
    if cell.rule == REFUSE:
        return f"{technique} is contraindicated with {cell.flag}."
    if cell.rule == LOCAL:
        affected = set(flag_regions)
        if affected and region not in affected:
            return None
        where = f"the {region} region" if affected else "any region until one is recorded"
        return f"{technique} is contraindicated on {where} with {cell.flag}."
    if cell.rule == CAP:
        return _cap_refusal(technique, cell, pressure, effective)
    return None


def _cap_refusal(
    technique: str, cell: Cell, pressure: int | None, effective: int | None
) -> str | None:
    """A pressure cap refuses an item above it, or one with neither a pressure nor a usual one."""
    if cell.max_pressure is None or (effective is not None and effective <= cell.max_pressure):
        return None
    if effective is None:
        return (
            f"{technique} is limited to pressure {cell.max_pressure} with {cell.flag}; "
            "give the item a pressure."
        )
    if pressure is None:
        return (
            f"{technique} is limited to pressure {cell.max_pressure} with {cell.flag} "
            f"(no pressure given: its usual pressure is up to {effective})."
        )
    return (
        f"{technique} is limited to pressure {cell.max_pressure} with {cell.flag} "
        f"(asked {pressure})."
    )


def most_cautious_rows(
    matrix: Mapping[str, Mapping[str, str | int]], flags: Iterable[str]
) -> dict[str, str | int]:
    """Per flag, the most cautious cell any technique of `matrix` has (refuse > local > lowest
    cap): what a new technique inherits until the owner sets its rows (DOMAIN.md 2c)."""
    rows: dict[str, str | int] = {}
    for flag in flags:
        cells = list(matrix.get(flag, {}).values())
        if not cells:
            continue
        if REFUSE in cells:
            rows[flag] = REFUSE
        elif LOCAL in cells:
            rows[flag] = LOCAL
        else:
            rows[flag] = min(cell for cell in cells if isinstance(cell, int))
    for flag in WHOLE_BODY_FLAGS:
        rows[flag] = REFUSE
    return rows
