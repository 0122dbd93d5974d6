"""Every new practice starts with its own copy of the built-in catalog."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from practice.models import Practice
from techniques.services import seed_catalog


@receiver(post_save, sender=Practice)
def _seed_new_practice(
    sender, instance: Practice, created: bool, raw: bool = False, **kwargs
) -> None:
    if created and not raw:
        seed_catalog(practice=instance)
