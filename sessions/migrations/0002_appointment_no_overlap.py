"""Postgres only: no two live appointments of one therapist may occupy overlapping time.

An exclusion constraint over (therapist =, tstzrange(start, blocked_until) &&) decides races that a
check in Python cannot: of any number of concurrent bookings for one slot, exactly one commits.
SQLite has no exclusion constraints; there, writes are serialized (transaction_mode IMMEDIATE) and
the booking service's check holds.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

CONSTRAINT = "appointment_no_overlap"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE treatment_appointment ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(therapist_id WITH =, tstzrange(start, blocked_until, '[)') WITH &&) "
        "WHERE (status <> 'cancelled')"
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE treatment_appointment DROP CONSTRAINT {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("treatment", "0001_initial")]

    operations = [
        BtreeGistExtension(),
        migrations.RunPython(add_constraint, drop_constraint),
    ]
