"""Outcome measures through the API (API.md "Clinical records", "Outcome answers"; DOMAIN.md 3).

The server scores the raw answers; a score sent in the body is refused, like any unknown field.
After every refusal nothing is written: no outcome, no access-log entry for one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clients.models import Complaint, Outcome
from practice.models import AuditEvent, Practice
from tests.factories import ClientFactory, ComplaintFactory, OutcomeFactory

OUTCOMES = "/api/v1/outcomes/"

ODI_TEN = {
    "pain_intensity": 3,
    "personal_care": 2,
    "lifting": 4,
    "walking": 1,
    "sitting": 2,
    "standing": 3,
    "sleeping": 2,
    "sex_life": 0,
    "social_life": 1,
    "travelling": 2,
}  # sum 20 of 50 -> 40 %
ODI_NINE = {name: value for name, value in ODI_TEN.items() if name != "sex_life"}  # 20/45


def rmdq(ticked: int) -> dict:
    return {"items": [True] * ticked + [False] * (24 - ticked)}


def psfs(**scores: int) -> dict:
    return {"activities": [{"activity": name, "score": value} for name, value in scores.items()]}


def body(complaint, instrument: str, answers, **extra) -> dict:
    return {
        "client": complaint.client_id,
        "complaint": complaint.pk,
        "instrument": instrument,
        "answers": answers,
        **extra,
    }


def license_odi(practice: Practice, licensed: bool = True) -> None:
    Practice.objects.filter(pk=practice.pk).update(odi_licensed=licensed)


def outcome_audits() -> int:
    return AuditEvent.objects.filter(record_type="outcome").count()


def error_fields(response) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


@pytest.fixture
def client_record(practice):
    return ClientFactory(practice=practice)


@pytest.fixture
def complaint(client_record):
    return ComplaintFactory(client=client_record)


@pytest.fixture
def written():
    """How many outcomes and outcome audit rows exist: compare after a refusal."""

    def count() -> tuple[int, int]:
        return Outcome.objects.count(), outcome_audits()

    return count


# --- recording: the server scores ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers", "expected_score", "expected_percent"),
    [
        ("nprs", {"pain": 6}, "6", None),
        ("nprs", {"pain": 0}, "0", None),
        ("odi", ODI_TEN, "20", "40.0"),
        ("odi", ODI_NINE, "20", "44.4"),
        ("rmdq", rmdq(7), "7", None),
        ("psfs", psfs(sitting=1, walking=1, lifting=1, gardening=2), "1.3", None),  # 1.25 up
        ("psfs", psfs(sitting=2, walking=3, lifting=3), "2.7", None),  # 8/3
        ("groc", {"change": -3}, "-3", None),
    ],
)
def test_therapist_records_an_outcome_scored_by_the_server(
    therapist, practice, complaint, instrument, answers, expected_score, expected_percent
):
    license_odi(practice)

    response = therapist.api.post(OUTCOMES, body(complaint, instrument, answers), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert Decimal(data["score"]) == Decimal(expected_score)
    if expected_percent is None:
        assert data["score_percent"] is None
    else:
        assert Decimal(data["score_percent"]) == Decimal(expected_percent)
    assert data["instrument"] == instrument
    assert data["answers"] == answers
    assert data["client"] == complaint.client_id
    assert data["complaint"] == complaint.pk
    assert data["recorded_by"] == therapist.user.pk
    assert dt.datetime.fromisoformat(data["recorded_at"]).utcoffset() is not None
    outcome = Outcome.objects.get(pk=data["id"])
    assert outcome.practice == practice
    assert outcome.score == Decimal(expected_score)
    assert outcome.score_percent == (expected_percent and Decimal(expected_percent))
    assert outcome.answers == answers
    assert outcome.context == "now"
    assert outcome.recorded_by == therapist.user


def test_recording_is_logged_in_the_access_log(therapist, complaint):
    response = therapist.api.post(OUTCOMES, body(complaint, "nprs", {"pain": 4}), format="json")

    assert response.status_code == 201
    (event,) = AuditEvent.objects.filter(record_type="outcome", action="create")
    assert event.ids == [response.json()["id"]]
    assert event.actor == therapist.user


def test_owner_records_too(owner, complaint):
    response = owner.api.post(OUTCOMES, body(complaint, "rmdq", rmdq(3)), format="json")

    assert response.status_code == 201
    assert Outcome.objects.get().recorded_by == owner.user


def test_client_may_be_left_out_and_comes_from_the_complaint(therapist, complaint):
    payload = body(complaint, "nprs", {"pain": 4})
    del payload["client"]

    response = therapist.api.post(OUTCOMES, payload, format="json")

    assert response.status_code == 201
    assert Outcome.objects.get().client == complaint.client


def test_nprs_context_is_kept(therapist, complaint):
    response = therapist.api.post(
        OUTCOMES, body(complaint, "nprs", {"pain": 8}, context="worst_24h"), format="json"
    )

    assert response.status_code == 201
    assert response.json()["context"] == "worst_24h"
    assert Outcome.objects.get().context == "worst_24h"


# --- refused: server-owned fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("score", 0),
        ("score_percent", "0.0"),
        ("recorded_by", 1),
        ("recorded_at", "2026-01-01T10:00:00+00:00"),
        ("practice", 1),
        ("id", 99),
    ],
)
def test_server_owned_fields_in_the_body_are_400(therapist, complaint, written, field, value):
    before = written()

    response = therapist.api.post(
        OUTCOMES, body(complaint, "nprs", {"pain": 9}, **{field: value}), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in error_fields(response)
    assert written() == before


# --- refused: answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers", "field"),
    [
        ("nprs", {"pain": 11}, "answers.pain"),
        ("nprs", {"pain": -1}, "answers.pain"),
        ("nprs", {"pain": 4.5}, "answers.pain"),
        ("nprs", {"pain": "4"}, "answers.pain"),
        ("nprs", {"pain": True}, "answers.pain"),
        ("nprs", {}, "answers.pain"),
        ("nprs", {"change": 3}, "answers.change"),  # a GROC answer sent as NPRS
        ("odi", {**ODI_TEN, "walking": 6}, "answers.walking"),
        ("odi", {**ODI_TEN, "employment": 2}, "answers.employment"),
        ("odi", dict(list(ODI_NINE.items())[:7]), None),  # 7 sections: fewer than 8
        ("rmdq", {"items": [False] * 23}, "answers.items"),
        ("rmdq", {"items": [False] * 25}, "answers.items"),
        ("rmdq", {"items": [1] + [0] * 23}, "answers.items.0"),
        ("psfs", {"activities": []}, "answers.activities"),
        ("psfs", psfs(sitting=11), "answers.activities.0.score"),
        ("psfs", psfs(a=1, b=2, c=3, d=4, e=5, f=6), "answers.activities"),
        ("groc", {"change": 8}, "answers.change"),
        ("groc", {"change": -8}, "answers.change"),
        ("groc", {"pain": 3}, "answers.pain"),
    ],
)
def test_answers_out_of_range_missing_or_of_another_instrument_are_400(
    therapist, practice, complaint, written, instrument, answers, field
):
    license_odi(practice)
    before = written()

    response = therapist.api.post(OUTCOMES, body(complaint, instrument, answers), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    fields = error_fields(response)
    assert all(name.startswith("answers") for name in fields)
    if field is not None:
        assert field in fields
    assert written() == before


@pytest.mark.parametrize("answers", [None, [], 4, "pain=4"])
def test_answers_that_are_not_an_object_are_400(therapist, complaint, written, answers):
    before = written()

    response = therapist.api.post(OUTCOMES, body(complaint, "nprs", answers), format="json")

    assert response.status_code == 400
    assert written() == before


@pytest.mark.parametrize("instrument", ["ndi", "NPRS", "", None])
def test_unknown_instrument_is_400(therapist, complaint, written, instrument):
    before = written()

    response = therapist.api.post(OUTCOMES, body(complaint, instrument, {"pain": 3}), format="json")

    assert response.status_code == 400
    assert "instrument" in error_fields(response)
    assert written() == before


@pytest.mark.parametrize("context", ["post_session", "yesterday"])
def test_unknown_context_is_400(therapist, complaint, written, context):
    before = written()

    response = therapist.api.post(
        OUTCOMES, body(complaint, "nprs", {"pain": 3}, context=context), format="json"
    )

    assert response.status_code == 400
    assert "context" in error_fields(response)
    assert written() == before


# --- ODI licence --------------------------------------------------------------------------------


def test_odi_is_refused_unless_the_practice_holds_the_licence(
    therapist, practice, complaint, written
):
    before = written()

    refused = therapist.api.post(OUTCOMES, body(complaint, "odi", ODI_TEN), format="json")

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "instrument"
    assert refused.json()["errors"][0]["code"] == "not_licensed"
    assert written() == before

    license_odi(practice)
    accepted = therapist.api.post(OUTCOMES, body(complaint, "odi", ODI_TEN), format="json")

    assert accepted.status_code == 201
    assert Decimal(accepted.json()["score_percent"]) == Decimal("40.0")


def test_odi_licence_of_another_practice_does_not_count(
    therapist, practice, other_practice, complaint, written
):
    license_odi(other_practice)
    before = written()

    response = therapist.api.post(OUTCOMES, body(complaint, "odi", ODI_TEN), format="json")

    assert response.status_code == 400
    assert written() == before


# --- PSFS: follow-ups re-rate the baseline's activities ----------------------------------------


@pytest.fixture
def psfs_baseline(therapist, complaint):
    response = therapist.api.post(
        OUTCOMES, body(complaint, "psfs", psfs(sitting=3, walking=4, gardening=2)), format="json"
    )
    assert response.status_code == 201
    return response.json()


@pytest.mark.parametrize(
    "answers",
    [
        psfs(sitting=5, walking=6, running=4),  # one activity swapped
        psfs(sitting=5, walking=6),  # one left out
        psfs(sitting=5, walking=6, gardening=4, driving=3),  # one added
        psfs(driving=7),
    ],
)
def test_psfs_follow_up_with_other_activities_than_the_baseline_is_400(
    therapist, complaint, psfs_baseline, written, answers
):
    before = written()

    response = therapist.api.post(OUTCOMES, body(complaint, "psfs", answers), format="json")

    assert response.status_code == 400
    assert error_fields(response) == ["answers.activities"]
    assert "sitting" in response.json()["errors"][0]["detail"]  # names the baseline's activities
    assert written() == before


def test_psfs_follow_up_re_rating_the_same_activities_is_accepted_in_any_order_or_case(
    therapist, complaint, psfs_baseline
):
    answers = {
        "activities": [
            {"activity": "Gardening", "score": 6},
            {"activity": "sitting", "score": 5},
            {"activity": "walking ", "score": 7},
        ]
    }

    response = therapist.api.post(OUTCOMES, body(complaint, "psfs", answers), format="json")

    assert response.status_code == 201, response.content
    assert Decimal(response.json()["score"]) == Decimal(6)  # 18 / 3


def test_psfs_activities_of_another_complaint_do_not_bind(therapist, complaint, psfs_baseline):
    second = ComplaintFactory(client=complaint.client)

    response = therapist.api.post(
        OUTCOMES, body(second, "psfs", psfs(driving=4, lifting=2)), format="json"
    )

    assert response.status_code == 201


# --- refused: whose complaint -------------------------------------------------------------------


def test_complaint_of_another_client_is_400(therapist, practice, complaint, written):
    someone_else = ClientFactory(practice=practice)
    before = written()

    response = therapist.api.post(
        OUTCOMES, {**body(complaint, "nprs", {"pain": 3}), "client": someone_else.pk}, format="json"
    )

    assert response.status_code == 400
    assert "complaint" in error_fields(response)
    assert written() == before


def test_complaint_of_another_practice_is_400_as_if_it_did_not_exist(
    therapist, other_practice, written
):
    theirs = ComplaintFactory(client__practice=other_practice)
    before = written()

    response = therapist.api.post(OUTCOMES, body(theirs, "nprs", {"pain": 3}), format="json")

    assert response.status_code == 400
    fields = error_fields(response)
    assert "complaint" in fields
    assert "client" in fields
    assert written() == before


def test_client_of_another_practice_is_400(therapist, other_practice, complaint, written):
    stranger = ClientFactory(practice=other_practice)
    before = written()

    response = therapist.api.post(
        OUTCOMES, {**body(complaint, "nprs", {"pain": 3}), "client": stranger.pk}, format="json"
    )

    assert response.status_code == 400
    assert error_fields(response) == ["client"]
    assert written() == before


# --- a client submits their own answers ---------------------------------------------------------


@pytest.fixture
def own_complaint(client_member):
    return ComplaintFactory(client=client_member.user.client)


def test_client_submits_their_own_outcome(client_member, own_complaint):
    response = client_member.api.post(
        OUTCOMES,
        {"complaint": own_complaint.pk, "instrument": "rmdq", "answers": rmdq(9)},
        format="json",
    )

    assert response.status_code == 201, response.content
    outcome = Outcome.objects.get(pk=response.json()["id"])
    assert outcome.client == client_member.user.client
    assert outcome.complaint == own_complaint
    assert outcome.score == 9
    assert outcome.recorded_by == client_member.user


def test_client_naming_themselves_is_accepted(client_member, own_complaint):
    response = client_member.api.post(
        OUTCOMES, body(own_complaint, "groc", {"change": 4}), format="json"
    )

    assert response.status_code == 201


def test_client_cannot_submit_for_someone_elses_complaint(
    client_member, practice, own_complaint, written
):
    other = ComplaintFactory(client__practice=practice)
    before = written()

    anonymous_client = client_member.api.post(
        OUTCOMES,
        {"complaint": other.pk, "instrument": "nprs", "answers": {"pain": 2}},
        format="json",
    )
    naming_them = client_member.api.post(OUTCOMES, body(other, "nprs", {"pain": 2}), format="json")
    naming_self = client_member.api.post(
        OUTCOMES,
        {**body(other, "nprs", {"pain": 2}), "client": own_complaint.client_id},
        format="json",
    )

    for response in (anonymous_client, naming_them, naming_self):
        assert response.status_code == 400
        assert "complaint" in error_fields(response)
    assert written() == before


def test_client_cannot_attach_their_answers_to_another_client(
    client_member, practice, own_complaint, written
):
    other = ClientFactory(practice=practice)
    before = written()

    response = client_member.api.post(
        OUTCOMES, {**body(own_complaint, "nprs", {"pain": 2}), "client": other.pk}, format="json"
    )

    assert response.status_code == 400
    assert written() == before


def test_client_answers_are_checked_like_anyone_elses(client_member, own_complaint, written):
    before = written()

    response = client_member.api.post(
        OUTCOMES, body(own_complaint, "nprs", {"pain": 12}), format="json"
    )

    assert response.status_code == 400
    assert error_fields(response) == ["answers.pain"]
    assert written() == before


def test_client_lists_only_their_own_outcomes(client_member, practice, own_complaint):
    mine = OutcomeFactory(complaint=own_complaint)
    OutcomeFactory(complaint=ComplaintFactory(client__practice=practice))

    response = client_member.api.get(OUTCOMES)

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_client_reading_someone_elses_outcome_is_404(client_member, practice):
    theirs = OutcomeFactory(complaint=ComplaintFactory(client__practice=practice))

    assert client_member.api.get(f"{OUTCOMES}{theirs.pk}/").status_code == 404


# --- roles and tenancy --------------------------------------------------------------------------


def test_front_desk_may_neither_record_nor_read_outcomes(front_desk, complaint, written):
    existing = OutcomeFactory(complaint=complaint)
    before = written()

    posted = front_desk.api.post(OUTCOMES, body(complaint, "nprs", {"pain": 3}), format="json")

    assert posted.status_code == 403
    assert posted.json()["code"] == "permission_denied"
    assert front_desk.api.get(OUTCOMES).status_code == 403
    assert front_desk.api.get(f"{OUTCOMES}{existing.pk}/").status_code == 403
    assert written() == before


def test_unauthenticated_is_401_and_writes_nothing(anon, complaint, written):
    before = written()

    response = anon.post(OUTCOMES, body(complaint, "nprs", {"pain": 3}), format="json")

    assert response.status_code == 401
    assert written() == before


def test_another_practice_outcome_is_404_and_not_listed(other_owner, complaint):
    ours = OutcomeFactory(complaint=complaint)

    assert other_owner.api.get(f"{OUTCOMES}{ours.pk}/").status_code == 404
    assert other_owner.api.get(OUTCOMES).json()["results"] == []


def test_outcomes_cannot_be_edited_or_deleted(therapist, complaint):
    outcome = OutcomeFactory(complaint=complaint, score=5, answers={"pain": 5})
    url = f"{OUTCOMES}{outcome.pk}/"

    assert therapist.api.patch(url, {"answers": {"pain": 1}}, format="json").status_code == 405
    assert therapist.api.delete(url).status_code == 405
    outcome.refresh_from_db()
    assert outcome.score == 5


# --- listing ------------------------------------------------------------------------------------


def test_list_filters_by_complaint_and_instrument(therapist, complaint):
    other_complaint = ComplaintFactory(client=complaint.client)
    pain = OutcomeFactory(complaint=complaint, instrument="nprs")
    disability = OutcomeFactory(complaint=complaint, instrument="rmdq", answers=rmdq(4), score=4)
    elsewhere = OutcomeFactory(complaint=other_complaint, instrument="nprs")

    def ids(**params) -> set[int]:
        response = therapist.api.get(OUTCOMES, params)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids(complaint=complaint.pk) == {pain.pk, disability.pk}
    assert ids(instrument="nprs") == {pain.pk, elsewhere.pk}
    assert ids(complaint=complaint.pk, instrument="rmdq") == {disability.pk}
    assert ids(complaint=other_complaint.pk, instrument="rmdq") == set()


def test_list_is_in_recording_order(therapist, complaint):
    now = timezone.now()
    later = OutcomeFactory(complaint=complaint, recorded_at=now)
    earlier = OutcomeFactory(complaint=complaint, recorded_at=now - dt.timedelta(days=7))

    response = therapist.api.get(OUTCOMES, {"complaint": complaint.pk})

    assert [row["id"] for row in response.json()["results"]] == [earlier.pk, later.pk]


# --- the baseline NPRS from the complaint -------------------------------------------------------


def _complaint_with_pain_7(member, client_record):
    created = member.api.post(
        "/api/v1/complaints/",
        {
            "client": client_record.pk,
            "regions": [{"region": "lumbar", "side": "bilateral"}],
            "onset_date": (timezone.localdate() - dt.timedelta(days=5)).isoformat(),
            "onset_type": "sudden",
            "mechanism": "lifting",
            "pain_now": 7,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    return created


def test_creating_a_complaint_records_its_baseline_nprs_outcome(therapist, client_record):
    created = _complaint_with_pain_7(therapist, client_record)

    response = therapist.api.get(OUTCOMES, {"complaint": created.json()["id"]})

    (baseline,) = response.json()["results"]
    assert baseline["instrument"] == "nprs"
    assert baseline["answers"] == {"pain": 7}
    assert Decimal(baseline["score"]) == 7
    assert baseline["context"] == "now"
    assert baseline["client"] == client_record.pk
    assert baseline["recorded_by"] == therapist.user.pk


# --- the list reads rows, the detail a model: one shape (issue 22.2) ------------------------------


def test_the_list_shows_each_outcome_as_its_detail_does(therapist, practice, client_record):
    """The list builds no models (`OUTCOME_ROW_FIELDS`): every instrument's score and percent,
    a corrected baseline and its correction must read the same in both."""
    license_odi(practice)
    created = _complaint_with_pain_7(therapist, client_record)
    complaint = Complaint.objects.get(pk=created.json()["id"])
    for instrument, answers in (
        ("odi", ODI_NINE),
        ("rmdq", rmdq(7)),
        ("psfs", psfs(sitting=2, walking=3, lifting=3)),
        ("groc", {"change": -3}),
    ):
        recorded = therapist.api.post(OUTCOMES, body(complaint, instrument, answers), format="json")
        assert recorded.status_code == 201, recorded.content
    corrected = therapist.api.patch(
        f"/api/v1/complaints/{complaint.pk}/", {"pain_now": 2}, format="json"
    )
    assert corrected.status_code == 200, corrected.content

    listed = therapist.api.get(OUTCOMES, {"page_size": 100}).json()["results"]

    assert len(listed) == 6  # the baseline NPRS, its correction and the four above
    assert any(row["corrects"] for row in listed)
    assert any(row["superseded_at"] for row in listed)
    assert any(row["score_percent"] for row in listed)
    for row in listed:
        assert row == therapist.api.get(f"{OUTCOMES}{row['id']}/").json()
