"""The reports as CSV tables (`practice.spreadsheet.render_csv`: formula-injection-safe cells),
one row per group, so a spreadsheet can sort and chart them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from practice.spreadsheet import render_csv

OUTCOME_FIELDS = (
    "complaints",
    "improved",
    "baseline_only",
    "share",
    "small_group",
    "median_days",
    "median_visits",
)


def outcomes_csv(report: dict[str, Any]) -> str:
    rows: list[Sequence[object]] = []
    for entry in report["instruments"]:
        groups = [("overall", "all", entry["overall"])]
        groups += [("therapist", g["therapist_name"], g) for g in entry["by_therapist"]]
        groups += [("duration_category", g["duration_category"], g) for g in entry["by_duration"]]
        groups += [("region", g["region"], g) for g in entry["by_region"]]
        rows += [
            [entry["instrument"], axis, value, *(group[name] for name in OUTCOME_FIELDS)]
            for axis, value, group in groups
        ]
    return render_csv(("instrument", "by", "group", *OUTCOME_FIELDS), rows)


def precedes_csv(report: dict[str, Any]) -> str:
    header = (
        "instrument",
        "group",
        "complaints",
        "small_group",
        "median_sessions",
        "median_total_minutes",
        "median_pressure",
        "technique",
        "technique_complaints",
        "technique_share",
    )
    rows: list[Sequence[object]] = []
    for name, group in report["groups"].items():
        head = [
            report["instrument"],
            name,
            group["complaints"],
            group["small_group"],
            group["median_sessions"],
            group["median_total_minutes"],
            group["median_pressure"],
        ]
        rows.append([*head, "", "", ""])
        rows += [
            [*head, item["technique"], item["complaints"], item["share"]]
            for item in group["techniques"]
        ]
    return render_csv(header, rows)


OPERATION_FIELDS = (
    "appointments",
    "no_shows",
    "no_show_rate",
    "late_cancellations",
    "late_cancellation_rate",
    "visits",
    "rebooked",
    "rebooking_rate",
    "new_clients",
    "returning_clients",
)


def operations_csv(report: dict[str, Any]) -> str:
    header = (
        "therapist",
        "therapist_name",
        "week",
        "first_day",
        "booked_minutes",
        "working_minutes",
        "utilisation",
        *OPERATION_FIELDS,
    )
    rows: list[Sequence[object]] = []
    blank = [""] * len(OPERATION_FIELDS)
    for therapist in report["therapists"]:
        who = [therapist["therapist"], therapist["therapist_name"]]
        rows += [
            [
                *who,
                week["week"],
                week["first_day"],
                week["booked_minutes"],
                week["working_minutes"],
                week["utilisation"],
                *blank,
            ]
            for week in therapist["weeks"]
        ]
        rows.append(
            [
                *who,
                "all",
                "",
                therapist["booked_minutes"],
                therapist["working_minutes"],
                therapist["utilisation"],
                *(therapist[name] for name in OPERATION_FIELDS),
            ]
        )
    totals = report["totals"]
    rows.append(
        [
            "",
            "all therapists",
            "all",
            "",
            totals["booked_minutes"],
            totals["working_minutes"],
            totals["utilisation"],
            *(totals[name] for name in OPERATION_FIELDS),
        ]
    )
    return render_csv(header, rows)
