"""intake_submit: full intake submissions from 8 concurrent clients against gunicorn on Postgres,
beside GET me/ under the same load (issue 17: p95 at most 3x GET me/'s p95, no errors).

Each submission is a first visit's whole form in one `POST public/intake/{token}/submit/`: the
client's contact and health flags, a complaint with its nine red-flag answers, the baseline NPRS,
RMDQ and PSFS scored by the server, and two signed consents, all written in one transaction. The
links are made the way the outbox makes them (a sent intake message holding the token's hash) for
first visits placed far beyond the booking figures' days, so that no figure meets another's rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.utils import timezone

from bench.booking_load import Phase, load, serve
from bench.measure import BenchError
from bench.results import Figure, Skipped
from bench.schedule import Schedule
from bench.seed import SeededPractice
from clients.models import Client
from practice.auth import hash_secret
from sessions.records.intake import current_form
from sessions.records.models import IntakeRequest, IntakeStatus
from sessions.scheduling.models import Appointment, Reminder, ReminderKind, ReminderStatus, Source

NAME = "intake_submit"
CLIENTS = 8
TARGET = 3.0  # a submission's p95 at most 3x GET me/'s p95
FAR_AHEAD = dt.timedelta(days=300)  # beyond every other figure's (reminders_per_s: to day 280)

RED_FLAGS = dict.fromkeys(
    (
        "saddle_numbness",
        "bladder_bowel_change",
        "bilateral_leg_symptoms",
        "progressive_weakness",
        "major_trauma",
        "cancer_history",
        "unexplained_weight_loss",
        "fever_or_infection",
        "unremitting_night_pain",
    ),
    "no",
)


def submission(index: int) -> dict:
    """The default form, filled in whole."""
    return {
        "contact": {
            "first_name": "Bench",
            "last_name": f"Client {index}",
            "phone": "+44 7700 900555",
            "date_of_birth": "1985-03-02",
            "emergency_contact": {"name": "Kin", "phone": "+44 7700 900556", "relationship": "kin"},
        },
        "health": {"flags": ["reduced_sensation"], "medications": "none"},
        "complaint": {
            "regions": [{"region": "lumbar", "side": "bilateral"}],
            "onset_date": (timezone.localdate() - dt.timedelta(days=40)).isoformat(),
            "onset_type": "gradual",
            "mechanism": "sustained_posture",
            "red_flags": RED_FLAGS,
        },
        "baseline": {
            "nprs": {"pain": 5},
            "rmdq": {"items": [True] * 8 + [False] * 16},
            "psfs": {"activities": [{"activity": "sitting", "score": 4}]},
        },
        "consents": {
            "signatures": [
                {"document": "general", "signed_name": f"Bench Client {index}", "agree": True},
                {
                    "document": "sensitive_area",
                    "signed_name": f"Bench Client {index}",
                    "agree": True,
                },
            ]
        },
    }


def make_links(seeded: SeededPractice, schedule: Schedule, count: int) -> list[str]:
    """`count` first visits of new clients, each with a sent intake link; their tokens."""
    practice, service = seeded.practice, schedule.service
    form = current_form(practice=practice)
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + FAR_AHEAD
    clients = Client.objects.bulk_create(
        Client(practice=practice, first_name="Bench", last_name=f"Intake {i}", email=f"i{i}@b.test")
        for i in range(count)
    )
    therapists = schedule.therapists
    appointments = Appointment.objects.bulk_create(
        Appointment(
            practice=practice,
            client=client,
            therapist=therapists[i % len(therapists)],
            service=service,
            start=start + dt.timedelta(hours=2 * (i // len(therapists))),
            end=start + dt.timedelta(hours=2 * (i // len(therapists)), minutes=60),
            blocked_until=start + dt.timedelta(hours=2 * (i // len(therapists)), minutes=90),
            source=Source.STAFF,
        )
        for i, client in enumerate(clients)
    )
    IntakeRequest.objects.bulk_create(
        IntakeRequest(practice=practice, client=a.client, appointment=a, form=form)
        for a in appointments
    )
    tokens = [f"in_{secrets.token_urlsafe(32)}" for _ in appointments]
    now = timezone.now()
    Reminder.objects.bulk_create(
        Reminder(
            practice=practice,
            client=a.client,
            appointment=a,
            kind=ReminderKind.INTAKE_REQUEST,
            channel="email",
            scheduled_for=now,
            status=ReminderStatus.SENT,
            sent_at=now,
            token_hash=hash_secret(token),
        )
        for a, token in zip(appointments, tokens, strict=True)
    )
    return tokens


def measure_intake_submit(
    seeded: SeededPractice, schedule: Schedule, *, requests: int, say
) -> Figure | Skipped:
    if not settings.IS_POSTGRES:
        return Skipped(NAME, "needs Postgres")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    warmup = 2 * CLIENTS
    tokens = make_links(seeded, schedule, requests + warmup)
    # Every request comes from one loopback address: the per-address limits would be the figure.
    with serve(THROTTLE_INTAKE_ADDRESS="1000000/hour", THROTTLE_PUBLIC="1000000/min") as base:

        def submits(chunk: list[str], offset: int) -> list[tuple]:
            return [
                ("POST", f"/api/v1/public/intake/{token}/submit/", submission(offset + i))
                for i, token in enumerate(chunk)
            ]

        def me(count: int) -> list[tuple]:
            return [("GET", "/api/v1/me/", None)] * count

        warm = [
            load(base, seeded.token, me(warmup), Phase("warm-up me/", (200,)), clients=CLIENTS),
            load(
                base,
                seeded.token,
                submits(tokens[:warmup], 0),
                Phase("warm-up", (200,)),
                clients=CLIENTS,
            ),
        ]
        tokens = tokens[warmup:]
        submit = Phase("POST public/intake/{token}/submit/", (200,))
        baseline = Phase("GET me/", (200,))
        half = requests // 2
        for number, (offset, chunk) in enumerate(((0, tokens[:half]), (half, tokens[half:]))):
            steps = [
                lambda o=offset, c=chunk: submit.add(
                    load(
                        base,
                        seeded.token,
                        submits(c, warmup + o),
                        Phase("", (200,)),
                        clients=CLIENTS,
                    )
                ),
                lambda c=chunk: baseline.add(
                    load(base, seeded.token, me(len(c)), Phase("", (200,)), clients=CLIENTS)
                ),
            ]
            for step in steps if number == 0 else reversed(steps):
                step()
    submitted = IntakeRequest.objects.filter(
        practice=seeded.practice, status=IntakeStatus.SUBMITTED
    ).count()
    answered = submit.statuses[200] + warm[1].statuses[200]
    if submitted != answered:
        raise BenchError(
            f"{NAME}: {answered} submissions answered 200 but {submitted} were written"
        )
    for phase in (submit, baseline, *warm):
        for line in phase.unexpected:
            say(f"  {NAME}: unexpected answer: {line}")
    say(f"  {NAME}: {submit.summary()}")
    say(f"  {NAME}: {baseline.summary()}")
    errors = submit.errors + baseline.errors
    value, base_p95 = submit.percentile(0.95), baseline.percentile(0.95)
    ratio = value / base_p95
    return Figure(
        name=NAME,
        value=value,
        baseline=base_p95,
        ratio=ratio,
        target=TARGET,
        unit="ms",
        passes_when=f"ratio <= {TARGET:g} and errors == 0 (ratio = value / baseline)",
        passed=ratio <= TARGET and errors == 0,
        extra={
            "submit_rps": round(submit.rps, 1),
            "baseline_rps": round(baseline.rps, 1),
            "submitted": submit.statuses[200],
            "errors": errors,
            "clients": CLIENTS,
        },
    )
