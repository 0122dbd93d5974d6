"""The booking configuration kept per version (practice.config_versions, issue 22.1): whatever
writes a table the kept reads come from moves the practice's version, so no booking or
availability answer is ever read from a configuration that has changed.

The tables are not listed here: they are taken from the SQL of the reads themselves, so a read
that starts joining a new table fails until that table has its triggers (a SQLite table rebuilt
by a later migration loses them: this catches that too)."""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from practice import config_versions
from practice.models import Practice
from practice.services import (
    add_date_override,
    create_room,
    set_working_hours,
    update_service,
)
from tests.factories import CalendarLinkFactory
from tests.sessions.booking_setup import local
from tests.sessions.test_booking import assert_invalid

URL = "/api/v1/appointments/"
TABLE = re.compile(r'(?:FROM|JOIN)\s+"(\w+)"')


def _version(practice: Practice) -> int:
    return Practice.objects.values_list("config_version", flat=True).get(pk=practice.pk)


def _triggers() -> set[tuple[str, str]]:
    """(table, operation) pairs that have a trigger moving the config version."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT event_object_table, event_manipulation FROM information_schema.triggers "
                "WHERE trigger_name LIKE '%%_moves_config_version'"
            )
            return {(table, op.lower()) for table, op in cursor.fetchall()}
        cursor.execute(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE '%_moves_config_version_%'"
        )
        return {(table, name.rsplit("_", 1)[1]) for table, name in cursor.fetchall()}


@pytest.fixture
def booked_config(owner, bookable):
    """A booking's whole configuration: a room it needs, a date override, a CalDAV calendar."""
    room = create_room(practice=bookable.practice, fields={"name": "Room 1"})
    update_service(
        service=bookable.service, fields={"needs_room": True}, therapists=None, rooms=[room]
    )
    day = local(bookable.practice, 5, 9).astimezone(bookable.practice.tz).date()
    add_date_override(therapist=bookable.therapist, date=day, start=time(10), end=time(12))
    CalendarLinkFactory(therapist=bookable.therapist, kind="caldav", write_back=False)
    return bookable


def _book(owner, bookable, days: int, hour: int):
    return owner.api.post(
        URL,
        {
            "service": bookable.service.pk,
            "therapist": bookable.therapist.pk,
            "client": bookable.client.pk,
            "start": local(bookable.practice, days, hour).isoformat(),
        },
    )


class _LoadSpy:
    """Stands for the cache: never holds anything, and notes which of the captured queries each
    kept read made (between its lookup and its store)."""

    def __init__(self, captured: CaptureQueriesContext) -> None:
        self.captured, self.reads, self._start = captured, [], 0

    def get(self, key):
        self._start = len(self.captured.captured_queries)

    def put(self, key, value) -> None:
        queries = self.captured.captured_queries[self._start :]
        self.reads.append((key[2], [query["sql"] for query in queries]))


@pytest.mark.django_db
def test_every_table_the_kept_reads_touch_moves_the_version_on_every_write(
    owner, booked_config, monkeypatch
):
    with CaptureQueriesContext(connection) as captured:
        spy = _LoadSpy(captured)
        monkeypatch.setattr(config_versions, "_cache", spy)
        assert _book(owner, booked_config, 3, 9).status_code == 201

    assert sorted(name for name, _ in spy.reads) == ["diaries", "offer", "rooms"]
    assert all(len(queries) == 1 for _, queries in spy.reads), spy.reads
    tables = {table for _, (sql,) in spy.reads for table in TABLE.findall(sql)}
    assert {"practice_workinghours", "practice_room", "practice_therapist_services"} <= tables
    have = _triggers()
    missing = sorted(
        (table, op) for table in tables for op in ("insert", "update", "delete")
        if (table, op) not in have
    )  # fmt: skip
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "table",
    [
        "practice_service",
        "practice_therapist",
        "practice_workinghours",
        "practice_dateoverride",
        "practice_room",
        "practice_therapist_services",
        "practice_service_rooms",
        "scheduling_calendarlink",
        "practice_user",
    ],
)
def test_a_raw_write_of_a_row_moves_its_practices_version(booked_config, table):
    """Not only the services: an UPDATE of any row (here in raw SQL, as an import or a fix by
    hand would write it) and a DELETE move the version of the row's practice."""
    practice = booked_config.practice
    update_service(service=booked_config.service, fields={}, therapists=None)
    column = {"practice_user": "first_name", "scheduling_calendarlink": "write_back"}
    row = _a_row(table, practice)
    set_column = column.get(table, "id")
    before = _version(practice)
    with connection.cursor() as cursor:
        sql = f'UPDATE "{table}" SET "{set_column}" = "{set_column}" WHERE id = %s'  # noqa: S608
        cursor.execute(sql, [row])  # the table and column from the list above
    assert _version(practice) > before


def _a_row(table: str, practice: Practice) -> int:
    with connection.cursor() as cursor:
        if table == "practice_user":
            cursor.execute(
                "SELECT user_id FROM practice_therapist WHERE practice_id = %s", [practice.pk]
            )
        elif table in ("practice_therapist_services", "practice_service_rooms"):
            cursor.execute(
                f'SELECT t.id FROM "{table}" t JOIN practice_service s ON s.id = t.service_id '  # noqa: S608
                "WHERE s.practice_id = %s",
                [practice.pk],
            )
        else:
            sql = f'SELECT id FROM "{table}" WHERE practice_id = %s'  # noqa: S608
            cursor.execute(sql, [practice.pk])
        found = cursor.fetchone()
    assert found is not None, f"no row of {table} to write"
    return found[0]


@pytest.mark.django_db
def test_an_insert_and_a_delete_move_the_version(booked_config):
    practice = booked_config.practice
    before = _version(practice)
    room = create_room(practice=practice, fields={"name": "Room 2"})
    added = _version(practice)
    room.delete()
    assert before < added < _version(practice)


@pytest.mark.django_db
def test_a_stale_save_of_the_practice_does_not_move_its_version_back(booked_config):
    stale = Practice.objects.get(pk=booked_config.practice.pk)
    set_working_hours(
        therapist=booked_config.therapist,
        intervals=[{"weekday": day, "start": time(8), "end": time(12)} for day in range(7)],
    )
    moved = _version(stale)
    stale.name = "Renamed"
    stale.save()  # writes every column, the old config_version too
    assert _version(stale) == moved > stale.config_version


@pytest.mark.django_db
def test_a_change_of_hours_is_seen_by_the_next_booking_and_availability(owner, booked_config):
    """The next request after a change reads the new configuration: here the afternoon is no
    longer worked, after both a booking and an availability answer have read the old hours."""
    bookable = booked_config
    noon = local(bookable.practice, 4, 12)
    day = noon.astimezone(bookable.practice.tz).date().isoformat()
    query = {"service": bookable.service.pk, "start": day, "end": day}
    assert _book(owner, bookable, 4, 9).status_code == 201
    before = _starts(owner.api.get("/api/v1/availability/", query))
    set_working_hours(
        therapist=bookable.therapist,
        intervals=[{"weekday": day, "start": time(9), "end": time(12)} for day in range(7)],
    )
    after = _starts(owner.api.get("/api/v1/availability/", query))
    refused = _book(owner, bookable, 4, 14)

    assert any(start >= noon for start in before)
    assert after
    assert all(start < noon for start in after)
    assert_invalid(refused, "start", "off_grid")


def _starts(response) -> list[datetime]:
    assert response.status_code == 200, response.content
    return [datetime.fromisoformat(slot["start"]) for slot in response.json()["slots"]]
