"""The bench's own throwaway database, made and dropped the way Django's test runner does it;
shared by `python -m bench` and the peer figure's subprocess (bench/peer.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress


@contextmanager
def throwaway_database(suffix: str = "") -> Iterator[str]:
    """A test database named `bench_<name>` (SQLite: var/bench.sqlite3), created by migrations and
    dropped on exit, as Django's test runner does. A `suffix` names another one beside it (the
    peer figure's subprocess makes its own while the bench's is in use)."""
    from django.conf import settings
    from django.db import connections
    from django.test.utils import (
        setup_databases,
        setup_test_environment,
        teardown_databases,
        teardown_test_environment,
    )

    settings_dict = connections["default"].settings_dict
    tail = f"_{suffix}" if suffix else ""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        name = str(settings.VAR_DIR / f"bench{tail}.sqlite3")
    else:
        name = f"bench_{settings_dict['NAME']}{tail}"
    settings_dict.setdefault("TEST", {})["NAME"] = name
    live_name = settings_dict["NAME"]
    setup_test_environment(debug=False)
    try:
        # Not serialized: no TransactionTestCase will need the empty database restored.
        old_config = setup_databases(
            verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set()
        )
    except BaseException:
        if settings_dict["NAME"] != live_name:  # created, then migrations failed: drop it
            with suppress(Exception):  # best effort: the error worth seeing is the one raised
                connections["default"].creation.destroy_test_db(live_name, verbosity=0)
        teardown_test_environment()
        raise
    try:
        yield f"{connections['default'].vendor} ({name})"
    finally:
        teardown_databases(old_config, verbosity=0)
        teardown_test_environment()
