"""Issue 16: the `treatment` models moved to the `scheduling` and `records` apps in state only.
A database at the old state (treatment 0012) with rows in every moved table migrates forward and
keeps every row, in the same tables, readable through the new apps' models."""

import datetime as dt

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from practice.models import Role
from tests.factories import (
    AppointmentFactory,
    MembershipFactory,
    NoteFactory,
    ReminderFactory,
    SessionPlanFactory,
    TechniqueFactory,
    TherapistAlertFactory,
    WaitlistEntryFactory,
)

BEFORE = [("treatment", "0012_reminder_kind_online_blocked")]
MOVED = {
    "scheduling": [
        "Appointment",
        "AppointmentEvent",
        "QuietRefusal",
        "IdempotencyRecord",
        "Reminder",
        "WaitlistEntry",
        "WaitlistOffer",
    ],
    "records": [
        "SessionPlan",
        "PlanItem",
        "Note",
        "Amendment",
        "TherapistAlert",
        "FollowUpAnswer",
    ],
}


def _rows_in_every_moved_table() -> None:
    appointment = AppointmentFactory()
    practice, client = appointment.practice, appointment.client
    author = MembershipFactory(practice=practice, role=Role.THERAPIST).user
    get = apps.get_model
    get("scheduling", "AppointmentEvent").objects.create(
        appointment=appointment, actor_kind="staff", action="created"
    )
    get("scheduling", "QuietRefusal").objects.create(
        practice=practice,
        client=client,
        service=appointment.service,
        therapist=appointment.therapist,
        start=appointment.start,
        end=appointment.end,
        manage_token_hash="f" * 64,
    )
    get("scheduling", "IdempotencyRecord").objects.create(
        practice=practice,
        principal="public",
        key="k1",
        request_hash="0" * 64,
        status_code=201,
        response={"id": 1},
    )
    ReminderFactory(appointment=appointment)
    entry = WaitlistEntryFactory(client=client, practice=practice)
    get("scheduling", "WaitlistOffer").objects.create(
        entry=entry,
        therapist=appointment.therapist,
        start=appointment.start,
        expires_at=timezone.now() + dt.timedelta(hours=2),
    )
    plan = SessionPlanFactory(appointment=appointment)
    item = get("records", "PlanItem").objects.create(
        plan=plan, position=1, technique=TechniqueFactory(), region="lumbar", minutes=10
    )
    note = NoteFactory(client=client, practice=practice, author=author, appointment=appointment)
    note.delivered_items.add(item)
    get("records", "Amendment").objects.create(
        note=note, kind="correction", text="Left, not right.", author=author
    )
    answer = get("records", "FollowUpAnswer").objects.create(
        practice=practice,
        client=client,
        appointment=appointment,
        pain=8,
        answered_at=timezone.now(),
    )
    TherapistAlertFactory(client=client, practice=practice, follow_up_answer=answer)


def _table_rows() -> dict[str, list[dict]]:
    """Every row of the moved tables, by column name: a later migration that rebuilds a table
    (SQLite remakes it on an altered field) may reorder its columns, never lose a value."""
    tables = [
        apps.get_model(app, name)._meta.db_table for app, names in MOVED.items() for name in names
    ] + ["treatment_note_delivered_items"]
    with connection.cursor() as cursor:
        rows = {}
        for table in tables:
            cursor.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 - our table names
            names = [column[0] for column in cursor.description]
            rows[table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return rows


def _as_in(rows: dict[str, list[dict]], other: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """`rows` with only the columns `other` has: migrated back, the tables lack the columns that
    later migrations added (an appointment's `room`, issue 20), and every other value must be
    unchanged."""
    return {
        table: [
            {column: row[column] for column in (other[table][0] if other[table] else row)}
            for row in table_rows
        ]
        for table, table_rows in rows.items()
    }


@pytest.mark.django_db(transaction=True)
def test_moving_the_models_keeps_every_row_in_its_table():
    _rows_in_every_moved_table()
    before = _table_rows()
    assert all(before.values()), "a row in every moved table (and the note-items link)"

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)  # the state before the split: the models in `treatment`
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    for names in MOVED.values():
        for name in names:
            assert old.get_model("treatment", name).objects.count() == 1, name
    migrated_back = _table_rows()
    assert migrated_back == _as_in(before, migrated_back)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert _table_rows() == before
    for app, names in MOVED.items():
        for name in names:
            model = apps.get_model(app, name)
            assert model._meta.db_table == f"treatment_{name.lower()}"
            assert model.objects.count() == 1, name
    note = apps.get_model("records", "Note").objects.get()
    assert note.appointment.reminders.count() == 1
    assert [i.position for i in note.delivered_items.all()] == [1]
