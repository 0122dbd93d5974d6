"""Progress of a complaint against its baseline (API.md "Outcome answers"; DOMAIN.md 3).

`complaints/{id}/progress/` answers, per instrument, the series, baseline, latest and the change
verdicts; `progress.svg` draws the same as one panel per instrument, with the baseline line and
the band within one MCID of it, and nothing that names the client.
"""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from clients import services
from clients.models import Complaint, Outcome
from practice.models import Practice
from tests.factories import ClientFactory, ComplaintFactory, OutcomeFactory

SVG = "{http://www.w3.org/2000/svg}"
ENTRY_KEYS = {
    "baseline",
    "latest",
    "improvement",
    "improvement_percent",
    "meaningful",
    "beyond_error",
    "worse",
    "series",
}
# Winter in London: UTC and local days coincide unless a test says otherwise.
DAY_ONE = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def progress_url(complaint: Complaint | int) -> str:
    return f"/api/v1/complaints/{getattr(complaint, 'pk', complaint)}/progress/"


def svg_url(complaint: Complaint | int) -> str:
    return f"/api/v1/complaints/{getattr(complaint, 'pk', complaint)}/progress.svg"


def week(n: int) -> dt.datetime:
    return DAY_ONE + dt.timedelta(weeks=n)


def new_complaint(practice: Practice, client, *, pain_now: int, by=None) -> Complaint:
    """Through the service, so `pain_now` becomes the baseline NPRS; dated DAY_ONE."""
    complaint = services.create_complaint(
        practice=practice,
        client=client,
        created_by=by,
        regions=[{"region": "lumbar", "side": "left"}],
        onset_date=dt.date(2025, 12, 1),
        onset_type="gradual",
        mechanism="lifting",
        pain_now=pain_now,
    )
    Outcome.objects.filter(complaint=complaint).update(recorded_at=DAY_ONE, measured_at=DAY_ONE)
    return complaint


def record(complaint: Complaint, instrument: str, answers, when: dt.datetime, **extra) -> Outcome:
    practice = Practice.objects.get(pk=complaint.practice_id)
    return services.record_outcome(
        practice=practice,
        client=complaint.client,
        complaint=complaint,
        instrument=instrument,
        answers=answers,
        recorded_by=None,
        measured_at=when,
        **extra,
    )


def odi(total_of_nine: int) -> dict[str, int]:
    """Nine sections (sex_life skipped) adding up to `total_of_nine`."""
    sections = [
        "pain_intensity",
        "personal_care",
        "lifting",
        "walking",
        "sitting",
        "standing",
        "sleeping",
        "social_life",
        "travelling",
    ]
    values = [min(5, max(0, total_of_nine - 5 * index)) for index in range(9)]
    assert sum(values) == total_of_nine
    return dict(zip(sections, values, strict=True))


def rmdq(ticked: int) -> dict:
    return {"items": [True] * ticked + [False] * (24 - ticked)}


def psfs(sitting: int, walking: int) -> dict:
    return {
        "activities": [
            {"activity": "sitting", "score": sitting},
            {"activity": "walking", "score": walking},
        ]
    }


@pytest.fixture
def client_record(practice):
    return ClientFactory(practice=practice, first_name="Zebedee", last_name="Quill")


@pytest.fixture
def complaint(practice, client_record, therapist):
    return new_complaint(practice, client_record, pain_now=7, by=therapist.user)


@pytest.fixture
def licensed(practice):
    Practice.objects.filter(pk=practice.pk).update(odi_licensed=True)


# --- shape and the NPRS series ------------------------------------------------------------------


def test_nprs_progress_starts_from_the_complaints_pain_now(therapist, complaint):
    record(complaint, "nprs", {"pain": 6}, week(1))
    record(complaint, "nprs", {"pain": 5}, week(2))
    record(complaint, "nprs", {"pain": 4}, week(3))

    response = therapist.api.get(progress_url(complaint))

    assert response.status_code == 200
    assert response.json() == {
        "instruments": {
            "nprs": {
                "baseline": 7,
                "latest": 4,
                "improvement": 3,
                "improvement_percent": 42.9,  # 3 / 7
                "meaningful": True,
                "beyond_error": True,
                "worse": False,
                "series": [
                    {"date": "2026-01-05", "score": 7},
                    {"date": "2026-01-12", "score": 6},
                    {"date": "2026-01-19", "score": 5},
                    {"date": "2026-01-26", "score": 4},
                ],
            }
        }
    }


def test_baseline_from_a_complaint_created_through_the_api(therapist, client_record):
    created = therapist.api.post(
        "/api/v1/complaints/",
        {
            "client": client_record.pk,
            "regions": [{"region": "thoracic", "side": "right"}],
            "onset_date": "2025-11-01",
            "onset_type": "sudden",
            "mechanism": "fall",
            "red_flags": {"major_trauma": "no"},
            "pain_now": 8,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    complaint = Complaint.objects.get(pk=created.json()["id"])
    record(complaint, "nprs", {"pain": 7}, complaint.created_at + dt.timedelta(days=7))

    nprs = therapist.api.get(progress_url(complaint)).json()["instruments"]["nprs"]

    assert [point["score"] for point in nprs["series"]] == [8, 7]
    assert (nprs["baseline"], nprs["latest"], nprs["improvement"]) == (8, 7, 1)
    assert nprs["improvement_percent"] == 12.5
    assert (nprs["meaningful"], nprs["beyond_error"], nprs["worse"]) == (False, False, False)


def test_every_instrument_has_exactly_the_contract_keys(therapist, complaint, licensed):
    record(complaint, "odi", odi(20), week(0))
    record(complaint, "rmdq", rmdq(10), week(0))
    record(complaint, "psfs", psfs(3, 4), week(0))
    record(complaint, "groc", {"change": 2}, week(4))

    data = therapist.api.get(progress_url(complaint)).json()

    assert set(data) == {"instruments"}
    assert set(data["instruments"]) == {"nprs", "odi", "rmdq", "psfs", "groc"}
    for name, entry in data["instruments"].items():
        assert set(entry) == ENTRY_KEYS, name
        for point in entry["series"]:
            assert set(point) == {"date", "score"}
            dt.date.fromisoformat(point["date"])


def test_a_single_score_is_its_own_baseline_and_latest(therapist, complaint):
    nprs = therapist.api.get(progress_url(complaint)).json()["instruments"]["nprs"]

    assert (nprs["baseline"], nprs["latest"], nprs["improvement"]) == (7, 7, 0)
    assert nprs["improvement_percent"] == 0
    assert (nprs["meaningful"], nprs["beyond_error"], nprs["worse"]) == (False, False, False)


def test_a_complaint_without_outcomes_has_no_instruments(therapist, client_record):
    bare = ComplaintFactory(client=client_record)

    response = therapist.api.get(progress_url(bare))

    assert response.status_code == 200
    assert response.json() == {"instruments": {}}


def test_outcomes_of_another_complaint_stay_out(therapist, complaint, client_record):
    other = new_complaint(complaint.practice, client_record, pain_now=2)
    record(other, "nprs", {"pain": 0}, week(1))

    nprs = therapist.api.get(progress_url(complaint)).json()["instruments"]["nprs"]

    assert [point["score"] for point in nprs["series"]] == [7]


def test_series_is_in_the_order_recorded_not_the_order_written(therapist, complaint):
    record(complaint, "nprs", {"pain": 3}, week(3))
    record(complaint, "nprs", {"pain": 5}, week(1))

    nprs = therapist.api.get(progress_url(complaint)).json()["instruments"]["nprs"]

    assert [point["score"] for point in nprs["series"]] == [7, 5, 3]
    assert nprs["latest"] == 3


def test_nprs_compares_like_with_like(therapist, complaint):
    # DOMAIN.md 3: only "now" readings form the series; worst/best of 24 h and a post-session
    # reading would make the line jump for reasons that are not change.
    record(complaint, "nprs", {"pain": 9}, week(1), context="worst_24h")
    record(complaint, "nprs", {"pain": 1}, week(1), context="post_session")
    record(complaint, "nprs", {"pain": 6}, week(2))

    nprs = therapist.api.get(progress_url(complaint)).json()["instruments"]["nprs"]

    assert [point["score"] for point in nprs["series"]] == [7, 6]
    assert nprs["latest"] == 6


def test_series_dates_are_the_practices_days(therapist, practice, client_record):
    # 23:30 UTC on 1 July is already 2 July in London (BST).
    complaint = new_complaint(practice, client_record, pain_now=6)
    record(complaint, "nprs", {"pain": 5}, dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC))

    series = therapist.api.get(progress_url(complaint)).json()["instruments"]["nprs"]["series"]

    assert series[-1] == {"date": "2026-07-02", "score": 5}


# --- per instrument: direction, percent, the verdicts -------------------------------------------


def test_odi_progress_uses_the_percent_not_the_raw_sum(therapist, complaint, licensed):
    record(complaint, "odi", odi(20), week(0))  # 20 / 45 -> 44.4 %
    record(complaint, "odi", odi(16), week(3))  # 16 / 45 -> 35.6 %
    record(complaint, "odi", {**odi(9), "sex_life": 3}, week(6))  # 12 / 50 -> 24.0 %

    entry = therapist.api.get(progress_url(complaint)).json()["instruments"]["odi"]

    assert [point["score"] for point in entry["series"]] == [44.4, 35.6, 24.0]
    assert entry["baseline"] == 44.4
    assert entry["latest"] == 24.0
    assert entry["improvement"] == pytest.approx(20.4)
    assert entry["improvement_percent"] == 45.9  # 20.4 / 44.4
    assert (entry["meaningful"], entry["beyond_error"], entry["worse"]) == (True, True, False)


def test_odi_small_drop_is_not_meaningful(therapist, complaint, licensed):
    record(complaint, "odi", {**odi(20), "sex_life": 0}, week(0))  # 40 %
    record(complaint, "odi", {**odi(16), "sex_life": 0}, week(4))  # 32 %

    entry = therapist.api.get(progress_url(complaint)).json()["instruments"]["odi"]

    assert entry["improvement"] == 8
    assert entry["improvement_percent"] == 20
    assert (entry["meaningful"], entry["beyond_error"], entry["worse"]) == (False, False, False)


def test_psfs_improvement_is_positive_when_the_client_does_more(therapist, complaint):
    record(complaint, "psfs", psfs(3, 3), week(0))  # 3.0
    record(complaint, "psfs", psfs(5, 6), week(4))  # 5.5

    entry = therapist.api.get(progress_url(complaint)).json()["instruments"]["psfs"]

    assert [point["score"] for point in entry["series"]] == [3.0, 5.5]
    assert entry["improvement"] == 2.5
    assert entry["improvement_percent"] == 83.3
    assert (entry["meaningful"], entry["beyond_error"], entry["worse"]) == (True, True, False)


def test_zero_baseline_has_a_null_percent(therapist, practice, client_record):
    complaint = new_complaint(practice, client_record, pain_now=0)
    record(complaint, "nprs", {"pain": 3}, week(2))

    entry = therapist.api.get(progress_url(complaint)).json()["instruments"]["nprs"]

    assert entry["baseline"] == 0
    assert entry["improvement"] == -3
    assert entry["improvement_percent"] is None
    assert entry["meaningful"] is False
    assert entry["worse"] is True


def test_psfs_zero_baseline_has_a_null_percent(therapist, complaint):
    record(complaint, "psfs", psfs(0, 0), week(0))
    record(complaint, "psfs", psfs(4, 3), week(4))

    entry = therapist.api.get(progress_url(complaint)).json()["instruments"]["psfs"]

    assert entry["improvement"] == 3.5
    assert entry["improvement_percent"] is None
    assert entry["meaningful"] is True


def test_rising_disability_is_flagged_worse(therapist, complaint):
    record(complaint, "rmdq", rmdq(10), week(0))
    record(complaint, "rmdq", rmdq(12), week(2))
    record(complaint, "rmdq", rmdq(16), week(4))

    entry = therapist.api.get(progress_url(complaint)).json()["instruments"]["rmdq"]

    assert (entry["baseline"], entry["latest"], entry["improvement"]) == (10, 16, -6)
    assert entry["improvement_percent"] == -60
    assert (entry["meaningful"], entry["beyond_error"], entry["worse"]) == (False, False, True)


def test_rmdq_thirty_percent_within_the_measurement_error_is_not_meaningful(therapist, complaint):
    record(complaint, "rmdq", rmdq(12), week(0))
    record(complaint, "rmdq", rmdq(8), week(4))  # 4 points (< MCID 5, < MDC 5) but 33.3 %

    entry = therapist.api.get(progress_url(complaint)).json()["instruments"]["rmdq"]

    assert entry["improvement_percent"] == 33.3
    assert entry["meaningful"] is False  # issue 12.13: 30 % inside the error is not a change
    assert entry["beyond_error"] is False


def test_groc_has_no_mdc_so_beyond_error_is_null(therapist, complaint):
    record(complaint, "groc", {"change": 5}, week(4))

    entry = therapist.api.get(progress_url(complaint)).json()["instruments"]["groc"]

    # GROC rates change "since treatment began" (DOMAIN.md 3): its reference is 0, no change.
    assert (entry["baseline"], entry["latest"], entry["improvement"]) == (0, 5, 5)
    assert entry["improvement_percent"] is None
    assert entry["meaningful"] is True
    assert entry["beyond_error"] is None
    assert [point["score"] for point in entry["series"]] == [5]


# --- cost: constant in the length of the series -------------------------------------------------

# Budget beyond the one authentication query (token + user + membership + practice, joined):
# the complaint, its red-flag prefetch, the outcomes, and the one access-log INSERT.
AUTH_QUERIES = 1
PROGRESS_QUERIES = 4


def add_sessions(complaint: Complaint, sessions: int) -> None:
    """What `sessions` visits leave behind: NPRS before and after each, disability and function
    every fourth session (DOMAIN.md 3 schedule)."""
    rows = []
    for n in range(sessions):
        when = week(1) + dt.timedelta(days=3 * n)
        rows.append(OutcomeFactory.build(complaint=complaint, recorded_at=when, score=5))
        rows.append(
            OutcomeFactory.build(
                complaint=complaint, recorded_at=when, score=3, context="post_session"
            )
        )
        if n % 4 == 0:
            rows.append(
                OutcomeFactory.build(
                    complaint=complaint,
                    instrument="rmdq",
                    answers=rmdq(n % 24),
                    score=n % 24,
                    recorded_at=when,
                )
            )
            rows.append(
                OutcomeFactory.build(
                    complaint=complaint,
                    instrument="odi",
                    answers=odi(20),
                    score=20,
                    score_percent=Decimal("44.4"),
                    recorded_at=when,
                )
            )
    Outcome.objects.bulk_create(rows)


def test_progress_costs_the_same_queries_for_3_and_40_sessions(
    therapist, practice, client_record, django_assert_num_queries, django_assert_max_num_queries
):
    short = new_complaint(practice, client_record, pain_now=7)
    long = new_complaint(practice, client_record, pain_now=7)
    add_sessions(short, 3)
    add_sessions(long, 40)
    therapist.api.get(progress_url(short))  # warm per-process caches (content types, ...)

    with django_assert_max_num_queries(AUTH_QUERIES + PROGRESS_QUERIES) as few:
        response = therapist.api.get(progress_url(short))
    assert response.status_code == 200
    assert len(response.json()["instruments"]["nprs"]["series"]) == 1 + 3

    with django_assert_num_queries(len(few.captured_queries)):
        response = therapist.api.get(progress_url(long))
    assert response.status_code == 200
    assert len(response.json()["instruments"]["nprs"]["series"]) == 1 + 40
    assert len(response.json()["instruments"]["rmdq"]["series"]) == 10


def test_progress_svg_costs_the_same_queries_for_3_and_40_sessions(
    therapist, practice, client_record, django_assert_num_queries, django_assert_max_num_queries
):
    short = new_complaint(practice, client_record, pain_now=7)
    long = new_complaint(practice, client_record, pain_now=7)
    add_sessions(short, 3)
    add_sessions(long, 40)
    therapist.api.get(svg_url(short))

    with django_assert_max_num_queries(AUTH_QUERIES + PROGRESS_QUERIES) as few:
        assert therapist.api.get(svg_url(short)).status_code == 200
    with django_assert_num_queries(len(few.captured_queries)):
        assert therapist.api.get(svg_url(long)).status_code == 200


# --- who may read it ----------------------------------------------------------------------------


@pytest.fixture
def own_complaint(practice, client_member):
    complaint = new_complaint(practice, client_member.user.client, pain_now=6)
    record(complaint, "nprs", {"pain": 3}, week(2))
    return complaint


def test_client_reads_the_progress_of_their_own_complaint(client_member, own_complaint):
    response = client_member.api.get(progress_url(own_complaint))

    assert response.status_code == 200
    assert response.json()["instruments"]["nprs"]["improvement"] == 3
    svg = client_member.api.get(svg_url(own_complaint))
    assert svg.status_code == 200
    assert svg["Content-Type"].startswith("image/svg+xml")


def test_client_cannot_read_someone_elses_progress(client_member, own_complaint, complaint):
    for url in (progress_url(complaint), svg_url(complaint)):
        response = client_member.api.get(url)
        assert response.status_code == 404
        assert b"instruments" not in response.content
        assert b"<svg" not in response.content


def test_front_desk_is_403_for_progress_and_its_chart(front_desk, complaint):
    for url in (progress_url(complaint), svg_url(complaint)):
        response = front_desk.api.get(url)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_another_practice_is_404_for_progress_and_its_chart(other_owner, complaint):
    for url in (progress_url(complaint), svg_url(complaint)):
        assert other_owner.api.get(url).status_code == 404


def test_unknown_complaint_is_404(therapist):
    assert therapist.api.get(progress_url(999_999)).status_code == 404
    assert therapist.api.get(svg_url(999_999)).status_code == 404


def test_progress_is_read_only(therapist, complaint):
    assert therapist.api.post(progress_url(complaint), {}, format="json").status_code == 405


# --- progress.svg -------------------------------------------------------------------------------


def parse_svg(content: bytes) -> ET.Element:
    return ET.fromstring(content)  # noqa: S314 - the chart this test suite's server just drew


def elements(root: ET.Element, tag: str, css_class: str) -> list[ET.Element]:
    return [
        element
        for element in root.iter(f"{SVG}{tag}")
        if css_class in element.get("class", "").split()
    ]


@pytest.fixture
def charted(complaint, licensed):
    record(complaint, "nprs", {"pain": 5}, week(2))
    record(complaint, "nprs", {"pain": 3}, week(4))
    record(complaint, "rmdq", rmdq(12), week(0))
    record(complaint, "rmdq", rmdq(9), week(4))
    record(complaint, "psfs", psfs(2, 4), week(0))
    return complaint


def test_progress_svg_is_an_svg_document(therapist, charted):
    response = therapist.api.get(svg_url(charted))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    root = parse_svg(response.content)
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width")) > 0
    assert float(root.get("height")) > 0


def test_progress_svg_has_one_panel_per_instrument_with_baseline_and_mcid_band(therapist, charted):
    root = parse_svg(therapist.api.get(svg_url(charted)).content)

    titles = [element.text for element in elements(root, "text", "title")]
    assert len(titles) == 3
    assert [title.split()[0] for title in titles] == ["NPRS", "RMDQ", "PSFS"]
    baselines = elements(root, "line", "baseline")
    bands = elements(root, "rect", "band")
    assert len(baselines) == 3
    assert len(bands) == 3
    for line, band in zip(baselines, bands, strict=True):
        # The baseline is level and lies inside its MCID band.
        assert line.get("y1") == line.get("y2")
        top, height = float(band.get("y")), float(band.get("height"))
        assert height > 0
        assert top <= float(line.get("y1")) <= top + height
    # One dot per score: NPRS 7, 5, 3; RMDQ 12, 9; PSFS 3.0.
    assert len(elements(root, "circle", "dot")) == 6
    assert len(elements(root, "polyline", "series")) == 3


def test_progress_svg_dots_follow_the_series(therapist, charted):
    root = parse_svg(therapist.api.get(svg_url(charted)).content)

    labels = [dot.find(f"{SVG}title").text for dot in elements(root, "circle", "dot")]

    assert labels[:3] == ["2026-01-05: 7", "2026-01-19: 5", "2026-02-02: 3"]


def test_progress_svg_names_no_client(therapist, charted, client_record):
    client_record.email = "zebedee.quill@example.com"
    client_record.save()

    content = therapist.api.get(svg_url(charted)).content.decode()

    for private in ("Zebedee", "Quill", "zebedee.quill", "@example.com"):
        assert private not in content


def test_progress_svg_without_outcomes_is_still_a_valid_chart(therapist, client_record):
    bare = ComplaintFactory(client=client_record)

    response = therapist.api.get(svg_url(bare))

    assert response.status_code == 200
    root = parse_svg(response.content)
    assert elements(root, "line", "baseline") == []
    assert "No outcome scores yet." in response.content.decode()


# --- a chart a therapist reads at a glance (issue 15) -----------------------------------------


def dot_xs(root: ET.Element) -> list[float]:
    return [float(dot.get("cx")) for dot in elements(root, "circle", "dot")]


def test_progress_svg_spaces_points_by_date(therapist, complaint):
    record(complaint, "nprs", {"pain": 6}, week(1))
    record(complaint, "nprs", {"pain": 5}, week(2))
    record(complaint, "nprs", {"pain": 3}, week(10))

    root = parse_svg(therapist.api.get(svg_url(complaint)).content)

    baseline, one, two, ten = dot_xs(root)
    week_width = (ten - baseline) / 10
    assert one - baseline == pytest.approx(week_width, abs=1)
    assert ten - two == pytest.approx(8 * week_width, abs=1)
    labels = [text.text for text in elements(root, "text", "axis")]
    assert "05 Jan" in labels
    assert "16 Mar" in labels  # week 10


def test_several_readings_on_one_day_stay_apart_and_in_order(therapist, complaint):
    record(complaint, "nprs", {"pain": 5}, week(4))
    record(complaint, "nprs", {"pain": 4}, week(4) + dt.timedelta(minutes=30))
    record(complaint, "nprs", {"pain": 6}, week(4) + dt.timedelta(hours=2))
    record(complaint, "nprs", {"pain": 3}, week(12))

    root = parse_svg(therapist.api.get(svg_url(complaint)).content)

    xs = dot_xs(root)
    same_day = xs[1:4]
    assert all(later - earlier >= 10 for earlier, later in itertools.pairwise(same_day))
    # Apart, yet still a cluster on its day: eight weeks later is much further on.
    assert xs[4] - xs[3] > 4 * (xs[3] - xs[1])
    labels = [dot.find(f"{SVG}title").text for dot in elements(root, "circle", "dot")]
    assert labels[1:4] == ["2026-02-02: 5", "2026-02-02: 4", "2026-02-02: 6"]


def test_progress_svg_says_in_the_picture_what_the_band_means(therapist, charted):
    root = parse_svg(therapist.api.get(svg_url(charted)).content)

    visible = [text.text or "" for text in root.iter(f"{SVG}text")]
    assert sum("within one MCID of baseline" in text for text in visible) >= 3  # legend + panels
    assert any("minimal clinically important difference" in text for text in visible)


def test_progress_svg_names_the_client_by_initials_and_the_complaint_by_region(
    therapist, charted, client_record
):
    client_record.date_of_birth = dt.date(1971, 4, 23)
    client_record.save()

    content = therapist.api.get(svg_url(charted)).content.decode()
    root = parse_svg(content.encode())

    heading = elements(root, "text", "heading")[0].text
    assert heading == "Progress of Z.Q., lumbar (left)"
    for private in ("Zebedee", "Quill", "1971", "@"):
        assert private not in content


def test_progress_svg_marks_post_session_scores_apart_from_the_series(therapist, complaint):
    record(complaint, "nprs", {"pain": 6}, week(1))
    record(complaint, "nprs", {"pain": 3}, week(1) + dt.timedelta(hours=1), context="post_session")
    record(complaint, "nprs", {"pain": 5}, week(2))

    root = parse_svg(therapist.api.get(svg_url(complaint)).content)

    after = elements(root, "path", "post")
    assert [mark.find(f"{SVG}title").text for mark in after] == ["2026-01-12: 3 after the session"]
    assert len(elements(root, "circle", "dot")) == 3  # baseline, week 1, week 2
    line = elements(root, "polyline", "series")[0].get("points").split()
    assert len(line) == 3  # the post-session score is not joined to the before-session line
    # ...nor does it change the verdict: latest is the week-2 score.
    progress = therapist.api.get(progress_url(complaint)).json()["instruments"]["nprs"]
    assert progress["latest"] == 5
