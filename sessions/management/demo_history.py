"""Past weeks for the demo practice (issue 21): enough history for every report to show
something. Twenty weeks of weekly sessions for sixteen clients with back complaints, seen by the
owner and the therapist: session plans naming the complaint (techniques, minutes, pressure),
signed notes with pain before and after, NPRS at each visit (and RMDQ at intake and every fourth
visit), a few no-shows and late cancellations, reminders and follow-ups sent (most answered).

Written with `bulk_create` (a second or two): demo data of past visits, not bookings, so the
booking rules (notice, horizon) do not apply. Deterministic (a fixed random seed)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from clients.models import Client, Complaint, Outcome
from practice.models import Practice, Service, Therapist, TimeOff
from sessions.records.models import Note, PlanItem, SessionPlan
from sessions.scheduling.models import Appointment, Reminder
from techniques.models import Technique

WEEKS = 20
NAMES = [
    ("Elena", "Rossi"),
    ("Farid", "Haddad"),
    ("Grace", "Obi"),
    ("Hugo", "Berg"),
    ("Iris", "Novak"),
    ("Jonah", "Price"),
    ("Keiko", "Sato"),
    ("Liam", "Walsh"),
    ("Maya", "Cohen"),
    ("Nils", "Larsen"),
    ("Olu", "Adeyemi"),
    ("Priya", "Nair"),
    ("Quinn", "Reyes"),
    ("Rosa", "Diaz"),
    ("Sam", "Turner"),
    ("Tara", "Singh"),
]
REGIONS = ["lumbar", "lumbar", "thoracic", "cervical", "sacral_si", "gluteal"]
ROUTINES = [  # (technique code, minutes, pressure) per plan
    [("effleurage", 10, 2), ("kneading", 20, 3), ("friction", 10, 4), ("effleurage", 5, 2)],
    [("effleurage", 10, 2), ("trigger_point", 15, 4), ("stretching", 15, 2)],
    [("compression", 10, 3), ("myofascial_release", 20, 3), ("effleurage", 10, 2)],
    [("effleurage", 15, 2), ("kneading", 25, 4), ("tapotement", 5, 3)],
]


def add_history(practice: Practice) -> None:
    """Past visits, outcomes, plans, notes and messages of the demo practice."""
    rng = random.Random(21)  # noqa: S311 - demo data, not security
    tz = practice.tz
    therapists = list(Therapist.objects.filter(practice=practice).select_related("user"))
    service = Service.objects.get(practice=practice, name="Back massage (60 min)")
    techniques = {t.code: t for t in Technique.objects.filter(practice=practice)}
    today = datetime.now(tz).date()
    first_monday = today - timedelta(days=today.weekday() + 7 * WEEKS)
    clients = Client.objects.bulk_create(
        Client(
            practice=practice,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}@example.com",
            date_of_birth=date(1970 + index, 1 + index % 12, 5),
        )
        for index, (first, last) in enumerate(NAMES)
    )
    for index, client in enumerate(clients):
        therapist = therapists[index % len(therapists)]
        slot = index // len(therapists)  # one weekly slot per client and therapist
        weekday, hour = slot % 5, 9 + 2 * (slot // 5)
        start_week = rng.randrange(0, WEEKS - 6)
        first_day = first_monday + timedelta(days=7 * start_week + weekday)
        _course(practice, client, therapist, service, techniques, rng, first_day, hour, today)
    for therapist in therapists:  # a past week off each
        away = datetime.combine(first_monday + timedelta(days=35), time(0), tzinfo=tz)
        TimeOff.objects.create(
            practice=practice,
            therapist=therapist,
            start=away,
            end=away + timedelta(days=5),
            reason="Holiday",
        )


def _course(
    practice: Practice,
    client: Client,
    therapist: Therapist,
    service: Service,
    techniques: dict[str, Technique],
    rng: random.Random,
    first_day: date,
    hour: int,
    today: date,
) -> None:
    """One client's complaint and weekly visits from `first_day` until today."""
    tz = practice.tz
    region = rng.choice(REGIONS)
    onset = first_day - timedelta(days=rng.choice([10, 30, 60, 120, 400]))
    pain = rng.randint(5, 8)
    routine_index = rng.randrange(len(ROUTINES))
    routine = ROUTINES[routine_index]
    # Most improve, some do not; the routines differ a little, so the report has a story.
    responds = rng.random() < (0.6, 0.8, 0.7, 0.35)[routine_index]
    complaint = Complaint.objects.create(
        practice=practice,
        client=client,
        regions=[{"region": region, "side": "bilateral"}],
        onset_date=onset,
        onset_type="gradual",
        mechanism="sustained_posture",
        pain_now=pain,
        red_flags={},
    )
    intake = datetime.combine(first_day, time(hour), tzinfo=tz)
    outcomes = [_score(complaint, "nprs", pain, intake, "intake")]
    rmdq = rng.randint(8, 16)
    outcomes.append(_score(complaint, "rmdq", rmdq, intake, "recorded"))
    visits = min(rng.randint(6, 14), (today - first_day).days // 7)
    for number in range(visits):
        start = intake + timedelta(days=7 * number, minutes=15)
        visit = _visit(complaint, therapist, service, start, rng, first=number == 0)
        if visit.status != "completed":
            continue
        if responds:
            pain = max(0, pain - rng.choice([0, 1, 1, 2]))
        else:
            pain = min(10, max(0, pain + rng.choice([-1, 0, 0, 1])))
        _session(visit, complaint, therapist, techniques, routine, rng, pain)
        outcomes.append(_score(complaint, "nprs", pain, start, "session_before"))
        if number % 4 == 3:
            rmdq = max(0, rmdq - (rng.randint(2, 6) if responds else rng.randint(-1, 2)))
            outcomes.append(_score(complaint, "rmdq", rmdq, start, "recorded"))
    Outcome.objects.bulk_create(outcomes)


def _visit(
    complaint: Complaint,
    therapist: Therapist,
    service: Service,
    start: datetime,
    rng: random.Random,
    *,
    first: bool,
) -> Appointment:
    """One weekly appointment (a few missed or cancelled late, never the first) and its messages."""
    roll = rng.random()
    status = "completed"
    if not first and roll < 0.07:
        status = "no_show"
    elif not first and roll < 0.12:
        status = "cancelled"
    visit = Appointment.objects.create(
        practice=complaint.practice,
        client=complaint.client,
        therapist=therapist,
        service=service,
        start=start,
        end=start + timedelta(minutes=60),
        blocked_until=start + timedelta(minutes=75),
        status=status,
        late_cancellation=status == "cancelled" and roll < 0.10,
        source="staff",
    )
    _messages(visit, rng)
    return visit


def _score(complaint: Complaint, instrument: str, value: int, at: datetime, source: str) -> Outcome:
    answers = (
        {"pain": value}
        if instrument == "nprs"
        else {"items": [True] * value + [False] * (24 - value)}
    )
    return Outcome(
        practice=complaint.practice,
        client=complaint.client,
        complaint=complaint,
        instrument=instrument,
        answers=answers,
        score=Decimal(value),
        source=source,
        measured_at=at,
        recorded_at=at,
    )


def _session(
    visit: Appointment,
    complaint: Complaint,
    therapist: Therapist,
    techniques: dict[str, Technique],
    routine: list[tuple[str, int, int]],
    rng: random.Random,
    pain: int,
) -> None:
    plan = SessionPlan.objects.create(
        practice=visit.practice,
        client=visit.client,
        appointment=visit,
        complaint=complaint,
        goals=["pain_relief", "muscle_relaxation"],
        home_care="Gentle cat-cow stretches daily.",
    )
    region = complaint.regions[0]["region"]
    PlanItem.objects.bulk_create(
        PlanItem(
            plan=plan,
            position=position,
            technique=techniques[code],
            region=region,
            minutes=minutes,
            pressure=max(1, min(5, pressure + rng.choice([-1, 0, 0, 1]))),
        )
        for position, (code, minutes, pressure) in enumerate(routine)
    )
    Note.objects.create(
        practice=visit.practice,
        client=visit.client,
        appointment=visit,
        complaint=complaint,
        author=therapist.user,
        subjective="Back feels a little easier since last week.",
        objective="Tone raised along the erectors; tender points eased with pressure.",
        assessment="Responding to treatment.",
        plan="Continue weekly; home stretches.",
        pain_before=pain,
        pain_after=max(0, pain - 2),
        consent_confirmed=True,
        signed_at=visit.end + timedelta(minutes=10),
    )


def _messages(visit: Appointment, rng: random.Random) -> None:
    """The reminder before the visit and, after a completed one, the follow-up (most answered)."""
    rows = [
        Reminder(
            practice=visit.practice,
            client=visit.client,
            appointment=visit,
            kind="reminder",
            channel="email",
            scheduled_for=visit.start - timedelta(hours=24),
            status="sent",
            sent_at=visit.start - timedelta(hours=24),
        )
    ]
    if visit.status == "completed":
        due = visit.end + timedelta(hours=48)
        rows.append(
            Reminder(
                practice=visit.practice,
                client=visit.client,
                appointment=visit,
                kind="follow_up",
                channel="email",
                scheduled_for=due,
                status="sent",
                sent_at=due,
                answered_at=due + timedelta(hours=3) if rng.random() < 0.6 else None,
            )
        )
    Reminder.objects.bulk_create(rows)
