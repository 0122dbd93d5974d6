"""Figures of a run (throughput, latency percentiles, errors per endpoint, recovery from the fault),
the printed table, and var/loadtest.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

from loadtest.workload import CONFLICT, CONNECTION, ENDPOINTS, ERRORS, OK, OTHER, SERVER_ERROR

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "var" / "loadtest.json"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value at least `fraction` of the values do not exceed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def endpoint_figures(samples, seconds: float) -> dict:
    rows = {}
    for endpoint in (*ENDPOINTS, "all"):
        chosen = [s for s in samples if endpoint in ("all", s.endpoint)]
        latencies = [(s.ended - s.started) * 1000 for s in chosen]
        counts = dict.fromkeys((OK, CONFLICT, SERVER_ERROR, CONNECTION, OTHER), 0)
        for sample in chosen:
            counts[sample.outcome] += 1
        rows[endpoint] = {
            "requests": len(chosen),
            "rps": round(len(chosen) / seconds, 1) if seconds else 0.0,
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            **counts,
        }
    return rows


def recovery(samples, events: dict[str, float], grace: float) -> dict | None:
    """From the fault's events: how long the service was down, the first success after it came
    back, when errors stopped, and the errors outside [stopped, back + grace] (must be none)."""
    if "stopped" not in events:
        return None
    stopped, back = events["stopped"], events.get("back", events["stopped"])
    errors = [s for s in samples if s.outcome in ERRORS]
    after = [s for s in samples if s.started >= back and s.outcome in (OK, CONFLICT)]
    first_ok = min((s.ended for s in after), default=None)
    last_error = max((s.ended for s in errors if s.ended >= stopped), default=None)
    outside = sum(1 for s in errors if s.ended < stopped or s.started > back + grace)
    return {
        "stopped_at_s": round(stopped, 2),
        "back_at_s": round(back, 2),
        "outage_s": round(back - stopped, 2),
        "first_success_after_restart_s": None if first_ok is None else round(first_ok - back, 2),
        "errors_stop_after_fault_s": None if last_error is None else round(last_error - stopped, 2),
        "recovered_after_restart_s": (
            0.0 if last_error is None else round(max(0.0, last_error - back), 2)
        ),
        "errors_during_fault": len(errors) - outside,
        "errors_after_recovery": outside,
        "grace_s": grace,
    }


def probe_figures(probe) -> dict:
    """The few seconds of load right after an idle restart: every request must succeed."""
    errors = [s for s in probe.samples if s.outcome in ERRORS]
    return {
        "requests": len(probe.samples),
        "errors": len(errors),
        "errors_by_endpoint": {
            endpoint: sum(1 for s in errors if s.endpoint == endpoint)
            for endpoint in sorted({s.endpoint for s in errors})
        },
        "unexpected_answers": probe.examples,
    }


def summarize(name: str, label: str, result, checks: dict, extra: dict, grace: float) -> dict:
    summary = {
        "run": name,
        "label": label,
        "seconds": round(result.seconds, 1),
        "endpoints": endpoint_figures(result.samples, result.seconds),
        "recovery": recovery(result.samples, result.events, grace),
        "checks": checks,
        "unexpected_answers": result.examples,
        **extra,
    }
    problems = list(checks.get("problems", []))
    fault = summary["recovery"]
    errors = summary["endpoints"]["all"]
    total_errors = errors[SERVER_ERROR] + errors[CONNECTION] + errors[OTHER]
    if fault is None and total_errors:
        problems.append(f"{total_errors} errors in a run without a fault")
    if fault is not None and fault["errors_after_recovery"]:
        problems.append(
            f"{fault['errors_after_recovery']} errors outside the outage "
            f"(more than {grace:g}s after the restart)"
        )
    idle = extra.get("idle_restart")
    if idle and idle["errors"]:
        problems.append(f"{idle['errors']} errors in the first seconds after an idle restart")
    if extra.get("gunicorn_workers_replaced"):
        problems.append(f"{extra['gunicorn_workers_replaced']} gunicorn workers were replaced")
    if not extra.get("app_alive", True):
        problems.append("gunicorn or the Celery worker died")
    summary["problems"] = problems
    summary["passed"] = not problems
    return summary


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def table(summary: dict) -> str:
    lines = [
        f"== {summary['label']}: {summary['seconds']:.0f}s, {summary['clients']} clients, "
        f"gunicorn {summary['gunicorn']}, load average {summary['load_average_1m']:.1f} on "
        f"{summary['cpus']} CPUs ==",
        f"{'endpoint':<20} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'ok':>6} {'409':>5} {'5xx':>5} {'conn':>5} {'other':>5}",
    ]
    for endpoint, row in summary["endpoints"].items():
        if endpoint == "all":
            lines.append("-" * len(lines[1]))
        lines.append(
            f"{endpoint:<20} {row['requests']:>8,} {row['rps']:>7.1f} {_ms(row['p50_ms']):>7} "
            f"{_ms(row['p95_ms']):>7} {_ms(row['p99_ms']):>7} {row[OK]:>6,} {row[CONFLICT]:>5,} "
            f"{row[SERVER_ERROR]:>5,} {row[CONNECTION]:>5,} {row[OTHER]:>5,}"
        )
    fault = summary["recovery"]
    if fault is not None:

        def secs(value) -> str:
            return "never" if value is None else f"{value:.1f}s"

        first_ok = secs(fault["first_success_after_restart_s"])
        if fault["errors_stop_after_fault_s"] is None:
            errors_stop = "no errors"
        else:
            errors_stop = (
                f"errors stop {fault['errors_stop_after_fault_s']:.1f}s after the fault "
                f"({fault['recovered_after_restart_s']:.1f}s after the restart)"
            )
        lines.append(
            f"fault: {summary['fault']} down at {fault['stopped_at_s']:.1f}s for "
            f"{fault['outage_s']:.1f}s; first success {first_ok} after the restart; "
            f"{errors_stop}; errors: {fault['errors_during_fault']} during the outage, "
            f"{fault['errors_after_recovery']} after recovery"
        )
    idle = summary.get("idle_restart")
    if idle is not None:
        detail = ", ".join(f"{n} {e}" for e, n in idle["errors_by_endpoint"].items())
        lines.append(
            f"idle restart: {idle['requests']} requests in the next seconds, "
            f"{idle['errors']} errors" + (f" ({detail})" if detail else "")
        )
    c = summary["checks"]
    probed = " (with the idle-restart load)" if idle is not None else ""
    lines.append(
        f"bookings{probed}: {c['bookings_201']:,} answered 201, "
        f"{c['bookings_missing_count']} of them missing in the database; "
        f"{c['written_unconfirmed']} written without a 201 "
        f"({c['unconfirmed_answers']} answered 5xx/not at all); {c['double_booked_pairs']} "
        f"overlapping pairs"
    )
    lines.append(
        f"reminders: {c['appointments_in_db']:,} appointments, {c['reminder_rows_missing']} "
        f"without a reminder row, {c['reminder_rows_duplicated']} with more than one; "
        f"{c['reminders_due']:,} due: {c['reminders_due_by_status'].get('sent', 0):,} sent, "
        f"{c['reminders_due_pending']} pending; {c['emails_sent']:,} emails, "
        f"{c['emails_extra']} sent twice, {c['emails_missing']} missing "
        f"(settled in {summary['settle_s']:.0f}s)"
    )
    lines.append(f"notes: {c['notes_201']:,} answered 201, {c['notes_missing']} missing")
    lines.append(
        f"gunicorn workers replaced: {summary['gunicorn_workers_replaced']}; "
        f"result: {'PASS' if summary['passed'] else 'FAIL: ' + '; '.join(summary['problems'])}"
    )
    lines += [
        f"  e.g. {endpoint} -> {example}"
        for endpoint, examples in summary["unexpected_answers"].items()
        for example in examples
    ]
    return "\n".join(lines)


def write_results(summaries: list[dict], meta: dict) -> Path:
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "passed": all(s["passed"] for s in summaries), "runs": summaries}
    RESULTS_PATH.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return RESULTS_PATH
