"""Operations report (issue 21.3): utilisation per therapist and ISO week (booked minutes of the
appointments that were not cancelled ÷ working minutes from working hours minus time off, both on
the practice's local days), no-show and late-cancellation rates, rebooking within 14 days after a
visit, new versus returning clients, and how reminders and follow-ups were answered.

Three queries: working hours and time off (one UNION ALL, with the therapists' names),
appointments folded per therapist and local day in SQL (with the rebooking and first-visit tests
as `EXISTS`), and the messages per kind. Weeks and working minutes are assembled in Python.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.db.models.functions import TruncDate

from practice.models import Practice, Therapist, TimeOff, User, WorkingHours
from sessions.insight.period import Period, rate
from sessions.insight.series import aware, db_time, fetch
from sessions.scheduling.models import Appointment, Reminder, ReminderKind, ReminderStatus, Status

REBOOK_WITHIN = timedelta(days=14)  # issue 21.3: "rebooking rate within 14 days after a visit"
COUNTS = (
    "appointments",
    "no_shows",
    "late_cancellations",
    "cancellations",
    "visits",
    "rebooked",
    "new_clients",
    "returning_clients",
)
DEFINITIONS = {
    "appointments": "appointments starting in the period, any status",
    "no_show_rate": "no-shows ÷ appointments",
    "late_cancellation_rate": "cancellations inside the cancellation window ÷ appointments",
    "visits": "completed appointments",
    "rebooking_rate": "visits followed by another (not cancelled) appointment of the client "
    "starting within 14 days after the visit ends ÷ visits",
    "new_clients": "clients whose first visit ever falls in the period",
    "returning_clients": "clients with an earlier visit whose first visit in the period is "
    "with this therapist",
    "utilisation": "booked minutes of appointments not cancelled (no-shows included) ÷ working "
    "minutes (working hours minus time off), per ISO week of local days",
    "kept_rate": "sent reminders whose appointment was then checked in or completed ÷ sent",
    "response_rate": "sent follow-ups that the client answered ÷ sent",
}


def _name(first: str, last: str, email: str) -> str:
    return f"{first} {last}".strip() or email


def _appointment_days(practice: Practice, period: Period) -> list[dict[str, Any]]:
    """Per therapist and local day: minutes booked and the counts of COUNTS (one query)."""
    visit = Q(status=Status.COMPLETED)
    others = Appointment.objects.filter(client=OuterRef("client")).exclude(pk=OuterRef("pk"))
    rebooked = others.exclude(status=Status.CANCELLED).filter(
        start__gt=OuterRef("end"), start__lte=OuterRef("end") + REBOOK_WITHIN
    )
    earlier = others.filter(status=Status.COMPLETED, start__lt=OuterRef("start"))
    rows = Appointment.objects.filter(
        practice=practice, start__gte=period.start, start__lt=period.end
    )
    if period.therapist_id is not None:
        rows = rows.filter(therapist_id=period.therapist_id)
    length = ExpressionWrapper(F("end") - F("start"), output_field=DurationField())
    return [
        dict(row)
        for row in rows.annotate(
            day=TruncDate("start", tzinfo=period.tz),
            was_rebooked=Exists(rebooked),
            seen_before=Exists(earlier),
            seen_earlier_in_period=Exists(earlier.filter(start__gte=period.start)),
        )
        .values(
            "therapist_id",
            "day",
            "therapist__user__first_name",
            "therapist__user__last_name",
            "therapist__user__email",
        )
        .annotate(
            booked=Sum(length, filter=~Q(status=Status.CANCELLED)),
            appointments=Count("id"),
            no_shows=Count("id", filter=Q(status=Status.NO_SHOW)),
            late_cancellations=Count("id", filter=Q(late_cancellation=True)),
            cancellations=Count("id", filter=Q(status=Status.CANCELLED)),
            visits=Count("id", filter=visit),
            rebooked=Count("id", filter=visit & Q(was_rebooked=True)),
            new_clients=Count("id", filter=visit & Q(seen_before=False)),
            returning_clients=Count(
                "id", filter=visit & Q(seen_before=True, seen_earlier_in_period=False)
            ),
        )
        .order_by()
    ]


HOURS_SQL = f"""
SELECT wh.therapist_id, wh.weekday, wh.start, wh."end", NULL, NULL,
       u.first_name, u.last_name, u.email
FROM {WorkingHours._meta.db_table} wh
JOIN {Therapist._meta.db_table} t ON t.id = wh.therapist_id
JOIN {User._meta.db_table} u ON u.id = t.user_id
WHERE wh.practice_id = %s {{only}}
UNION ALL
SELECT o.therapist_id, NULL, NULL, NULL, o.start, o."end", '', '', ''
FROM {TimeOff._meta.db_table} o
WHERE o.practice_id = %s AND o.start < %s AND o."end" > %s {{only_off}}"""


def _clock(value: Any) -> time:
    return time.fromisoformat(value) if isinstance(value, str) else value


def _working_minutes(practice: Practice, period: Period) -> tuple[dict, dict[int, str]]:
    """{therapist: {day: minutes}} from working hours minus time off, and the names of those
    with working hours: one query (the two tables read by one UNION ALL)."""
    only = only_off = ""
    params: list[Any] = [practice.pk]
    if period.therapist_id is not None:
        only, only_off = "AND wh.therapist_id = %s", "AND o.therapist_id = %s"
        params.append(period.therapist_id)
    params += [practice.pk, db_time(period.end), db_time(period.start)]
    if period.therapist_id is not None:
        params.append(period.therapist_id)
    week: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    names: dict[int, str] = {}
    away: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    sql = HOURS_SQL.format(only=only, only_off=only_off)
    for therapist_id, weekday, opens, closes, off_start, off_end, *name in fetch(sql, params):
        if weekday is None:
            away[therapist_id].append((aware(off_start), aware(off_end)))
            continue
        week[therapist_id][weekday].append((_clock(opens), _clock(closes)))
        names[therapist_id] = _name(*name)
    minutes: dict[int, dict[date, int]] = defaultdict(dict)
    for therapist_id, intervals in week.items():
        for day in period.days:
            total = 0.0
            for opens, closes in intervals.get(day.weekday(), ()):
                # UTC instants: a wall-clock interval across a DST change is an hour shorter
                # or longer, and Python's aware subtraction in one zone ignores that.
                begins = datetime.combine(day, opens, tzinfo=period.tz).astimezone(UTC)
                ends = datetime.combine(day, closes, tzinfo=period.tz).astimezone(UTC)
                total += (ends - begins).total_seconds()
                for off_start, off_end in away.get(therapist_id, ()):
                    overlap = min(ends, off_end) - max(begins, off_start)
                    total -= max(overlap.total_seconds(), 0.0)
            minutes[therapist_id][day] = round(total / 60)
    return minutes, names


def _messages(practice: Practice, period: Period) -> dict[str, Any]:
    """Reminders and follow-ups scheduled in the period, by what became of them (one query)."""
    rows = Reminder.objects.filter(
        practice=practice,
        kind__in=[ReminderKind.REMINDER, ReminderKind.FOLLOW_UP],
        scheduled_for__gte=period.start,
        scheduled_for__lt=period.end,
    )
    if period.therapist_id is not None:
        rows = rows.filter(appointment__therapist_id=period.therapist_id)
    sent = Q(status=ReminderStatus.SENT)
    counts: dict[str, dict[str, Any]] = {
        row["kind"]: dict(row)
        for row in rows.values("kind")
        .annotate(
            sent=Count("id", filter=sent),
            failed=Count("id", filter=Q(status=ReminderStatus.FAILED)),
            answered=Count("id", filter=sent & Q(answered_at__isnull=False)),
            kept=Count(
                "id",
                filter=sent & Q(appointment__status__in=[Status.CHECKED_IN, Status.COMPLETED]),
            ),
        )
        .order_by()
    }
    reminder = counts.get(ReminderKind.REMINDER, {})
    follow_up = counts.get(ReminderKind.FOLLOW_UP, {})
    return {
        "reminders": {
            "sent": reminder.get("sent", 0),
            "failed": reminder.get("failed", 0),
            "kept": reminder.get("kept", 0),
            "kept_rate": rate(reminder.get("kept", 0), reminder.get("sent", 0)),
        },
        "follow_ups": {
            "sent": follow_up.get("sent", 0),
            "failed": follow_up.get("failed", 0),
            "answered": follow_up.get("answered", 0),
            "response_rate": rate(follow_up.get("answered", 0), follow_up.get("sent", 0)),
        },
    }


def _figures(counts: dict[str, int], booked: int, working: int) -> dict[str, Any]:
    return {
        **{name: counts.get(name, 0) for name in COUNTS},
        "no_show_rate": rate(counts.get("no_shows", 0), counts.get("appointments", 0)),
        "late_cancellation_rate": rate(
            counts.get("late_cancellations", 0), counts.get("appointments", 0)
        ),
        "rebooking_rate": rate(counts.get("rebooked", 0), counts.get("visits", 0)),
        "booked_minutes": booked,
        "working_minutes": working,
        "utilisation": rate(booked, working),
    }


def iso_week(day: date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def operations_report(practice: Practice, period: Period) -> dict[str, Any]:
    """Issue 21.3, as JSON-ready data (three queries)."""
    working, names = _working_minutes(practice, period)
    booked: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in _appointment_days(practice, period):
        therapist_id = row["therapist_id"]
        names.setdefault(
            therapist_id,
            _name(
                row["therapist__user__first_name"],
                row["therapist__user__last_name"],
                row["therapist__user__email"],
            ),
        )
        length = row["booked"] or timedelta(0)
        booked[therapist_id][row["day"]] += round(length.total_seconds() / 60)
        for name in COUNTS:
            counts[therapist_id][name] += row[name]
    therapists = []
    totals: dict[str, int] = defaultdict(int)
    for therapist_id in sorted(names):
        weeks: dict[str, dict[str, Any]] = {}
        for day in period.days:
            week = weeks.setdefault(
                iso_week(day),
                {"week": iso_week(day), "first_day": day.isoformat(), "booked": 0, "working": 0},
            )
            week["booked"] += booked[therapist_id].get(day, 0)
            week["working"] += working.get(therapist_id, {}).get(day, 0)
        all_booked = sum(week["booked"] for week in weeks.values())
        all_working = sum(week["working"] for week in weeks.values())
        for name, value in counts[therapist_id].items():
            totals[name] += value
        totals["booked"] += all_booked
        totals["working"] += all_working
        therapists.append(
            {"therapist": therapist_id, "therapist_name": names[therapist_id]}
            | _figures(counts[therapist_id], all_booked, all_working)
            | {
                "weeks": [
                    {
                        "week": week["week"],
                        "first_day": week["first_day"],
                        "booked_minutes": week["booked"],
                        "working_minutes": week["working"],
                        "utilisation": rate(week["booked"], week["working"]),
                    }
                    for week in weeks.values()
                ]
            }
        )
    return {
        "period": period.as_dict(),
        "definitions": DEFINITIONS,
        "totals": _figures(totals, totals["booked"], totals["working"]),
        "therapists": therapists,
        "messages": _messages(practice, period),
    }
