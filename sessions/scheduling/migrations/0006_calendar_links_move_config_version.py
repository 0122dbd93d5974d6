"""Whether a therapist's calendar takes write-back is part of the cached booking reads
(practice.config_versions): its links move the practice's version, as practice 0022's tables do.
Not at every sync (etag, sync token, failures): only when what the booking asks changes."""

from django.db import migrations

from practice.config_versions import drop_trigger_sql, trigger_sql

TABLE = "scheduling_calendarlink"
COLUMNS = ("therapist_id", "kind", "write_back")


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in trigger_sql(vendor, TABLE, "{row}.practice_id", COLUMNS):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    for statement in drop_trigger_sql(schema_editor.connection.vendor, TABLE):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0022_config_version"),
        ("scheduling", "0005_reminder_kinds_after_merge"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
