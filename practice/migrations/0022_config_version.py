"""A practice's booking-configuration version, moved on by triggers (practice.config_versions).

The tables of this app that the cached booking reads touch; the scheduling app's calendar links
have theirs in scheduling 0006. Row-level triggers on both vendors, so that every writer moves the
version, not only the services that know of it.
"""

from django.db import migrations, models

import practice.config_versions
from practice.config_versions import drop_trigger_sql, never_back_sql, trigger_sql

OWN = "{row}.practice_id"
OF_SERVICE = "SELECT practice_id FROM practice_service WHERE id = {row}.service_id"
TRACKED = [
    ("practice_service", OWN, ()),
    ("practice_therapist", OWN, ()),
    ("practice_workinghours", OWN, ()),
    ("practice_dateoverride", OWN, ()),
    ("practice_room", OWN, ()),
    ("practice_therapist_services", OF_SERVICE, ()),
    ("practice_service_rooms", OF_SERVICE, ()),
    # A therapist's name is part of a booking's answer.
    (
        "practice_user",
        "SELECT practice_id FROM practice_therapist WHERE user_id = {row}.id",
        ("first_name", "last_name", "email"),
    ),
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table, practice_ids, columns in TRACKED:
        for statement in trigger_sql(vendor, table, practice_ids, columns):
            schema_editor.execute(statement)
    for statement in never_back_sql(vendor):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table, _, _ in TRACKED:
        for statement in drop_trigger_sql(vendor, table):
            schema_editor.execute(statement)
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS practice_config_version_never_back() CASCADE")
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS practice_config_version_never_back")


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0021_tombstone_types_after_the_merges"),
    ]

    operations = [
        migrations.AddField(
            model_name="practice",
            name="config_version",
            field=models.BigIntegerField(
                default=practice.config_versions.new_config_version, editable=False
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
