"""Clinical vocabularies of DOMAIN.md, spelled as the API spells them."""

from __future__ import annotations

from datetime import date

from django.db import models

from practice.vocabulary import HEALTH_FLAGS, REGIONS

__all__ = ["HEALTH_FLAGS", "REGIONS"]  # re-exported: the clinical words in one place

REMINDER_CHANNELS = ("email", "sms")

# API.md "Complaints": the red-flag screening questions.
RED_FLAG_QUESTIONS = (
    "saddle_numbness",
    "bladder_bowel_change",
    "bilateral_leg_symptoms",
    "progressive_weakness",
    "major_trauma",
    "cancer_history",
    "unexplained_weight_loss",
    "fever_or_infection",
    "unremitting_night_pain",
)
RED_FLAG_ANSWERS = ("yes", "no", "unsure")

SIDES = ("left", "right", "bilateral", "midline")


class OnsetType(models.TextChoices):
    SUDDEN = "sudden"
    GRADUAL = "gradual"


class OnsetPrecision(models.TextChoices):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class Episode(models.TextChoices):
    FIRST = "first"
    RECURRENT = "recurrent"


class Mechanism(models.TextChoices):
    LIFTING = "lifting"
    BENDING_TWISTING = "bending_twisting"
    FALL = "fall"
    SPORT = "sport"
    MOTOR_VEHICLE = "motor_vehicle"
    SUSTAINED_POSTURE = "sustained_posture"
    REPETITIVE_WORK = "repetitive_work"
    PREGNANCY_POSTPARTUM = "pregnancy_postpartum"
    POST_SURGICAL = "post_surgical"
    INSIDIOUS_UNKNOWN = "insidious_unknown"
    OTHER = "other"


class ComplaintStatus(models.TextChoices):
    ACTIVE = "active"
    REFERRAL_REQUIRED = "referral_required"
    RESOLVED = "resolved"


class DurationCategory(models.TextChoices):
    ACUTE = "acute"
    SUBACUTE = "subacute"
    CHRONIC = "chronic"


# DOMAIN.md 1: acute < 6 weeks, subacute 6-12 weeks, chronic >= 12 weeks (configurable defaults).
ACUTE_BEFORE_DAYS = 42
CHRONIC_FROM_DAYS = 84


def duration_category(onset: date, as_of: date) -> str:
    """DOMAIN.md 1 "Duration category"; recomputed at each read, so a complaint ages by itself."""
    days = (as_of - onset).days
    if days < ACUTE_BEFORE_DAYS:
        return DurationCategory.ACUTE
    if days < CHRONIC_FROM_DAYS:
        return DurationCategory.SUBACUTE
    return DurationCategory.CHRONIC
