"""Reactions of the sessions app to changes owned by apps below it."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from clients.events import outcome_recorded, screening_recorded
from practice.models import TimeOff
from practice.tombstones import track_deletions
from sessions.billing.models import (
    CancellationFee,
    ClientPackage,
    Invoice,
    InvoiceLine,
    PackageUse,
    Payment,
)
from sessions.records import alerts, courses, intake
from sessions.records.models import (
    Amendment,
    ConsentSignature,
    Course,
    CourseMeasure,
    CourseMeasureRequest,
    CourseReview,
    CourseVisit,
    FollowUpAnswer,
    HealthFlagProposal,
    IntakeRequest,
    Note,
    PlanItem,
    SessionPlan,
    TherapistAlert,
)
from sessions.scheduling.events import appointment_booked, appointment_checking_in, visit_completed
from sessions.scheduling.models import (
    Appointment,
    AppointmentEvent,
    Reminder,
    WaitlistEntry,
    WaitlistOffer,
)
from sessions.scheduling.queue import offer_freed_time_soon

# Hard deletions (erasure, purge) stay visible to `?updated_since=` sync (practice.tombstones).
track_deletions(Appointment, "appointment")
track_deletions(Invoice, "invoice")
track_deletions(Payment, "payment")
track_deletions(InvoiceLine, "invoice_line", "invoice.practice_id")
track_deletions(ClientPackage, "client_package")
track_deletions(CancellationFee, "cancellation_fee")
track_deletions(PackageUse, "package_use", "client_package.practice_id")
track_deletions(Note, "note")
track_deletions(SessionPlan, "session_plan")
track_deletions(WaitlistEntry, "waitlist_entry")
track_deletions(Reminder, "reminder")
track_deletions(TherapistAlert, "alert")
track_deletions(FollowUpAnswer, "follow_up_answer")
track_deletions(Course, "course")
track_deletions(CourseVisit, "course_visit", "course.practice_id")
track_deletions(CourseMeasure, "course_measure", "course.practice_id")
track_deletions(CourseReview, "course_review", "course.practice_id")
track_deletions(CourseMeasureRequest, "measure_request", "reminder.practice_id")
track_deletions(Amendment, "amendment", "note.practice_id")
track_deletions(PlanItem, "plan_item", "plan.practice_id")
track_deletions(AppointmentEvent, "appointment_event", "appointment.practice_id")
track_deletions(WaitlistOffer, "waitlist_offer", "entry.practice_id")
track_deletions(IntakeRequest, "intake")
track_deletions(HealthFlagProposal, "health_flag_proposal")
track_deletions(ConsentSignature, "consent_signature", "consent.practice_id")


@receiver(post_delete, sender=TimeOff)
def _time_off_removed(sender, instance: TimeOff, **kwargs) -> None:
    """Removed time off frees working time: offer it to the waitlist."""
    offer_freed_time_soon(instance.therapist_id, instance.start, instance.end)


@receiver(screening_recorded)
def _screening_recorded(
    sender, *, complaint, positive, unsure, by, appointment_id, **kwargs
) -> None:
    """Positive and unsure screening answers alert a clinician, on every path that records them."""
    alerts.alert_on_screening(
        complaint=complaint,
        positive=positive,
        unsure=unsure,
        by=by,
        appointment_id=appointment_id,
    )


@receiver(appointment_booked)
def _appointment_booked(sender, *, appointment, **kwargs) -> None:
    """A client's first visit, booked on any channel, gets its intake request (issue 17.2)."""
    intake.request_intake_for_booking(appointment=appointment)


@receiver(appointment_checking_in)
def _appointment_checking_in(sender, *, appointment, **kwargs) -> None:
    """The intake gate holds on every path to `checked_in` (issue 17.4)."""
    intake.check_in_gate(appointment=appointment)


@receiver(visit_completed)
def _visit_completed(sender, *, appointment, **kwargs) -> None:
    """A course's visit completed: request the measures due (issue 18.2)."""
    courses.on_visit_completed(appointment=appointment)


@receiver(outcome_recorded)
def _outcome_recorded(sender, *, outcomes, **kwargs) -> None:
    """Scored course instruments: review the course's response (issue 18.3)."""
    courses.on_outcome_recorded(outcomes=outcomes)
