"""availability_vs_peer: Backcare's availability beside django-appointment's, on the same schedule.

Run by `python -m bench` as a subprocess (`python -m bench.peer`, settings bench.peer_settings),
because the peer's app must be installed before Django starts and config.settings never lists it.
The subprocess makes its own throwaway database, seeds the bench schedule (bench/schedule.py: 3
therapists, 500 appointments over days -14..41, time off), copies it into the peer's models and
asks both for the next 14 days:

- Backcare: one `free_slots` call for the 14 days and the 3 therapists;
- the peer: `appointment.services.get_available_slots_for_staff` per therapist per day, as its
  booking page does (appointment/views.py `get_available_slots_ajax`);
- the truth: bench.availability's brute force (a query per candidate slot).

Backcare must equal the truth; the peer's differences are printed (and counted in results.json),
not hidden. The last line on stdout is `FIGURE <json>` for the parent to read.

How the schedule maps onto the peer's model, which is poorer: one WorkingHours row per weekday
(from the first interval's start to the last one's end), so the lunch break becomes an
Unavailability on each working day of the window; the 15-minute buffer is the staff member's
`slot_gap_time`; the practice's 15-minute step its `slot_duration`; a whole day off a DayOff, a
part of a day an Unavailability; an appointment an AppointmentRequest (local date and times of
its 45 minutes) with its Appointment. The peer keeps naive local times in TIME_ZONE, the
practice's zone (bench/peer_settings.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from zoneinfo import ZoneInfo

NAME = "availability_vs_peer"
DAYS = 14
TARGET = 10.0


def _copy_into_peer(schedule, first: dt.date, last: dt.date, client) -> dict:
    """The bench schedule as the peer's rows; returns {therapist id: StaffMember}."""
    from appointment.models import (
        Appointment as PeerAppointment,
    )
    from appointment.models import (
        AppointmentRequest,
        DayOff,
        StaffMember,
        Unavailability,
        WorkingHours,
    )
    from appointment.models import Service as PeerService

    from practice.models import TimeOff
    from practice.models import WorkingHours as OurHours
    from sessions.scheduling.models import Appointment, Status

    practice = schedule.service.practice
    tz = practice.tz
    service = PeerService.objects.create(
        name=schedule.service.name,
        duration=dt.timedelta(minutes=schedule.service.duration_minutes),
        price=schedule.service.price,
    )
    staff = {}
    hours: dict[int, dict[int, list[tuple[dt.time, dt.time]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in OurHours.objects.filter(therapist__in=schedule.therapists):
        hours[row.therapist_id][row.weekday].append((row.start, row.end))
    for therapist in schedule.therapists:
        member = StaffMember.objects.create(
            user=therapist.user,
            slot_duration=practice.slot_step_minutes,
            slot_gap_time=schedule.service.buffer_minutes,
            appointment_buffer_time=0,
        )
        member.services_offered.add(service)
        staff[therapist.pk] = member
        for weekday, intervals in hours[therapist.pk].items():
            intervals.sort()
            WorkingHours.objects.create(
                staff_member=member,
                day_of_week=(weekday + 1) % 7,  # the peer's weeks start on Sunday (0)
                start_time=intervals[0][0],
                end_time=intervals[-1][1],
            )
    unavailable = []
    days_off = []
    day = first
    while day <= last:
        for therapist in schedule.therapists:
            intervals = sorted(hours[therapist.pk].get(day.weekday(), []))
            for (_, gap_start), (gap_end, _) in itertools.pairwise(intervals):
                unavailable.append((staff[therapist.pk], day, gap_start, gap_end))
        day += dt.timedelta(days=1)
    window = (
        dt.datetime.combine(first, dt.time(), tz),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz),
    )
    for off in TimeOff.objects.filter(
        therapist__in=schedule.therapists, start__lt=window[1], end__gt=window[0]
    ):
        start, end = off.start.astimezone(tz), off.end.astimezone(tz)
        if start.time() == dt.time() and end.time() == dt.time():
            days_off.append(
                DayOff(
                    staff_member=staff[off.therapist_id],
                    start_date=start.date(),
                    end_date=end.date() - dt.timedelta(days=1),
                )
            )
        else:
            unavailable.append((staff[off.therapist_id], start.date(), start.time(), end.time()))
    DayOff.objects.bulk_create(days_off)
    Unavailability.objects.bulk_create(
        Unavailability(staff_member=m, date=d, start_time=s, end_time=e)
        for m, d, s, e in unavailable
    )
    booked = list(
        Appointment.objects.filter(
            therapist__in=schedule.therapists, start__lt=window[1], end__gt=window[0]
        ).exclude(status=Status.CANCELLED)
    )
    requests = AppointmentRequest.objects.bulk_create(
        AppointmentRequest(
            date=a.start.astimezone(tz).date(),
            start_time=a.start.astimezone(tz).time(),
            end_time=a.end.astimezone(tz).time(),
            service=service,
            staff_member=staff[a.therapist_id],
            id_request=f"bench{a.pk}",
        )
        for a in booked
    )
    PeerAppointment.objects.bulk_create(
        PeerAppointment(client=client, appointment_request=r, id_request=r.id_request)
        for r in requests
    )
    # Where the peer's Unavailability rows begin and end: (therapist, local date, wall time).
    edges = {(t, d, wall) for m, d, a, b in unavailable for t in [m.user_id] for wall in (a, b)}
    return {"staff": staff, "service": service, "appointments": len(booked), "edges": edges}


def _timed(call) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def _local(slot: tuple[dt.datetime, int], tz) -> str:
    return f"{slot[0].astimezone(tz):%a %d %b %H:%M} (therapist {slot[1]})"


def run(rounds: int) -> dict:
    from appointment.services import get_available_slots_for_staff
    from appointment.utils.db_helpers import get_weekday_num_from_date
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.availability import brute_force_slots
    from bench.schedule import seed_schedule
    from bench.seed import seed_practice
    from sessions.scheduling.selectors import free_slots

    seeded = seed_practice(clients=200, complaints=0)
    schedule = seed_schedule(seeded)
    practice, service = schedule.service.practice, schedule.service
    tz = ZoneInfo(practice.timezone)
    first = timezone.localdate(timezone=tz) + dt.timedelta(days=1)
    last = first + dt.timedelta(days=DAYS - 1)
    peer = _copy_into_peer(schedule, first, last, client=seeded.owner)
    now = timezone.now()
    days = [first + dt.timedelta(days=n) for n in range(DAYS)]

    def ours() -> set:
        found = free_slots(practice=practice, service=service, first=first, last=last, now=now)
        return {(s.start, s.therapist) for s in found}

    def theirs() -> set:
        found = set()
        for therapist_id, member in peer["staff"].items():
            for day in days:
                weekday = get_weekday_num_from_date(day)
                for slot in get_available_slots_for_staff(
                    day, member, weekday, service=peer["service"]
                ):
                    start = slot.replace(tzinfo=tz).astimezone(dt.UTC)
                    found.add((start, therapist_id))
        return found

    truth_slots, candidates = brute_force_slots(
        practice=practice, service=service, first=first, last=last, now=now
    )
    truth = {(s.start, s.therapist) for s in truth_slots}
    with CaptureQueriesContext(connection) as our_queries:
        our_answer = ours()
    with CaptureQueriesContext(connection) as peer_queries:
        peer_answer = theirs()
    our_ms, peer_ms = [], []
    for number in range(rounds):
        calls = [lambda: our_ms.append(_timed(ours)[0]), lambda: peer_ms.append(_timed(theirs)[0])]
        for call in calls if number % 2 else reversed(calls):
            call()
    offered = sorted(peer_answer - truth)
    missed = sorted(truth - peer_answer)
    lines = [
        f"  {NAME}: {len(schedule.therapists)} therapists, {peer['appointments']} appointments "
        f"in the {DAYS} days, loaded into both; {candidates} candidates, {len(truth)} free "
        "(brute force)",
        f"  {NAME}: Backcare {len(our_answer)} slots in {len(our_queries)} queries, "
        + ("exactly the brute force" if our_answer == truth else "DIFFERENT from the brute force"),
        f"  {NAME}: the peer {len(peer_answer)} slots in {len(peer_queries)} queries "
        f"({len(peer['staff']) * DAYS} calls): {len(offered)} offered that are not free, "
        f"{len(missed)} free ones not offered",
    ]
    lines += [f"    peer offers, not free: {_local(s, tz)}" for s in offered[:5]]
    lines += [f"    peer misses, free:     {_local(s, tz)}" for s in missed[:5]]
    duration = dt.timedelta(minutes=service.duration_minutes)
    users = {t.pk: t.user_id for t in schedule.therapists}

    def at_an_edge(slot: tuple[dt.datetime, int]) -> bool:
        start, end = slot[0].astimezone(tz), (slot[0] + duration).astimezone(tz)
        user = users[slot[1]]
        return {(user, start.date(), start.time()), (user, end.date(), end.time())} & peer[
            "edges"
        ] != set()

    if missed:
        edge = sum(1 for s in missed if at_an_edge(s))
        lines.append(
            f"    {edge} of the {len(missed)} missed slots touch a lunch break or a part-day off: "
            "the peer has one working interval a day (a break must be an Unavailability) and "
            "keeps its gap (the buffer) around unavailabilities as around appointments, so the "
            "slot ending as a break begins and the one starting as it ends are lost"
        )
    value, baseline = statistics.median(our_ms), statistics.median(peer_ms)
    return {
        "lines": lines,
        "value": value,
        "baseline": baseline,
        "ratio": baseline / value,
        "passed": baseline / value >= TARGET and our_answer == truth,
        "extra": {
            "backcare_exact": our_answer == truth,
            "queries": len(our_queries),
            "baseline_queries": len(peer_queries),
            "slots": len(truth),
            "peer_slots": len(peer_answer),
            "peer_offered_not_free": len(offered),
            "peer_missed_free": len(missed),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peer_settings")
    import django

    django.setup()
    from bench.databases import throwaway_database  # after django.setup(): it reads settings

    with throwaway_database(suffix="peer"):
        result = run(args.rounds)
    for line in result.pop("lines"):
        print(line, flush=True)
    print("FIGURE " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def measure_peer(*, rounds: int, say):
    """The parent's side: run `python -m bench.peer` under bench.peer_settings and read its figure
    (Skipped when the `bench` dependency group is not installed)."""
    import importlib.util
    import subprocess

    from bench.results import Figure, Skipped

    if importlib.util.find_spec("appointment") is None:
        return Skipped(NAME, "needs the bench dependency group (make bench installs it)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.peer_settings"}
    done = subprocess.run(  # noqa: S603 - this interpreter, a module of the bench
        [sys.executable, "-m", "bench.peer", "--rounds", str(rounds)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    figure_line = None
    for line in done.stdout.splitlines():
        if line.startswith("FIGURE "):
            figure_line = line
        elif line.startswith("  "):
            say(line)
    if done.returncode or figure_line is None:
        say(done.stderr[-3000:])
        raise RuntimeError(f"{NAME}: python -m bench.peer failed ({done.returncode})")
    result = json.loads(figure_line.removeprefix("FIGURE "))
    return Figure(
        name=NAME,
        value=result["value"],
        baseline=result["baseline"],
        ratio=result["ratio"],
        target=TARGET,
        unit="ms",
        passes_when=f"ratio >= {TARGET:g} and backcare_exact (ratio = baseline / value)",
        passed=result["passed"],
        extra=result["extra"],
    )
