"""The pure contraindication check of one plan item (DOMAIN.md 2c): refuse, local, cap, allowed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practice.vocabulary import HEALTH_FLAGS, REGIONS
from techniques import catalog
from techniques.rules import (
    CAP,
    CLEARANCE_FLAGS,
    CLEARANCE_REQUIRED,
    LOCAL,
    OVERRIDE_HINT,
    REFUSE,
    WHOLE_BODY_FLAGS,
    Cell,
    Violation,
    check_item,
)


def check(
    *,
    cells,
    flags,
    region="lumbar",
    pressure=3,
    flag_regions=None,
    technique="kneading",
    usual_pressure=None,
    cleared=(),
) -> list[Violation]:
    return check_item(
        technique=technique,
        cells=cells,
        client_flags=flags,
        flag_regions=flag_regions or {},
        region=region,
        pressure=pressure,
        usual_pressure=usual_pressure,
        cleared_flags=cleared,
    )


# --- one rule at a time --------------------------------------------------------------------------


def test_refuse_cell_refuses_at_any_pressure_and_names_technique_and_flag():
    cells = [Cell("osteoporosis", REFUSE)]

    for pressure in (None, 1, 3, 5):
        violations = check(
            cells=cells, flags=["osteoporosis"], technique="tapotement", pressure=pressure
        )

        assert [(v.technique, v.flag, v.rule) for v in violations] == [
            ("tapotement", "osteoporosis", "refuse")
        ]
        assert "tapotement" in violations[0].detail
        assert "osteoporosis" in violations[0].detail


def test_refuse_cell_of_a_flag_the_client_does_not_have_allows():
    assert check(cells=[Cell("osteoporosis", REFUSE)], flags=["pregnancy"]) == []


def test_unflagged_client_is_allowed_everything():
    cells = [
        Cell("dvt", REFUSE),
        Cell("recent_surgery", LOCAL),
        Cell("osteoporosis", CAP, 1),
    ]

    for region in REGIONS:
        for pressure in (None, 1, 2, 3, 4, 5):
            assert check(cells=cells, flags=[], region=region, pressure=pressure) == []


def test_technique_without_cells_is_allowed_for_technique_level_flags():
    assert check(cells=[], flags=["osteoporosis", "pregnancy"], pressure=5) == []


@pytest.mark.parametrize("flag", WHOLE_BODY_FLAGS)
def test_whole_body_flags_refuse_a_technique_without_cells(flag):
    """DOMAIN.md 2b "applies to all treatment": a practice's own technique is no way around it."""
    violations = check(cells=[], flags=[flag], technique="hot_stones", pressure=1)

    assert [(v.flag, v.rule) for v in violations] == [
        (flag, CLEARANCE_REQUIRED if flag in CLEARANCE_FLAGS else REFUSE)
    ]
    assert "hot_stones" in violations[0].detail


@pytest.mark.parametrize("flag", WHOLE_BODY_FLAGS)
def test_whole_body_flags_refuse_whatever_the_cells_say(flag):
    for cells in ([Cell(flag, CAP, 5)], [Cell(flag, LOCAL)], []):
        violations = check(cells=cells, flags=[flag], flag_regions={flag: ["cervical"]})

        assert len(violations) == 1, cells
        assert violations[0].flag == flag


@pytest.mark.parametrize("flag", CLEARANCE_FLAGS)
def test_clearance_flags_refuse_every_technique_until_cleared(flag):
    refused = check(cells=[], flags=[flag], pressure=1)
    cleared = check(cells=[], flags=[flag], pressure=1, cleared=[flag])
    cleared_for_another_flag = check(
        cells=[], flags=[flag], pressure=1, cleared=[f for f in CLEARANCE_FLAGS if f != flag]
    )

    assert [(v.flag, v.rule) for v in refused] == [(flag, CLEARANCE_REQUIRED)]
    assert "clearance" in refused[0].detail
    assert cleared == []
    assert [(v.flag, v.rule) for v in cleared_for_another_flag] == [(flag, CLEARANCE_REQUIRED)]


def test_a_cleared_flag_still_has_its_caps():
    cells = [Cell("cancer_active_treatment", CAP, 3)]

    assert (
        check(
            cells=cells,
            flags=["cancer_active_treatment"],
            pressure=3,
            cleared=["cancer_active_treatment"],
        )
        == []
    )
    violations = check(
        cells=cells,
        flags=["cancer_active_treatment"],
        pressure=4,
        cleared=["cancer_active_treatment"],
    )
    assert [(v.flag, v.rule) for v in violations] == [("cancer_active_treatment", CAP)]


def test_a_high_risk_pregnancy_is_a_pregnancy_for_the_caps():
    violations = check(
        cells=[Cell("pregnancy", CAP, 3)],
        flags=["pregnancy_high_risk"],
        pressure=4,
        cleared=["pregnancy_high_risk"],
    )

    assert [(v.flag, v.rule) for v in violations] == [("pregnancy", CAP)]


# --- an item without a pressure ------------------------------------------------------------------


def test_no_pressure_is_checked_at_the_usual_pressure():
    cells = [Cell("osteoporosis", CAP, 2)]

    refused = check(cells=cells, flags=["osteoporosis"], pressure=None, usual_pressure=4)
    allowed = check(cells=cells, flags=["osteoporosis"], pressure=None, usual_pressure=2)

    assert [(v.flag, v.rule) for v in refused] == [("osteoporosis", CAP)]
    assert "4" in refused[0].detail
    assert allowed == []


def test_no_pressure_and_no_usual_pressure_is_refused_where_a_cap_applies():
    cells = [Cell("osteoporosis", CAP, 2)]

    violations = check(cells=cells, flags=["osteoporosis"], pressure=None, usual_pressure=None)

    assert [(v.flag, v.rule) for v in violations] == [("osteoporosis", CAP)]
    assert "give the item a pressure" in violations[0].detail
    assert check(cells=cells, flags=[], pressure=None, usual_pressure=None) == []


def test_the_override_hint_names_the_field():
    assert "override_reason" in OVERRIDE_HINT


def test_local_flag_without_recorded_regions_refuses_every_region():
    cells = [Cell("recent_surgery", LOCAL)]

    for region in REGIONS:
        violations = check(cells=cells, flags=["recent_surgery"], region=region)

        assert [(v.flag, v.rule) for v in violations] == [("recent_surgery", "local")]
        assert "recent_surgery" in violations[0].detail
        assert "kneading" in violations[0].detail


def test_local_flag_refuses_its_recorded_region():
    violations = check(
        cells=[Cell("recent_surgery", LOCAL)],
        flags=["recent_surgery"],
        flag_regions={"recent_surgery": ["lumbar"]},
        region="lumbar",
    )

    assert [(v.technique, v.flag, v.rule) for v in violations] == [
        ("kneading", "recent_surgery", "local")
    ]
    assert "lumbar" in violations[0].detail


def test_local_flag_allows_other_regions_when_its_regions_are_recorded():
    for region in set(REGIONS) - {"lumbar", "sacral_si"}:
        assert (
            check(
                cells=[Cell("recent_surgery", LOCAL)],
                flags=["recent_surgery"],
                flag_regions={"recent_surgery": ["lumbar", "sacral_si"]},
                region=region,
            )
            == []
        )


def test_regions_recorded_for_another_flag_do_not_narrow_a_local_flag():
    violations = check(
        cells=[Cell("skin_lesion", LOCAL)],
        flags=["skin_lesion", "recent_surgery"],
        flag_regions={"recent_surgery": ["lumbar"]},
        region="thoracic",
    )

    assert [(v.flag, v.rule) for v in violations] == [("skin_lesion", "local")]


def test_cap_allows_pressure_at_and_below_the_cap():
    for pressure in (1, 2):
        assert (
            check(cells=[Cell("osteoporosis", CAP, 2)], flags=["osteoporosis"], pressure=pressure)
            == []
        )


def test_cap_refuses_pressure_above_the_cap_and_names_both_pressures():
    for pressure in (3, 4, 5):
        violations = check(
            cells=[Cell("osteoporosis", CAP, 2)], flags=["osteoporosis"], pressure=pressure
        )

        assert [(v.technique, v.flag, v.rule) for v in violations] == [
            ("kneading", "osteoporosis", "cap")
        ]
        assert "2" in violations[0].detail
        assert str(pressure) in violations[0].detail


def test_every_broken_cell_is_reported():
    cells = [Cell("osteoporosis", CAP, 2), Cell("dvt", REFUSE), Cell("pregnancy", CAP, 4)]

    violations = check(cells=cells, flags=["osteoporosis", "dvt", "pregnancy"], pressure=3)

    assert sorted((v.flag, v.rule) for v in violations) == [
        ("dvt", CLEARANCE_REQUIRED),
        ("osteoporosis", "cap"),
    ]


# --- the default matrix, cell by cell ------------------------------------------------------------


def matrix_cells(code: str) -> list[Cell]:
    """The technique's column of the default matrix as the service passes it (one Cell per row)."""
    return [
        Cell(flag, CAP, cell) if isinstance(cell, int) else Cell(flag, cell)
        for flag, row in catalog.MATRIX.items()
        for code_, cell in row.items()
        if code_ == code
    ]


def expected_rules(
    flag: str, code: str, region: str, pressure: int, recorded: list[str] | None
) -> set[tuple[str, str]]:
    """What DOMAIN.md 2b/2c mean for one flag: a clearance flag refuses until cleared, a
    whole-body flag always; else its cell: ✗ always refused, L refused on the flagged region
    (every region while none is recorded), ≤n refused above n, ✓ (no cell) allowed."""
    if flag in CLEARANCE_FLAGS:
        implied = {"pregnancy_high_risk": "pregnancy"}.get(flag)
        extra = expected_rules(implied, code, region, pressure, recorded) if implied else set()
        if flag not in WHOLE_BODY_FLAGS:
            extra |= cell_rules(flag, code, region, pressure, recorded)
        return {(flag, CLEARANCE_REQUIRED)} | extra
    if flag in WHOLE_BODY_FLAGS:
        return {(flag, REFUSE)}
    return cell_rules(flag, code, region, pressure, recorded)


def cell_rules(
    flag: str, code: str, region: str, pressure: int, recorded: list[str] | None
) -> set[tuple[str, str]]:
    cell = catalog.MATRIX.get(flag, {}).get(code)
    if cell is None:
        return set()
    if cell == catalog.X:
        return {(flag, REFUSE)}
    if cell == catalog.L:
        return {(flag, LOCAL)} if not recorded or region in recorded else set()
    assert isinstance(cell, int)
    return {(flag, CAP)} if pressure > cell else set()


def verdict(violations: list[Violation]) -> set[tuple[str, str]]:
    return {(v.flag, v.rule) for v in violations}


@pytest.mark.parametrize("code", catalog.CODES)
@pytest.mark.parametrize("flag", HEALTH_FLAGS)
def test_default_matrix_cell_matches_its_meaning(flag, code):
    for region in REGIONS:
        for pressure in range(1, 6):
            for recorded in (None, [region], [r for r in REGIONS if r != region]):
                violations = check(
                    cells=matrix_cells(code),
                    flags=[flag],
                    flag_regions={flag: recorded} if recorded else {},
                    technique=code,
                    region=region,
                    pressure=pressure,
                )

                assert verdict(violations) == expected_rules(
                    flag, code, region, pressure, recorded
                ), (flag, code, region, pressure, recorded)
                assert all(v.technique == code for v in violations)


@pytest.mark.parametrize(
    ("flag", "code", "pressure", "expected"),
    [
        # Cells read straight off DOMAIN.md 2c, so a wrong MATRIX cannot agree with itself.
        ("osteoporosis", "tapotement", 1, {("osteoporosis", "refuse")}),
        ("osteoporosis", "kneading", 3, {("osteoporosis", "cap")}),
        ("osteoporosis", "kneading", 2, set()),
        ("osteoporosis", "effleurage", 3, set()),
        ("osteoporosis", "effleurage", 4, {("osteoporosis", "cap")}),
        ("osteoporosis", "myofascial_release", 5, set()),
        ("pregnancy", "effleurage", 5, set()),
        ("pregnancy", "friction", 4, {("pregnancy", "cap")}),
        (
            "anticoagulant_or_bleeding_disorder",
            "trigger_point",
            1,
            {("anticoagulant_or_bleeding_disorder", "refuse")},
        ),
        ("dvt", "vibration", 1, {("dvt", CLEARANCE_REQUIRED)}),
        ("fever_acute_illness", "vibration", 1, {("fever_acute_illness", "refuse")}),
        (
            "uncontrolled_hypertension_cardiac",
            "tapotement",
            5,
            {("uncontrolled_hypertension_cardiac", CLEARANCE_REQUIRED)},
        ),
    ],
)
def test_default_matrix_spot_checks_against_domain_table(flag, code, pressure, expected):
    violations = check(cells=matrix_cells(code), flags=[flag], technique=code, pressure=pressure)

    assert verdict(violations) == expected


@given(
    code=st.sampled_from(catalog.CODES),
    flags=st.sets(st.sampled_from(HEALTH_FLAGS), max_size=4),
    region=st.sampled_from(REGIONS),
    pressure=st.integers(min_value=1, max_value=5),
    recorded=st.dictionaries(
        st.sampled_from(catalog.LOCAL_FLAGS),
        st.lists(st.sampled_from(REGIONS), min_size=1, max_size=3, unique=True),
        max_size=3,
    ),
)
def test_default_matrix_verdict_is_the_union_of_each_flags_cell(
    code, flags, region, pressure, recorded
):
    violations = check(
        cells=matrix_cells(code),
        flags=sorted(flags),
        flag_regions=recorded,
        technique=code,
        region=region,
        pressure=pressure,
    )

    expected: set[tuple[str, str]] = set()
    for flag in flags:
        expected |= expected_rules(flag, code, region, pressure, recorded.get(flag))
    assert verdict(violations) == expected
    assert len(violations) == len(expected)  # one violation per broken cell, no duplicates
