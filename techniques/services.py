"""Writes of the techniques app: seeding a practice's catalog, adding and adjusting techniques and
their column of the contraindication matrix (DOMAIN.md 2c, 5)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from practice.audit import audit
from practice.errors import Invalid, PermissionDenied, PreconditionFailed
from practice.models import AuditAction, Practice, Role, User
from practice.vocabulary import HEALTH_FLAGS
from techniques import catalog, rules
from techniques.models import Contraindication, ContraindicationChange, Rule, Technique


@transaction.atomic
def seed_catalog(*, practice: Practice) -> list[Technique]:
    """Copy the nine built-ins and the default matrix (DOMAIN.md 2c, 5) into `practice`."""
    techniques = Technique.objects.bulk_create(
        Technique(
            practice=practice,
            code=entry.code,
            name=entry.name,
            description=entry.description,
            purpose=entry.purpose,
            is_builtin=True,
            usual_pressure_min=entry.pressure[0] if entry.pressure else None,
            usual_pressure_max=entry.pressure[1] if entry.pressure else None,
            usual_minutes_min=entry.minutes[0],
            usual_minutes_max=entry.minutes[1],
        )
        for entry in catalog.CATALOG
    )
    by_code = {technique.code: technique for technique in techniques}
    Contraindication.objects.bulk_create(
        Contraindication(
            practice=practice,
            technique=by_code[code],
            flag=flag,
            rule=Rule.CAP if isinstance(cell, int) else cell,
            max_pressure=cell if isinstance(cell, int) else None,
            note=catalog.NOTES.get((flag, code), ""),
        )
        for flag, row in catalog.MATRIX.items()
        for code, cell in row.items()
    )
    return techniques


def cautious_rows() -> list[dict]:
    """What a new technique starts with until the owner sets its rows: per flag, the most cautious
    cell of the built-in matrix (DOMAIN.md 2c), the whole-body refusals included."""
    return [
        {
            "flag": flag,
            "rule": Rule.CAP if isinstance(cell, int) else cell,
            "max_pressure": cell if isinstance(cell, int) else None,
            "note": "",
        }
        for flag, cell in sorted(rules.most_cautious_rows(catalog.MATRIX, HEALTH_FLAGS).items())
    ]


def _rows_of(technique: Technique) -> list[dict]:
    return [
        {"flag": row.flag, "rule": row.rule, "max_pressure": row.max_pressure, "note": row.note}
        for row in technique.contraindications.order_by("flag")
    ]


def _checked_rows(rows: list[dict]) -> list[dict]:
    """Well-formed rows, with the whole-body refusals kept: they cannot be removed or weakened
    (DOMAIN.md 2b "applies to all treatment")."""
    flags = [row["flag"] for row in rows]
    if len(set(flags)) != len(flags):
        raise Invalid.on("contraindications", "Each flag may appear once.")
    for index, row in enumerate(rows):
        if (row["rule"] == Rule.CAP) != (row.get("max_pressure") is not None):
            raise Invalid.on(
                f"contraindications.{index}.max_pressure",
                "A cap needs max_pressure; other rules take none.",
            )
        if row["flag"] in rules.WHOLE_BODY_FLAGS and row["rule"] != Rule.REFUSE:
            raise Invalid.on(
                f"contraindications.{index}.rule",
                f"{row['flag']} refuses every technique (DOMAIN.md 2b); this rule cannot be "
                "removed or weakened.",
                "whole_body_rule",
            )
    kept = [
        {"flag": flag, "rule": Rule.REFUSE, "max_pressure": None, "note": ""}
        for flag in rules.WHOLE_BODY_FLAGS
        if flag not in flags
    ]
    normalised = [
        {
            "flag": row["flag"],
            "rule": row["rule"],
            "max_pressure": row.get("max_pressure"),
            "note": row.get("note", ""),
        }
        for row in rows
    ]
    return sorted(normalised + kept, key=lambda row: row["flag"])


def _replace_rows(*, technique: Technique, rows: list[dict]) -> None:
    technique.contraindications.all().delete()
    Contraindication.objects.bulk_create(
        Contraindication(practice_id=technique.practice_id, technique=technique, **row)
        for row in rows
    )


def _pressure_of(technique: Technique) -> dict | None:
    if technique.usual_pressure_max is None and technique.usual_pressure_min is None:
        return None
    return {"min": technique.usual_pressure_min, "max": technique.usual_pressure_max}


def _record_change(
    *,
    technique: Technique,
    before: list[dict],
    after: list[dict],
    pressure_before: dict | None,
    pressure_after: dict | None,
    by: User,
    ip: str | None,
) -> None:
    """Keep a change of the technique's column or usual pressure: before/after, and the access
    log. Nothing is kept when nothing changed."""
    if before == after and pressure_before == pressure_after:
        return
    change = ContraindicationChange.objects.create(
        practice_id=technique.practice_id,
        technique=technique,
        technique_code=technique.code,
        changed_by=by,
        before=before,
        after=after,
        usual_pressure_before=pressure_before,
        usual_pressure_after=pressure_after,
    )
    audit(
        practice=technique.practice_id,
        actor=by,
        role=Role.OWNER,
        action=AuditAction.UPDATE if before else AuditAction.CREATE,
        record_type="contraindication_change",
        record_ids=[change.pk],
        ip_address=ip,
    )


def _only_the_owner(
    role: str, what: str = "the contraindication matrix (contraindications)"
) -> None:
    if role != Role.OWNER:
        raise PermissionDenied(f"Only the owner changes {what}.")


USUAL_PRESSURE = (
    "a technique's usual pressure (usual_pressure): items without one are checked at it"
)


@transaction.atomic
def create_technique(
    *,
    practice: Practice,
    by: User,
    role: str,
    ip: str | None,
    contraindications: list[dict] | None = None,
    **fields: Any,
) -> Technique:
    """A practice's own technique. Its rows are the owner's to set; without them it inherits the
    most cautious defaults of the built-in matrix (DOMAIN.md 2c), never "allowed for all"."""
    if contraindications is not None:
        _only_the_owner(role)
        rows = _checked_rows(contraindications)
    else:
        rows = cautious_rows()
    technique = Technique.objects.create(practice=practice, **fields)
    if _pressure_of(technique) is not None:
        _only_the_owner(role, USUAL_PRESSURE)
    _replace_rows(technique=technique, rows=rows)
    if contraindications is not None:  # the defaults are no one's change: nothing to audit
        _record_change(
            technique=technique,
            before=[],
            after=rows,
            pressure_before=None,
            pressure_after=_pressure_of(technique),
            by=by,
            ip=ip,
        )
    return technique


@transaction.atomic
def update_technique(
    *,
    technique: Technique,
    by: User,
    role: str,
    ip: str | None,
    contraindications: list[dict] | None = None,
    **fields: Any,
) -> Technique:
    """Adjust a technique; its matrix column and usual pressure only by the owner, audited with
    before/after."""
    if contraindications is not None:
        _only_the_owner(role)
    technique = Technique.objects.select_for_update().get(pk=technique.pk)
    pressure_before = _pressure_of(technique)
    for name, value in fields.items():
        setattr(technique, name, value)
    pressure_after = _pressure_of(technique)
    if pressure_after != pressure_before:
        _only_the_owner(role, USUAL_PRESSURE)
    technique.save()
    before = _rows_of(technique)
    after = before
    if contraindications is not None:
        after = _checked_rows(contraindications)
        _replace_rows(technique=technique, rows=after)
    _record_change(
        technique=technique,
        before=before,
        after=after,
        pressure_before=pressure_before,
        pressure_after=pressure_after,
        by=by,
        ip=ip,
    )
    return technique


@transaction.atomic
def delete_technique(*, technique: Technique, role: str) -> None:
    """A practice's own technique, by the owner only (it carries a column of the matrix); its
    matrix history is kept, naming the technique's code. Built-ins are adjusted, not deleted."""
    _only_the_owner(role, "the technique catalog by deleting a technique")
    if technique.is_builtin:
        raise Invalid("Built-in techniques cannot be deleted; adjust them instead.")
    try:
        technique.delete()
    except ProtectedError:  # plan items name it (sessions protects them)
        raise PreconditionFailed(
            "Session plans use this technique: it cannot be deleted."
        ) from None
