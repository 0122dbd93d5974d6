"""`python -m bench`: throwaway database, seeded practice, each figure timed, table + results.json.

The database is a test database made beside the one DATABASE_URL names (as Django's test runner
makes one) under its own name, so neither live data nor a concurrent pytest run is touched; it is
dropped at the end. The exit status is 0 whether or not a target is met: the table says which.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from unittest import mock

FIGURES = (
    # (name, endpoint, baseline view, target ratio): serializers and permissions may cost at most
    # 2.5x the raw read of the same rows.
    ("clients_list", "/api/v1/clients/?page_size=100", "/bench/raw/{practice}/clients/", 0.4),
    (
        "complaints_list",
        "/api/v1/complaints/?page_size=100",
        "/bench/raw/{practice}/complaints/",
        0.4,
    ),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=11, help="timed rounds per figure")
    parser.add_argument("--seconds", type=float, default=0.6, help="timed seconds per side a round")
    parser.add_argument("--warmup", type=float, default=0.5, help="untimed seconds per side first")
    parser.add_argument("--only", action="append", help="measure only this figure (repeatable)")
    parser.add_argument(
        "--profile",
        metavar="FIGURE",
        help="print a cProfile of the figure's endpoint instead of timing (results.json untouched)",
    )
    parser.add_argument("--profile-requests", type=int, default=200)
    args = parser.parse_args(argv)
    known = [name for name, *_ in FIGURES]
    if args.profile:
        args.only = [args.profile]
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; figures: {', '.join(known)}")
    return args


def say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A test database named `bench_<name>` (SQLite: var/bench.sqlite3), created by migrations and
    dropped on exit, as Django's test runner does."""
    from django.conf import settings
    from django.db import connections
    from django.test.utils import (
        setup_databases,
        setup_test_environment,
        teardown_databases,
        teardown_test_environment,
    )

    settings_dict = connections["default"].settings_dict
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        name = str(settings.VAR_DIR / "bench.sqlite3")
    else:
        name = f"bench_{settings_dict['NAME']}"
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


@contextmanager
def bench_settings() -> Iterator[None]:
    """The bench URLconf, and no throttling: the figures measure the endpoint, not 429s.

    DRF copies the throttle rates into the throttle class when it is imported, so the rates are
    patched there (the same dict as settings.REST_FRAMEWORK's), not through override_settings.
    """
    from django.test import override_settings
    from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

    no_limits = dict.fromkeys(SimpleRateThrottle.THROTTLE_RATES)
    with (
        override_settings(ROOT_URLCONF="bench.urls"),
        mock.patch.dict(SimpleRateThrottle.THROTTLE_RATES, no_limits),
    ):
        assert UserRateThrottle().rate is None, "throttling is still on"
        yield


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

    from django.test import Client

    from bench.measure import Pair, check_same_rows, measure, profile
    from bench.results import RESULTS_PATH, table, write_results
    from bench.seed import seed_practice

    started = time.perf_counter()
    with throwaway_database() as database, bench_settings():
        say(f"database: {database}")
        seeded = seed_practice()
        say(
            f"seeded 1 practice, {seeded.clients} clients, {seeded.complaints} complaints, "
            f"{seeded.red_flag_answers} red-flag answers in {time.perf_counter() - started:.1f}s"
        )
        gc.collect()  # the seeding's garbage is not the requests' to collect
        client = Client(headers={"Authorization": f"Bearer {seeded.token}"})
        pairs = [
            Pair(name, endpoint, baseline.format(practice=seeded.practice.pk), target)
            for name, endpoint, baseline, target in FIGURES
            if not args.only or name in args.only
        ]
        for pair in pairs:
            check_same_rows(client, pair)

        if args.profile:
            say(profile(client, pairs[0].endpoint, requests=args.profile_requests))
            return 0

        figures = []
        for pair in pairs:
            figures.append(
                measure(client, pair, rounds=args.rounds, seconds=args.seconds, warmup=args.warmup)
            )
            say(f"  {figures[-1].spread()}")

    write_results(figures)
    say("")
    say(table(figures))
    say(
        f"\nwrote {RESULTS_PATH.relative_to(RESULTS_PATH.parent.parent)} "
        f"in {time.perf_counter() - started:.0f}s"
    )
    missed = [m.pair.name for m in figures if not m.passed]
    if missed:
        say(f"TARGET MISSED: {', '.join(missed)} (ratio below target; see bench/README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
