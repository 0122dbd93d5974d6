"""A practice's booking configuration, read once per version and process (issue 22.1).

A booking reads the practice's configuration three times: the service and therapist (through the
row that says one offers the other), the therapists' diaries and the service's rooms. These
change a few times a week and are read on every booking and availability request, so they are
kept here, per process, under the practice's `config_version`.

The version is the database's: triggers on every table those reads touch (migration
practice/0022) move it on at each insert, update or delete, whatever writes it (a service, an
import, the admin, raw SQL), in the writer's transaction; and a save of a stale practice cannot
move it back. A new practice starts at a random version, so two databases (or a test database
whose ids are reused after a rollback) never share a key. `tests/sessions/test_config_versions.py`
checks that each table the cached reads touch has its triggers.

Only a practice read at the start of this request (`trust`, by the authentication) is looked up
here: its version is the one committed when the request began, so a change committed since is at
worst seen by the next request, as a read of the tables would have been a moment earlier. A
practice object a caller has held across a change (a task, a test, a service that changes the
configuration and then books in one call) is not trusted, and its reads go to the database. No
request writes the configuration and then reads it through here: what it read inside its own
transaction would be kept under the version the request began with, and if that transaction
rolled back, kept wrongly. A request that ever needs to must read the tables.
"""

from __future__ import annotations

import pickle
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

# Entries kept per process: each is a few kilobytes (a service and a therapist, a diary of a
# day or a range, a list of rooms).
MAX_ENTRIES = 4096
_TRUSTED = "_config_version_trusted"


def new_config_version() -> int:
    """A new practice's first version: random, so that no two practices' keys meet."""
    return secrets.randbits(62)


def trust(practice: Any) -> None:
    """`practice` was read from the database at the start of this request."""
    setattr(practice, _TRUSTED, True)


def trusted(practice: Any) -> bool:
    return getattr(practice, _TRUSTED, False)


class _Cache:
    def __init__(self) -> None:
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, value: bytes) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _Cache()


def remember(practice: Any, key: tuple, load: Callable[[], T]) -> T:
    """`load()` for a practice not trusted; else its answer at this version of the practice's
    configuration, loaded once. Each caller gets a copy of its own (pickled), so no request
    changes what another reads."""
    if not trusted(practice):
        return load()
    full_key = (practice.pk, practice.config_version, *key)
    kept = _cache.get(full_key)
    if kept is None:
        value = load()
        _cache.put(full_key, pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        return value
    return pickle.loads(kept)  # noqa: S301  # bytes this process pickled, never from outside


def forget_all() -> None:
    """Empty this process's cache (tests)."""
    _cache.clear()


# --- the triggers (used by the migrations that create them) -----------------------------------

_BUMP = "UPDATE practice_practice SET config_version = config_version + 1 WHERE id IN ({ids})"


def trigger_sql(vendor: str, table: str, practice_ids: str, columns: tuple[str, ...] = ()) -> list:
    """Statements creating the triggers that move the practice's version on at each insert,
    update (of `columns`, if named) and delete of a row of `table`. `practice_ids` is SQL for the
    row's practice ids, with `{row}` standing for NEW or OLD."""
    name = f"{table}_moves_config_version"
    of = f" OF {', '.join(columns)}" if columns else ""
    new, old = (_BUMP.format(ids=practice_ids.format(row=row)) for row in ("NEW", "OLD"))
    if vendor == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'DELETE' THEN {old}; ELSE {new}; END IF; RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE{of} OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()",
        ]
    return [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN {new}; END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE{of} ON {table} BEGIN {new}; END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN {old}; END",
    ]


def drop_trigger_sql(vendor: str, table: str) -> list:
    name = f"{table}_moves_config_version"
    if vendor == "postgresql":
        return [f"DROP FUNCTION IF EXISTS {name}() CASCADE"]
    return [f"DROP TRIGGER IF EXISTS {name}_{op}" for op in ("insert", "update", "delete")]


def never_back_sql(vendor: str) -> list:
    """A save of a practice read before a change (a full `save()`) writes its old version back:
    the version stays where the triggers moved it."""
    if vendor == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION practice_config_version_never_back() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN IF NEW.config_version < OLD.config_version THEN "
            "NEW.config_version := OLD.config_version; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER practice_config_version_never_back BEFORE UPDATE OF config_version "
            "ON practice_practice FOR EACH ROW "
            "EXECUTE FUNCTION practice_config_version_never_back()",
        ]
    return [
        "CREATE TRIGGER practice_config_version_never_back AFTER UPDATE OF config_version "
        "ON practice_practice WHEN NEW.config_version < OLD.config_version BEGIN "
        "UPDATE practice_practice SET config_version = OLD.config_version WHERE id = NEW.id; END"
    ]
