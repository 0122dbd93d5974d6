"""Reactions of the clients app to the practice app's signals."""

from django.dispatch import receiver

from clients.models import (
    Client,
    Complaint,
    ComplaintClearance,
    Consent,
    LegalHoldChange,
    MedicalClearance,
    Outcome,
    RedFlagAnswer,
)
from clients.services import follow_account_email, link_client_on_verification
from practice.signals import email_changed, email_verified
from practice.tombstones import track_deletions

# Hard deletions (erasure, purge) stay visible to `?updated_since=` sync (practice.tombstones).
track_deletions(Client, "client")
track_deletions(Complaint, "complaint")
track_deletions(Outcome, "outcome")  # also a note's pain outcome replaced by a new score
track_deletions(Consent, "consent")
track_deletions(MedicalClearance, "medical_clearance")
track_deletions(LegalHoldChange, "legal_hold_change")
track_deletions(ComplaintClearance, "complaint_clearance", "complaint.practice_id")
track_deletions(RedFlagAnswer, "red_flag_answer", "complaint.practice_id")


@receiver(email_verified)
def _link_client(sender, *, user, practice, phone="", date_of_birth=None, **kwargs) -> None:
    link_client_on_verification(
        user=user, practice=practice, phone=phone, date_of_birth=date_of_birth
    )


@receiver(email_changed)
def _follow_email(sender, *, user, previous, **kwargs) -> None:
    follow_account_email(user=user, previous=previous)
