"""The technique catalog and its contraindication matrix (API.md "Techniques"; DOMAIN.md 2c, 5)."""

from __future__ import annotations

import pytest

from practice.models import AuditEvent
from sessions.records.models import PlanItem
from techniques.models import Contraindication, ContraindicationChange, Technique
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    SessionPlanFactory,
    TechniqueFactory,
)

TECHNIQUES = "/api/v1/techniques/"

# DOMAIN.md 5, restated: code -> (usual pressure on the Walton scale, or None for "n/a").
BUILTIN_PRESSURE = {
    "effleurage": (1, 3),
    "kneading": (2, 4),
    "friction": (3, 5),
    "tapotement": (2, 4),
    "compression": (2, 4),
    "trigger_point": (3, 4),
    "myofascial_release": (1, 3),
    "stretching": None,
    "vibration": (1, 2),
}
BUILTIN_CODES = tuple(BUILTIN_PRESSURE)

# DOMAIN.md 2c, copied from its text (✗ refuse, L local, ≤n cap, ✓ allowed); rows that name
# several flags are spelled out with the flag keys of DOMAIN.md 2b.
MATRIX_TEXT = """
flag                              | efflrg| knead| fric| tapot| compr| TrP| MFR| stretch| vibr
dvt                               | ✗     | ✗    | ✗   | ✗    | ✗    | ✗  | ✗  | ✗      | ✗
fever_acute_illness               | ✗     | ✗    | ✗   | ✗    | ✗    | ✗  | ✗  | ✗      | ✗
red_flag_open                     | ✗     | ✗    | ✗   | ✗    | ✗    | ✗  | ✗  | ✗      | ✗
anticoagulant_or_bleeding_disorder| ≤2    | ≤2   | ✗   | ✗    | ✗    | ✗  | ≤2 | ≤2     | ≤2
osteoporosis                      | ≤3    | ≤2   | ✗   | ✗    | ✗    | ≤2 | ✓  | ≤2     | ✓
acute_inflammation_or_injury      | L     | L    | L   | L    | L    | L  | L  | L      | L
fracture_unhealed                 | L     | L    | L   | L    | L    | L  | L  | L      | L
recent_surgery                    | L     | L    | L   | L    | L    | L  | L  | L      | L
skin_lesion                       | L     | L    | L   | L    | L    | L  | L  | L      | L
varicose_veins                    | L     | L    | L   | L    | L    | L  | L  | L      | L
pregnancy                         | ✓     | ✓    | ≤3  | ✗    | ≤3   | ≤3 | ✓  | ≤3     | ✓
cancer_active_treatment           | ≤3    | ≤3   | ✗   | ✗    | ≤3   | ≤3 | ✓  | ≤3     | ✓
reduced_sensation                 | ≤3    | ≤3   | ✗   | ✗    | ≤3   | ≤3 | ✓  | ≤3     | ✓
uncontrolled_hypertension_cardiac | ✓     | ✓    | ✓   | ✓    | ✓    | ✓  | ✓  | ✓      | ✓
"""


def expected_matrix() -> dict[str, dict[str, str]]:
    """flag -> {technique code: cell} from MATRIX_TEXT; columns are in BUILTIN_CODES order."""
    lines = MATRIX_TEXT.strip().splitlines()[1:]
    matrix = {}
    for line in lines:
        flag, *cells = (cell.strip() for cell in line.split("|"))
        assert len(cells) == len(BUILTIN_CODES)
        matrix[flag] = dict(zip(BUILTIN_CODES, cells, strict=True))
    return matrix


EXPECTED_MATRIX = expected_matrix()


def cell_of(row: dict | None) -> str:
    """One contraindication row of the API, written the way DOMAIN.md 2c writes it."""
    if row is None:
        return "✓"
    return {"refuse": "✗", "local": "L"}.get(row["rule"]) or f"≤{row['max_pressure']}"


def all_techniques(member) -> list[dict]:
    response = member.api.get(TECHNIQUES, {"page_size": 100})
    assert response.status_code == 200
    assert response.json()["next"] is None
    return response.json()["results"]


def by_code(member) -> dict[str, dict]:
    return {technique["code"]: technique for technique in all_techniques(member)}


def detail(technique: Technique | int) -> str:
    return f"{TECHNIQUES}{getattr(technique, 'pk', technique)}/"


def new_technique_body(**overrides) -> dict:
    return {
        "code": "cupping_therapy",
        "name": "Cupping",
        "description": "Silicone cups moved over oiled skin.",
        "purpose": "Lifts fascia over the lumbar paraspinals.",
        "usual_pressure": {"min": 1, "max": 2},
        "usual_minutes": {"min": 3, "max": 8},
        "contraindications": [
            {"flag": "anticoagulant_or_bleeding_disorder", "rule": "refuse"},
            {"flag": "osteoporosis", "rule": "cap", "max_pressure": 2},
        ],
        **overrides,
    }


def error_fields(response) -> set[str]:
    return {error["field"].split(".")[0] for error in response.json()["errors"]}


# --- the built-in catalog -----------------------------------------------------------------------


def test_a_new_practice_has_the_nine_built_in_techniques(owner, practice):
    techniques = all_techniques(owner)

    assert sorted(t["code"] for t in techniques) == sorted(BUILTIN_CODES)
    assert all(t["is_builtin"] for t in techniques)
    assert Technique.objects.filter(practice=practice, is_builtin=True).count() == 9


def test_every_practice_gets_its_own_copy_of_the_catalog(practice, other_practice):
    mine = set(Technique.objects.filter(practice=practice).values_list("code", flat=True))
    theirs = set(Technique.objects.filter(practice=other_practice).values_list("code", flat=True))

    assert mine == theirs == set(BUILTIN_CODES)
    assert not (
        set(Technique.objects.filter(practice=practice).values_list("pk", flat=True))
        & set(Technique.objects.filter(practice=other_practice).values_list("pk", flat=True))
    )


@pytest.mark.parametrize("code", BUILTIN_CODES)
def test_built_in_technique_describes_itself(owner, code):
    technique = by_code(owner)[code]

    assert technique["name"].strip()
    assert len(technique["description"]) > 20
    assert len(technique["purpose"]) > 20
    pressure = BUILTIN_PRESSURE[code]
    if pressure is None:
        assert technique["usual_pressure"] is None
    else:
        assert (technique["usual_pressure"]["min"], technique["usual_pressure"]["max"]) == pressure
    minutes = technique["usual_minutes"]
    assert 1 <= minutes["min"] <= minutes["max"] <= 15


@pytest.mark.parametrize(
    ("code", "words"),
    [
        # API.md "Techniques": what each is for in a back session.
        ("effleurage", ("warm", "relax")),
        ("kneading", ("tension", "circulation")),
        ("friction", ("knots", "adhesions")),
        ("tapotement", ("stimulat",)),
        ("compression", ("tension", "spine")),
    ],
)
def test_purpose_says_what_the_technique_is_for(owner, code, words):
    purpose = by_code(owner)[code]["purpose"].lower()

    for word in words:
        assert word in purpose


@pytest.mark.parametrize(
    ("code", "minutes"),
    [
        # DOMAIN.md 5 "typical time"; friction's "a few minutes per site" has no fixed range.
        ("effleurage", (3, 5)),
        ("kneading", (5, 10)),
        ("tapotement", (1, 2)),
        ("compression", (2, 5)),
        ("trigger_point", (1, 5)),
        ("myofascial_release", (5, 15)),
        ("stretching", (2, 5)),
        ("vibration", (1, 2)),
    ],
)
def test_usual_minutes_follow_the_domain_table(owner, code, minutes):
    usual = by_code(owner)[code]["usual_minutes"]

    assert (usual["min"], usual["max"]) == minutes


# --- the contraindication matrix ---------------------------------------------------------------


@pytest.mark.parametrize("flag", sorted(EXPECTED_MATRIX))
def test_contraindication_matrix_row_equals_domain_2c(therapist, flag):
    techniques = by_code(therapist)

    actual = {
        code: cell_of(
            next(
                (row for row in techniques[code]["contraindications"] if row["flag"] == flag), None
            )
        )
        for code in BUILTIN_CODES
    }

    assert actual == EXPECTED_MATRIX[flag]


def test_matrix_names_only_health_flags_of_domain_2b(therapist):
    flags = {
        row["flag"]
        for technique in all_techniques(therapist)
        for row in technique["contraindications"]
    }

    assert flags <= set(EXPECTED_MATRIX)


def test_osteoporosis_stretching_cap_carries_the_no_end_range_note(therapist):
    rows = by_code(therapist)["stretching"]["contraindications"]

    (row,) = [row for row in rows if row["flag"] == "osteoporosis"]
    assert "end-range" in row["note"]


def test_adjusting_the_matrix_in_one_practice_leaves_another_untouched(
    owner, other_owner, practice, other_practice
):
    kneading = Technique.objects.get(practice=practice, code="kneading")
    theirs = Technique.objects.get(practice=other_practice, code="kneading")
    their_rows_before = list(theirs.contraindications.values("flag", "rule", "max_pressure"))

    response = owner.api.patch(
        detail(kneading),
        {"contraindications": [{"flag": "osteoporosis", "rule": "refuse"}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    whole_body = [
        {"flag": flag, "rule": "refuse", "max_pressure": None, "note": ""}
        for flag in ("dvt", "fever_acute_illness")
    ]
    assert response.json()["contraindications"] == [
        *whole_body,
        {"flag": "osteoporosis", "rule": "refuse", "max_pressure": None, "note": ""},
        {"flag": "red_flag_open", "rule": "refuse", "max_pressure": None, "note": ""},
    ]
    assert list(kneading.contraindications.values_list("flag", "rule")) == [
        ("dvt", "refuse"),
        ("fever_acute_illness", "refuse"),
        ("osteoporosis", "refuse"),
        ("red_flag_open", "refuse"),
    ]
    assert list(theirs.contraindications.values("flag", "rule", "max_pressure")) == (
        their_rows_before
    )
    other_view = by_code(other_owner)["kneading"]["contraindications"]
    assert cell_of(next(r for r in other_view if r["flag"] == "osteoporosis")) == "≤2"
    assert cell_of(next(r for r in other_view if r["flag"] == "dvt")) == "✗"


def test_patching_other_fields_keeps_the_matrix(therapist, practice):
    kneading = Technique.objects.get(practice=practice, code="kneading")
    before = list(kneading.contraindications.values("flag", "rule", "max_pressure", "note"))

    response = therapist.api.patch(
        detail(kneading), {"usual_minutes": {"min": 6, "max": 12}}, format="json"
    )

    assert response.status_code == 200, response.content
    kneading.refresh_from_db()
    assert (kneading.usual_minutes_min, kneading.usual_minutes_max) == (6, 12)
    assert list(kneading.contraindications.values("flag", "rule", "max_pressure", "note")) == before


def test_another_practice_technique_is_404(owner, other_practice):
    theirs = Technique.objects.get(practice=other_practice, code="friction")

    assert owner.api.get(detail(theirs)).status_code == 404
    response = owner.api.patch(detail(theirs), {"name": "Mine now"}, format="json")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Friction"


# --- a practice's own techniques ---------------------------------------------------------------


def test_the_owner_adds_a_practice_technique_with_its_rows(owner, practice):
    response = owner.api.post(TECHNIQUES, new_technique_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_builtin"] is False
    assert body["usual_pressure"] == {"min": 1, "max": 2}
    assert body["usual_minutes"] == {"min": 3, "max": 8}
    technique = Technique.objects.get(pk=body["id"])
    assert technique.practice == practice
    assert technique.is_builtin is False
    assert (technique.usual_pressure_min, technique.usual_pressure_max) == (1, 2)
    assert (technique.usual_minutes_min, technique.usual_minutes_max) == (3, 8)
    # The whole-body refusals come with every technique (DOMAIN.md 2b "applies to all treatment").
    assert set(technique.contraindications.values_list("flag", "rule", "max_pressure")) == {
        ("anticoagulant_or_bleeding_disorder", "refuse", None),
        ("osteoporosis", "cap", 2),
        ("dvt", "refuse", None),
        ("fever_acute_illness", "refuse", None),
        ("red_flag_open", "refuse", None),
    }


@pytest.mark.parametrize("role", ["owner", "therapist"])
def test_a_new_technique_without_rows_inherits_the_most_cautious_defaults(members, role):
    body = new_technique_body()
    del body["contraindications"]
    del body["usual_pressure"]  # the owner's to set, like the rows

    response = members[role].api.post(TECHNIQUES, body, format="json")

    assert response.status_code == 201, response.content
    cells = {row["flag"]: cell_of(row) for row in response.json()["contraindications"]}
    # Per flag the most cautious cell of any built-in (DOMAIN.md 2c): never "allowed for all".
    assert cells == {
        "dvt": "✗",
        "fever_acute_illness": "✗",
        "red_flag_open": "✗",
        "anticoagulant_or_bleeding_disorder": "✗",
        "osteoporosis": "✗",
        "acute_inflammation_or_injury": "L",
        "fracture_unhealed": "L",
        "recent_surgery": "L",
        "skin_lesion": "L",
        "varicose_veins": "L",
        "pregnancy": "✗",
        "cancer_active_treatment": "✗",
        "reduced_sensation": "✗",
    }
    technique = Technique.objects.get(pk=response.json()["id"])
    assert technique.contraindications.count() == len(cells)


def test_a_therapist_cannot_set_a_new_techniques_rows(therapist, practice):
    response = therapist.api.post(TECHNIQUES, new_technique_body(), format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "owner" in response.json()["detail"]
    assert not Technique.objects.filter(practice=practice, code="cupping_therapy").exists()


def test_technique_without_pressure_range_is_allowed(owner):
    body = new_technique_body(usual_pressure=None, contraindications=[])

    response = owner.api.post(TECHNIQUES, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["usual_pressure"] is None
    assert Technique.objects.get(pk=response.json()["id"]).usual_pressure_min is None


@pytest.mark.parametrize("code", ["kneading", "cupping_therapy"])
def test_duplicate_code_in_the_practice_is_400(owner, practice, code):
    TechniqueFactory(practice=practice, code="cupping_therapy")
    before = Technique.objects.filter(practice=practice).count()

    response = owner.api.post(TECHNIQUES, new_technique_body(code=code), format="json")

    assert response.status_code == 400
    assert "code" in error_fields(response)
    assert Technique.objects.filter(practice=practice).count() == before


def test_another_practice_may_use_the_same_custom_code(owner, other_practice):
    TechniqueFactory(practice=other_practice, code="cupping_therapy")

    response = owner.api.post(TECHNIQUES, new_technique_body(), format="json")

    assert response.status_code == 201


def test_the_code_of_a_built_in_technique_cannot_change(owner, practice):
    friction = Technique.objects.get(practice=practice, code="friction")

    response = owner.api.patch(detail(friction), {"code": "cross_fibre"}, format="json")

    assert response.status_code == 400
    assert "code" in error_fields(response)
    friction.refresh_from_db()
    assert friction.code == "friction"


# DRF's partial update let a nested range leave out `min` or `max`: `{"min": 5}` was a 500.
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"usual_minutes": {"min": 5}}, ["usual_minutes.max"]),
        ({"usual_minutes": {"max": 30}}, ["usual_minutes.min"]),
        ({"usual_minutes": {}}, ["usual_minutes.min", "usual_minutes.max"]),
        ({"usual_pressure": {"min": 2}}, ["usual_pressure.max"]),
    ],
    ids=["no-max", "no-min", "empty", "pressure-no-max"],
)
def test_a_range_in_a_patch_is_given_whole_or_is_400(owner, practice, body, fields):
    kneading = Technique.objects.get(practice=practice, code="kneading")
    before = Technique.objects.filter(pk=kneading.pk).values().get()

    response = owner.api.patch(detail(kneading), body, format="json")

    assert response.status_code == 400, response.content
    assert sorted(error["field"] for error in response.json()["errors"]) == sorted(fields)
    assert Technique.objects.filter(pk=kneading.pk).values().get() == before


def test_a_whole_range_in_a_patch_replaces_the_old_one(owner, practice):
    kneading = Technique.objects.get(practice=practice, code="kneading")

    response = owner.api.patch(
        detail(kneading), {"usual_minutes": {"min": 0, "max": 28}}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["usual_minutes"] == {"min": 0, "max": 28}
    kneading.refresh_from_db()
    assert (kneading.usual_minutes_min, kneading.usual_minutes_max) == (0, 28)


def test_is_builtin_cannot_be_set_from_a_body(owner, practice):
    response = owner.api.post(TECHNIQUES, new_technique_body(is_builtin=True), format="json")

    assert response.status_code == 400
    assert not Technique.objects.filter(practice=practice, code="cupping_therapy").exists()


def test_a_built_in_technique_cannot_be_deleted(owner, practice):
    effleurage = Technique.objects.get(practice=practice, code="effleurage")

    response = owner.api.delete(detail(effleurage))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Technique.objects.filter(pk=effleurage.pk).exists()
    kept = sum(row["effleurage"] != "✓" for row in EXPECTED_MATRIX.values())
    assert Contraindication.objects.filter(technique=effleurage).count() == kept


def test_a_practice_technique_is_deleted_by_the_owner_only_and_audited(owner, therapist, practice):
    custom = TechniqueFactory(practice=practice)

    refused = therapist.api.delete(detail(custom))
    kept = Technique.objects.filter(pk=custom.pk).exists()
    response = owner.api.delete(detail(custom))

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert kept
    assert response.status_code == 204
    assert not Technique.objects.filter(pk=custom.pk).exists()
    event = AuditEvent.objects.get(record_type="technique", action="delete")
    assert event.ids == [custom.pk]
    assert event.actor == owner.user


def test_deleting_a_technique_keeps_its_matrix_history(owner, practice):
    created = owner.api.post(TECHNIQUES, new_technique_body(), format="json")
    assert created.status_code == 201, created.content
    technique_id = created.json()["id"]
    patched = owner.api.patch(detail(technique_id), {"contraindications": []}, format="json")
    assert patched.status_code == 200, patched.content

    deleted = owner.api.delete(detail(technique_id))

    assert deleted.status_code == 204
    changes = ContraindicationChange.objects.order_by("pk")
    assert [(c.technique_id, c.technique_code) for c in changes] == [
        (None, "cupping_therapy"),
        (None, "cupping_therapy"),
    ]
    assert [row["flag"] for row in changes[0].after][:1] == ["anticoagulant_or_bleeding_disorder"]


def test_a_technique_used_by_a_plan_is_not_deleted(owner, practice):
    custom = TechniqueFactory(practice=practice)
    plan = SessionPlanFactory(
        appointment=AppointmentFactory(client=ClientFactory(practice=practice))
    )
    PlanItem.objects.create(plan=plan, position=0, technique=custom, region="lumbar", minutes=10)

    response = owner.api.delete(detail(custom))

    assert response.status_code == 409, response.content
    assert Technique.objects.filter(pk=custom.pk).exists()
    assert not AuditEvent.objects.filter(record_type="technique", action="delete").exists()


# --- the usual pressure is the owner's: items without one are checked at it -------------------


def test_a_therapist_cannot_change_a_techniques_usual_pressure(therapist, practice):
    kneading = Technique.objects.get(practice=practice, code="kneading")
    before = (kneading.usual_pressure_min, kneading.usual_pressure_max)

    response = therapist.api.patch(
        detail(kneading), {"usual_pressure": {"min": 1, "max": 1}}, format="json"
    )
    same = therapist.api.patch(
        detail(kneading),
        {"usual_pressure": {"min": before[0], "max": before[1]}, "name": "Petrissage"},
        format="json",
    )
    without_rows = {k: v for k, v in new_technique_body().items() if k != "contraindications"}
    created = therapist.api.post(TECHNIQUES, without_rows, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    kneading.refresh_from_db()
    assert (kneading.usual_pressure_min, kneading.usual_pressure_max) == before
    assert same.status_code == 200, same.content  # sending it unchanged is no change
    assert created.status_code == 403
    assert not Technique.objects.filter(practice=practice, code="cupping_therapy").exists()
    assert not ContraindicationChange.objects.exists()


def test_the_owners_usual_pressure_change_is_kept_in_the_matrix_history(owner, practice):
    kneading = Technique.objects.get(practice=practice, code="kneading")
    before = {"min": kneading.usual_pressure_min, "max": kneading.usual_pressure_max}

    response = owner.api.patch(
        detail(kneading), {"usual_pressure": {"min": 1, "max": 2}}, format="json"
    )
    history = owner.api.get(f"{detail(kneading)}contraindication-changes/")

    assert response.status_code == 200, response.content
    (change,) = history.json()
    assert change["usual_pressure_before"] == before
    assert change["usual_pressure_after"] == {"min": 1, "max": 2}
    assert change["before"] == change["after"]
    assert change["technique_code"] == "kneading"
    event = AuditEvent.objects.get(record_type="contraindication_change")
    assert event.ids == [change["id"]]
    assert event.actor == owner.user


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"flag": "osteoporosis", "rule": "cap"}], "contraindications"),
        ([{"flag": "osteoporosis", "rule": "cap", "max_pressure": None}], "contraindications"),
        ([{"flag": "osteoporosis", "rule": "refuse", "max_pressure": 2}], "contraindications"),
        ([{"flag": "osteoporosis", "rule": "cap", "max_pressure": 6}], "contraindications"),
        ([{"flag": "gout", "rule": "refuse"}], "contraindications"),
        ([{"flag": "dvt", "rule": "forbid"}], "contraindications"),
        (
            [{"flag": "dvt", "rule": "refuse"}, {"flag": "dvt", "rule": "local"}],
            "contraindications",
        ),
    ],
)
def test_invalid_contraindication_rows_are_400_and_nothing_is_created(owner, practice, rows, field):
    response = owner.api.post(TECHNIQUES, new_technique_body(contraindications=rows), format="json")

    assert response.status_code == 400
    assert field in error_fields(response)
    assert not Technique.objects.filter(practice=practice, code="cupping_therapy").exists()


def test_a_cap_without_max_pressure_in_a_patch_is_400_and_keeps_the_old_rows(owner, practice):
    vibration = Technique.objects.get(practice=practice, code="vibration")
    before = list(vibration.contraindications.values("flag", "rule", "max_pressure"))

    response = owner.api.patch(
        detail(vibration),
        {"contraindications": [{"flag": "pregnancy", "rule": "cap"}]},
        format="json",
    )

    assert response.status_code == 400
    assert list(vibration.contraindications.values("flag", "rule", "max_pressure")) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"usual_pressure": {"min": 0, "max": 2}}, "usual_pressure"),
        ({"usual_pressure": {"min": 4, "max": 2}}, "usual_pressure"),
        ({"usual_pressure": {"min": 1, "max": 6}}, "usual_pressure"),
        ({"usual_minutes": {"min": 10, "max": 5}}, "usual_minutes"),
        ({"code": "Not a slug!"}, "code"),
    ],
)
def test_invalid_ranges_are_400(owner, practice, overrides, field):
    response = owner.api.post(TECHNIQUES, new_technique_body(**overrides), format="json")

    assert response.status_code == 400
    assert field in error_fields(response)
    assert Technique.objects.filter(practice=practice).count() == 9


# --- who may write ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["front_desk", "client"])
def test_front_desk_and_clients_read_the_catalog(members, role):
    techniques = by_code(members[role])

    assert set(techniques) == set(BUILTIN_CODES)
    effleurage_id = techniques["effleurage"]["id"]
    assert members[role].api.get(detail(effleurage_id)).status_code == 200


@pytest.mark.parametrize("role", ["front_desk", "client"])
def test_front_desk_and_clients_cannot_write_the_catalog(members, practice, role):
    api = members[role].api
    kneading = Technique.objects.get(practice=practice, code="kneading")
    custom = TechniqueFactory(practice=practice, name="Ours")

    created = api.post(TECHNIQUES, new_technique_body(), format="json")
    patched = api.patch(detail(kneading), {"contraindications": []}, format="json")
    renamed = api.patch(detail(custom), {"name": "Theirs"}, format="json")
    deleted = api.delete(detail(custom))

    assert [r.status_code for r in (created, patched, renamed, deleted)] == [403] * 4
    assert not Technique.objects.filter(practice=practice, code="cupping_therapy").exists()
    assert kneading.contraindications.count() > 0
    custom.refresh_from_db()
    assert custom.name == "Ours"


# --- the matrix is the owner's, and every change is kept (security finding 13.4) ---------------


def matrix_of(technique: Technique) -> list[tuple]:
    return list(technique.contraindications.order_by("flag").values_list("flag", "rule"))


def test_a_therapist_cannot_empty_a_techniques_contraindications(therapist, practice):
    effleurage = Technique.objects.get(practice=practice, code="effleurage")
    before = matrix_of(effleurage)

    response = therapist.api.patch(detail(effleurage), {"contraindications": []}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert matrix_of(effleurage) == before
    assert not ContraindicationChange.objects.exists()


def test_a_therapist_still_edits_a_techniques_description(therapist, practice):
    effleurage = Technique.objects.get(practice=practice, code="effleurage")

    response = therapist.api.patch(
        detail(effleurage), {"description": "Long strokes."}, format="json"
    )

    assert response.status_code == 200, response.content
    effleurage.refresh_from_db()
    assert effleurage.description == "Long strokes."
    assert not ContraindicationChange.objects.exists()


def test_the_owners_matrix_change_is_audited_with_before_and_after(owner, practice):
    vibration = Technique.objects.get(practice=practice, code="vibration")
    before = matrix_of(vibration)
    rows = [{"flag": "osteoporosis", "rule": "cap", "max_pressure": 1}]

    response = owner.api.patch(detail(vibration), {"contraindications": rows}, format="json")

    assert response.status_code == 200, response.content
    (change,) = ContraindicationChange.objects.all()
    assert change.technique == vibration
    assert change.changed_by == owner.user
    assert [(row["flag"], row["rule"]) for row in change.before] == before
    assert [(row["flag"], row["rule"], row["max_pressure"]) for row in change.after] == [
        ("dvt", "refuse", None),
        ("fever_acute_illness", "refuse", None),
        ("osteoporosis", "cap", 1),
        ("red_flag_open", "refuse", None),
    ]
    event = AuditEvent.objects.get(record_type="contraindication_change")
    assert event.ids == [change.pk]
    assert event.actor == owner.user
    assert event.action == "update"


def test_the_whole_body_rules_survive_an_empty_matrix(owner, practice):
    effleurage = Technique.objects.get(practice=practice, code="effleurage")

    response = owner.api.patch(detail(effleurage), {"contraindications": []}, format="json")

    assert response.status_code == 200, response.content
    assert matrix_of(effleurage) == [
        ("dvt", "refuse"),
        ("fever_acute_illness", "refuse"),
        ("red_flag_open", "refuse"),
    ]


@pytest.mark.parametrize("flag", ["dvt", "fever_acute_illness", "red_flag_open"])
@pytest.mark.parametrize(
    "row", [{"rule": "cap", "max_pressure": 5}, {"rule": "local"}], ids=["cap", "local"]
)
def test_a_whole_body_rule_cannot_be_weakened_even_by_the_owner(owner, practice, flag, row):
    kneading = Technique.objects.get(practice=practice, code="kneading")
    before = matrix_of(kneading)

    response = owner.api.patch(
        detail(kneading), {"contraindications": [{"flag": flag, **row}]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "whole_body_rule"
    assert matrix_of(kneading) == before
    assert not ContraindicationChange.objects.exists()


def test_the_owner_reads_the_matrix_history_with_before_and_after(owner, therapist, practice):
    kneading = Technique.objects.get(practice=practice, code="kneading")
    rows = [{"flag": "pregnancy", "rule": "refuse"}]
    patched = owner.api.patch(detail(kneading), {"contraindications": rows}, format="json")
    assert patched.status_code == 200

    history = owner.api.get(f"{detail(kneading)}contraindication-changes/")
    refused = therapist.api.get(f"{detail(kneading)}contraindication-changes/")

    assert history.status_code == 200, history.content
    (change,) = history.json()
    assert change["changed_by"] == owner.user.pk
    assert {"flag": "osteoporosis", "rule": "cap", "max_pressure": 2, "note": ""} in change[
        "before"
    ]
    assert [row["flag"] for row in change["after"]] == [
        "dvt",
        "fever_acute_illness",
        "pregnancy",
        "red_flag_open",
    ]
    assert refused.status_code == 403
