"""Reactions of the sessions app to changes owned by apps below it."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from practice.models import TimeOff
from practice.tombstones import track_deletions
from sessions.models import Appointment, Note, SessionPlan, WaitlistEntry
from sessions.tasks import offer_freed_time_soon

# Hard deletions (erasure, purge) stay visible to `?updated_since=` sync (practice.tombstones).
track_deletions(Appointment, "appointment")
track_deletions(Note, "note")
track_deletions(SessionPlan, "session_plan")
track_deletions(WaitlistEntry, "waitlist_entry")


@receiver(post_delete, sender=TimeOff)
def _time_off_removed(sender, instance: TimeOff, **kwargs):
    """Removed time off frees working time: offer it to the waitlist."""
    offer_freed_time_soon(instance.therapist_id, instance.start, instance.end)
