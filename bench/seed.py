"""A realistic practice for the benchmarks, written with bulk_create from a fixed random seed.

One practice and its owner (through the real service, so the owner is also a therapist), then
clients, complaints with their red-flag answers and baseline NPRS, as create_complaint leaves them.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from clients.domain import (
    HEALTH_FLAGS,
    RED_FLAG_QUESTIONS,
    REGIONS,
    SIDES,
    ComplaintStatus,
    Episode,
    Mechanism,
    OnsetPrecision,
    OnsetType,
)
from clients.models import Client, Complaint, Instrument, Outcome, RedFlagAnswer
from practice.auth import issue_token
from practice.models import Practice, User
from practice.services import create_practice

SEED = 20260101
OWNER_EMAIL = "owner@bench.example"
OWNER_PASSWORD = "bench-owner-password-1"

FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Freya", "Lily", "Sophia", "Ella",
    "Priya", "Aisha", "Zara", "Chloe", "Emily", "Hannah", "Ruth", "Margaret", "Joan", "Nadia",
    "Oliver", "George", "Noah", "Arthur", "Leo", "Harry", "Jack", "Oscar", "Charlie", "Muhammad",
    "Thomas", "James", "William", "Daniel", "Samuel", "Tomasz", "Kwame", "Rohan", "Peter", "Ian",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Lewis", "Harris", "Martin", "Cooper", "King", "Lee",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Nowak", "O'Brien", "Murphy", "Mensah", "Shah", "Ali",
)  # fmt: skip
NOTES = (
    "",
    "",
    "Desk worker, worse after long meetings.",
    "Pain eases with walking, worse sitting in the car.",
    "Gardening at the weekend; stiff the next morning.",
    "Previous episode two years ago settled with massage and exercise.",
    "Night shifts; sleeps poorly when the pain flares.",
)


@dataclass(frozen=True)
class SeededPractice:
    practice: Practice
    owner: User
    token: str  # the owner's bearer token
    clients: int
    complaints: int
    red_flag_answers: int


def _spread(rng: random.Random, now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(seconds=rng.randrange(days * 24 * 3600))


def _client(rng: random.Random, practice: Practice, number: int) -> Client:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    has_phone = rng.random() < 0.85
    flags = rng.sample(HEALTH_FLAGS, k=rng.choice((0, 0, 0, 0, 0, 1, 1, 2)))
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 65))
    return Client(
        practice=practice,
        first_name=first,
        last_name=last,
        email=f"{first}.{last}.{number}@example.com".lower().replace("'", ""),
        phone=f"+44 7700 {rng.randrange(900000, 999999)}" if has_phone else "",
        date_of_birth=birth if rng.random() < 0.9 else None,
        health_flags=flags,
        reminder_channels=["email", "sms"] if has_phone and rng.random() < 0.4 else ["email"],
    )


def _complaint(
    rng: random.Random, practice: Practice, client: Client, owner: User, today: dt.date
) -> tuple[Complaint, dict[str, str]]:
    regions = [
        {"region": region, "side": rng.choice(SIDES)}
        for region in rng.sample(REGIONS, k=rng.choice((1, 1, 1, 2, 2, 3)))
    ]
    # A full intake screen for most complaints, a partial one for the rest; ~1 in 10 has a `yes`.
    asked = RED_FLAG_QUESTIONS if rng.random() < 0.7 else rng.sample(RED_FLAG_QUESTIONS, k=4)
    answers = {q: "unsure" if rng.random() < 0.03 else "no" for q in asked}
    if rng.random() < 0.1:
        answers[rng.choice(asked)] = "yes"
    pain_now = rng.randint(1, 9)
    complaint = Complaint(
        practice=practice,
        client=client,
        regions=regions,
        onset_date=today - dt.timedelta(days=rng.choice((3, 10, 30, 60, 120, 400, 1500))),
        onset_precision=rng.choice(
            (OnsetPrecision.DAY, OnsetPrecision.DAY, OnsetPrecision.DAY, OnsetPrecision.MONTH)
        ),
        onset_type=rng.choice(OnsetType.values),
        episode=rng.choice((Episode.FIRST, Episode.FIRST, Episode.RECURRENT)),
        mechanism=rng.choice(Mechanism.values),
        pain_now=pain_now,
        pain_worst_24h=min(10, pain_now + rng.randint(0, 3)) if rng.random() < 0.8 else None,
        pain_best_24h=max(0, pain_now - rng.randint(0, 4)) if rng.random() < 0.8 else None,
        notes=rng.choice(NOTES),
        red_flags=answers,
        status=(
            ComplaintStatus.REFERRAL_REQUIRED
            if "yes" in answers.values()
            else rng.choice((ComplaintStatus.ACTIVE,) * 3 + (ComplaintStatus.RESOLVED,))
        ),
        created_by=owner,
    )
    return complaint, answers


def seed_practice(
    *, clients: int = 2000, complaints: int = 5000, seed: int = SEED
) -> SeededPractice:
    """Write the practice in one transaction, then refresh the planner's statistics: a live
    database has them, and without them Postgres picks sequential scans for a fresh table."""
    with transaction.atomic():
        seeded = _write_practice(rng=random.Random(seed), clients=clients, complaints=complaints)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return seeded


def _write_practice(*, rng: random.Random, clients: int, complaints: int) -> SeededPractice:
    practice = create_practice(
        slug="bench",
        name="Bench Back Clinic",
        timezone_name="Europe/London",
        owner_email=OWNER_EMAIL,
        owner_password=OWNER_PASSWORD,
        owner_first_name="Bench",
        owner_last_name="Owner",
    )
    owner = User.objects.get(email=OWNER_EMAIL)
    token = issue_token(owner)
    now = timezone.now()
    today = timezone.localdate()

    client_rows = Client.objects.bulk_create(
        [_client(rng, practice, number) for number in range(clients)], batch_size=500
    )
    # bulk_create applies auto_now_add; spread the dates afterwards, as two years of intake would.
    for row in client_rows:
        row.created_at = row.updated_at = _spread(rng, now, 730)
    Client.objects.bulk_update(client_rows, ["created_at", "updated_at"], batch_size=500)

    pairs = [
        _complaint(rng, practice, rng.choice(client_rows), owner, today) for _ in range(complaints)
    ]
    complaint_rows = Complaint.objects.bulk_create([c for c, _ in pairs], batch_size=500)
    answer_rows: list[RedFlagAnswer] = []
    outcome_rows: list[Outcome] = []
    for complaint, answers in pairs:
        complaint.created_at = complaint.updated_at = _spread(rng, now, 365)
        answer_rows.extend(
            RedFlagAnswer(
                complaint=complaint,
                question=question,
                answer=answer,
                asked_at=complaint.created_at,
                asked_by=owner,
            )
            for question, answer in answers.items()
        )
        outcome_rows.append(
            Outcome(
                practice=practice,
                client=complaint.client,
                complaint=complaint,
                instrument=Instrument.NPRS,
                answers={"pain": complaint.pain_now},
                score=complaint.pain_now,
                source="intake",
                recorded_at=complaint.created_at,
                measured_at=complaint.created_at,
                recorded_by=owner,
            )
        )
    Complaint.objects.bulk_update(complaint_rows, ["created_at", "updated_at"], batch_size=500)
    RedFlagAnswer.objects.bulk_create(answer_rows, batch_size=1000)
    Outcome.objects.bulk_create(outcome_rows, batch_size=1000)
    return SeededPractice(
        practice=practice,
        owner=owner,
        token=token,
        clients=len(client_rows),
        complaints=len(complaint_rows),
        red_flag_answers=len(answer_rows),
    )
