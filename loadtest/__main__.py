"""`python -m loadtest` (`make loadtest`): three bounded runs of a mixed load against gunicorn and a
Celery worker on a private Postgres and Redis: no fault, Postgres restarted mid-run, Redis
restarted mid-run. Prints a table per run, writes var/loadtest.json, and exits 1 if a booking
answered 201 is not stored, a reminder is missing, duplicated or sent twice, or an error happens
outside a fault's outage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import httpx

from loadtest import checks, report
from loadtest.seed import OWNER_EMAIL, PASSWORD, therapist_email
from loadtest.services import (
    ROOT,
    PrivatePostgres,
    PrivateRedis,
    Process,
    app_env,
    free_port,
    manage,
    start_app,
    wait_healthy,
)
from loadtest.workload import API, Workload, deal_slots, fetch_slots, login

RUNS = {
    "baseline": "no fault",
    "postgres": "Postgres restarted mid-run",
    "redis": "Redis restarted mid-run",
}
TEMPLATE = "loadtest_template"
LOG_DIR = ROOT / "var" / "loadtest"
PROBE_SECONDS = 5.0


def say(message: str) -> None:
    print(message, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(env("LOADTEST_SECONDS", "120")),
        help="load per run (LOADTEST_SECONDS, default 120)",
    )
    parser.add_argument("--clients", type=int, default=int(env("LOADTEST_CLIENTS", "32")))
    parser.add_argument(
        "--runs",
        default=env("LOADTEST_RUNS", ",".join(RUNS)),
        help=f"comma-separated, of {', '.join(RUNS)} (LOADTEST_RUNS)",
    )
    parser.add_argument(
        "--fault-at", type=float, default=0.4, help="the fault starts at this share of the run"
    )
    parser.add_argument(
        "--outage",
        type=float,
        default=float(env("LOADTEST_OUTAGE_SECONDS", "5")),
        help="seconds the restarted service stays down (LOADTEST_OUTAGE_SECONDS, default 5)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=15.0,
        help="errors later than this after the restart count as not recovered",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=float(env("LOADTEST_SETTLE_SECONDS", "420")),
        help="most seconds to wait after the load for due reminders to be sent (a message lost "
        "with the broker returns after its 5-minute lease) (LOADTEST_SETTLE_SECONDS)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--seed-clients", type=int, default=12000, help="clients in the practice")
    args = parser.parse_args(argv)
    args.runs = [name.strip() for name in args.runs.split(",") if name.strip()]
    unknown = [name for name in args.runs if name not in RUNS]
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; runs: {', '.join(RUNS)}")
    return args


class LoadTest:
    def __init__(self, args: argparse.Namespace, base: Path):
        self.args = args
        self.base = base
        self.pg = PrivatePostgres(base, free_port(55432))
        self.redis = PrivateRedis(base, free_port(56379))
        self.processes: list[Process] = []

    # --- services ---------------------------------------------------------------------------

    def start_services(self) -> None:
        self.pg.init()
        self.pg.start()
        self.redis.start()
        say(f"private Postgres on 127.0.0.1:{self.pg.port}, Redis on 127.0.0.1:{self.redis.port}")
        self.pg.create_database(TEMPLATE)
        started = time.monotonic()
        env = self.env(TEMPLATE, self.base / "seed")
        say(manage(["-m", "loadtest.seed", str(self.args.seed_clients)], env, "seed").strip())
        say(f"  (migrated and seeded in {time.monotonic() - started:.0f}s)")

    def env(self, database: str, run_dir: Path) -> dict[str, str]:
        (run_dir / "var").mkdir(parents=True, exist_ok=True)
        (run_dir / "mail").mkdir(parents=True, exist_ok=True)
        return app_env(
            database_url=self.pg.url(database),
            redis_url=self.redis.url,
            var_dir=run_dir / "var",
            mail_dir=run_dir / "mail",
        )

    def cleanup(self) -> None:
        for process in self.processes:
            with suppress(Exception):
                process.stop()
        with suppress(Exception):
            self.redis.stop()
        with suppress(Exception):
            self.pg.destroy()

    # --- faults -----------------------------------------------------------------------------

    def restart_postgres(self, mark) -> None:
        mark("stopped")
        self.pg.stop("fast")  # terminates every session, as a restart does
        time.sleep(self.args.outage)
        self.pg.start()
        mark("back")

    def restart_redis(self, mark) -> None:
        mark("stopped")
        self.redis.stop()  # no persistence: queued messages are gone
        time.sleep(self.args.outage)
        self.redis.start()
        mark("back")

    # --- one run ----------------------------------------------------------------------------

    def run(self, name: str, number: int) -> dict:
        args = self.args
        database = f"loadtest_{name}"
        run_dir = self.base / name
        self.pg.create_database(database, template=TEMPLATE)
        self.redis.flush()
        env = self.env(database, run_dir)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        gunicorn, celery = start_app(
            env=env, run_dir=run_dir, port=port, workers=args.workers, threads=args.threads
        )
        self.processes += [gunicorn, celery]
        try:
            wait_healthy(base_url, gunicorn)
            workload = self.prepare(base_url, database, number)
            workers_before = gunicorn.children()
            fault = {"postgres": self.restart_postgres, "redis": self.restart_redis}.get(name)
            say(f"{RUNS[name]}: {args.clients} clients for {args.seconds:.0f}s ...")
            result = workload.run(args.seconds, fault, args.fault_at * args.seconds)
            idle = None
            if fault is not None:
                # The same restart with no traffic during it: pooled connections are then stale
                # when the next requests come, instead of being flushed by the load.
                say(f"  idle restart of {name}, then {PROBE_SECONDS:.0f}s of load ...")
                fault(lambda event: None)
                probe = workload.run(PROBE_SECONDS)
                idle = report.probe_figures(probe)
                result = result.with_later(probe)
            workers_after = gunicorn.children()
            load_average = os.getloadavg()[0]  # how busy the machine was, for the reader
            alive = gunicorn.alive() and celery.alive()
            settled = checks.settle(lambda: self.pg.connect(database), args.settle, say)
        finally:
            for process in (gunicorn, celery):
                process.stop()
            self.keep_logs(name, run_dir)
        with self.pg.connect(database) as connection:
            found = checks.check(connection, result, run_dir / "mail")
        return report.summarize(
            name,
            RUNS[name],
            result,
            found,
            {
                "fault": name if fault else None,
                "clients": args.clients,
                "gunicorn": f"--workers {args.workers} --threads {args.threads}",
                "gunicorn_workers_replaced": len(workers_before - workers_after),
                "app_alive": alive,
                "settle_s": round(settled, 1),
                "slots_left": result.slots_left,
                "idle_restart": idle,
                "load_average_1m": round(load_average, 1),
                "cpus": os.cpu_count(),
            },
            args.grace,
        )

    def prepare(self, base_url: str, database: str, number: int) -> Workload:
        """Log in (owner and three therapists), deal the free slots, warm every worker up."""
        emails = [OWNER_EMAIL] + [therapist_email(n) for n in range(3)]
        tokens = [login(base_url, email, PASSWORD) for email in emails]
        with self.pg.connect(database) as connection:
            service = connection.execute("SELECT id FROM practice_service").fetchone()[0]
            client_ids = [
                row[0] for row in connection.execute("SELECT id FROM clients_client ORDER BY id")
            ]
        rng = random.Random(number)
        slots = deal_slots(fetch_slots(base_url, tokens[0], service), dt.timedelta(minutes=15), rng)
        rng.shuffle(client_ids)
        say(f"  {len(slots):,} distinct free slots dealt, {len(client_ids):,} clients")

        def warm(path: str) -> None:
            with suppress(httpx.HTTPError):
                httpx.get(
                    f"{base_url}{API}{path}",
                    headers={"Authorization": f"Bearer {tokens[0]}"},
                    timeout=30,
                )

        with ThreadPoolExecutor(self.args.workers * self.args.threads) as pool:
            list(pool.map(warm, ["me/", "clients/", "appointments/"] * 4 * self.args.workers))
        return Workload(
            base_url=base_url,
            tokens=tokens,
            service=service,
            client_ids=client_ids,
            slots=slots,
            clients=self.args.clients,
            seed=number,
        )

    def keep_logs(self, name: str, run_dir: Path) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        for log in ("gunicorn.log", "celery.log"):
            with suppress(FileNotFoundError):
                shutil.copy(run_dir / log, LOG_DIR / f"{name}-{log}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    base = Path(tempfile.mkdtemp(prefix="backcare-loadtest-", dir="/tmp"))
    base.chmod(0o755)  # the cluster's user must reach its directories below
    test = LoadTest(args, base)
    summaries = []
    started = time.monotonic()
    try:
        test.start_services()
        for number, name in enumerate(args.runs, start=1):
            summary = test.run(name, number)
            summaries.append(summary)
            say("")
            say(report.table(summary))
            say("")
    finally:
        test.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    path = report.write_results(
        summaries,
        {
            "seconds_per_run": args.seconds,
            "clients": args.clients,
            "outage_s": args.outage,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )
    failed = [s["run"] for s in summaries if not s["passed"]]
    say(
        f"wrote {path.relative_to(ROOT)}, logs in {LOG_DIR.relative_to(ROOT)}/ "
        f"({time.monotonic() - started:.0f}s): "
        + (f"FAILED: {', '.join(failed)}" if failed else "all runs passed")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
