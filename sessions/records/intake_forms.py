"""The intake form as data (issue 17): the sections the server understands, the default form every
practice starts with, and the per-section validation of a client's answers (API.md error shape:
a DRF ValidationError with dotted field paths, rendered by config/api.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from clients import instruments
from clients.domain import (
    RED_FLAG_ANSWERS,
    RED_FLAG_QUESTIONS,
    SIDES,
    Episode,
    Mechanism,
    OnsetType,
)
from practice.json_types import check_body
from practice.vocabulary import HEALTH_FLAGS, REGIONS

# The sections, in the order the form shows them; `questions` only when the form has some.
SECTIONS = ("contact", "health", "complaint", "baseline", "consents", "questions")
REQUIRED_SECTIONS = ("contact", "health", "complaint", "baseline", "consents")
MAX_SECTION_BYTES = 16_000  # one section's answers as JSON: larger is a 400, never stored
# The flags a client may tick: every DOMAIN.md 2b flag but the one an open referral keeps.
CLIENT_FLAGS = tuple(f for f in HEALTH_FLAGS if f != "red_flag_open")
CONSENT_KINDS = ("general", "sensitive_area")
SENSITIVE_AREAS = (*REGIONS, "chest_wall", "breast", "inner_thigh", "abdomen")
QUESTION_TYPES = ("text", "choice", "yes_no")
ADULT_AGE = 18

DEFAULT_TITLE = "Before your first visit"
DEFAULT_CONSENT_DOCUMENTS: list[dict[str, Any]] = [
    {
        "kind": "general",
        "version": "1",
        "title": "Consent to massage treatment",
        "text": (
            "I agree to receive massage therapy for my back. The therapist has explained, or will "
            "explain before treating, what will be done, the likely effects (including soreness "
            "for a day or two), the alternatives, and how I will be draped and positioned. I may "
            "refuse or stop any part of the treatment at any time, and I will tell the therapist "
            "of any change in my health."
        ),
        "areas": [],
    },
    {
        "kind": "sensitive_area",
        "version": "1",
        "title": "Consent to treatment of the gluteal region",
        "text": (
            "I agree that the therapist may treat the gluteal (buttock) region when it is part "
            "of my back treatment. The therapist will ask again before working there, and I may "
            "withdraw this consent at any time."
        ),
        "areas": ["gluteal"],
    },
]
DEFAULT_QUESTIONS: list[dict[str, Any]] = [
    {
        "key": "massage_before",
        "label": "Have you had a massage before?",
        "type": "yes_no",
        "choices": [],
        "required": False,
    },
    {
        "key": "pressure_preference",
        "label": "What pressure do you usually prefer?",
        "type": "choice",
        "choices": ["light", "medium", "firm", "not_sure"],
        "required": False,
    },
]


def document_sha256(document: dict[str, Any]) -> str:
    """The hash a signature keeps: of the exact title, text and version the client saw."""
    canonical = json.dumps(
        {k: document[k] for k in ("kind", "version", "title", "text")}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Strict(serializers.Serializer):
    """Unknown keys are a 400 at every level (API.md), and each value has its field's JSON type
    (practice.json_types)."""

    def to_internal_value(self, data: Any) -> Any:
        check_body(self, data)
        return super().to_internal_value(data)


# --- the form definition (what an owner publishes) ----------------------------------------------


class ConsentDocumentIn(Strict):
    class Meta:
        ref_name = "IntakeConsentDocument"  # its name in the OpenAPI schema

    kind = serializers.ChoiceField(choices=CONSENT_KINDS)
    version = serializers.CharField(max_length=40)
    title = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=20_000)
    areas = serializers.ListField(
        child=serializers.ChoiceField(choices=SENSITIVE_AREAS), required=False, default=list
    )


class QuestionIn(Strict):
    class Meta:
        ref_name = "IntakeQuestion"  # its name in the OpenAPI schema

    key = serializers.RegexField(r"^[a-z][a-z0-9_]{0,39}$")
    label = serializers.CharField(max_length=300)  # type: ignore[assignment]  # a declared field
    type = serializers.ChoiceField(choices=QUESTION_TYPES)
    choices = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, max_length=30
    )
    required = serializers.BooleanField(required=False, default=False)  # type: ignore[assignment]


class IntakeFormIn(Strict):
    title = serializers.CharField(max_length=200)
    consent_documents = serializers.ListField(child=ConsentDocumentIn(), min_length=1, max_length=5)
    questions = serializers.ListField(
        child=QuestionIn(), required=False, default=list, max_length=50
    )

    def validate_consent_documents(self, value: list[dict]) -> list[dict]:
        kinds = [d["kind"] for d in value]
        if "general" not in kinds:
            raise serializers.ValidationError("The form needs a general consent document.")
        if len(set(kinds)) != len(kinds):
            raise serializers.ValidationError("One document per kind.")
        for document in value:
            if document["kind"] == "sensitive_area" and not document["areas"]:
                raise serializers.ValidationError("A sensitive-area document names its areas.")
        return value

    def validate_questions(self, value: list[dict]) -> list[dict]:
        keys = [q["key"] for q in value]
        if len(set(keys)) != len(keys):
            raise serializers.ValidationError("Question keys must be unique.")
        for question in value:
            if question["type"] == "choice" and len(question["choices"]) < 2:
                raise serializers.ValidationError("A choice question offers at least 2 choices.")
        return value


# --- the sections a client fills ------------------------------------------------------------------


class EmergencyContact(Strict):
    name = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=32)
    relationship = serializers.CharField(max_length=100)


class ContactSection(Strict):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    date_of_birth = serializers.DateField()
    emergency_contact = EmergencyContact()

    def validate_date_of_birth(self, value: Any) -> Any:
        if value.year < 1900 or value > _today():
            raise serializers.ValidationError("Give a date of birth in the past.")
        return value


class HealthSection(Strict):
    """DOMAIN.md 2b: the flags the client has now (a flag on file not ticked is a proposal to
    lift it, for a therapist); medications and conditions in their words."""

    flags = serializers.ListField(
        child=serializers.ChoiceField(choices=CLIENT_FLAGS), max_length=len(CLIENT_FLAGS)
    )
    flag_regions = serializers.DictField(
        child=serializers.ListField(
            child=serializers.ChoiceField(choices=REGIONS), max_length=len(REGIONS)
        ),
        required=False,
        default=dict,
    )
    medications = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    conditions = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    pregnancy_weeks = serializers.IntegerField(min_value=0, max_value=45, required=False)
    recent_surgery = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        if len(set(attrs["flags"])) != len(attrs["flags"]):
            raise serializers.ValidationError({"flags": "Name each flag once."})
        stray = sorted(set(attrs.get("flag_regions", {})) - set(attrs["flags"]))
        if stray:
            raise serializers.ValidationError({"flag_regions": f"Not ticked: {', '.join(stray)}."})
        return attrs


class Region(Strict):
    region = serializers.ChoiceField(choices=REGIONS)
    side = serializers.ChoiceField(choices=SIDES)


class ComplaintSection(Strict):
    """DOMAIN.md 1 and 2a: the back-pain complaint and all nine red-flag questions (the pain
    now is the baseline NPRS of the baseline section)."""

    regions = serializers.ListField(child=Region(), min_length=1, max_length=10)
    onset_date = serializers.DateField()
    onset_type = serializers.ChoiceField(choices=OnsetType.choices)
    episode = serializers.ChoiceField(choices=Episode.choices, required=False)
    mechanism = serializers.ChoiceField(choices=Mechanism.choices)
    pain_worst_24h = serializers.IntegerField(min_value=0, max_value=10, required=False)
    pain_best_24h = serializers.IntegerField(min_value=0, max_value=10, required=False)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    red_flags = serializers.DictField(child=serializers.ChoiceField(choices=RED_FLAG_ANSWERS))

    def validate_onset_date(self, value: Any) -> Any:
        if value.year < 1900 or value > _today():
            raise serializers.ValidationError("The onset date cannot be in the future.")
        return value

    def validate_red_flags(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(RED_FLAG_QUESTIONS))
        if unknown:
            raise serializers.ValidationError(f"Unknown question(s): {', '.join(unknown)}.")
        missing = [q for q in RED_FLAG_QUESTIONS if q not in value]
        if missing:
            raise serializers.ValidationError(f"Answer every question: {', '.join(missing)}.")
        return value


class BaselineSection(Strict):
    """DOMAIN.md 3, measurement schedule: NPRS, one disability index (RMDQ, or ODI where the
    practice holds the licence) and PSFS; scored by the server at submission."""

    nprs = serializers.JSONField()
    rmdq = serializers.JSONField(required=False)
    odi = serializers.JSONField(required=False)
    psfs = serializers.JSONField()


class Signature(Strict):
    document = serializers.ChoiceField(choices=CONSENT_KINDS)
    signed_name = serializers.CharField(max_length=200)
    agree = serializers.BooleanField()

    def validate_agree(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError("Tick to agree, or leave this document unsigned.")
        return value


class Guardian(Strict):
    name = serializers.CharField(max_length=200)
    relationship = serializers.CharField(max_length=100)


class ConsentsSection(Strict):
    signatures = serializers.ListField(child=Signature(), min_length=1, max_length=5)
    guardian = Guardian(required=False)


class QuestionsSection(Strict):
    answers = serializers.DictField(child=serializers.JSONField())


SECTION_SERIALIZERS: dict[str, type[Strict]] = {
    "contact": ContactSection,
    "health": HealthSection,
    "complaint": ComplaintSection,
    "baseline": BaselineSection,
    "consents": ConsentsSection,
    "questions": QuestionsSection,
}


def _today() -> Any:
    return timezone.localdate()


def _fail(section: str, field: str, detail: str, code: str = "invalid") -> None:
    raise serializers.ValidationError({section: {field: [serializers.ErrorDetail(detail, code)]}})


def check_size(section: str, answers: Any) -> None:
    if len(json.dumps(answers, default=str)) > MAX_SECTION_BYTES:
        _fail(section, "non_field_errors", "These answers are too long.", "too_large")


def validate_section(
    *, section: str, answers: Any, form: Any, odi_licensed: bool
) -> dict[str, Any]:
    """One section's answers, checked field by field; returns the validated values. Raises
    DRF's ValidationError with the field path under the section name (`baseline.rmdq.items`)."""
    if section not in SECTION_SERIALIZERS:
        _fail(section, "non_field_errors", "Unknown section.", "unknown_field")
    check_size(section, answers)
    incoming = SECTION_SERIALIZERS[section](data=answers)
    if not incoming.is_valid():
        raise serializers.ValidationError({section: incoming.errors})
    data: dict[str, Any] = dict(incoming.validated_data)
    if section == "baseline":
        _check_baseline(data, odi_licensed=odi_licensed)
    elif section == "consents":
        _check_consents(data, form)
    elif section == "questions":
        _check_questions(data["answers"], form)
    return data


def _check_baseline(data: dict[str, Any], *, odi_licensed: bool) -> None:
    disability = "odi" if odi_licensed else "rmdq"
    other = "rmdq" if odi_licensed else "odi"
    if disability not in data:
        _fail("baseline", disability, "This field is required.", "required")
    if other in data:
        _fail("baseline", other, f"This practice uses {disability.upper()}.", "not_accepted")
    for instrument in ("nprs", disability, "psfs"):
        try:
            instruments.score(instrument, data[instrument])
        except instruments.AnswerError as error:
            _fail("baseline", f"{instrument}.{error.field}", error.detail)


def _check_consents(data: dict[str, Any], form: Any) -> None:
    offered = {d["kind"] for d in form.consent_documents}
    kinds = [s["document"] for s in data["signatures"]]
    if len(set(kinds)) != len(kinds):
        _fail("consents", "signatures", "Sign each document once.")
    for kind in kinds:
        if kind not in offered:
            _fail("consents", "signatures", f"This form has no {kind} document.")
    if "general" not in kinds:
        _fail("consents", "signatures", "The general consent is needed before treatment.")


def _check_questions(answers: dict[str, Any], form: Any) -> None:
    questions = {q["key"]: q for q in form.questions}
    for key, value in answers.items():
        question = questions.get(key)
        if question is None:
            _fail("questions", f"answers.{key}", "This form has no such question.", "unknown_field")
            return
        if question["type"] == "yes_no" and not isinstance(value, bool):
            _fail("questions", f"answers.{key}", "Answer true or false.")
        if question["type"] == "choice" and value not in question["choices"]:
            _fail("questions", f"answers.{key}", f"Choose one of {', '.join(question['choices'])}.")
        if question["type"] == "text" and (not isinstance(value, str) or len(value) > 2000):
            _fail("questions", f"answers.{key}", "A text of at most 2000 characters.")


def missing_for_submit(drafts: dict[str, Any], form: Any) -> list[str]:
    """The sections still to fill before a submission (the free questions only if one is
    required)."""
    needed = list(REQUIRED_SECTIONS)
    required = [q["key"] for q in form.questions if q.get("required")]
    if required:
        needed.append("questions")
    missing = [s for s in needed if s not in drafts]
    if "questions" in drafts:
        answered = drafts["questions"].get("answers", {})
        missing += [f"questions.answers.{k}" for k in required if k not in answered]
    return missing


def age_on(date_of_birth: Any, today: Any) -> int:
    years = today.year - date_of_birth.year
    return years - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))
