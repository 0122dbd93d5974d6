"""Small known data sets for the report tests: complaints with scored series, completed sessions
whose plans name them, in the practice's local time (Europe/London; British Summer Time starts on
Sunday 29 March 2026, so a 23:30 on 30 April is 22:30 UTC)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from clients.models import Complaint, Outcome
from practice.models import Practice, Service, Therapist
from sessions.records.models import PlanItem, SessionPlan
from sessions.scheduling.models import Appointment
from techniques.models import Technique
from tests.factories import ClientFactory

LONDON = ZoneInfo("Europe/London")


def local(day: str, clock: str = "09:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=LONDON)


def service(practice: Practice) -> Service:
    return Service.objects.get_or_create(
        practice=practice, name="Back massage", defaults={"duration_minutes": 60, "price": 60}
    )[0]


def appointment(
    practice: Practice,
    therapist: Therapist,
    client,
    start: datetime,
    *,
    status: str = "completed",
    minutes: int = 60,
    late: bool = False,
) -> Appointment:
    end = start + timedelta(minutes=minutes)
    return Appointment.objects.create(
        practice=practice,
        client=client,
        therapist=therapist,
        service=service(practice),
        start=start,
        end=end,
        blocked_until=end,
        status=status,
        late_cancellation=late,
        source="staff",
    )


def session(
    complaint: Complaint,
    therapist: Therapist,
    start: datetime,
    items: list[tuple[str, int, int | None]] = (),  # (technique code, minutes, pressure)
    status: str = "completed",
) -> Appointment:
    """A session of the complaint: an appointment and its plan naming the complaint."""
    visit = appointment(complaint.practice, therapist, complaint.client, start, status=status)
    plan = SessionPlan.objects.create(
        practice=complaint.practice,
        client=complaint.client,
        appointment=visit,
        complaint=complaint,
    )
    for position, (code, minutes, pressure) in enumerate(items):
        PlanItem.objects.create(
            plan=plan,
            position=position,
            technique=Technique.objects.get(practice=complaint.practice, code=code),
            region="lumbar",
            minutes=minutes,
            pressure=pressure,
        )
    return visit


def complaint(
    practice: Practice,
    *,
    onset: date,
    regions: tuple[str, ...] = ("lumbar",),
    client=None,
) -> Complaint:
    return Complaint.objects.create(
        practice=practice,
        client=client or ClientFactory(practice=practice),
        regions=[{"region": name, "side": "left"} for name in regions],
        onset_date=onset,
        onset_type="gradual",
        mechanism="lifting",
        pain_now=5,
    )


def score(
    complaint: Complaint, at: datetime, value: float, instrument: str = "nprs", **extra
) -> Outcome:
    fields = {"score": Decimal(str(value))}
    if instrument == "odi":
        fields["score_percent"] = Decimal(str(value))
    fields.update(extra)
    return Outcome.objects.create(
        practice=complaint.practice,
        client=complaint.client,
        complaint=complaint,
        instrument=instrument,
        answers={},
        measured_at=at,
        recorded_at=at,
        **fields,
    )
