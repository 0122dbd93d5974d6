"""Reactions of the sessions app to changes owned by apps below it."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from practice.models import TimeOff
from sessions.tasks import offer_freed_time_soon


@receiver(post_delete, sender=TimeOff)
def _time_off_removed(sender, instance: TimeOff, **kwargs):
    """Removed time off frees working time: offer it to the waitlist."""
    offer_freed_time_soon(instance.therapist_id, instance.start, instance.end)
