"""Clinical safety of complaints (issue 12, part B): the `red_flag_open` health flag follows open
referrals, the trauma question, urgency and advice, age-based flags, review alerts on `unsure`,
resolve/reopen, clearance history, the baseline corrected with `pain_now`, outcomes ordered by
the time they describe, and per-practice change thresholds. Everything through the API, with
the database checked after refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import Client, Complaint, Outcome, RedFlagAnswer
from practice.models import AuditEvent, Practice
from sessions.records.models import TherapistAlert
from tests.factories import AppointmentFactory, ClientFactory, ComplaintFactory

pytestmark = pytest.mark.django_db

COMPLAINTS = "/api/v1/complaints/"


def detail(complaint) -> str:
    return f"{COMPLAINTS}{getattr(complaint, 'pk', complaint)}/"


def body(client, **overrides) -> dict:
    return {
        "client": client.pk,
        "regions": [{"region": "lumbar", "side": "left"}],
        "onset_date": (timezone.localdate() - dt.timedelta(days=20)).isoformat(),
        "onset_type": "sudden",
        "mechanism": "lifting",
        "pain_now": 6,
        **overrides,
    }


def create(member, client, **overrides) -> dict:
    response = member.api.post(COMPLAINTS, body(client, **overrides), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def flags_of(member, client) -> list[str]:
    response = member.api.get(f"/api/v1/clients/{client.pk}/")
    assert response.status_code == 200, response.content
    return response.json()["health_flags"]


@pytest.fixture
def client_record(practice):
    return ClientFactory(practice=practice, health_flags=["osteoporosis"])


# --- item 1: red_flag_open follows open referrals --------------------------------------------


def test_red_flag_open_is_set_while_a_referral_is_open_and_removed_at_clearance(
    therapist, client_record
):
    complaint = create(therapist, client_record, red_flags={"fever_or_infection": "yes"})
    assert flags_of(therapist, client_record) == ["osteoporosis", "red_flag_open"]

    cleared = therapist.api.post(f"{detail(complaint['id'])}clear/", {"note": "GP: viral."})

    assert cleared.status_code == 200, cleared.content
    assert flags_of(therapist, client_record) == ["osteoporosis"]


def test_red_flag_open_stays_while_another_complaint_is_still_referred(therapist, client_record):
    first = create(therapist, client_record, red_flags={"cancer_history": "yes"})
    create(therapist, client_record, red_flags={"unremitting_night_pain": "yes"})

    therapist.api.post(f"{detail(first['id'])}clear/", {"note": "Oncologist: in remission."})

    assert "red_flag_open" in flags_of(therapist, client_record)


def test_a_client_edit_cannot_drop_red_flag_open_while_a_referral_is_open(therapist, client_record):
    create(therapist, client_record, red_flags={"saddle_numbness": "yes"})

    response = therapist.api.patch(
        f"/api/v1/clients/{client_record.pk}/", {"health_flags": ["pregnancy"]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["health_flags"] == ["pregnancy", "red_flag_open"]
    assert Client.objects.get(pk=client_record.pk).health_flags == ["pregnancy", "red_flag_open"]


def test_a_client_edit_cannot_invent_red_flag_open(therapist, client_record):
    response = therapist.api.patch(
        f"/api/v1/clients/{client_record.pk}/", {"health_flags": ["red_flag_open"]}, format="json"
    )
    created = therapist.api.post(
        "/api/v1/clients/",
        {"first_name": "Bo", "last_name": "Day", "health_flags": ["red_flag_open", "dvt"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["health_flags"] == []
    assert created.status_code == 201, created.content
    assert created.json()["health_flags"] == ["dvt"]
    assert Client.objects.get(pk=created.json()["id"]).health_flags == ["dvt"]


# --- item 12: trauma question, urgency, unsure, age, resolve/reopen --------------------------


@pytest.mark.parametrize("mechanism", ["fall", "motor_vehicle"])
def test_a_fall_or_vehicle_mechanism_needs_the_trauma_answer(therapist, client_record, mechanism):
    response = therapist.api.post(
        COMPLAINTS, body(client_record, mechanism=mechanism), format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "red_flags.major_trauma"
    assert not Complaint.objects.exists()
    assert not Outcome.objects.exists()
    assert not RedFlagAnswer.objects.exists()

    answered = therapist.api.post(
        COMPLAINTS,
        body(client_record, mechanism=mechanism, red_flags={"major_trauma": "no"}),
        format="json",
    )
    assert answered.status_code == 201, answered.content


def test_patching_the_mechanism_to_a_fall_asks_the_trauma_question(therapist, client_record):
    complaint = create(therapist, client_record)

    response = therapist.api.patch(detail(complaint["id"]), {"mechanism": "fall"}, format="json")

    assert response.status_code == 400, response.content
    assert Complaint.objects.get(pk=complaint["id"]).mechanism == "lifting"
    answered = therapist.api.patch(
        detail(complaint["id"]),
        {"mechanism": "fall", "red_flags": {"major_trauma": "yes"}},
        format="json",
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == "referral_required"
    assert answered.json()["referral_urgency"] == "refer_before_treating"


@pytest.mark.parametrize(
    "question", ["saddle_numbness", "bladder_bowel_change", "progressive_weakness"]
)
def test_cauda_equina_and_progressive_neurology_are_same_day_emergencies(
    therapist, client_record, question
):
    data = create(therapist, client_record, red_flags={question: "yes", "major_trauma": "yes"})

    assert data["status"] == "referral_required"
    assert data["referral_urgency"] == "emergency_same_day"
    assert "emergency" in data["referral_advice"].lower()


def test_other_referrals_carry_their_own_urgency(therapist, client_record):
    urgent = create(therapist, client_record, red_flags={"unexplained_weight_loss": "yes"})
    before = create(therapist, client_record, red_flags={"major_trauma": "yes"})

    assert urgent["referral_urgency"] == "urgent_referral"
    assert before["referral_urgency"] == "refer_before_treating"
    assert urgent["referral_advice"] != before["referral_advice"]


def test_unsure_leaves_the_complaint_active_but_raises_a_review_alert(therapist, client_record):
    data = create(therapist, client_record, red_flags={"cancer_history": "unsure"})

    assert data["status"] == "active"
    alerts = therapist.api.get("/api/v1/alerts/", {"acknowledged": "false"}).json()["results"]
    assert [(a["kind"], a["questions"], a["complaint"]) for a in alerts] == [
        ("screening_review", ["cancer_history"], data["id"])
    ]
    assert alerts[0]["therapist"] == therapist.user.therapist.pk


def test_age_flags_come_from_the_date_of_birth(therapist, practice):
    today = timezone.localdate()
    older = ClientFactory(practice=practice, date_of_birth=today.replace(year=today.year - 60))
    younger = ClientFactory(practice=practice, date_of_birth=today.replace(year=today.year - 40))

    new_pain = create(therapist, older)
    recurrent = create(therapist, older, episode="recurrent")
    middle_aged = create(therapist, younger)

    assert new_pain["age_red_flags"] == ["age_over_50_new_pain", "age_under_20_or_over_55_new_pain"]
    assert new_pain["status"] == "referral_required"
    assert new_pain["referral_urgency"] == "urgent_referral"
    assert (recurrent["age_red_flags"], recurrent["status"]) == ([], "active")
    assert (middle_aged["age_red_flags"], middle_aged["status"]) == ([], "active")


def test_a_complaint_is_resolved_and_reopened(therapist, client_record):
    complaint = create(therapist, client_record)

    resolved = therapist.api.post(f"{detail(complaint['id'])}resolve/")
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] is not None
    assert therapist.api.post(f"{detail(complaint['id'])}resolve/").status_code == 409

    reopened = therapist.api.post(f"{detail(complaint['id'])}reopen/")
    assert reopened.status_code == 200, reopened.content
    assert (reopened.json()["status"], reopened.json()["resolved_at"]) == ("active", None)
    assert therapist.api.post(f"{detail(complaint['id'])}reopen/").status_code == 409


def test_an_open_referral_cannot_be_resolved_away(therapist, client_record):
    complaint = create(therapist, client_record, red_flags={"fever_or_infection": "yes"})

    response = therapist.api.post(f"{detail(complaint['id'])}resolve/")

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "invalid_transition"
    assert Complaint.objects.get(pk=complaint["id"]).status == "referral_required"
    assert "red_flag_open" in flags_of(therapist, client_record)


# --- item 9: clearance and screening history ---------------------------------------------------


def test_every_clearance_is_kept_and_a_reopened_referral_shows_no_old_clearer(
    therapist, owner, client_record
):
    complaint = create(therapist, client_record, red_flags={"major_trauma": "yes"})
    url = detail(complaint["id"])
    therapist.api.post(f"{url}clear/", {"note": "X-ray: no fracture."})

    reopened = owner.api.patch(url, {"red_flags": {"fever_or_infection": "yes"}}, format="json")

    assert reopened.status_code == 200, reopened.content
    data = reopened.json()
    assert data["status"] == "referral_required"
    assert (data["cleared_at"], data["cleared_by"], data["clearance_note"]) == (None, None, "")
    owner.api.post(f"{url}clear/", {"note": "Bloods normal."})
    data = owner.api.get(url).json()
    assert [(c["note"], c["cleared_by"]) for c in data["clearances"]] == [
        ("X-ray: no fracture.", therapist.user.pk),
        ("Bloods normal.", owner.user.pk),
    ]
    assert [c["referral_urgency"] for c in data["clearances"]] == [
        "refer_before_treating",
        "urgent_referral",
    ]
    assert [(a["question"], a["answer"]) for a in data["red_flag_history"]] == [
        ("major_trauma", "yes"),
        ("fever_or_infection", "yes"),
    ]
    assert (
        AuditEvent.objects.filter(
            AuditEvent.records_containing(complaint["id"]),
            record_type="complaint",
            action="update",
        ).count()
        == 3
    )


def test_clearance_history_is_read_only(therapist, client_record):
    complaint = create(therapist, client_record)

    response = therapist.api.patch(
        detail(complaint["id"]), {"clearances": [{"note": "forged"}]}, format="json"
    )

    assert response.status_code == 400
    assert Complaint.objects.get(pk=complaint["id"]).clearances.count() == 0


# --- item 10: pain_now corrects the baseline ----------------------------------------------------


def test_changing_pain_now_corrects_the_baseline_with_history(therapist, client_record):
    complaint = create(therapist, client_record, pain_now=6)

    response = therapist.api.patch(detail(complaint["id"]), {"pain_now": 4}, format="json")

    assert response.status_code == 200, response.content
    progress = therapist.api.get(f"{detail(complaint['id'])}progress/").json()
    assert progress["instruments"]["nprs"]["baseline"] == 4
    assert [p["score"] for p in progress["instruments"]["nprs"]["series"]] == [4]
    rows = therapist.api.get("/api/v1/outcomes/", {"complaint": complaint["id"]}).json()
    old, new = sorted(rows["results"], key=lambda row: row["id"])
    assert (old["score"], new["score"]) == ("6.00", "4.00")
    assert old["superseded_at"] is not None
    assert new["corrects"] == old["id"]
    assert new["measured_at"] == old["measured_at"]
    assert new["source"] == "intake"


# --- item 8: the series follows the time a score describes -------------------------------------


def test_a_late_note_does_not_reorder_the_series(therapist, practice, client_record):
    complaint = create(therapist, client_record, pain_now=8)
    now = timezone.now()
    Outcome.objects.filter(source="intake").update(measured_at=now - dt.timedelta(days=10))
    early = AppointmentFactory(client=client_record, start=now - dt.timedelta(days=6))
    late = AppointmentFactory(
        client=client_record,
        therapist=early.therapist,
        service=early.service,
        start=now - dt.timedelta(days=2),
    )
    for appointment, pain in ((late, 3), (early, 6)):  # the earlier visit's note comes last
        response = therapist.api.post(
            "/api/v1/notes/",
            {"appointment": appointment.pk, "complaint": complaint["id"], "pain_before": pain},
            format="json",
        )
        assert response.status_code == 201, response.content

    nprs = therapist.api.get(f"{detail(complaint['id'])}progress/").json()["instruments"]["nprs"]

    assert [p["score"] for p in nprs["series"]] == [8, 6, 3]
    assert nprs["latest"] == 3
    measured = Outcome.objects.filter(source="session_before").values_list("measured_at", flat=True)
    assert sorted(measured) == [early.start, late.start]


def test_an_outcome_may_say_when_it_was_measured_but_not_in_the_future(therapist, client_record):
    complaint = create(therapist, client_record)
    when = timezone.now() - dt.timedelta(days=3)
    posted = therapist.api.post(
        "/api/v1/outcomes/",
        {
            "complaint": complaint["id"],
            "instrument": "nprs",
            "answers": {"pain": 5},
            "measured_at": when.isoformat(),
        },
        format="json",
    )
    assert posted.status_code == 201, posted.content
    assert dt.datetime.fromisoformat(posted.json()["measured_at"]) == when

    future = therapist.api.post(
        "/api/v1/outcomes/",
        {
            "complaint": complaint["id"],
            "instrument": "nprs",
            "answers": {"pain": 5},
            "measured_at": (timezone.now() + dt.timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert future.status_code == 400
    assert Outcome.objects.filter(complaint_id=complaint["id"]).count() == 2


# --- item 13: thresholds per practice -------------------------------------------------------------


def test_nprs_one_to_zero_is_not_a_meaningful_improvement(therapist, client_record):
    complaint = create(therapist, client_record, pain_now=1)
    therapist.api.post(
        "/api/v1/outcomes/",
        {"complaint": complaint["id"], "instrument": "nprs", "answers": {"pain": 0}},
        format="json",
    )

    nprs = therapist.api.get(f"{detail(complaint['id'])}progress/").json()["instruments"]["nprs"]

    assert nprs["improvement_percent"] == 100
    assert nprs["meaningful"] is False


def test_the_practice_sets_its_own_mcid(owner, therapist, practice, client_record):
    complaint = create(therapist, client_record, pain_now=6)
    therapist.api.post(
        "/api/v1/outcomes/",
        {"complaint": complaint["id"], "instrument": "nprs", "answers": {"pain": 4}},
        format="json",
    )
    progress_url = f"{detail(complaint['id'])}progress/"
    assert therapist.api.get(progress_url).json()["instruments"]["nprs"]["meaningful"] is True

    response = owner.api.patch(
        "/api/v1/practice/", {"mcid_nprs": 3, "meaningful_percent": 50}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["mcid_nprs"], response.json()["meaningful_percent"]) == (3, 50)
    assert therapist.api.get(progress_url).json()["instruments"]["nprs"]["meaningful"] is False


def test_thresholds_default_to_the_domain_values_and_refuse_nonsense(owner, practice):
    data = owner.api.get("/api/v1/practice/").json()

    assert {k: data[k] for k in ("mcid_nprs", "mcid_odi", "mcid_rmdq", "meaningful_percent")} == {
        "mcid_nprs": 2,
        "mcid_odi": 10,
        "mcid_rmdq": 5,
        "meaningful_percent": 30,
    }
    assert (data["alert_follow_up_pain"], data["alert_pain_rise"]) == (8, 2)
    response = owner.api.patch("/api/v1/practice/", {"mcid_nprs": 0}, format="json")
    assert response.status_code == 400
    assert Practice.objects.get(pk=practice.pk).mcid_nprs == 2


def test_complaint_factory_rows_keep_working_without_screening(therapist, client_record):
    """Rows made outside the services (imports, old data) read back without the new fields."""
    complaint = ComplaintFactory(client=client_record)

    data = therapist.api.get(detail(complaint)).json()

    assert (data["referral_urgency"], data["referral_advice"], data["clearances"]) == (
        None,
        None,
        [],
    )


def test_a_yes_repeated_on_an_open_referral_alerts_once_and_again_after_clearance(
    therapist, client_record
):
    complaint = create(therapist, client_record, red_flags={"cancer_history": "yes"})
    url = detail(complaint["id"])
    therapist.api.patch(url, {"red_flags": {"cancer_history": "yes"}}, format="json")
    assert TherapistAlert.objects.filter(kind="red_flag").count() == 1

    therapist.api.post(f"{url}clear/", {"note": "Oncologist: no recurrence."})
    therapist.api.patch(url, {"red_flags": {"cancer_history": "yes"}}, format="json")

    alerts = therapist.api.get("/api/v1/alerts/", {"complaint": complaint["id"]}).json()
    assert [a["questions"] for a in alerts["results"]] == [["cancer_history"], ["cancer_history"]]
