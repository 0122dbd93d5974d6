"""SOAP treatment notes: author-only drafts, signing locks, amendments beside the original
(API.md "Clinical records"; DOMAIN.md 4 "Signing and amendments"; pain as NPRS, DOMAIN.md 3)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import Outcome
from practice.models import AuditEvent, Role
from sessions.records.models import Amendment, Note, PlanItem
from techniques.models import Technique
from tests.conftest import make_member
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    NoteFactory,
    SessionPlanFactory,
)

NOTES = "/api/v1/notes/"


def detail(note: Note | int) -> str:
    return f"{NOTES}{getattr(note, 'pk', note)}/"


def sign_url(note: Note | int) -> str:
    return f"{detail(note)}sign/"


def amendments_url(note: Note | int) -> str:
    return f"{detail(note)}amendments/"


def error_pairs(response) -> list[tuple[str, str]]:
    return [(error["field"], error["code"]) for error in response.json()["errors"]]


def plan_items(appointment, *codes: str) -> list[PlanItem]:
    plan = SessionPlanFactory(appointment=appointment)
    return [
        PlanItem.objects.create(
            plan=plan,
            position=position,
            technique=Technique.objects.get(practice=appointment.practice, code=code),
            region="lumbar",
            side="left",
            minutes=10,
            pressure=2,
        )
        for position, code in enumerate(codes)
    ]


@pytest.fixture
def client_record(practice):
    return ClientFactory(practice=practice)


@pytest.fixture
def appointment(client_record):
    # Checked in: pain_after is refused (409) for a session that has not started.
    return AppointmentFactory(client=client_record, status="checked_in")


@pytest.fixture
def complaint(client_record):
    return ComplaintFactory(client=client_record)


@pytest.fixture
def second_therapist(practice):
    return make_member(practice, Role.THERAPIST, "second@north.test")


def soap(**overrides) -> dict:
    return {
        "subjective": "Stiff after a long drive; slept badly.",
        "objective": "Hypertonic left QL; flexion limited to mid-shin.",
        "assessment": "Responded well to compression; tone reduced.",
        "plan": "Weekly for 4 weeks; cat-camel at home.",
        **overrides,
    }


def nprs(complaint) -> list[tuple[str, int]]:
    return [
        (o.context, int(o.score))
        for o in Outcome.objects.filter(complaint=complaint, instrument="nprs").order_by("context")
    ]


def create_note(member, **body) -> dict:
    response = member.api.post(NOTES, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def draft(therapist, appointment, complaint):
    """A draft by `therapist` with pain recorded and one delivered item."""
    (effleurage,) = plan_items(appointment, "effleurage")
    return create_note(
        therapist,
        appointment=appointment.pk,
        complaint=complaint.pk,
        pain_before=6,
        pain_after=3,
        delivered_items=[effleurage.pk],
        **soap(),
    )


@pytest.fixture
def signed(therapist, draft):
    response = therapist.api.post(sign_url(draft["id"]))
    assert response.status_code == 200, response.content
    return response.json()


# --- writing a note ---------------------------------------------------------------------------


def test_note_for_an_appointment_records_soap_pain_and_delivered_items(
    therapist, practice, appointment, complaint
):
    effleurage, kneading, _ = plan_items(appointment, "effleurage", "kneading", "vibration")
    body = {
        "appointment": appointment.pk,
        "complaint": complaint.pk,
        "pain_before": 6,
        "pain_after": 3,
        "consent_confirmed": True,
        "delivered_items": [effleurage.pk, kneading.pk],
        **soap(),
    }

    response = therapist.api.post(NOTES, body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["client"] == appointment.client_id
    assert data["appointment"] == appointment.pk
    assert data["complaint"] == complaint.pk
    assert data["author"] == therapist.user.pk
    for field, value in soap().items():
        assert data[field] == value
    assert data["pain_before"] == 6
    assert data["pain_after"] == 3
    assert data["consent_confirmed"] is True
    assert sorted(data["delivered_items"]) == sorted([effleurage.pk, kneading.pk])
    assert data["is_signed"] is False
    assert data["signed_at"] is None
    assert data["amendments"] == []
    assert data["shared_with_client"] is False

    note = Note.objects.get(pk=data["id"])
    assert note.practice == practice
    assert note.author == therapist.user
    assert note.client == appointment.client
    assert set(note.delivered_items.all()) == {effleurage, kneading}
    assert note.pain_before_outcome.score == 6
    assert note.pain_after_outcome.score == 3
    assert nprs(complaint) == [("now", 6), ("post_session", 3)]
    assert AuditEvent.objects.filter(
        AuditEvent.records_containing(note.pk),
        record_type="note",
        action="create",
        actor=therapist.user,
    ).exists()


def test_second_note_for_one_appointment_is_refused(therapist, draft, appointment, complaint):
    outcomes = list(Outcome.objects.order_by("id").values_list("id", flat=True))

    response = therapist.api.post(
        NOTES,
        {"appointment": appointment.pk, "complaint": complaint.pk, "pain_before": 2, **soap()},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "appointment"
    assert Note.objects.count() == 1
    assert list(Outcome.objects.order_by("id").values_list("id", flat=True)) == outcomes


def test_note_about_a_client_without_an_appointment(therapist, client_record):
    response = therapist.api.post(
        NOTES, {"client": client_record.pk, "subjective": "Phone check-in."}, format="json"
    )

    assert response.status_code == 201, response.content
    assert Note.objects.get().client == client_record
    assert Note.objects.get().appointment is None


def test_pain_without_a_complaint_records_no_outcome(therapist, appointment):
    note = create_note(therapist, appointment=appointment.pk, pain_before=5, pain_after=2)

    assert note["pain_before"] == 5
    assert not Outcome.objects.exists()
    assert Note.objects.get().pain_before_outcome is None


def test_changing_pain_before_on_a_draft_replaces_its_outcome(therapist, draft, complaint):
    old_outcome = Note.objects.get(pk=draft["id"]).pain_before_outcome_id

    response = therapist.api.patch(detail(draft["id"]), {"pain_before": 4}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["pain_before"] == 4
    assert nprs(complaint) == [("now", 4), ("post_session", 3)]
    assert not Outcome.objects.filter(pk=old_outcome).exists()
    assert Note.objects.get(pk=draft["id"]).pain_before_outcome.score == 4


def test_clearing_pain_after_on_a_draft_removes_its_outcome(therapist, draft, complaint):
    response = therapist.api.patch(detail(draft["id"]), {"pain_after": None}, format="json")

    assert response.status_code == 200, response.content
    assert nprs(complaint) == [("now", 6)]


def test_patch_of_soap_text_keeps_the_pain_outcomes(therapist, draft, complaint):
    before = list(Outcome.objects.order_by("id").values_list("id", flat=True))

    response = therapist.api.patch(
        detail(draft["id"]), {"assessment": "Less guarding than last week."}, format="json"
    )

    assert response.status_code == 200, response.content
    assert Note.objects.get(pk=draft["id"]).assessment == "Less guarding than last week."
    assert list(Outcome.objects.order_by("id").values_list("id", flat=True)) == before


def test_delivered_items_of_another_appointments_plan_are_400(
    therapist, appointment, complaint, client_record
):
    other = AppointmentFactory(client=client_record)
    (foreign_item,) = plan_items(other, "kneading")

    response = therapist.api.post(
        NOTES,
        {
            "appointment": appointment.pk,
            "complaint": complaint.pk,
            "pain_before": 5,
            "delivered_items": [foreign_item.pk],
        },
        format="json",
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("delivered_items.0", "invalid")]
    assert not Note.objects.exists()
    assert not Outcome.objects.exists()


def test_delivered_items_need_an_appointment(therapist, client_record, appointment):
    (planned,) = plan_items(appointment, "kneading")

    response = therapist.api.post(
        NOTES, {"client": client_record.pk, "delivered_items": [planned.pk]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert not Note.objects.exists()


def test_delivered_items_of_another_practice_are_400(therapist, appointment, other_practice):
    foreign_appointment = AppointmentFactory(client=ClientFactory(practice=other_practice))
    (foreign_item,) = plan_items(foreign_appointment, "kneading")

    response = therapist.api.post(
        NOTES,
        {"appointment": appointment.pk, "delivered_items": [foreign_item.pk]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("delivered_items", "does_not_exist")]
    assert not Note.objects.exists()


def test_patch_delivered_items_of_another_plan_is_400_and_keeps_them(
    therapist, draft, client_record
):
    (foreign_item,) = plan_items(AppointmentFactory(client=client_record), "kneading")
    before = set(Note.objects.get(pk=draft["id"]).delivered_items.values_list("id", flat=True))

    response = therapist.api.patch(
        detail(draft["id"]), {"delivered_items": [foreign_item.pk]}, format="json"
    )

    assert response.status_code == 400, response.content
    after = set(Note.objects.get(pk=draft["id"]).delivered_items.values_list("id", flat=True))
    assert after == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pain_before", 11),
        ("pain_after", 11),
        ("pain_before", -1),
        ("pain_after", "severe"),
    ],
)
def test_pain_out_of_range_is_400_and_writes_nothing(
    therapist, appointment, complaint, field, value
):
    response = therapist.api.post(
        NOTES,
        {"appointment": appointment.pk, "complaint": complaint.pk, field: value, **soap()},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert [name for name, _ in error_pairs(response)] == [field]
    assert not Note.objects.exists()
    assert not Outcome.objects.exists()


def test_patch_pain_11_is_400_and_unchanged(therapist, draft, complaint):
    response = therapist.api.patch(detail(draft["id"]), {"pain_after": 11}, format="json")

    assert response.status_code == 400, response.content
    assert Note.objects.get(pk=draft["id"]).pain_after == 3
    assert nprs(complaint) == [("now", 6), ("post_session", 3)]


@pytest.mark.parametrize(
    "extra",
    [{"author": 1}, {"practice": 1}, {"signed_at": "2026-01-01T10:00:00Z"}, {"is_signed": True}],
)
def test_server_owned_fields_are_400(therapist, appointment, extra):
    response = therapist.api.post(
        NOTES, {"appointment": appointment.pk, **soap(), **extra}, format="json"
    )

    assert response.status_code == 400, response.content
    assert not Note.objects.exists()


def test_complaint_of_another_client_is_400(therapist, appointment, practice):
    stranger = ComplaintFactory(client=ClientFactory(practice=practice))

    response = therapist.api.post(
        NOTES,
        {"appointment": appointment.pk, "complaint": stranger.pk, "pain_before": 4},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert not Note.objects.exists()
    assert not Outcome.objects.exists()


def test_client_that_is_not_the_appointments_is_400(therapist, appointment, practice):
    response = therapist.api.post(
        NOTES,
        {"appointment": appointment.pk, "client": ClientFactory(practice=practice).pk},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert not Note.objects.exists()


def test_note_needs_a_client_or_an_appointment(therapist):
    response = therapist.api.post(NOTES, soap(), format="json")

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("client", "required")]
    assert not Note.objects.exists()


def test_appointment_of_another_practice_is_400(therapist, other_practice):
    foreign = AppointmentFactory(client=ClientFactory(practice=other_practice))

    response = therapist.api.post(NOTES, {"appointment": foreign.pk, **soap()}, format="json")

    assert response.status_code == 400, response.content
    assert error_pairs(response) == [("appointment", "does_not_exist")]
    assert not Note.objects.exists()


def test_note_stays_with_its_client_and_appointment(therapist, draft, practice):
    response = therapist.api.patch(
        detail(draft["id"]), {"client": ClientFactory(practice=practice).pk}, format="json"
    )

    assert response.status_code == 400, response.content
    assert Note.objects.get(pk=draft["id"]).client_id == draft["client"]


# --- only the author edits --------------------------------------------------------------------


def test_author_edits_a_draft(therapist, draft):
    response = therapist.api.patch(
        detail(draft["id"]),
        {"objective": "Tone reduced on re-palpation.", "consent_confirmed": True},
        format="json",
    )

    assert response.status_code == 200, response.content
    note = Note.objects.get(pk=draft["id"])
    assert note.objective == "Tone reduced on re-palpation."
    assert note.consent_confirmed is True


@pytest.mark.parametrize("editor", ["second_therapist", "owner"])
def test_someone_else_cannot_edit_a_draft(request, draft, editor):
    member = request.getfixturevalue(editor)

    response = member.api.patch(
        detail(draft["id"]), {"subjective": "Overwritten", "pain_before": 1}, format="json"
    )

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    note = Note.objects.get(pk=draft["id"])
    assert note.subjective == soap()["subjective"]
    assert note.pain_before == 6
    assert nprs(note.complaint) == [("now", 6), ("post_session", 3)]


def test_someone_else_cannot_sign_a_draft(second_therapist, draft):
    response = second_therapist.api.post(sign_url(draft["id"]))

    assert response.status_code == 403, response.content
    assert Note.objects.get(pk=draft["id"]).signed_at is None


def test_colleague_reads_a_note(second_therapist, owner, draft):
    for member in (second_therapist, owner):
        response = member.api.get(detail(draft["id"]))

        assert response.status_code == 200, response.content
        assert response.json()["assessment"] == soap()["assessment"]


# --- signing locks ----------------------------------------------------------------------------


def test_sign_locks_the_note(therapist, draft):
    response = therapist.api.post(sign_url(draft["id"]))

    assert response.status_code == 200, response.content
    assert response.json()["is_signed"] is True
    assert response.json()["signed_at"] is not None
    note = Note.objects.get(pk=draft["id"])
    assert note.signed_at is not None
    assert abs(note.signed_at - timezone.now()) < dt.timedelta(minutes=1)


def test_patch_after_signing_is_409_note_locked_and_unchanged(therapist, signed, complaint):
    before = Note.objects.get(pk=signed["id"])
    outcomes = list(Outcome.objects.order_by("id").values_list("id", "score"))

    response = therapist.api.patch(
        detail(signed["id"]),
        {"assessment": "Rewritten after the fact", "pain_before": 2},
        format="json",
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "note_locked"
    after = Note.objects.get(pk=signed["id"])
    assert after.assessment == before.assessment
    assert after.pain_before == 6
    assert after.updated_at == before.updated_at
    assert list(Outcome.objects.order_by("id").values_list("id", "score")) == outcomes


def test_patch_of_delivered_items_after_signing_is_409(therapist, signed, appointment):
    extra = PlanItem.objects.create(
        plan=appointment.plan,
        position=5,
        technique=Technique.objects.get(practice=appointment.practice, code="vibration"),
        region="lumbar",
        minutes=2,
    )

    response = therapist.api.patch(
        detail(signed["id"]), {"delivered_items": [extra.pk]}, format="json"
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "note_locked"
    assert extra not in Note.objects.get(pk=signed["id"]).delivered_items.all()


def test_signing_twice_is_409_and_keeps_the_first_time(therapist, signed):
    first = Note.objects.get(pk=signed["id"]).signed_at

    response = therapist.api.post(sign_url(signed["id"]))

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "note_locked"
    assert Note.objects.get(pk=signed["id"]).signed_at == first


# --- amendments -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["amendment", "correction", "late_entry"])
def test_any_clinician_amends_a_signed_note(second_therapist, signed, kind):
    response = second_therapist.api.post(
        amendments_url(signed["id"]),
        {"kind": kind, "text": "Pain after was 4, not 3.", "reason": "Transcription error"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == kind
    assert body["text"] == "Pain after was 4, not 3."
    assert body["reason"] == "Transcription error"
    assert body["author"] == second_therapist.user.pk
    created = dt.datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None
    assert abs(created - timezone.now()) < dt.timedelta(minutes=1)
    amendment = Amendment.objects.get()
    assert amendment.note_id == signed["id"]
    assert amendment.author == second_therapist.user
    assert amendment.kind == kind


def test_amendments_are_shown_beside_the_unchanged_original(therapist, owner, signed):
    first = therapist.api.post(
        amendments_url(signed["id"]),
        {"kind": "late_entry", "text": "Client phoned: soreness gone by next day."},
        format="json",
    )
    second = owner.api.post(
        amendments_url(signed["id"]),
        {"kind": "correction", "text": "Region was right QL.", "reason": "Wrong side"},
        format="json",
    )
    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content

    note = therapist.api.get(detail(signed["id"])).json()
    listed = therapist.api.get(amendments_url(signed["id"]))

    assert note["subjective"] == soap()["subjective"]
    assert note["objective"] == soap()["objective"]
    assert note["pain_after"] == 3
    assert [(a["kind"], a["text"], a["author"]) for a in note["amendments"]] == [
        ("late_entry", "Client phoned: soreness gone by next day.", therapist.user.pk),
        ("correction", "Region was right QL.", owner.user.pk),
    ]
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [a["id"] for a in note["amendments"]]
    stored = Note.objects.get(pk=signed["id"])
    assert stored.objective == soap()["objective"]
    assert stored.is_signed


def test_amendment_defaults_to_kind_amendment(therapist, signed):
    response = therapist.api.post(
        amendments_url(signed["id"]), {"text": "Added home-care sheet."}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "amendment"
    assert response.json()["reason"] == ""


@pytest.mark.parametrize("amender", ["therapist", "second_therapist"])
def test_amendment_to_a_draft_is_409_precondition_failed(request, draft, amender):
    member = request.getfixturevalue(amender)

    response = member.api.post(
        amendments_url(draft["id"]), {"kind": "correction", "text": "Fix"}, format="json"
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "precondition_failed"
    assert not Amendment.objects.exists()
    assert Note.objects.get(pk=draft["id"]).signed_at is None


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "rewrite", "text": "Fix"},
        {"kind": "correction"},
        {"kind": "correction", "text": ""},
        {"text": "Fix", "author": 1},
        {"text": "Fix", "created_at": "2020-01-01T00:00:00Z"},
    ],
)
def test_bad_amendment_is_400_and_writes_nothing(therapist, signed, body):
    response = therapist.api.post(amendments_url(signed["id"]), body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert not Amendment.objects.exists()


def test_amending_is_audited(second_therapist, signed):
    second_therapist.api.post(amendments_url(signed["id"]), {"text": "Addendum"}, format="json")

    assert AuditEvent.objects.filter(
        AuditEvent.records_containing(signed["id"]),
        record_type="note",
        action="update",
        actor=second_therapist.user,
    ).exists()


# --- notes left unsigned ----------------------------------------------------------------------


def test_unsigned_filter_lists_only_drafts_older_than_48_hours(therapist, practice):
    stale_draft = NoteFactory(practice=practice, client=ClientFactory(practice=practice))
    fresh_draft = NoteFactory(practice=practice, client=ClientFactory(practice=practice))
    stale_signed = NoteFactory(
        practice=practice, client=ClientFactory(practice=practice), signed_at=timezone.now()
    )
    almost_stale = NoteFactory(practice=practice, client=ClientFactory(practice=practice))
    now = timezone.now()
    Note.objects.filter(pk__in=[stale_draft.pk, stale_signed.pk]).update(
        created_at=now - dt.timedelta(hours=49)
    )
    Note.objects.filter(pk=almost_stale.pk).update(created_at=now - dt.timedelta(hours=47))

    unsigned = therapist.api.get(NOTES, {"unsigned": "true"})
    everything = therapist.api.get(NOTES)

    assert unsigned.status_code == 200, unsigned.content
    assert [n["id"] for n in unsigned.json()["results"]] == [stale_draft.pk]
    assert {n["id"] for n in everything.json()["results"]} == {
        stale_draft.pk,
        fresh_draft.pk,
        stale_signed.pk,
        almost_stale.pk,
    }


def test_unsigned_filter_stays_inside_the_practice(therapist, practice, other_practice):
    foreign = NoteFactory(client=ClientFactory(practice=other_practice))
    Note.objects.filter(pk=foreign.pk).update(created_at=timezone.now() - dt.timedelta(days=5))

    response = therapist.api.get(NOTES, {"unsigned": "true"})

    assert response.status_code == 200
    assert response.json()["results"] == []


# --- who reads notes --------------------------------------------------------------------------


@pytest.fixture
def own_notes(practice, client_member):
    """The client's notes: signed and shared, signed not shared, a shared draft; and a
    signed, shared note of another client."""
    me = client_member.user.client
    now = timezone.now()
    return {
        "shared": NoteFactory(
            practice=practice,
            client=me,
            shared_with_client=True,
            signed_at=now,
            assessment="Good progress; shared.",
        ),
        "private": NoteFactory(
            practice=practice, client=me, signed_at=now, assessment="Private reasoning."
        ),
        "draft": NoteFactory(
            practice=practice, client=me, shared_with_client=True, assessment="Draft text."
        ),
        "other": NoteFactory(
            practice=practice,
            client=ClientFactory(practice=practice),
            shared_with_client=True,
            signed_at=now,
            assessment="Someone else.",
        ),
    }


def test_client_reads_their_own_signed_shared_note(client_member, own_notes):
    response = client_member.api.get(detail(own_notes["shared"]))

    assert response.status_code == 200, response.content
    assert response.json()["assessment"] == "Good progress; shared."
    assert response.json()["is_signed"] is True


@pytest.mark.parametrize("which", ["private", "draft", "other"])
def test_client_cannot_read_unshared_unsigned_or_others_notes(client_member, own_notes, which):
    response = client_member.api.get(detail(own_notes[which]))

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert own_notes[which].assessment not in response.content.decode()


def test_client_lists_only_their_signed_shared_notes(client_member, own_notes):
    response = client_member.api.get(NOTES)

    assert response.status_code == 200, response.content
    assert [n["id"] for n in response.json()["results"]] == [own_notes["shared"].pk]
    text = response.content.decode()
    for hidden in ("Private reasoning.", "Draft text.", "Someone else."):
        assert hidden not in text


def test_client_cannot_write_sign_or_amend_notes(client_member, own_notes):
    me = client_member.user.client
    shared = own_notes["shared"]

    created = client_member.api.post(NOTES, {"client": me.pk, **soap()}, format="json")
    patched = client_member.api.patch(detail(own_notes["draft"]), soap(), format="json")
    signed = client_member.api.post(sign_url(own_notes["draft"]))
    amended = client_member.api.post(amendments_url(shared), {"text": "Mine"}, format="json")
    amendments = client_member.api.get(amendments_url(shared))

    for response in (created, patched, signed, amended, amendments):
        assert response.status_code == 403, response.content
    assert Note.objects.count() == 4
    assert Note.objects.get(pk=own_notes["draft"].pk).signed_at is None
    assert not Amendment.objects.exists()


def test_front_desk_never_reads_or_writes_notes(front_desk, client_record, signed, draft):
    responses = [
        front_desk.api.get(NOTES),
        front_desk.api.get(NOTES, {"unsigned": "true"}),
        front_desk.api.get(detail(signed["id"])),
        front_desk.api.get(amendments_url(signed["id"])),
        front_desk.api.post(NOTES, {"client": client_record.pk, **soap()}, format="json"),
        front_desk.api.patch(detail(draft["id"]), {"subjective": "x"}, format="json"),
        front_desk.api.post(sign_url(draft["id"])),
        front_desk.api.post(amendments_url(signed["id"]), {"text": "x"}, format="json"),
    ]

    for response in responses:
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
        assert "Hypertonic" not in response.content.decode()
    assert Note.objects.count() == 1
    assert not Amendment.objects.exists()


def test_another_practice_sees_no_note(other_owner, signed):
    assert other_owner.api.get(detail(signed["id"])).status_code == 404
    assert other_owner.api.get(NOTES).json()["results"] == []
    amended = other_owner.api.post(amendments_url(signed["id"]), {"text": "x"}, format="json")
    assert amended.status_code == 404
    assert not Amendment.objects.exists()


def test_reading_a_note_is_audited(second_therapist, signed):
    second_therapist.api.get(detail(signed["id"]))

    assert AuditEvent.objects.filter(
        AuditEvent.records_containing(signed["id"]),
        record_type="note",
        action="read",
        actor=second_therapist.user,
    ).exists()


# --- the list reads rows, the detail a model: one shape (issue 22.2) ------------------------------


def test_the_list_shows_each_note_as_its_detail_does(therapist, client_record, signed):
    """The list builds no models (sessions.records.selectors.with_note_history); a signed note's
    snapshot, a draft's delivered items in plan order and the amendments must read the same."""
    second = AppointmentFactory(client=client_record, status="checked_in")
    items = plan_items(second, "effleurage", "kneading")
    draft = create_note(
        therapist,
        appointment=second.pk,
        delivered_items=[items[1].pk, items[0].pk],
        **soap(),
    )
    amended = therapist.api.post(
        f"{detail(signed['id'])}amendments/", {"text": "Also: hamstrings tight."}, format="json"
    )
    assert amended.status_code == 201, amended.content

    listed = {row["id"]: row for row in therapist.api.get(NOTES).json()["results"]}

    for note_id in (signed["id"], draft["id"]):
        assert listed[note_id] == therapist.api.get(detail(note_id)).json()
    assert listed[draft["id"]]["delivered_items"] == [items[0].pk, items[1].pk]
    assert len(listed[signed["id"]]["amendments"]) == 1
    assert listed[signed["id"]]["delivered"] == signed["delivered"]
