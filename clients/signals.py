"""Reactions of the clients app to the practice app's signals."""

from django.dispatch import receiver

from clients.services import link_client_on_verification
from practice.signals import email_verified


@receiver(email_verified)
def _link_client(sender, *, user, practice, phone="", **kwargs):
    link_client_on_verification(user=user, practice=practice, phone=phone)
