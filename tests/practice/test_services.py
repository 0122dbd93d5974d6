"""What can be booked (API.md `services/`): owners write, every member reads, deleting retires."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from practice.models import Service, Therapist
from practice.services import set_working_hours
from tests.factories import ClientFactory, ServiceFactory, TherapistFactory

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


# Found by the schema fuzzer: DRF read 0 as false, 1 as true and a tag 0 as "0".
@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("active", 0, "active"),
        ("online_bookable", 1, "online_bookable"),
        ("online_bookable", "true", "online_bookable"),
        ("room_tags", ["table", 0], "room_tags.1"),
    ],
    ids=str,
)
def test_a_value_of_another_json_type_than_its_fields_is_400(owner, field, value, where):
    response = owner.api.post(SERVICES, new_service(**{field: value}), format="json")

    assert response.status_code == 400, response.content
    assert [error["field"] for error in response.json()["errors"]] == [where]
    assert not Service.objects.exists()


@pytest.mark.parametrize("value", ["maybe", "null", ""])
def test_a_filter_value_that_is_not_true_or_false_is_400(owner, massage, value):
    # django-filter read these as "no filter" and answered every row (schema fuzzer).
    response = owner.api.get(SERVICES, {"active": value})

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "active"


# --- Who offers a service (API.md "Who offers a service", issue 14.1) --------------------------


def test_a_service_created_without_therapists_is_offered_by_every_active_therapist(
    owner, therapist, practice
):
    retired = TherapistFactory(practice=practice, active=False)

    response = owner.api.post(SERVICES, new_service())

    assert response.status_code == 201, response.content
    active = {owner.user.therapist.pk, therapist.user.therapist.pk}
    assert set(response.json()["therapists"]) == active
    service = Service.objects.get(pk=response.json()["id"])
    assert set(service.therapists.values_list("pk", flat=True)) == active
    assert retired.services.count() == 0
    mine = owner.api.get(f"/api/v1/therapists/{therapist.user.therapist.pk}/").json()
    assert mine["services"] == [service.pk]


def test_a_new_service_can_be_booked_at_once_by_a_solo_owner(owner, practice):
    me = owner.user.therapist
    set_working_hours(
        therapist=me,
        intervals=[{"weekday": day, "start": time(9), "end": time(17)} for day in range(7)],
    )
    client = ClientFactory(practice=practice)
    service_id = owner.api.post(SERVICES, new_service()).json()["id"]
    day = (timezone.localdate() + timedelta(days=3)).isoformat()

    slots = owner.api.get(
        "/api/v1/availability/", {"service": service_id, "start": day, "end": day}
    ).json()["slots"]
    assert slots
    assert {slot["therapist"] for slot in slots} == {me.pk}
    booked = owner.api.post(
        "/api/v1/appointments/",
        {
            "service": service_id,
            "therapist": me.pk,
            "start": slots[0]["start"],
            "client": client.pk,
        },
    )

    assert booked.status_code == 201, booked.content
    assert booked.json()["service"] == service_id


def test_a_service_created_with_therapists_is_offered_by_those_only(owner, therapist):
    response = owner.api.post(
        SERVICES, new_service(therapists=[therapist.user.therapist.pk]), format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["therapists"] == [therapist.user.therapist.pk]
    service = Service.objects.get(pk=response.json()["id"])
    assert list(service.therapists.all()) == [therapist.user.therapist]


def test_a_service_created_with_an_empty_list_is_offered_by_nobody(owner, therapist):
    response = owner.api.post(SERVICES, new_service(therapists=[]), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["therapists"] == []


def test_patch_without_therapists_keeps_who_offers_a_service(owner, therapist, massage):
    massage.therapists.set([therapist.user.therapist])

    response = owner.api.patch(f"{SERVICES}{massage.pk}/", {"price": "70.00"}, format="json")

    assert response.status_code == 200
    assert response.json()["therapists"] == [therapist.user.therapist.pk]


def test_patch_with_therapists_replaces_who_offers_it_and_moves_both_for_sync(
    owner, therapist, massage
):
    theirs = therapist.user.therapist
    massage.therapists.set([theirs])
    before = Therapist.objects.get(pk=theirs.pk).updated_at
    mine = owner.user.therapist

    response = owner.api.patch(f"{SERVICES}{massage.pk}/", {"therapists": [mine.pk]}, format="json")

    assert response.status_code == 200
    assert response.json()["therapists"] == [mine.pk]
    assert list(massage.therapists.all()) == [mine]
    assert Therapist.objects.get(pk=theirs.pk).updated_at > before  # it lost `services` entry
    assert owner.api.get(f"/api/v1/therapists/{mine.pk}/").json()["services"] == [massage.pk]


def test_a_therapist_of_another_practice_cannot_be_named(owner, other_practice, massage):
    stranger = TherapistFactory(practice=other_practice)

    created = owner.api.post(SERVICES, new_service(therapists=[stranger.pk]), format="json")
    changed = owner.api.patch(
        f"{SERVICES}{massage.pk}/", {"therapists": [stranger.pk]}, format="json"
    )

    for response in (created, changed):
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "therapists"
    assert not Service.objects.filter(name="Lower back, 45 min").exists()
    assert massage.therapists.count() == 0


def test_patching_a_therapists_services_moves_the_services_for_sync(owner, therapist, massage):
    theirs = therapist.user.therapist
    before = Service.objects.get(pk=massage.pk).updated_at

    response = owner.api.patch(
        f"/api/v1/therapists/{theirs.pk}/", {"services": [massage.pk]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["services"] == [massage.pk]
    assert Service.objects.get(pk=massage.pk).updated_at > before
    assert owner.api.get(f"{SERVICES}{massage.pk}/").json()["therapists"] == [theirs.pk]
