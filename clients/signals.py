"""Reactions of the clients app to the practice app's signals."""

from django.dispatch import receiver

from clients.models import Client, Complaint, Outcome
from clients.services import link_client_on_verification
from practice.signals import email_verified
from practice.tombstones import track_deletions

# Hard deletions (erasure, purge) stay visible to `?updated_since=` sync (practice.tombstones).
track_deletions(Client, "client")
track_deletions(Complaint, "complaint")
track_deletions(Outcome, "outcome")  # also a note's pain outcome replaced by a new score


@receiver(email_verified)
def _link_client(sender, *, user, practice, phone="", **kwargs):
    link_client_on_verification(user=user, practice=practice, phone=phone)
