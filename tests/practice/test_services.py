"""What can be booked (API.md `services/`): owners write, every member reads, deleting retires."""

from __future__ import annotations

from decimal import Decimal

import pytest

from practice.models import Service
from tests.factories import ServiceFactory

SERVICES = "/api/v1/services/"


def new_service(**overrides) -> dict:
    return {
        "name": "Lower back, 45 min",
        "duration_minutes": 45,
        "buffer_minutes": 10,
        "price": "55.00",
        "online_bookable": True,
        **overrides,
    }


@pytest.fixture
def massage(practice) -> Service:
    return ServiceFactory(practice=practice, name="Back massage")


@pytest.fixture
def retired(practice) -> Service:
    return ServiceFactory(practice=practice, name="Old package", active=False)


def test_owner_creates_a_service_in_their_practice(owner, practice):
    response = owner.api.post(SERVICES, new_service())

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Lower back, 45 min"
    assert body["active"] is True
    row = Service.objects.get(pk=body["id"])
    assert row.practice == practice
    assert (row.duration_minutes, row.buffer_minutes) == (45, 10)
    assert row.price == Decimal("55.00")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"duration_minutes": 4}, "duration_minutes"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"buffer_minutes": -5}, "buffer_minutes"),
        ({"price": "-1.00"}, "price"),
        ({"name": ""}, "name"),
        ({"practice": 1}, "practice"),
        ({"id": 5}, "id"),
    ],
)
def test_an_invalid_service_is_400_and_creates_nothing(owner, overrides, field):
    response = owner.api.post(SERVICES, new_service(**overrides))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert not Service.objects.exists()


def test_a_duplicate_name_is_400_and_creates_nothing(owner, massage):
    response = owner.api.post(SERVICES, new_service(name="Back massage"))

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["name"]
    assert response.json()["errors"][0]["code"] == "unique"
    assert Service.objects.filter(name="Back massage").count() == 1


def test_renaming_onto_another_services_name_is_400(owner, massage, retired):
    response = owner.api.patch(f"{SERVICES}{retired.pk}/", {"name": "Back massage"})

    assert response.status_code == 400
    retired.refresh_from_db()
    assert retired.name == "Old package"


def test_a_service_keeps_its_own_name_on_update(owner, massage):
    response = owner.api.patch(f"{SERVICES}{massage.pk}/", {"name": "Back massage", "price": "70"})

    assert response.status_code == 200
    massage.refresh_from_db()
    assert massage.price == Decimal(70)


def test_another_practice_may_use_the_same_name(owner, other_practice):
    ServiceFactory(practice=other_practice, name="Lower back, 45 min")

    response = owner.api.post(SERVICES, new_service())

    assert response.status_code == 201


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_other_members_read_services_but_may_not_write(members, massage, role):
    member = members[role]

    listing = member.api.get(SERVICES)
    detail = member.api.get(f"{SERVICES}{massage.pk}/")
    created = member.api.post(SERVICES, new_service())
    changed = member.api.patch(f"{SERVICES}{massage.pk}/", {"price": "1.00"})
    deleted = member.api.delete(f"{SERVICES}{massage.pk}/")

    assert listing.status_code == detail.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [massage.pk]
    for response in (created, changed, deleted):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    massage.refresh_from_db()
    assert massage.price == Decimal(60)
    assert massage.active
    assert Service.objects.count() == 1


def test_owner_changes_a_service(owner, massage):
    response = owner.api.patch(f"{SERVICES}{massage.pk}/", {"duration_minutes": 30})

    assert response.status_code == 200
    massage.refresh_from_db()
    assert massage.duration_minutes == 30


def test_a_client_does_not_see_inactive_services(client_member, massage, retired):
    listing = client_member.api.get(SERVICES)
    detail = client_member.api.get(f"{SERVICES}{retired.pk}/")

    assert [row["id"] for row in listing.json()["results"]] == [massage.pk]
    assert "active" not in listing.json()["results"][0]
    assert detail.status_code == 404


def test_staff_see_inactive_services_marked_as_such(front_desk, massage, retired):
    response = front_desk.api.get(SERVICES)

    rows = {row["id"]: row["active"] for row in response.json()["results"]}
    assert rows == {massage.pk: True, retired.pk: False}


def test_services_can_be_filtered_by_active(owner, massage, retired):
    response = owner.api.get(SERVICES, {"active": "false"})

    assert [row["id"] for row in response.json()["results"]] == [retired.pk]


def test_deleting_a_service_retires_it(owner, client_member, massage):
    response = owner.api.delete(f"{SERVICES}{massage.pk}/")

    assert response.status_code == 204
    massage.refresh_from_db()
    assert massage.active is False
    assert client_member.api.get(SERVICES).json()["results"] == []
    assert owner.api.get(f"{SERVICES}{massage.pk}/").json()["active"] is False


def test_another_practices_services_are_invisible(owner, other_practice):
    theirs = ServiceFactory(practice=other_practice)

    assert owner.api.get(SERVICES).json()["results"] == []
    assert owner.api.get(f"{SERVICES}{theirs.pk}/").status_code == 404
    assert owner.api.patch(f"{SERVICES}{theirs.pk}/", {"price": "1.00"}).status_code == 404
    assert owner.api.delete(f"{SERVICES}{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.active
    assert theirs.price == Decimal(60)


# Found by the schema fuzzer (tests/fuzz/): DRF turned these into "0" and 60.00 silently.
@pytest.mark.parametrize(
    ("field", "value"), [("name", 0), ("price", 60), ("description", ["a"])], ids=str
)
def test_a_number_or_list_for_a_text_or_decimal_field_is_400(owner, field, value):
    response = owner.api.post(SERVICES, new_service(**{field: value}), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == field
    assert not Service.objects.exists()


@pytest.mark.parametrize("value", ["maybe", "null", ""])
def test_a_filter_value_that_is_not_true_or_false_is_400(owner, massage, value):
    # django-filter read these as "no filter" and answered every row (schema fuzzer).
    response = owner.api.get(SERVICES, {"active": value})

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "active"
