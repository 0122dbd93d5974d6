"""Writes of the techniques app: seeding a practice's catalog, adjusting its matrix."""

from __future__ import annotations

from django.db import transaction

from practice.errors import Invalid
from practice.models import Practice
from techniques import catalog
from techniques.models import Contraindication, Rule, Technique


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


@transaction.atomic
def replace_contraindications(*, technique: Technique, rows: list[dict]) -> None:
    """A practice adjusts one technique's column of the matrix: the given rows replace the old."""
    flags = [row["flag"] for row in rows]
    if len(set(flags)) != len(flags):
        raise Invalid.on("contraindications", "Each flag may appear once.")
    for index, row in enumerate(rows):
        if (row["rule"] == Rule.CAP) != (row.get("max_pressure") is not None):
            raise Invalid.on(
                f"contraindications.{index}.max_pressure",
                "A cap needs max_pressure; other rules take none.",
            )
    technique.contraindications.all().delete()
    Contraindication.objects.bulk_create(
        Contraindication(practice_id=technique.practice_id, technique=technique, **row)
        for row in rows
    )
