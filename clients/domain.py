"""Clinical vocabularies of DOMAIN.md, spelled as the API spells them."""

from __future__ import annotations

import re
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


# --- red-flag screening (DOMAIN.md 2a) --------------------------------------------------------


class ReferralUrgency(models.TextChoices):
    EMERGENCY_SAME_DAY = "emergency_same_day"
    URGENT_REFERRAL = "urgent_referral"
    REFER_BEFORE_TREATING = "refer_before_treating"


# DOMAIN.md 2a "default action" per group: cauda equina and progressive neurology are emergencies
# (same day), distinct from the urgent and before-treatment referrals of the other groups.
URGENCY_OF: dict[str, str] = {
    "saddle_numbness": ReferralUrgency.EMERGENCY_SAME_DAY,
    "bladder_bowel_change": ReferralUrgency.EMERGENCY_SAME_DAY,
    "bilateral_leg_symptoms": ReferralUrgency.EMERGENCY_SAME_DAY,
    "progressive_weakness": ReferralUrgency.EMERGENCY_SAME_DAY,
    "cancer_history": ReferralUrgency.URGENT_REFERRAL,
    "unexplained_weight_loss": ReferralUrgency.URGENT_REFERRAL,
    "fever_or_infection": ReferralUrgency.URGENT_REFERRAL,
    "unremitting_night_pain": ReferralUrgency.URGENT_REFERRAL,
    "major_trauma": ReferralUrgency.REFER_BEFORE_TREATING,
    # Computed from the date of birth (age_red_flags): malignancy, then "other serious".
    "age_over_50_new_pain": ReferralUrgency.URGENT_REFERRAL,
    "age_under_20_or_over_55_new_pain": ReferralUrgency.REFER_BEFORE_TREATING,
}
URGENCY_ORDER = (
    ReferralUrgency.EMERGENCY_SAME_DAY,
    ReferralUrgency.URGENT_REFERRAL,
    ReferralUrgency.REFER_BEFORE_TREATING,
)
# What the therapist tells the client (DOMAIN.md 2a; wording is the practice's to refine).
REFERRAL_ADVICE: dict[str, str] = {
    ReferralUrgency.EMERGENCY_SAME_DAY: (
        "Tell the client to go to emergency care now (the emergency department, today): these "
        "symptoms can mean nerve compression that needs same-day assessment. Do not treat."
    ),
    ReferralUrgency.URGENT_REFERRAL: (
        "Ask the client to see their doctor urgently, within days, before any treatment."
    ),
    ReferralUrgency.REFER_BEFORE_TREATING: (
        "Ask the client to see their doctor before treatment, and record the outcome."
    ),
}
# DOMAIN.md 1 "mechanism": a fall or a vehicle accident must answer the trauma question.
TRAUMA_MECHANISMS = frozenset({"fall", "motor_vehicle"})


def referral_urgency(positive: list[str] | set[str] | tuple[str, ...]) -> str:
    """The most urgent action among positive answers (DOMAIN.md 2a); "" when none."""
    urgencies = {URGENCY_OF[name] for name in positive if name in URGENCY_OF}
    return next((u for u in URGENCY_ORDER if u in urgencies), "")


def age_red_flags(date_of_birth: date | None, onset: date, episode: str) -> list[str]:
    """DOMAIN.md 2a: age over 50 with new pain (malignancy); new back pain under 20 or over 55
    (other serious). Counted at the onset date; "new" is a first episode."""
    if date_of_birth is None or episode != Episode.FIRST:
        return []
    age = (
        onset.year
        - date_of_birth.year
        - ((onset.month, onset.day) < (date_of_birth.month, date_of_birth.day))
    )
    flags = []
    if age > 50:
        flags.append("age_over_50_new_pain")
    if age < 20 or age > 55:
        flags.append("age_under_20_or_over_55_new_pain")
    return flags


# Free text a client writes (a follow-up comment) screened for the nine questions (DOMAIN.md 6:
# "alert ... if the client reports any red-flag symptom in free text"). Deliberately broad: a
# false alarm costs a therapist a look, a missed cauda equina costs far more.
TEXT_SIGNS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "saddle_numbness": r"saddle|groin|genital|inner thigh|numb\w* (?:bum|bottom|backside)"
        r"|between (?:my|the) legs",
        "bladder_bowel_change": r"retention|incontinen|bladder|bowel|urin|\bpee\b|wet (?:my|the)"
        r"|pass(?:ing)? water|leak",
        "bilateral_leg_symptoms": r"both (?:legs|feet|thighs)",
        "progressive_weakness": r"weak|foot drop|drop foot|dragging (?:my )?(?:foot|leg)"
        r"|giving way",
        "major_trauma": r"accident|crash|collision|fell |fall from|fell$",
        "cancer_history": r"cancer|tumou?r|chemo",
        "unexplained_weight_loss": r"weight loss|losing weight|lost weight",
        "fever_or_infection": r"fever|chills|temperature|infection|night sweats",
        "unremitting_night_pain": r"at night|night pain|all night|wakes? me",
    }.items()
}


def screen_text(text: str) -> list[str]:
    """The screening questions a free-text comment suggests, in the questions' order."""
    return [name for name in RED_FLAG_QUESTIONS if text and TEXT_SIGNS[name].search(text)]
