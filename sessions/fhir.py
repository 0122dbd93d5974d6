"""A client's whole record as a FHIR R4 `Bundle` (DOMAIN.md 7, 8 "Right of access").

Plain dicts: Patient, Flag per health flag, Condition per complaint (SNOMED code, body sites),
Appointment and Encounter per visit, Procedure per delivered technique, Observation per outcome
(LOINC 72514-3 for pain, 97909-6 for the ODI total), Composition per SOAP note with its amendments
as Provenance, and Consent. The tests validate it with `fhir.resources`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from clients.models import Client, Complaint, Consent, Outcome
from sessions.models import Appointment, Note, Status

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
            "id": f"{client.pk}-{flag}",
            "status": "active",
            "code": {"coding": [{"system": f"{LOCAL}/health-flag", "code": flag}], "text": flag},
            "subject": _ref("Patient", client.pk),
        }
        for flag in client.health_flags
    ]


def condition(complaint: Complaint) -> dict:
    sites = []
    for region in complaint.regions:
        code, display = REGION_SITES[region["region"]]
        codings = [{"system": SNOMED, "code": code, "display": display}]
        if region.get("side") in LATERALITY:
            side_code, side_display = LATERALITY[region["side"]]
            codings.append({"system": SNOMED, "code": side_code, "display": side_display})
        sites.append({"coding": codings, "text": f"{region['region']} ({region.get('side')})"})
    return {
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
        "code": {
            "coding": [{"system": SNOMED, "code": "279039007", "display": "Low back pain"}],
            "text": "Back pain",
        },
        "bodySite": sites,
        "subject": _ref("Patient", complaint.client_id),
        "onsetDateTime": complaint.onset_date.isoformat(),
        "recordedDate": _instant(complaint.created_at),
    }


def appointment_resources(appointment: Appointment) -> list[dict]:
    participant = [
        {"actor": _ref("Patient", appointment.client_id), "status": "accepted"},
        {"actor": {"display": appointment.therapist.user.full_name}, "status": "accepted"},
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


def observation(outcome: Outcome) -> dict:
    system, code, display = OBSERVATION_CODES[outcome.instrument]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(outcome.pk),
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
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "subject": _ref("Patient", outcome.client_id),
        "focus": [_ref("Condition", outcome.complaint_id)],
        "effectiveDateTime": _instant(outcome.recorded_at),
    }
    if outcome.instrument == "odi":
        resource["valueQuantity"] = {
            "value": float(outcome.score_percent or 0),
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        }
    elif outcome.score == int(outcome.score):
        resource["valueInteger"] = int(outcome.score)
    else:
        resource["valueQuantity"] = {"value": float(outcome.score)}
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
    from xml.sax.saxutils import escape

    return escape(text or "-")


def consent(record: Consent) -> dict:
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


def bundle(
    *,
    client: Client,
    complaints: Iterable[Complaint],
    appointments: Iterable[Appointment],
    notes: Iterable[Note],
    outcomes: Iterable[Outcome],
    consents: Iterable[Consent],
) -> dict:
    resources = [patient(client), *flags(client)]
    resources += [condition(c) for c in complaints]
    for appointment in appointments:
        resources += appointment_resources(appointment)
    for note in notes:
        resources += composition(note)
        resources += [
            procedure(item, note) for item in note.delivered(list(note.delivered_items.all()))
        ]
    resources += [observation(o) for o in outcomes]
    resources += [consent(c) for c in consents]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(datetime.now(tz=UTC)),
        "entry": [_entry(r) for r in resources],
    }
