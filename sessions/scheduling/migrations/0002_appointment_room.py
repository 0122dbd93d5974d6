"""Appointments hold a room (issue 20.1); on Postgres no two live ones of one room may overlap.

Like `appointment_no_overlap` (treatment 0002) for therapists: an exclusion constraint over
(room_id =, tstzrange(start, blocked_until) &&) decides races for the last room, so of any number
of concurrent bookings for one room at one time exactly one commits. Appointments without a room
(services that need none, every practice without rooms) are outside it.
"""

import django.db.models.deletion
from django.db import migrations, models

CONSTRAINT = "appointment_room_no_overlap"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE treatment_appointment ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(room_id WITH =, tstzrange(start, blocked_until, '[)') WITH &&) "
        "WHERE (status <> 'cancelled' AND room_id IS NOT NULL)"
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE treatment_appointment DROP CONSTRAINT {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0013_rooms_hands_on_limits_date_overrides"),
        ("scheduling", "0001_initial"),
        ("treatment", "0002_appointment_no_overlap"),  # btree_gist
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="room",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="practice.room",
            ),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                condition=models.Q(("room__isnull", False)),
                fields=["room", "start"],
                name="appointment_room",
            ),
        ),
        migrations.RunPython(add_constraint, drop_constraint),
    ]
