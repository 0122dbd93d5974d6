"""Migration 0002 brings existing rows under the new rules (DOMAIN.md 2b, 2c): whole-body refusals
on every technique, and the most cautious defaults for a practice's technique that had no rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from practice.models import Practice

BEFORE = [("techniques", "0001_initial")]
AFTER = [("techniques", "0002_contraindication_change_history")]


@pytest.mark.django_db(transaction=True)
def test_existing_techniques_get_whole_body_rules_and_cautious_defaults():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    # The practice app is not rolled back: today's model, without the signal that seeds a catalog.
    (practice,) = Practice.objects.bulk_create([Practice(slug="old", name="Old Clinic")])
    Technique = old.get_model("techniques", "Technique")
    Contraindication = old.get_model("techniques", "Contraindication")
    common = {"practice_id": practice.pk, "description": "x", "usual_minutes_min": 1}
    builtin = Technique.objects.create(
        code="kneading", name="Kneading", is_builtin=True, usual_minutes_max=5, **common
    )
    Contraindication.objects.create(
        practice_id=practice.pk, technique=builtin, flag="dvt", rule="cap", max_pressure=3
    )
    Contraindication.objects.create(
        practice_id=practice.pk, technique=builtin, flag="osteoporosis", rule="cap", max_pressure=2
    )
    own = Technique.objects.create(
        code="hot_stones", name="Hot stones", usual_minutes_max=5, **common
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    rows = new.get_model("techniques", "Contraindication").objects

    assert set(
        rows.filter(technique_id=builtin.pk).values_list("flag", "rule", "max_pressure")
    ) == {
        ("dvt", "refuse", None),
        ("fever_acute_illness", "refuse", None),
        ("red_flag_open", "refuse", None),
        ("osteoporosis", "cap", 2),
    }
    own_rows = dict(rows.filter(technique_id=own.pk).values_list("flag", "rule"))
    assert own_rows["dvt"] == own_rows["osteoporosis"] == own_rows["pregnancy"] == "refuse"
    assert own_rows["recent_surgery"] == "local"
