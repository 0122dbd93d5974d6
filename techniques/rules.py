"""The contraindication check of one plan item (DOMAIN.md 2c): pure, over plain values.

A cell of the technique × flag matrix either refuses the technique, refuses it on the flagged
region only ("local"), or caps its pressure. Clients and techniques never import each other, so the
caller passes the client's flags (and, for local flags, the regions they affect) as plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

REFUSE, LOCAL, CAP = "refuse", "local", "cap"


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


def check_item(
    *,
    technique: str,
    cells: Iterable[Cell],
    client_flags: Iterable[str],
    flag_regions: Mapping[str, Iterable[str]],
    region: str,
    pressure: int | None,
) -> list[Violation]:
    """Every rule of the matrix that this item breaks for this client (empty: allowed).

    A local flag with no recorded region is treated as affecting every region: without knowing
    where the surgery or lesion is, the safe answer is to refuse until the region is recorded.
    """
    flags = set(client_flags)
    violations = []
    for cell in cells:
        if cell.flag not in flags:
            continue
        if cell.rule == REFUSE:
            detail = f"{technique} is contraindicated with {cell.flag}."
        elif cell.rule == LOCAL:
            affected = set(flag_regions.get(cell.flag, ()))
            if affected and region not in affected:
                continue
            where = f"the {region} region" if affected else "any region until one is recorded"
            detail = f"{technique} is contraindicated on {where} with {cell.flag}."
        elif cell.rule == CAP:
            if pressure is None or cell.max_pressure is None or pressure <= cell.max_pressure:
                continue
            detail = (
                f"{technique} is limited to pressure {cell.max_pressure} with {cell.flag} "
                f"(asked {pressure})."
            )
        else:
            continue
        violations.append(Violation(technique, cell.flag, cell.rule, detail))
    return violations
