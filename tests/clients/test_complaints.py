"""Back-pain complaints with red-flag screening (API.md "Complaints"; DOMAIN.md 0, 1, 2a)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from clients.domain import duration_category
from clients.models import Complaint, Outcome, RedFlagAnswer
from practice.models import Practice
from tests.factories import ClientFactory, ComplaintFactory

COMPLAINTS = "/api/v1/complaints/"

# API.md "Complaints": the nine screening questions.
QUESTIONS = (
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


def detail(complaint: Complaint | int) -> str:
    return f"{COMPLAINTS}{getattr(complaint, 'pk', complaint)}/"


def clear_url(complaint: Complaint) -> str:
    return f"{detail(complaint)}clear/"


def complaint_body(client, **overrides) -> dict:
    return {
        "client": client.pk,
        "regions": [{"region": "lumbar", "side": "left"}],
        "onset_date": (timezone.localdate() - dt.timedelta(days=20)).isoformat(),
        "onset_type": "sudden",
        "mechanism": "lifting",
        "pain_now": 7,
        "red_flags": dict.fromkeys(QUESTIONS, "no"),
        **overrides,
    }


def error_fields(response) -> set[str]:
    return {error["field"].split(".")[0] for error in response.json()["errors"]}


def nothing_created() -> bool:
    return not (
        Complaint.objects.exists() or Outcome.objects.exists() or RedFlagAnswer.objects.exists()
    )


def freeze(monkeypatch, when: dt.datetime) -> None:
    """Pin "now" for the server (duration at read time, onset checks), not for the tokens."""
    monkeypatch.setattr(timezone, "now", lambda: when)


def set_timezone(practice: Practice, name: str) -> None:
    Practice.objects.filter(pk=practice.pk).update(timezone=name)


@pytest.fixture
def client_record(practice):
    return ClientFactory(practice=practice)


# --- create ---------------------------------------------------------------------------------------


def test_therapist_creates_a_complaint_with_its_intake_fields(therapist, practice, client_record):
    body = complaint_body(
        client_record,
        regions=[{"region": "lumbar", "side": "bilateral"}, {"region": "gluteal", "side": "right"}],
        mechanism="bending_twisting",
        onset_type="gradual",
        pain_now=6,
    )

    response = therapist.api.post(COMPLAINTS, body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "active"
    assert data["duration_category"] == "acute"
    assert data["red_flags"] == dict.fromkeys(QUESTIONS, "no")
    complaint = Complaint.objects.get(pk=data["id"])
    assert complaint.practice == practice
    assert complaint.client == client_record
    assert complaint.regions == body["regions"]
    assert complaint.mechanism == "bending_twisting"
    assert complaint.onset_type == "gradual"
    assert complaint.pain_now == 6
    assert complaint.created_by == therapist.user


def test_pain_now_is_recorded_as_the_baseline_nprs_outcome(therapist, client_record):
    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, pain_now=8), format="json"
    )

    assert response.status_code == 201
    (baseline,) = Outcome.objects.filter(complaint_id=response.json()["id"])
    assert baseline.instrument == "nprs"
    assert baseline.score == 8
    assert baseline.answers == {"pain": 8}
    assert baseline.client == client_record
    assert baseline.recorded_by == therapist.user


def test_pain_now_zero_is_a_baseline_too(therapist, client_record):
    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, pain_now=0), format="json"
    )

    assert response.status_code == 201
    assert Outcome.objects.get(complaint_id=response.json()["id"]).score == 0


def test_staff_list_only_their_practice_complaints(owner, practice, other_practice):
    mine = ComplaintFactory(client__practice=practice)
    ComplaintFactory(client__practice=other_practice)

    response = owner.api.get(COMPLAINTS)

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_another_practice_complaint_is_404(owner, other_practice):
    theirs = ComplaintFactory(client__practice=other_practice, pain_now=4)

    assert owner.api.get(detail(theirs)).status_code == 404
    assert owner.api.patch(detail(theirs), {"pain_now": 9}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert theirs.pain_now == 4


# --- duration category: computed at read time, in the practice's time zone --------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, "acute"), (41, "acute"), (42, "subacute"), (83, "subacute"), (84, "chronic")],
)
def test_duration_category_at_its_boundaries(monkeypatch, owner, practice, days, expected):
    set_timezone(practice, "Europe/London")
    freeze(monkeypatch, dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC))
    complaint = ComplaintFactory(
        client__practice=practice, onset_date=dt.date(2025, 6, 15) - dt.timedelta(days=days)
    )

    response = owner.api.get(detail(complaint))

    assert response.status_code == 200
    assert response.json()["duration_category"] == expected


@pytest.mark.parametrize(
    ("zone", "now", "onset", "expected"),
    [
        # 23:30 UTC on 1 March is already 2 March in Auckland: 42 days there, 41 in UTC.
        (
            "Pacific/Auckland",
            dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC),
            "2025-01-19",
            "subacute",
        ),
        # 03:00 UTC on 2 March is still 1 March in Los Angeles: 83 days there, 84 in UTC.
        (
            "America/Los_Angeles",
            dt.datetime(2025, 3, 2, 3, 0, tzinfo=dt.UTC),
            "2024-12-08",
            "subacute",
        ),
    ],
)
def test_duration_category_counts_days_in_the_practice_timezone(
    monkeypatch, owner, practice, zone, now, onset, expected
):
    set_timezone(practice, zone)
    freeze(monkeypatch, now)
    complaint = ComplaintFactory(client__practice=practice, onset_date=dt.date.fromisoformat(onset))

    response = owner.api.get(detail(complaint))

    assert response.status_code == 200
    assert response.json()["duration_category"] == expected


def test_duration_category_moves_on_with_time_without_edits(monkeypatch, owner, practice):
    freeze(monkeypatch, dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC))
    complaint = ComplaintFactory(client__practice=practice, onset_date=dt.date(2025, 5, 5))
    assert owner.api.get(detail(complaint)).json()["duration_category"] == "acute"  # 41 days
    updated_at = Complaint.objects.get(pk=complaint.pk).updated_at

    freeze(monkeypatch, dt.datetime(2025, 6, 16, 12, 0, tzinfo=dt.UTC))
    listed = owner.api.get(COMPLAINTS).json()["results"]

    assert [row["duration_category"] for row in listed] == ["subacute"]
    assert Complaint.objects.get(pk=complaint.pk).updated_at == updated_at


def test_duration_category_cannot_be_typed_in(therapist, client_record):
    body = complaint_body(client_record, duration_category="chronic")

    response = therapist.api.post(COMPLAINTS, body, format="json")

    assert response.status_code == 400
    assert "duration_category" in error_fields(response)
    assert nothing_created()


def expected_category(days: int) -> str:
    """DOMAIN.md 1, restated: acute < 42 days <= subacute < 84 days <= chronic."""
    if days < 42:
        return "acute"
    if days < 84:
        return "subacute"
    return "chronic"


@given(
    as_of=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
    days=st.integers(min_value=0, max_value=2000),
)
def test_duration_category_follows_the_domain_thresholds_for_any_onset(as_of, days):
    onset = as_of - dt.timedelta(days=days)

    assert duration_category(onset, as_of) == expected_category(days)


@given(
    as_of=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
    days=st.integers(min_value=0, max_value=1999),
)
def test_duration_category_never_goes_back_as_a_complaint_ages(as_of, days):
    order = ["acute", "subacute", "chronic"]
    onset = as_of - dt.timedelta(days=days)

    today = order.index(duration_category(onset, as_of))
    tomorrow = order.index(duration_category(onset, as_of + dt.timedelta(days=1)))

    assert today <= tomorrow <= today + 1


# --- red flags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_any_yes_makes_the_complaint_referral_required(therapist, client_record, question):
    answers = {**dict.fromkeys(QUESTIONS, "no"), question: "yes"}

    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, red_flags=answers), format="json"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "referral_required"
    assert Complaint.objects.get(pk=response.json()["id"]).status == "referral_required"


@pytest.mark.parametrize(
    "answers",
    [
        dict.fromkeys(QUESTIONS, "no"),
        dict.fromkeys(QUESTIONS, "unsure"),
        {"saddle_numbness": "unsure", "major_trauma": "no"},
        {},
    ],
)
def test_unsure_and_no_answers_leave_the_complaint_active(therapist, client_record, answers):
    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, red_flags=answers), format="json"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "active"
    assert Complaint.objects.get(pk=response.json()["id"]).status == "active"


def test_each_red_flag_answer_is_kept_with_time_and_asker(therapist, client_record):
    answers = {"saddle_numbness": "no", "cancer_history": "unsure"}

    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, red_flags=answers), format="json"
    )

    assert response.status_code == 201
    history = response.json()["red_flag_history"]
    assert sorted((row["question"], row["answer"]) for row in history) == [
        ("cancer_history", "unsure"),
        ("saddle_numbness", "no"),
    ]
    for row in history:
        assert row["asked_by"] == therapist.user.pk
        assert dt.datetime.fromisoformat(row["asked_at"]).utcoffset() is not None
    stored = RedFlagAnswer.objects.filter(complaint_id=response.json()["id"])
    assert {(r.question, r.answer, r.asked_by_id) for r in stored} == {
        ("saddle_numbness", "no", therapist.user.pk),
        ("cancer_history", "unsure", therapist.user.pk),
    }


def test_re_asking_a_question_adds_to_its_history(therapist, owner, client_record):
    created = therapist.api.post(
        COMPLAINTS,
        complaint_body(client_record, red_flags={"saddle_numbness": "unsure"}),
        format="json",
    ).json()

    response = owner.api.patch(
        detail(created["id"]), {"red_flags": {"saddle_numbness": "no"}}, format="json"
    )
    again = owner.api.patch(
        detail(created["id"]), {"red_flags": {"saddle_numbness": "no"}}, format="json"
    )

    assert response.status_code == again.status_code == 200
    history = [
        (row["question"], row["answer"], row["asked_by"])
        for row in again.json()["red_flag_history"]
    ]
    assert history == [
        ("saddle_numbness", "unsure", therapist.user.pk),
        ("saddle_numbness", "no", owner.user.pk),
        ("saddle_numbness", "no", owner.user.pk),
    ]
    assert again.json()["red_flags"] == {"saddle_numbness": "no"}
    assert RedFlagAnswer.objects.filter(complaint_id=created["id"]).count() == 3


def test_a_new_yes_on_an_active_complaint_puts_it_in_referral(therapist, practice):
    complaint = ComplaintFactory(client__practice=practice)

    response = therapist.api.patch(
        detail(complaint), {"red_flags": {"fever_or_infection": "yes"}}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "referral_required"
    complaint.refresh_from_db()
    assert complaint.status == "referral_required"


def test_unknown_red_flag_question_is_400_and_nothing_is_created(therapist, client_record):
    body = complaint_body(client_record, red_flags={"headache": "yes"})

    response = therapist.api.post(COMPLAINTS, body, format="json")

    assert response.status_code == 400
    assert "red_flags" in error_fields(response)
    assert nothing_created()


@pytest.mark.parametrize("answer", ["maybe", "YES", True, None])
def test_red_flag_answer_outside_yes_no_unsure_is_400(therapist, client_record, answer):
    body = complaint_body(client_record, red_flags={"saddle_numbness": answer})

    response = therapist.api.post(COMPLAINTS, body, format="json")

    assert response.status_code == 400
    assert nothing_created()


# --- clearance ----------------------------------------------------------------------------------


@pytest.fixture
def referred(practice, client_record):
    return ComplaintFactory(
        client=client_record,
        status="referral_required",
        red_flags={"major_trauma": "yes"},
    )


def test_therapist_clears_a_referral_with_a_note(therapist, referred):
    response = therapist.api.post(
        clear_url(referred), {"note": "GP found no fracture."}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "active"
    assert body["cleared_by"] == therapist.user.pk
    assert body["clearance_note"] == "GP found no fracture."
    referred.refresh_from_db()
    assert referred.status == "active"
    assert referred.cleared_by == therapist.user
    assert referred.cleared_at is not None
    assert referred.clearance_note == "GP found no fracture."


def test_clearing_an_active_complaint_is_409_invalid_transition(therapist, practice):
    complaint = ComplaintFactory(client__practice=practice)

    response = therapist.api.post(
        clear_url(complaint), {"note": "Nothing to clear."}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    complaint.refresh_from_db()
    assert complaint.status == "active"
    assert complaint.cleared_by is None
    assert complaint.clearance_note == ""


def test_clearing_without_a_note_is_400(therapist, referred):
    response = therapist.api.post(clear_url(referred), {}, format="json")

    assert response.status_code == 400
    referred.refresh_from_db()
    assert referred.status == "referral_required"


def test_front_desk_cannot_clear_a_referral(front_desk, referred):
    response = front_desk.api.post(clear_url(referred), {"note": "Looks fine."}, format="json")

    assert response.status_code == 403
    referred.refresh_from_db()
    assert referred.status == "referral_required"
    assert referred.cleared_by is None


def test_client_cannot_clear_their_own_referral(client_member):
    own = ComplaintFactory(client=client_member.user.client, status="referral_required")

    response = client_member.api.post(clear_url(own), {"note": "I feel fine."}, format="json")

    assert response.status_code == 403
    own.refresh_from_db()
    assert own.status == "referral_required"
    assert own.cleared_by is None


def test_answering_yes_again_after_clearance_reopens_the_referral(therapist, client_record):
    created = therapist.api.post(
        COMPLAINTS,
        complaint_body(client_record, red_flags={"major_trauma": "yes"}),
        format="json",
    ).json()
    complaint = Complaint.objects.get(pk=created["id"])
    cleared = therapist.api.post(clear_url(complaint), {"note": "X-ray clear."}, format="json")
    assert cleared.json()["status"] == "active"

    response = therapist.api.patch(
        detail(complaint), {"red_flags": {"major_trauma": "yes"}}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "referral_required"
    complaint.refresh_from_db()
    assert complaint.status == "referral_required"
    assert complaint.cleared_at is None
    answers = RedFlagAnswer.objects.filter(complaint=complaint, question="major_trauma")
    assert [a.answer for a in answers] == ["yes", "yes"]


def test_a_newly_positive_question_after_clearance_reopens_the_referral(therapist, referred):
    therapist.api.post(clear_url(referred), {"note": "Cleared by GP."}, format="json")

    response = therapist.api.patch(
        detail(referred), {"red_flags": {"saddle_numbness": "yes"}}, format="json"
    )

    assert response.status_code == 200
    referred.refresh_from_db()
    assert referred.status == "referral_required"


def test_answering_no_after_clearance_keeps_the_complaint_active(therapist, referred):
    therapist.api.post(clear_url(referred), {"note": "Cleared by GP."}, format="json")

    response = therapist.api.patch(
        detail(referred), {"red_flags": {"saddle_numbness": "no"}}, format="json"
    )

    assert response.status_code == 200
    referred.refresh_from_db()
    assert referred.status == "active"


# --- validation: nothing is created on a 400 ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"regions": []}, "regions"),
        ({"regions": [{"region": "knee", "side": "left"}]}, "regions"),
        ({"regions": [{"region": "lumbar"}]}, "regions"),
        ({"regions": [{"region": "lumbar", "side": "up"}]}, "regions"),
        ({"pain_now": 11}, "pain_now"),
        ({"pain_now": -1}, "pain_now"),
        ({"mechanism": "gardening"}, "mechanism"),
        ({"onset_type": "slow"}, "onset_type"),
    ],
)
def test_invalid_intake_is_400_and_nothing_is_created(therapist, client_record, overrides, field):
    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, **overrides), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in error_fields(response)
    assert nothing_created()


def test_onset_in_the_future_is_400_and_nothing_is_created(therapist, client_record):
    tomorrow = timezone.localdate() + dt.timedelta(days=2)

    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, onset_date=tomorrow.isoformat()), format="json"
    )

    assert response.status_code == 400
    assert "onset_date" in error_fields(response)
    assert nothing_created()


def test_onset_today_in_the_practice_timezone_is_not_in_the_future(
    monkeypatch, therapist, practice, client_record
):
    set_timezone(practice, "Pacific/Auckland")
    freeze(monkeypatch, dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC))  # 2 March in Auckland

    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, onset_date="2025-03-02"), format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["duration_category"] == "acute"


def test_onset_tomorrow_in_the_practice_timezone_is_400(
    monkeypatch, therapist, practice, client_record
):
    set_timezone(practice, "America/Los_Angeles")
    freeze(monkeypatch, dt.datetime(2025, 3, 2, 3, 0, tzinfo=dt.UTC))  # 1 March, 19:00 there

    response = therapist.api.post(
        COMPLAINTS, complaint_body(client_record, onset_date="2025-03-02"), format="json"
    )

    assert response.status_code == 400
    assert "onset_date" in error_fields(response)
    assert nothing_created()


def test_patching_onset_into_the_future_is_400(therapist, practice):
    complaint = ComplaintFactory(client__practice=practice)
    before = complaint.onset_date
    future = timezone.localdate() + dt.timedelta(days=5)

    response = therapist.api.patch(
        detail(complaint), {"onset_date": future.isoformat()}, format="json"
    )

    assert response.status_code == 400
    complaint.refresh_from_db()
    assert complaint.onset_date == before


def test_client_of_another_practice_in_the_body_is_400_and_nothing_is_created(
    therapist, other_practice
):
    stranger = ClientFactory(practice=other_practice)

    response = therapist.api.post(COMPLAINTS, complaint_body(stranger), format="json")

    assert response.status_code == 400
    assert "client" in error_fields(response)
    assert nothing_created()


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "active"},
        {"cleared_by": 1},
        {"cleared_at": "2025-01-01T00:00:00+00:00"},
        {"clearance_note": "self-cleared"},
        {"practice": 1},
        {"created_by": 1},
    ],
)
def test_server_owned_fields_in_a_create_body_are_400(therapist, client_record, extra):
    body = complaint_body(client_record, red_flags={"major_trauma": "yes"}, **extra)

    response = therapist.api.post(COMPLAINTS, body, format="json")

    assert response.status_code == 400
    assert set(extra) <= error_fields(response)
    assert nothing_created()


@pytest.mark.parametrize("extra", [{"status": "active"}, {"cleared_by": 1}])
def test_status_cannot_be_patched_past_a_referral(therapist, referred, extra):
    response = therapist.api.patch(detail(referred), extra, format="json")

    assert response.status_code == 400
    referred.refresh_from_db()
    assert referred.status == "referral_required"
    assert referred.cleared_by is None


def test_a_complaint_cannot_move_to_another_client(therapist, referred, practice):
    other = ClientFactory(practice=practice)

    response = therapist.api.patch(detail(referred), {"client": other.pk}, format="json")

    assert response.status_code == 400
    referred.refresh_from_db()
    assert referred.client_id != other.pk


# --- who may see complaints ---------------------------------------------------------------------


def test_front_desk_gets_403_on_complaint_list_and_detail(front_desk, practice):
    complaint = ComplaintFactory(client__practice=practice)

    listed = front_desk.api.get(COMPLAINTS)
    shown = front_desk.api.get(detail(complaint))

    assert listed.status_code == shown.status_code == 403
    assert listed.json()["code"] == shown.json()["code"] == "permission_denied"
    assert b"lumbar" not in listed.content + shown.content


def test_front_desk_cannot_create_a_complaint(front_desk, client_record):
    response = front_desk.api.post(COMPLAINTS, complaint_body(client_record), format="json")

    assert response.status_code == 403
    assert nothing_created()


def test_client_sees_only_their_own_complaints(client_member, practice):
    own = ComplaintFactory(client=client_member.user.client)
    neighbours = ComplaintFactory(client__practice=practice)

    listed = client_member.api.get(COMPLAINTS)

    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [own.pk]
    assert client_member.api.get(detail(own)).status_code == 200
    assert client_member.api.get(detail(neighbours)).status_code == 404


def test_client_cannot_create_a_complaint(client_member):
    own = client_member.user.client

    response = client_member.api.post(COMPLAINTS, complaint_body(own), format="json")

    assert response.status_code == 403
    assert nothing_created()


def test_client_cannot_patch_their_own_complaint(client_member):
    own = ComplaintFactory(client=client_member.user.client, pain_now=6)

    response = client_member.api.patch(detail(own), {"pain_now": 2}, format="json")

    assert response.status_code == 403
    own.refresh_from_db()
    assert own.pain_now == 6


@pytest.mark.parametrize("role", ["owner", "therapist", "front_desk", "client"])
def test_complaints_cannot_be_deleted(members, role):
    own = ComplaintFactory(client=members["client"].user.client)

    response = members[role].api.delete(detail(own))

    # Clinicians are told the method is not offered; other roles are refused before that.
    assert response.status_code == (405 if role in {"owner", "therapist"} else 403)
    assert Complaint.objects.filter(pk=own.pk).exists()


def test_a_patch_gives_each_region_whole(owner, practice):
    """A nested value is whole in a PATCH too (practice.api.base.StrictSerializer): a region
    without its side was kept as it came."""
    complaint = ComplaintFactory(client__practice=practice)
    before = list(complaint.regions)

    response = owner.api.patch(
        detail(complaint), {"regions": [{"region": "lumbar"}]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("regions.0.side", "required")
    ]
    complaint.refresh_from_db()
    assert complaint.regions == before
