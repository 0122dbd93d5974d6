"""The clinical record's reads: the notes list beside a bare view, and a complaint's progress.

Seeded on first use: ~3,000 SOAP notes over the practice's clients (most signed, some amended), and
two clients in a course of care, one with 40 sessions and one with 4: each session an appointment
(completed), its note and the note's pain-before NPRS outcome, as `create_note` records it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field, replace

from django.db import connection, transaction
from django.test import Client as TestClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.measure import BenchError, get_ok
from bench.results import Figure
from bench.seed import SEED, SeededPractice
from clients.domain import ComplaintStatus, Episode, Mechanism, OnsetType
from clients.models import Client, Complaint, Instrument, Outcome
from practice.models import Service, Therapist
from sessions.records.course_models import Course, CourseVisit
from sessions.records.models import Amendment, AmendmentKind, Note
from sessions.scheduling.models import Appointment, Source, Status

NOTES = 3000
SERIES = (40, 4)  # sessions of the two courses of care whose progress is read
PROGRESS_MAX_QUERIES = 4

SUBJECTIVE = (
    "Low back ache since last week, worse after sitting.",
    "Reports less stiffness in the mornings.",
    "Slept badly; pain flared after gardening.",
    "Better overall, still tight between the shoulder blades.",
    "No change since last session.",
)
OBJECTIVE = (
    "Hypertonic lumbar erectors bilaterally, L>R.",
    "Trigger point upper trapezius right.",
    "Flexion limited to mid-shin, pain at end range.",
    "Reduced tone in QL after treatment.",
)
ASSESSMENT = (
    "Mechanical low back pain, improving.",
    "Muscular tension, stress related.",
    "Progressing as expected.",
)
PLAN = (
    "Continue weekly, home stretches as given.",
    "Review in two weeks; add heat at home.",
    "Fortnightly, walking programme.",
)


@dataclass(frozen=True)
class Clinical:
    notes: int
    amendments: int
    progress: dict[int, int]  # sessions -> complaint id
    courses: dict[int, int] = field(default_factory=dict)  # sessions -> course of care id


def _note(rng: random.Random, **fields) -> Note:
    return Note(
        subjective=rng.choice(SUBJECTIVE),
        objective=rng.choice(OBJECTIVE),
        assessment=rng.choice(ASSESSMENT),
        plan=rng.choice(PLAN),
        consent_confirmed=True,
        shared_with_client=rng.random() < 0.3,
        **fields,
    )


def seed_clinical(seeded: SeededPractice, *, seed: int = SEED) -> Clinical:
    rng = random.Random(seed + 2)
    practice, owner = seeded.practice, seeded.owner
    now = timezone.now()
    with transaction.atomic():
        complaints = list(
            Complaint.objects.filter(practice=practice).values_list("pk", "client_id")
        )
        notes = []
        for complaint_id, client_id in rng.sample(complaints, k=NOTES):
            created = now - dt.timedelta(seconds=rng.randrange(365 * 24 * 3600))
            notes.append(
                (
                    _note(
                        rng,
                        practice=practice,
                        client_id=client_id,
                        complaint_id=complaint_id,
                        author=owner,
                        pain_before=rng.randint(2, 8),
                        signed_at=created + dt.timedelta(hours=2) if rng.random() < 0.85 else None,
                    ),
                    created,
                )
            )
        progress = {}
        courses: dict[int, int] = {}
        therapist = Therapist.objects.get(user=owner)
        service = Service.objects.create(
            practice=practice, name="Treatment (30 min)", duration_minutes=30
        )
        clients = rng.sample(list(Client.objects.filter(practice=practice)), k=len(SERIES))
        for hour, (sessions, client) in enumerate(zip(SERIES, clients, strict=True)):
            complaint = Complaint.objects.create(
                practice=practice,
                client=client,
                regions=[{"region": "lumbar", "side": "bilateral"}],
                onset_date=(now - dt.timedelta(days=7 * sessions + 30)).date(),
                onset_type=OnsetType.GRADUAL,
                episode=Episode.FIRST,
                mechanism=Mechanism.SUSTAINED_POSTURE,
                pain_now=8,
                status=ComplaintStatus.ACTIVE,
                created_by=owner,
            )
            progress[sessions] = complaint.pk
            starts = [
                dt.datetime.combine(
                    (now - dt.timedelta(weeks=sessions - week)).date(),
                    dt.time(9 + 2 * hour),
                    tzinfo=practice.tz,
                )
                for week in range(sessions)
            ]
            appointments = Appointment.objects.bulk_create(
                Appointment(
                    practice=practice,
                    client=client,
                    therapist=therapist,
                    service=service,
                    start=start,
                    end=start + dt.timedelta(minutes=30),
                    blocked_until=start + dt.timedelta(minutes=30),
                    status=Status.COMPLETED,
                    source=Source.STAFF,
                    booked_by=owner,
                )
                for start in starts
            )
            course = Course.objects.create(
                practice=practice,
                client=client,
                complaint=complaint,
                therapist=therapist,
                service=service,
                planned_visits=sessions,
                start_date=starts[0].date(),
                expected_end=starts[-1].date(),
                instruments=["rmdq", "psfs", "groc"],
            )
            CourseVisit.objects.bulk_create(
                CourseVisit(course=course, appointment=appointment) for appointment in appointments
            )
            courses[sessions] = course.pk
            pains = [
                max(0, 8 - week * 6 // sessions - rng.choice((0, 0, 1))) for week in range(sessions)
            ]
            outcomes = Outcome.objects.bulk_create(
                Outcome(
                    practice=practice,
                    client=client,
                    complaint=complaint,
                    instrument=Instrument.NPRS,
                    answers={"pain": pain},
                    score=pain,
                    context="now",
                    recorded_at=appointment.start,
                    measured_at=appointment.start,
                    recorded_by=owner,
                )
                for appointment, pain in zip(appointments, pains, strict=True)
            )
            notes += [
                (
                    _note(
                        rng,
                        practice=practice,
                        client=client,
                        appointment=appointment,
                        complaint=complaint,
                        author=owner,
                        pain_before=pain,
                        pain_before_outcome=outcome,
                        signed_at=appointment.end + dt.timedelta(minutes=20),
                    ),
                    appointment.end,
                )
                for appointment, pain, outcome in zip(appointments, pains, outcomes, strict=True)
            ]
        note_rows = Note.objects.bulk_create([note for note, _ in notes], batch_size=500)
        for note, created in notes:
            note.created_at = note.updated_at = created
        Note.objects.bulk_update(note_rows, ["created_at", "updated_at"], batch_size=500)
        amendments = [
            Amendment(
                note=note,
                kind=rng.choice(AmendmentKind.values),
                text="Clarification: pain was reported on the left, not the right.",
                reason="Transcription error",
                author=owner,
            )
            for note in note_rows
            if note.signed_at is not None and rng.random() < 0.15
            for _ in range(rng.choice((1, 1, 2)))
        ]
        Amendment.objects.bulk_create(amendments, batch_size=500)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Clinical(
        notes=len(note_rows), amendments=len(amendments), progress=progress, courses=courses
    )


def queries_of(client: TestClient, url: str) -> int:
    get_ok(client, url)  # warm: the first request of a URL may fill caches
    with CaptureQueriesContext(connection) as queries:
        get_ok(client, url)
    return len(queries)


def notes_list_queries(client: TestClient, figure: Figure, *, say) -> Figure:
    """The notes list must cost the same queries whatever the page size."""
    small = queries_of(client, "/api/v1/notes/?page_size=10")
    large = queries_of(client, "/api/v1/notes/?page_size=100")
    say(f"  {figure.name}: {small} queries at page_size=10, {large} at page_size=100")
    return replace(
        figure,
        passes_when=f"{figure.passes_when} and queries constant in page size",
        passed=figure.passed and small == large,
        extra={**figure.extra, "queries_page_10": small, "queries_page_100": large},
    )


def progress_queries(client: TestClient, clinical: Clinical, *, say) -> Figure:
    long, short = (clinical.progress[n] for n in SERIES)
    counts = {}
    for sessions, complaint in ((SERIES[0], long), (SERIES[1], short)):
        url = f"/api/v1/complaints/{complaint}/progress/"
        points = len(get_ok(client, url)["instruments"]["nprs"]["series"])
        if points != sessions:
            raise BenchError(f"progress of complaint {complaint}: {points} points, not {sessions}")
        counts[sessions] = queries_of(client, url)
    value, baseline = counts[SERIES[0]], counts[SERIES[1]]
    say(
        f"  progress_queries: GET complaints/{{id}}/progress/ made {baseline} queries for "
        f"{SERIES[1]} sessions, {value} for {SERIES[0]}"
    )
    return Figure(
        name="progress_queries",
        value=value,
        baseline=baseline,
        ratio=value / baseline,
        target=PROGRESS_MAX_QUERIES,
        unit="queries",
        passes_when=f"value <= {PROGRESS_MAX_QUERIES} and value == baseline",
        passed=value <= PROGRESS_MAX_QUERIES and value == baseline,
        extra={"series": list(SERIES)},
    )
