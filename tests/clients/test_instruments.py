"""Scoring and change rules of the outcome measures, as pure functions (DOMAIN.md 3).

Every expected value here is worked out by hand from DOMAIN.md 3, not read back from the code:
NPRS and GROC are the answer, ODI is `sum / (5 × answered) × 100`, RMDQ counts ticks, PSFS is the
mean rounded to one decimal. Nothing is clipped or imputed: a bad answer is an AnswerError.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from clients.instruments import AnswerError, Thresholds, change, score

# DOMAIN.md 3, "ODI": the ten sections, in the questionnaire's order.
ODI_SECTIONS = (
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
)


def odi(values: list[int], skip: tuple[str, ...] = ()) -> dict[str, int]:
    """ODI answers: `values` go, in order, to the sections not skipped."""
    sections = [name for name in ODI_SECTIONS if name not in skip]
    assert len(values) == len(sections)
    return dict(zip(sections, values, strict=True))


def rmdq(ticked: int) -> dict[str, list[bool]]:
    return {"items": [True] * ticked + [False] * (24 - ticked)}


def psfs(*scores: int) -> dict[str, list[dict]]:
    names = ["sitting", "walking", "lifting", "gardening", "driving"]
    return {
        "activities": [
            {"activity": name, "score": value} for name, value in zip(names, scores, strict=False)
        ]
    }


def rejects(instrument: str, answers, field: str | None = None) -> AnswerError:
    with pytest.raises(AnswerError) as caught:
        score(instrument, answers)
    if field is not None:
        assert caught.value.field == field
    return caught.value


# --- hand-computed scores -----------------------------------------------------------------------


@pytest.mark.parametrize("pain", [0, 1, 7, 10])
def test_nprs_score_is_the_answer(pain):
    result = score("nprs", {"pain": pain})

    assert result.score == Decimal(pain)
    assert result.percent is None


def test_odi_with_all_ten_sections_is_the_sum_times_two_percent():
    # 3+2+4+1+2+3+2+0+1+2 = 20 of 50 -> 40 %.
    result = score("odi", odi([3, 2, 4, 1, 2, 3, 2, 0, 1, 2]))

    assert result.score == Decimal(20)
    assert result.percent == Decimal("40.0")


@pytest.mark.parametrize(
    ("values", "percent"),
    [([0] * 10, Decimal("0.0")), ([5] * 10, Decimal("100.0")), ([1] * 10, Decimal("20.0"))],
)
def test_odi_ends_and_middle_of_the_scale(values, percent):
    assert score("odi", odi(values)).percent == percent


def test_odi_with_sex_life_skipped_divides_by_45_not_50():
    # Nine sections, sum 20: 20 / 45 × 100 = 44.44 %, not the 40 % that sum × 2 would give.
    result = score("odi", odi([3, 2, 4, 1, 2, 3, 2, 1, 2], skip=("sex_life",)))

    assert result.score == Decimal(20)
    assert result.percent == Decimal("44.4")


def test_odi_skipped_section_rounds_half_a_tenth_up():
    # Nine sections, sum 21: 21 / 45 × 100 = 46.67 %.
    result = score("odi", odi([3, 3, 4, 1, 2, 3, 2, 1, 2], skip=("sex_life",)))

    assert result.percent == Decimal("46.7")


def test_odi_with_eight_sections_divides_by_40():
    # DOMAIN.md 3: each missing section shrinks the denominator by 5; 8 answered is still enough.
    result = score("odi", odi([2] * 8, skip=("sex_life", "travelling")))

    assert result.score == Decimal(16)
    assert result.percent == Decimal("40.0")


def test_odi_with_seven_sections_is_refused_not_imputed():
    rejects("odi", odi([2] * 7, skip=("sex_life", "travelling", "lifting")))


def test_odi_with_no_sections_is_refused():
    rejects("odi", {})


@pytest.mark.parametrize(("ticked", "expected"), [(0, 0), (1, 1), (7, 7), (24, 24)])
def test_rmdq_counts_the_ticked_items(ticked, expected):
    assert score("rmdq", rmdq(ticked)).score == Decimal(expected)


def test_rmdq_counts_ticks_wherever_they_are():
    items = [index % 3 == 0 for index in range(24)]  # 0, 3, ..., 21: eight ticks

    assert score("rmdq", {"items": items}).score == Decimal(8)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ((7,), "7.0"),
        ((3, 4, 5), "4.0"),
        ((1, 2), "1.5"),
        ((2, 3, 3), "2.7"),  # 8 / 3 = 2.67
        ((1, 1, 1, 2), "1.3"),  # 5 / 4 = 1.25: half up, where round-half-even would give 1.2
        ((3, 3, 3, 4), "3.3"),  # 13 / 4 = 3.25
        ((0, 1, 1, 1), "0.8"),  # 3 / 4 = 0.75
        ((2, 2, 2, 2, 3), "2.2"),  # 11 / 5
        ((0, 0, 0, 0, 0), "0.0"),
        ((10, 10, 10, 10, 10), "10.0"),
    ],
)
def test_psfs_is_the_mean_rounded_to_one_decimal(scores, expected):
    result = score("psfs", psfs(*scores))

    assert result.score == Decimal(expected)
    assert str(result.score) == expected
    assert result.percent is None


@pytest.mark.parametrize("value", [-7, -1, 0, 3, 7])
def test_groc_score_is_the_answer(value):
    assert score("groc", {"change": value}).score == Decimal(value)


# --- refused answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("pain", [-1, 11, 100, True, False, 5.0, 4.5, "5", None, [5], {"v": 5}])
def test_nprs_out_of_range_or_not_a_whole_number_is_refused(pain):
    rejects("nprs", {"pain": pain}, field="pain")


@pytest.mark.parametrize("value", [-1, 6, True, 2.0, "3", None])
def test_odi_section_out_of_range_or_of_the_wrong_type_is_refused(value):
    answers = odi([1] * 10)
    answers["walking"] = value

    rejects("odi", answers, field="walking")


def test_odi_unknown_section_is_refused():
    # The Modified Oswestry's employment item is another instrument (DOMAIN.md 3).
    answers = {**odi([1] * 9, skip=("sex_life",)), "employment": 2}

    rejects("odi", answers, field="employment")


@pytest.mark.parametrize("length", [0, 23, 25, 18, 11])
def test_rmdq_of_the_wrong_length_is_refused(length):
    rejects("rmdq", {"items": [False] * length}, field="items")


@pytest.mark.parametrize("item", [1, 0, "true", None, 1.0])
def test_rmdq_items_must_be_booleans(item):
    items: list = [False] * 24
    items[5] = item

    rejects("rmdq", {"items": items}, field="items.5")


@pytest.mark.parametrize("items", [None, "x" * 24, {"0": True}, 24])
def test_rmdq_items_must_be_a_list(items):
    rejects("rmdq", {"items": items}, field="items")


@pytest.mark.parametrize("value", [-1, 11, True, 5.5, "7", None])
def test_psfs_activity_score_out_of_range_or_of_the_wrong_type_is_refused(value):
    answers = psfs(4, 5)
    answers["activities"][1]["score"] = value

    rejects("psfs", answers, field="activities.1.score")


@pytest.mark.parametrize(
    "activities",
    [
        [],
        [{"activity": f"activity {n}", "score": 5} for n in range(6)],
        "sitting",
        None,
    ],
)
def test_psfs_needs_one_to_five_activities(activities):
    rejects("psfs", {"activities": activities}, field="activities")


@pytest.mark.parametrize(
    "entry",
    [
        {"activity": "", "score": 4},
        {"activity": "   ", "score": 4},
        {"activity": 12, "score": 4},
        {"activity": "x" * 201, "score": 4},
        {"score": 4},
        {"activity": "sitting"},
        {"activity": "walking", "score": 4, "weight": 2},
        "walking",
    ],
)
def test_psfs_activity_must_name_one_activity_and_its_score(entry):
    rejects("psfs", {"activities": [{"activity": "sitting", "score": 3}, entry]})


def test_psfs_same_activity_twice_is_refused():
    answers = {
        "activities": [{"activity": "Sitting", "score": 3}, {"activity": " sitting ", "score": 5}]
    }

    rejects("psfs", answers, field="activities.1.activity")


@pytest.mark.parametrize("value", [-8, 8, True, 3.0, "+3"])
def test_groc_outside_minus_seven_to_seven_is_refused(value):
    rejects("groc", {"change": value}, field="change")


@pytest.mark.parametrize(
    ("instrument", "answers", "field"),
    [
        ("nprs", {"pain": 4, "context": "now"}, "context"),
        ("nprs", {"pain": 4, "score": 4}, "score"),
        ("rmdq", {**rmdq(3), "version": "24"}, "version"),
        ("psfs", {**psfs(4), "mean": 4}, "mean"),
        ("groc", {"change": 2, "pain": 2}, "pain"),
        # Answers of another instrument are unknown keys too.
        ("nprs", {"change": 3}, "change"),
        ("groc", {"pain": 3}, "pain"),
        ("odi", {"pain": 3}, "pain"),
        ("rmdq", {"pain": 3}, "pain"),
    ],
)
def test_unknown_keys_are_refused(instrument, answers, field):
    rejects(instrument, answers, field=field)


@pytest.mark.parametrize(
    ("instrument", "field"), [("nprs", "pain"), ("rmdq", "items"), ("psfs", "activities")]
)
def test_a_missing_answer_is_refused_not_imputed(instrument, field):
    rejects(instrument, {}, field=field)


@pytest.mark.parametrize("instrument", ["nprs", "odi", "rmdq", "psfs", "groc"])
@pytest.mark.parametrize("answers", [None, [], 5, "pain=4", [{"pain": 4}]])
def test_answers_must_be_an_object(instrument, answers):
    rejects(instrument, answers)


def test_unknown_instrument_is_refused():
    rejects("ndi", {"pain": 3}, field="instrument")


# --- change rules -------------------------------------------------------------------------------


def test_nprs_drop_beyond_mcid_is_a_meaningful_improvement():
    result = change("nprs", Decimal(8), Decimal(5))

    assert result.improvement == Decimal(3)
    assert result.improvement_percent == Decimal("37.5")
    assert result.meaningful is True
    assert result.beyond_error is True
    assert result.worse is False


def test_nprs_small_drop_is_not_meaningful():
    # 8 -> 7: one point (< MCID 2) and 12.5 % (< 30 %).
    result = change("nprs", Decimal(8), Decimal(7))

    assert result.improvement == Decimal(1)
    assert result.improvement_percent == Decimal("12.5")
    assert (result.meaningful, result.beyond_error, result.worse) == (False, False, False)


@pytest.mark.parametrize(("baseline", "latest"), [(3, 2), (1, 0)])
def test_thirty_percent_within_the_measurement_error_is_not_meaningful(baseline, latest):
    # 3 -> 2 is 33 %, 1 -> 0 is 100 %, but one point is inside NPRS's MDC of 2 (issue 12.13).
    result = change("nprs", Decimal(baseline), Decimal(latest))

    assert result.improvement == Decimal(1)
    assert result.improvement_percent >= 30
    assert result.meaningful is False
    assert result.beyond_error is False


def test_thirty_percent_beyond_the_error_is_meaningful_below_a_practice_mcid():
    # ODI 40 % -> 28 %: 12 points (>= MDC 10), 30 %; a practice MCID of 15 is not reached.
    thresholds = Thresholds(mcid={"odi": Decimal(15)})

    result = change("odi", Decimal(40), Decimal(28), thresholds)

    assert result.meaningful is True
    assert (
        change(
            "odi",
            Decimal(40),
            Decimal(28),
            Thresholds(mcid={"odi": Decimal(15)}, meaningful_percent=Decimal(50)),
        ).meaningful
        is False
    )


def test_nprs_improvement_of_exactly_the_mcid_counts():
    # 10 -> 8: 2 points = MCID and MDC; 20 %.
    result = change("nprs", Decimal(10), Decimal(8))

    assert result.improvement_percent == Decimal("20.0")
    assert result.meaningful is True
    assert result.beyond_error is True


@pytest.mark.parametrize(
    ("baseline", "latest", "worse"), [(5, 7, True), (5, 6, False), (2, 8, True), (5, 5, False)]
)
def test_nprs_worse_is_a_rise_of_at_least_the_mcid(baseline, latest, worse):
    result = change("nprs", Decimal(baseline), Decimal(latest))

    assert result.improvement == Decimal(baseline - latest)
    assert result.worse is worse
    assert result.meaningful is False
    assert result.beyond_error is False


def test_nprs_rise_gives_a_negative_percent():
    result = change("nprs", Decimal(5), Decimal(7))

    assert result.improvement_percent == Decimal("-40.0")


@pytest.mark.parametrize(("latest", "worse"), [(0, False), (1, False), (3, True)])
def test_zero_baseline_has_no_percent(latest, worse):
    result = change("nprs", Decimal(0), Decimal(latest))

    assert result.improvement_percent is None
    assert result.improvement == Decimal(-latest)
    assert result.meaningful is False
    assert result.worse is worse


def test_psfs_improvement_is_positive_when_the_score_rises():
    # 3.0 -> 5.5: +2.5 (>= MCID 2, >= MDC 2); 83.3 %.
    result = change("psfs", Decimal("3.0"), Decimal("5.5"))

    assert result.improvement == Decimal("2.5")
    assert result.improvement_percent == Decimal("83.3")
    assert (result.meaningful, result.beyond_error, result.worse) == (True, True, False)


def test_psfs_falling_score_is_worse():
    result = change("psfs", Decimal(6), Decimal(4))

    assert result.improvement == Decimal(-2)
    assert result.improvement_percent == Decimal("-33.3")
    assert (result.meaningful, result.beyond_error, result.worse) == (False, False, True)


def test_psfs_zero_baseline_has_no_percent_but_can_be_meaningful():
    # Unable to do anything at baseline: the percent is undefined, the MCID still judges.
    result = change("psfs", Decimal(0), Decimal("2.5"))

    assert result.improvement_percent is None
    assert result.meaningful is True


@pytest.mark.parametrize(
    ("baseline", "latest", "meaningful", "beyond_error"),
    [
        ("40.0", "32.0", False, False),  # 8 points, 20 %
        ("40.0", "30.0", True, True),  # 10 points = MCID and MDC
        ("20.0", "14.0", False, False),  # 30 %, but 6 points are inside the MDC (10)
        ("60.0", "44.4", True, True),  # 15.6 points, 26 %
    ],
)
def test_odi_is_judged_on_percent_points(baseline, latest, meaningful, beyond_error):
    result = change("odi", Decimal(baseline), Decimal(latest))

    assert result.improvement == Decimal(baseline) - Decimal(latest)
    assert result.meaningful is meaningful
    assert result.beyond_error is beyond_error
    assert result.worse is False


def test_odi_rise_of_ten_points_is_worse():
    assert change("odi", Decimal("30.0"), Decimal("40.0")).worse is True
    assert change("odi", Decimal("30.0"), Decimal("39.9")).worse is False


@pytest.mark.parametrize(
    ("baseline", "latest", "meaningful", "beyond_error", "worse"),
    [
        (20, 16, False, False, False),  # 4 points, 20 %
        (12, 8, False, False, False),  # 33.3 %, but 4 points are inside the MDC (5)
        (20, 15, True, True, False),  # 5 points = MCID
        (10, 16, False, False, True),  # 6 points worse
    ],
)
def test_rmdq_change(baseline, latest, meaningful, beyond_error, worse):
    result = change("rmdq", Decimal(baseline), Decimal(latest))

    assert result.improvement == Decimal(baseline - latest)
    assert (result.meaningful, result.beyond_error, result.worse) == (
        meaningful,
        beyond_error,
        worse,
    )


def test_groc_has_no_mdc_so_beyond_error_is_null():
    # DOMAIN.md 3: GROC has no MDC ("—"); it rates change itself, from "no change" (0).
    result = change("groc", Decimal(0), Decimal(5))

    assert result.improvement == Decimal(5)
    assert result.improvement_percent is None
    assert result.beyond_error is None


def test_change_reports_its_baseline_and_latest():
    result = change("rmdq", Decimal(14), Decimal(9))

    assert (result.baseline, result.latest) == (Decimal(14), Decimal(9))


# --- properties ---------------------------------------------------------------------------------

odi_answers = st.sets(st.sampled_from(ODI_SECTIONS), min_size=8, max_size=10).flatmap(
    lambda sections: st.fixed_dictionaries(
        {name: st.integers(min_value=0, max_value=5) for name in sorted(sections)}
    )
)
rmdq_items = st.lists(st.booleans(), min_size=24, max_size=24)
psfs_scores = st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=5)


@given(pain=st.integers(min_value=0, max_value=10))
def test_any_valid_nprs_scores_in_range(pain):
    assert Decimal(0) <= score("nprs", {"pain": pain}).score <= Decimal(10)


@given(pain=st.integers().filter(lambda n: not 0 <= n <= 10))
def test_any_nprs_outside_zero_to_ten_is_refused(pain):
    rejects("nprs", {"pain": pain}, field="pain")


@given(answers=odi_answers)
def test_any_valid_odi_is_a_percent_of_its_answered_sections(answers):
    result = score("odi", answers)

    assert result.score == sum(answers.values())
    assert result.percent is not None
    assert Decimal(0) <= result.percent <= Decimal(100)
    exact = Decimal(sum(answers.values()) * 100) / Decimal(5 * len(answers))
    assert abs(result.percent - exact) <= Decimal("0.05")


@given(answers=odi_answers, data=st.data())
def test_raising_one_odi_answer_never_lowers_the_score(answers, data):
    raisable = sorted(name for name, value in answers.items() if value < 5)
    assume(raisable)
    section = data.draw(st.sampled_from(raisable))
    raised = {**answers, section: answers[section] + 1}

    before, after = score("odi", answers), score("odi", raised)

    assert after.score == before.score + 1
    assert after.percent is not None
    assert before.percent is not None
    assert after.percent > before.percent


@given(
    values=st.lists(st.integers(min_value=0, max_value=5), min_size=8, max_size=8),
    extra=st.integers(min_value=0, max_value=5),
)
def test_answering_a_skipped_odi_section_keeps_the_percent_in_range(values, extra):
    eight = odi(values, skip=("sex_life", "travelling"))
    nine = {**eight, "travelling": extra}

    assert Decimal(0) <= score("odi", nine).percent <= Decimal(100)
    assert score("odi", nine).score == score("odi", eight).score + extra


@given(items=rmdq_items)
def test_any_valid_rmdq_is_the_count_of_ticks(items):
    result = score("rmdq", {"items": items})

    assert result.score == items.count(True)
    assert Decimal(0) <= result.score <= Decimal(24)


@given(items=rmdq_items, data=st.data())
def test_ticking_one_more_rmdq_item_never_lowers_the_score(items, data):
    unticked = [index for index, item in enumerate(items) if not item]
    assume(unticked)
    index = data.draw(st.sampled_from(unticked))
    ticked = [*items[:index], True, *items[index + 1 :]]

    assert score("rmdq", {"items": ticked}).score == score("rmdq", {"items": items}).score + 1


@given(scores=psfs_scores)
def test_any_valid_psfs_is_its_mean_to_one_decimal(scores):
    result = score("psfs", psfs(*scores)).score

    assert Decimal(0) <= result <= Decimal(10)
    assert result == result.quantize(Decimal("0.1"))
    exact = Decimal(sum(scores)) / Decimal(len(scores))
    assert abs(result - exact) <= Decimal("0.05")


@given(change_value=st.integers(min_value=-7, max_value=7))
def test_any_valid_groc_scores_in_range(change_value):
    assert Decimal(-7) <= score("groc", {"change": change_value}).score <= Decimal(7)


pain = st.integers(min_value=0, max_value=10)


@given(baseline=pain, latest=pain, lower=pain)
def test_a_lower_nprs_never_reduces_the_improvement_or_its_verdicts(baseline, latest, lower):
    assume(lower <= latest)
    higher_pain = change("nprs", Decimal(baseline), Decimal(latest))
    lower_pain = change("nprs", Decimal(baseline), Decimal(lower))

    assert lower_pain.improvement >= higher_pain.improvement
    assert lower_pain.meaningful >= higher_pain.meaningful
    assert lower_pain.beyond_error >= higher_pain.beyond_error
    assert lower_pain.worse <= higher_pain.worse


@given(
    instrument=st.sampled_from(["nprs", "odi", "rmdq", "psfs"]),
    baseline=st.integers(min_value=0, max_value=100),
    latest=st.integers(min_value=0, max_value=100),
)
def test_a_change_is_never_both_meaningful_and_worse(instrument, baseline, latest):
    result = change(instrument, Decimal(baseline), Decimal(latest))

    assert not (result.meaningful and result.worse)
    if baseline == 0:
        assert result.improvement_percent is None
    else:
        assert result.improvement_percent is not None


@given(baseline=st.integers(min_value=0, max_value=10), latest=st.integers(0, 10))
def test_psfs_and_nprs_improvements_point_opposite_ways(baseline, latest):
    # The same numbers mean opposite things: higher is better on PSFS, worse on NPRS.
    nprs = change("nprs", Decimal(baseline), Decimal(latest)).improvement
    psfs_change = change("psfs", Decimal(baseline), Decimal(latest)).improvement

    assert nprs == -psfs_change
    assert psfs_change == latest - baseline
