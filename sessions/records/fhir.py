"""A client's whole record as a FHIR R4 `Bundle` (DOMAIN.md 7, 8 "Right of access").

Plain dicts: Patient, Flag per health flag, Condition per complaint (SNOMED code, body sites),
Appointment and Encounter per visit, Procedure per delivered technique, Observation per outcome
(LOINC 72514-3 for pain, 97909-6 for the ODI total), Composition per SOAP note with its amendments
as Provenance, and Consent; a submitted intake (issue 17) as a QuestionnaireResponse with its
Questionnaire, its signed consents carrying the typed signature and the document's sha256. The
tests validate it with `fhir.resources`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings

from clients.domain import REFERRAL_ADVICE, ComplaintStatus
from clients.models import (
    Client,
    Complaint,
    Consent,
    MedicalClearance,
    Outcome,
    OutcomeSource,
    RedFlagAnswer,
)
from sessions.records.intake_forms import SECTION_SERIALIZERS
from sessions.records.models import FollowUpAnswer, IntakeForm, IntakeRequest, Note
from sessions.scheduling.models import Appointment, Status

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
LOCAL = "https://backcare.example/fhir/CodeSystem"

REGION_SITES = {  # DOMAIN.md 7 body sites
    "cervical": ("1141983003", "Cervical vertebral column region"),
    "thoracic": ("1141986006", "Thoracic vertebral column region"),
    "lumbar": ("1141985005", "Lumbar vertebral column region"),
    "sacral_si": ("39723000", "Sacroiliac joint"),
    "gluteal": ("46862004", "Buttock"),
}
LATERALITY = {
    "left": ("7771000", "Left"),
    "right": ("24028007", "Right"),
    "bilateral": ("51440002", "Right and left"),
}
CONDITION_CLINICAL = {"active": "active", "referral_required": "active", "resolved": "resolved"}
APPOINTMENT_STATUS: dict[str, str] = {
    Status.BOOKED: "booked",
    Status.CHECKED_IN: "arrived",
    Status.COMPLETED: "fulfilled",
    Status.CANCELLED: "cancelled",
    Status.NO_SHOW: "noshow",
}
ENCOUNTER_STATUS: dict[str, str] = {
    Status.BOOKED: "planned",
    Status.CHECKED_IN: "arrived",
    Status.COMPLETED: "finished",
    Status.CANCELLED: "cancelled",
    Status.NO_SHOW: "cancelled",
}
OBSERVATION_CODES = {
    "nprs": (LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
    "odi": (LOINC, "97909-6", "Oswestry Disability Index score"),
    "rmdq": (f"{LOCAL}/instrument", "rmdq", "Roland-Morris Disability Questionnaire score"),
    "psfs": (f"{LOCAL}/instrument", "psfs", "Patient-Specific Functional Scale mean score"),
    "groc": (f"{LOCAL}/instrument", "groc", "Global Rating of Change"),
}


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ref(kind: str, pk: int) -> dict:
    return {"reference": f"{kind}/{pk}"}


def _entry(resource: dict) -> dict:
    return {
        # RESTful-style absolute URLs, so the relative references inside resolve against them.
        "fullUrl": f"{settings.BASE_URL}/fhir/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }


def patient(client: Client) -> dict:
    telecom = [{"system": "email", "value": client.email}] if client.email else []
    if client.phone:
        telecom.append({"system": "phone", "value": client.phone})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(client.pk),
        "name": [{"family": client.last_name, "given": [client.first_name]}],
    }
    if telecom:
        resource["telecom"] = telecom
    if client.date_of_birth:
        resource["birthDate"] = client.date_of_birth.isoformat()
    return resource


def flags(client: Client) -> list[dict]:
    return [
        {
            "resourceType": "Flag",
            "id": f"{client.pk}-{flag.replace('_', '-')}",  # ids allow no "_"
            "status": "active",
            "code": {"coding": [{"system": f"{LOCAL}/health-flag", "code": flag}], "text": flag},
            "subject": _ref("Patient", client.pk),
        }
        for flag in client.health_flags
    ]


# DOMAIN.md 7: a complaint is coded by where it is. Low back (lumbar, sacral/SI, gluteal) is low
# back pain, cervical only is neck pain; anything else (thoracic, or neck and low back together)
# is pain (finding) with its finding sites in bodySite.
LOW_BACK = {"lumbar", "sacral_si", "gluteal"}
LOW_BACK_PAIN = {"system": SNOMED, "code": "279039007", "display": "Low back pain"}
NECK_PAIN = {"system": SNOMED, "code": "81680005", "display": "Neck pain"}
PAIN = {"system": SNOMED, "code": "22253000", "display": "Pain"}
REFERRAL_PRIORITY = {  # ServiceRequest.priority (R4 request-priority)
    "emergency_same_day": "stat",
    "urgent_referral": "urgent",
    "refer_before_treating": "routine",
}
ANSWER_DISPLAY = {"yes": "Yes", "no": "No", "unsure": "Unsure"}


def condition_code(regions: list[dict]) -> dict:
    names = {region["region"] for region in regions}
    if names and names <= LOW_BACK:
        return {"coding": [LOW_BACK_PAIN], "text": "Low back pain"}
    if names == {"cervical"}:
        return {"coding": [NECK_PAIN], "text": "Neck pain"}
    where = ", ".join(sorted(names))
    return {"coding": [PAIN], "text": f"Pain ({where})"}


def condition(complaint: Complaint) -> dict:
    sites = []
    for region in complaint.regions:
        code, display = REGION_SITES[region["region"]]
        codings = [{"system": SNOMED, "code": code, "display": display}]
        if region.get("side") in LATERALITY:
            side_code, side_display = LATERALITY[region["side"]]
            codings.append({"system": SNOMED, "code": side_code, "display": side_display})
        sites.append({"coding": codings, "text": f"{region['region']} ({region.get('side')})"})
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": str(complaint.pk),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": CONDITION_CLINICAL[complaint.status],
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": condition_code(complaint.regions),
        "bodySite": sites,
        "subject": _ref("Patient", complaint.client_id),
        "onsetDateTime": complaint.onset_date.isoformat(),
        "recordedDate": _instant(complaint.created_at),
        # The referral status travels with the condition (its resources below carry the detail).
        "extension": [
            {
                "url": f"{LOCAL}/StructureDefinition/referral-status",
                "valueCode": complaint.status,
            }
        ],
    }
    if complaint.resolved_at:
        resource["abatementDateTime"] = _instant(complaint.resolved_at)
    if complaint.notes:
        resource["note"] = [{"text": complaint.notes}]
    return resource


def referral(complaint: Complaint) -> dict | None:
    """A complaint's referral (DOMAIN.md 2a) as a ServiceRequest: its urgency as priority and
    code, `active` while open, `completed` once cleared (the clearance note as its note)."""
    clearances = list(complaint.clearances.all())
    if complaint.status != ComplaintStatus.REFERRAL_REQUIRED and not clearances:
        return None
    urgency = complaint.referral_urgency or (clearances[-1].referral_urgency if clearances else "")
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": f"referral-{complaint.pk}",
        "status": "active"
        if complaint.status == ComplaintStatus.REFERRAL_REQUIRED
        else "completed",
        "intent": "proposal",
        "priority": REFERRAL_PRIORITY.get(urgency, "routine"),
        "code": {
            "coding": [{"system": f"{LOCAL}/referral-urgency", "code": urgency or "referral"}],
            "text": f"Referral: {urgency.replace('_', ' ')}" if urgency else "Referral",
        },
        "subject": _ref("Patient", complaint.client_id),
        "reasonReference": [_ref("Condition", complaint.pk)],
        "authoredOn": _instant(complaint.updated_at),
        "note": [{"text": c.note, "time": _instant(c.cleared_at)} for c in clearances if c.note],
    }
    advice = REFERRAL_ADVICE.get(urgency)
    if advice and complaint.status == ComplaintStatus.REFERRAL_REQUIRED:
        resource["patientInstruction"] = advice
    return resource


def screening_answers(complaint: Complaint) -> list[dict]:
    """Each screening question's latest answer as an Observation (DOMAIN.md 2a)."""
    latest: dict[str, RedFlagAnswer] = {}
    for answer in complaint.red_flag_answers.all():
        latest[answer.question] = answer  # ordered by time: the last one wins
    return [
        {
            "resourceType": "Observation",
            "id": f"screening-{answer.pk}",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "survey",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": f"{LOCAL}/red-flag-question", "code": question}],
                "text": question.replace("_", " "),
            },
            "subject": _ref("Patient", complaint.client_id),
            "focus": [_ref("Condition", complaint.pk)],
            "effectiveDateTime": _instant(answer.asked_at),
            "valueCodeableConcept": {
                "coding": [
                    {
                        "system": f"{LOCAL}/red-flag-answer",
                        "code": answer.answer,
                        "display": ANSWER_DISPLAY.get(answer.answer, answer.answer),
                    }
                ]
            },
        }
        for question, answer in latest.items()
    ]


def appointment_resources(appointment: Appointment) -> list[dict]:
    name = appointment.therapist.user.full_name
    # An unnamed therapist is a performer without a display, never a display of "".
    therapist: dict[str, Any] = {
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "code": "PPRF",
                    }
                ]
            }
        ],
        "status": "accepted",
    }
    if name:
        therapist["actor"] = {"display": name}
    participant = [
        {"actor": _ref("Patient", appointment.client_id), "status": "accepted"},
        therapist,
    ]
    booked = {
        "resourceType": "Appointment",
        "id": str(appointment.pk),
        "status": APPOINTMENT_STATUS[appointment.status],
        "serviceType": [{"text": appointment.service.name}],
        "start": _instant(appointment.start),
        "end": _instant(appointment.end),
        "participant": participant,
    }
    encounter = {
        "resourceType": "Encounter",
        "id": str(appointment.pk),
        "status": ENCOUNTER_STATUS[appointment.status],
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "subject": _ref("Patient", appointment.client_id),
        "appointment": [_ref("Appointment", appointment.pk)],
        "period": {"start": _instant(appointment.start), "end": _instant(appointment.end)},
    }
    return [booked, encounter]


def procedure(item: dict, note: Note) -> dict:
    """One delivered item (`Note.delivered()`: a signed note's snapshot, fixed at signing)."""
    resource = {
        "resourceType": "Procedure",
        "id": f"{note.pk}-{item['id']}",
        "status": "completed",
        "code": {
            "coding": [{"system": SNOMED, "code": "387854002", "display": "Massage"}],
            "text": item["technique_name"],
        },
        "subject": _ref("Patient", note.client_id),
        "bodySite": [{"text": f"{item['region']} {item['side']}".strip()}],
        "note": [
            {
                "text": f"{item['minutes']} min"
                + (f", pressure {item['pressure']}/5" if item["pressure"] else "")
            }
        ],
    }
    if note.appointment_id:
        resource["encounter"] = _ref("Encounter", note.appointment_id)
    if note.complaint_id:
        resource["reasonReference"] = [_ref("Condition", note.complaint_id)]
    return resource


# NPRS contexts told apart (DOMAIN.md 3 "compare like with like"): a second, local coding beside
# LOINC 72514-3 says which pain it is.
PAIN_CONTEXTS = {
    "now": "Pain now",
    "worst_24h": "Worst pain in the last 24 hours",
    "best_24h": "Least pain in the last 24 hours",
    "average_24h": "Average pain in the last 24 hours",
    "pre_session": "Pain before the session",
    "post_session": "Pain after the session",
    "follow_up": "Pain at follow-up",
}
# One value type per instrument: whole-number scores are integers, ODI and PSFS quantities.
INTEGER_INSTRUMENTS = {"nprs", "rmdq", "groc"}


def pain_context(outcome: Outcome) -> str:
    if outcome.source == OutcomeSource.SESSION_BEFORE:
        return "pre_session"
    if outcome.source == OutcomeSource.SESSION_AFTER or outcome.context == "post_session":
        return "post_session"
    if outcome.source == OutcomeSource.FOLLOW_UP:
        return "follow_up"
    return outcome.context if outcome.context in PAIN_CONTEXTS else "now"


def observation(outcome: Outcome, encounter_id: int | None = None) -> dict:
    system, code, display = OBSERVATION_CODES[outcome.instrument]
    codings = [{"system": system, "code": code, "display": display}]
    text = display
    if outcome.instrument == "nprs":
        context = pain_context(outcome)
        text = PAIN_CONTEXTS[context]
        codings.append({"system": f"{LOCAL}/pain-context", "code": context, "display": text})
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(outcome.pk),
        "status": "amended" if outcome.corrects_id else "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                    }
                ]
            }
        ],
        "code": {"coding": codings, "text": text},
        "subject": _ref("Patient", outcome.client_id),
        "focus": [_ref("Condition", outcome.complaint_id)],
        "effectiveDateTime": _instant(outcome.measured_at),
        "issued": _instant(outcome.recorded_at),
    }
    if outcome.superseded_at:  # corrected later: kept, marked as replaced
        resource["status"] = "entered-in-error"
    if encounter_id is not None:
        resource["encounter"] = _ref("Encounter", encounter_id)
    if outcome.corrects_id:
        resource["derivedFrom"] = [_ref("Observation", outcome.corrects_id)]
    if outcome.instrument == "odi":
        resource["valueQuantity"] = {
            "value": float(outcome.score_percent or 0),
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        }
    elif outcome.instrument in INTEGER_INSTRUMENTS:
        resource["valueInteger"] = int(outcome.score)
    else:
        resource["valueQuantity"] = {
            "value": float(outcome.score),
            "unit": "score",
            "system": "http://unitsofmeasure.org",
            "code": "{score}",
        }
    return resource


def composition(note: Note) -> list[dict]:
    sections = [
        {
            "title": title,
            "text": {
                "status": "generated",
                "div": f'<div xmlns="http://www.w3.org/1999/xhtml">'
                f"{_xhtml(getattr(note, field))}</div>",
            },
        }
        for title, field in (
            ("Subjective", "subjective"),
            ("Objective", "objective"),
            ("Assessment", "assessment"),
            ("Plan", "plan"),
        )
    ]
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Composition",
            "id": str(note.pk),
            "status": "final" if note.is_signed else "preliminary",
            "type": {"coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}]},
            "subject": _ref("Patient", note.client_id),
            "date": _instant(note.signed_at or note.updated_at),
            "author": [{"display": note.author.full_name or note.author.email}],
            "title": "Treatment note (SOAP)",
            "section": sections,
        }
    ]
    resources.extend(
        {
            "resourceType": "Provenance",
            "id": f"amendment-{amendment.pk}",
            "target": [_ref("Composition", note.pk)],
            "recorded": _instant(amendment.created_at),
            "activity": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                        "code": "UPDATE",
                    }
                ],
                "text": f"{amendment.kind}: {amendment.text}",
            },
            "reason": [{"text": amendment.reason or amendment.kind}],
            "agent": [{"who": {"display": amendment.author.full_name or amendment.author.email}}],
        }
        for amendment in note.amendments.all()
    )
    return resources


def _xhtml(text: str) -> str:
    return escape(text or "-")


def consent(record: Consent) -> dict:
    resource = _consent(record)
    signature = getattr(record, "signature", None)
    if signature is not None:  # signed by the client through the intake (issue 17)
        resource["performer"] = [{"display": signature.guardian_name or signature.signed_name}]
        resource["identifier"] = [
            {"system": f"{LOCAL}/consent-document-sha256", "value": signature.document_sha256}
        ]
        resource["sourceAttachment"] = {
            "title": f"Typed signature: {signature.signed_name}"
            + (
                f" (guardian {signature.guardian_name}, {signature.guardian_relationship})"
                if signature.guardian_name
                else ""
            ),
            "creation": _instant(signature.signed_at),
        }
    return resource


def _consent(record: Consent) -> dict:
    return {
        "resourceType": "Consent",
        "id": str(record.pk),
        "status": "inactive" if record.withdrawn_at else "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "treatment",
                }
            ]
        },
        "category": [{"text": record.kind}],
        "patient": _ref("Patient", record.client_id),
        "dateTime": _instant(record.signed_at),
        "policyRule": {"text": f"version {record.version}, {record.method}"},
        "provision": {"type": "permit", "code": [{"text": area} for area in record.areas]},
    }


def clearance(record: MedicalClearance, today: date) -> dict:
    """A medical clearance (DOMAIN.md 2b) as a Consent to treat despite the flag: who gave it, on
    which document, for which period; inactive once revoked or expired."""
    current = record.revoked_at is None and record.cleared_on <= today <= record.expires_on
    return {
        "resourceType": "Consent",
        "id": f"clearance-{record.pk}",  # beside the client's own consents, never the same id
        "status": "active" if current else "inactive",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "treatment",
                }
            ]
        },
        "category": [
            {
                "coding": [{"system": f"{LOCAL}/consent-category", "code": "medical-clearance"}],
                "text": "medical_clearance",
            }
        ],
        "patient": _ref("Patient", record.client_id),
        "dateTime": _instant(record.recorded_at),
        "performer": [{"display": record.cleared_by_name}],
        "sourceAttachment": {"title": record.document},
        "policyRule": {"text": record.note or f"Medical clearance for {record.flag}"},
        "provision": {
            "type": "permit",
            "period": {
                "start": record.cleared_on.isoformat(),
                "end": record.expires_on.isoformat(),
            },
            "code": [
                {
                    "coding": [{"system": f"{LOCAL}/health-flag", "code": record.flag}],
                    "text": record.flag,
                }
            ],
        },
    }


def _questionnaire_url(form: IntakeForm) -> str:
    return f"{settings.BASE_URL}/fhir/Questionnaire/intake-form-{form.pk}"


def questionnaire(form: IntakeForm) -> dict:
    """The intake form version as a Questionnaire: one group per section, one item per field."""
    items = []
    for section, serializer in SECTION_SERIALIZERS.items():
        keys = [q["key"] for q in form.questions] if section == "questions" else serializer().fields
        if not keys:
            continue
        items.append(
            {
                "linkId": section,
                "type": "group",
                "item": [{"linkId": f"{section}.{k}", "text": k, "type": "string"} for k in keys],
            }
        )
    return {
        "resourceType": "Questionnaire",
        "id": f"intake-form-{form.pk}",
        "url": _questionnaire_url(form),
        "version": str(form.version),
        "title": form.title,
        "status": "active",
        "date": _instant(form.published_at),
        "item": items,
    }


def _answer(value: Any) -> dict:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, str):
        return {"valueString": value}
    return {"valueString": json.dumps(value, sort_keys=True)}


def questionnaire_response(intake: IntakeRequest) -> dict:
    """A submitted intake's answers, as given, against the form version it answered."""
    items = []
    for section, answers in intake.drafts.items():
        if section == "questions":
            answers = answers.get("answers", {})
        items.append(
            {
                "linkId": section,
                "item": [
                    {"linkId": f"{section}.{key}", "answer": [_answer(value)]}
                    for key, value in answers.items()
                ],
            }
        )
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"intake-{intake.pk}",
        "questionnaire": _questionnaire_url(intake.form),
        "status": "completed",
        "subject": _ref("Patient", intake.client_id),
        "authored": _instant(intake.submitted_at) if intake.submitted_at else None,
        "source": _ref("Patient", intake.client_id),
        "item": items,
    }


def intake_resources(intakes: Iterable[IntakeRequest]) -> list[dict]:
    """Each submitted intake and, once per version, the form it answered."""
    resources: list[dict] = []
    forms: dict[int, IntakeForm] = {}
    for intake in intakes:
        forms.setdefault(intake.form_id, intake.form)
        resources.append(questionnaire_response(intake))
    return [questionnaire(form) for form in forms.values()] + resources


def prune(value: Any) -> Any:
    """Drop empty strings, nulls, empty lists and objects, at every depth: FHIR forbids empty
    elements (issue 14.3), and a field with nothing to say is left out."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in ("", None, [], {})}
    if isinstance(value, list):
        items = [prune(v) for v in value]
        return [v for v in items if v not in ("", None, [], {})]
    if isinstance(value, str):
        return value.strip() and value
    return value


def bundle(
    *,
    client: Client,
    complaints: Iterable[Complaint],
    appointments: Iterable[Appointment],
    notes: Iterable[Note],
    outcomes: Iterable[Outcome],
    consents: Iterable[Consent],
    follow_up_answers: Iterable[FollowUpAnswer] = (),
    clearances: Iterable[MedicalClearance] = (),
    intakes: Iterable[IntakeRequest] = (),
    today: date | None = None,
) -> dict:
    resources = [patient(client), *flags(client)]
    for complaint in complaints:
        resources.append(condition(complaint))
        request = referral(complaint)
        if request is not None:
            resources.append(request)
        resources += screening_answers(complaint)
    for appointment in appointments:
        resources += appointment_resources(appointment)
    # The visit each score was taken at: a note's pain before/after, a follow-up's answer.
    encounters: dict[int, int] = {}
    for answer in follow_up_answers:
        if answer.outcome_id:
            encounters[answer.outcome_id] = answer.appointment_id
    for note in notes:
        resources += composition(note)
        resources += [
            procedure(item, note) for item in note.delivered(list(note.delivered_items.all()))
        ]
        if note.appointment_id:
            for outcome_id in (note.pain_before_outcome_id, note.pain_after_outcome_id):
                if outcome_id:
                    encounters[outcome_id] = note.appointment_id
    resources += [observation(o, encounters.get(o.pk)) for o in outcomes]
    resources += [consent(c) for c in consents]
    today = today or datetime.now(tz=UTC).date()
    resources += [clearance(c, today) for c in clearances]
    resources += intake_resources(intakes)
    return prune(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": _instant(datetime.now(tz=UTC)),
            "entry": [_entry(r) for r in resources],
        }
    )
