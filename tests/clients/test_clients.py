"""Client records (API.md "Clients"; DOMAIN.md 2b health flags, 8 minimum necessary)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import Client
from tests.factories import ClientFactory

CLIENTS = "/api/v1/clients/"

# DOMAIN.md 2b, written out here rather than imported, so a drift in the vocabulary is caught.
DOMAIN_HEALTH_FLAGS = {
    "dvt",
    "fever_acute_illness",
    "red_flag_open",
    "anticoagulant_or_bleeding_disorder",
    "osteoporosis",
    "acute_inflammation_or_injury",
    "fracture_unhealed",
    "recent_surgery",
    "skin_lesion",
    "varicose_veins",
    "pregnancy",
    "cancer_active_treatment",
    "reduced_sensation",
    "uncontrolled_hypertension_cardiac",
}


def detail(client: Client) -> str:
    return f"{CLIENTS}{client.pk}/"


def new_client_body(**overrides) -> dict:
    return {
        "first_name": "Ada",
        "last_name": "Byron",
        "email": "ada@example.com",
        "phone": "+44 7700 900456",
        "date_of_birth": "1985-12-10",
        **overrides,
    }


def error_fields(response) -> set[str]:
    return {error["field"].split(".")[0] for error in response.json()["errors"]}


# --- staff create, list, retrieve, patch ------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "therapist", "front_desk"])
def test_staff_create_a_client_in_their_own_practice(members, practice, role):
    response = members[role].api.post(CLIENTS, new_client_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["first_name"] == "Ada"
    assert body["date_of_birth"] == "1985-12-10"
    assert body["has_account"] is False
    created = Client.objects.get(pk=body["id"])
    assert created.practice == practice
    assert created.email == "ada@example.com"


def test_new_client_gets_email_reminders_by_default(owner):
    response = owner.api.post(CLIENTS, new_client_body(), format="json")

    assert response.status_code == 201
    assert response.json()["reminder_channels"] == ["email"]
    assert Client.objects.get(pk=response.json()["id"]).reminder_channels == ["email"]


def test_staff_list_only_their_practice_clients(owner, practice, other_practice):
    mine = ClientFactory.create_batch(3, practice=practice)
    ClientFactory(practice=other_practice)

    response = owner.api.get(CLIENTS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"next", "previous", "results"}
    assert {row["id"] for row in body["results"]} == {c.pk for c in mine}


@pytest.mark.parametrize("role", ["owner", "therapist"])
def test_clinicians_retrieve_a_client_with_health_flags(members, practice, role):
    client = ClientFactory(practice=practice, health_flags=["osteoporosis"])

    response = members[role].api.get(detail(client))

    assert response.status_code == 200
    assert response.json()["health_flags"] == ["osteoporosis"]


def test_another_practice_client_is_404_for_staff(owner, other_practice):
    stranger = ClientFactory(practice=other_practice, phone="+1 555 0100")

    assert owner.api.get(detail(stranger)).status_code == 404
    response = owner.api.patch(detail(stranger), {"phone": "1"}, format="json")
    assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.phone == "+1 555 0100"


def test_therapist_patches_contact_details_and_health_flags(therapist, practice):
    client = ClientFactory(practice=practice)

    response = therapist.api.patch(
        detail(client),
        {"phone": "+44 20 7946 0000", "health_flags": ["pregnancy", "varicose_veins"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    client.refresh_from_db()
    assert client.phone == "+44 20 7946 0000"
    assert client.health_flags == ["pregnancy", "varicose_veins"]


def test_put_is_not_offered(owner, practice):
    client = ClientFactory(practice=practice, first_name="Kept")

    response = owner.api.put(detail(client), new_client_body(), format="json")

    assert response.status_code == 405
    client.refresh_from_db()
    assert client.first_name == "Kept"


# --- health flags: keys of DOMAIN.md 2b only --------------------------------------------------


def test_every_domain_health_flag_is_accepted(owner):
    flags = sorted(DOMAIN_HEALTH_FLAGS)

    response = owner.api.post(CLIENTS, new_client_body(health_flags=flags), format="json")

    assert response.status_code == 201, response.content
    # red_flag_open follows the client's open referrals (DOMAIN.md 2b), not what is sent.
    expected = [flag for flag in flags if flag != "red_flag_open"]
    assert sorted(Client.objects.get(pk=response.json()["id"]).health_flags) == expected


@pytest.mark.parametrize("flag", ["diabetes", "Osteoporosis", "", "dvt "])
def test_unknown_health_flag_is_400_and_nothing_is_created(owner, flag):
    response = owner.api.post(CLIENTS, new_client_body(health_flags=[flag]), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "health_flags" in error_fields(response)
    assert not Client.objects.exists()


def test_duplicate_health_flag_is_400_and_nothing_is_created(owner):
    body = new_client_body(health_flags=["osteoporosis", "osteoporosis"])

    response = owner.api.post(CLIENTS, body, format="json")

    assert response.status_code == 400
    assert "health_flags" in error_fields(response)
    assert not Client.objects.exists()


def test_patching_an_unknown_health_flag_is_400_and_keeps_the_old_flags(therapist, practice):
    client = ClientFactory(practice=practice, health_flags=["dvt"])

    response = therapist.api.patch(detail(client), {"health_flags": ["gout"]}, format="json")

    assert response.status_code == 400
    client.refresh_from_db()
    assert client.health_flags == ["dvt"]


def test_health_flags_must_be_a_list(owner):
    response = owner.api.post(CLIENTS, new_client_body(health_flags="dvt"), format="json")

    assert response.status_code == 400
    assert not Client.objects.exists()


# --- reminder channels --------------------------------------------------------------------------


def test_sms_reminders_are_accepted_with_a_phone(owner):
    body = new_client_body(reminder_channels=["email", "sms"])

    response = owner.api.post(CLIENTS, body, format="json")

    assert response.status_code == 201, response.content
    assert Client.objects.get(pk=response.json()["id"]).reminder_channels == ["email", "sms"]


def test_sms_reminders_without_a_phone_are_400(owner):
    body = new_client_body(phone="", reminder_channels=["sms"])

    response = owner.api.post(CLIENTS, body, format="json")

    assert response.status_code == 400
    assert "reminder_channels" in error_fields(response)
    assert not Client.objects.exists()


def test_turning_on_sms_for_a_client_without_phone_is_400(owner, practice):
    client = ClientFactory(practice=practice, phone="")

    response = owner.api.patch(detail(client), {"reminder_channels": ["sms"]}, format="json")

    assert response.status_code == 400
    client.refresh_from_db()
    assert client.reminder_channels == ["email"]


def test_removing_the_phone_of_a_client_with_sms_reminders_is_400(owner, practice):
    client = ClientFactory(practice=practice, reminder_channels=["sms"])

    response = owner.api.patch(detail(client), {"phone": ""}, format="json")

    assert response.status_code == 400
    assert "phone" in error_fields(response)
    client.refresh_from_db()
    assert client.phone == "+44 7700 900123"


@pytest.mark.parametrize("channels", [["fax"], ["email", "email"]])
def test_unknown_or_repeated_reminder_channel_is_400(owner, channels):
    response = owner.api.post(CLIENTS, new_client_body(reminder_channels=channels), format="json")

    assert response.status_code == 400
    assert "reminder_channels" in error_fields(response)
    assert not Client.objects.exists()


# --- front desk: contact details only -----------------------------------------------------------


def test_front_desk_never_sees_health_flags_in_list_or_detail(front_desk, practice):
    client = ClientFactory(practice=practice, health_flags=["cancer_active_treatment"])

    listed = front_desk.api.get(CLIENTS)
    shown = front_desk.api.get(detail(client))

    assert listed.status_code == 200
    assert shown.status_code == 200
    (row,) = listed.json()["results"]
    assert row["id"] == client.pk
    assert "health_flags" not in row
    assert "health_flags" not in shown.json()
    assert shown.json()["phone"] == client.phone
    assert b"cancer_active_treatment" not in listed.content + shown.content


def test_front_desk_sending_health_flags_on_create_is_400(front_desk):
    body = new_client_body(health_flags=["dvt"])

    response = front_desk.api.post(CLIENTS, body, format="json")

    assert response.status_code == 400
    assert "health_flags" in error_fields(response)
    # The field exists for clinical roles (the schema shows it): the role is what forbids it.
    (error,) = [e for e in response.json()["errors"] if e["field"] == "health_flags"]
    assert error["code"] == "not_permitted"
    assert not Client.objects.exists()


def test_front_desk_sending_health_flags_on_patch_is_400(front_desk, practice):
    client = ClientFactory(practice=practice, health_flags=["osteoporosis"])

    response = front_desk.api.patch(detail(client), {"health_flags": []}, format="json")

    assert response.status_code == 400
    client.refresh_from_db()
    assert client.health_flags == ["osteoporosis"]


def test_front_desk_patch_of_contact_details_keeps_health_flags(front_desk, practice):
    client = ClientFactory(practice=practice, health_flags=["osteoporosis"])

    response = front_desk.api.patch(detail(client), {"email": "new@example.com"}, format="json")

    assert response.status_code == 200
    assert "health_flags" not in response.json()
    client.refresh_from_db()
    assert client.email == "new@example.com"
    assert client.health_flags == ["osteoporosis"]


# --- a client user: their own record only -------------------------------------------------------


def test_client_lists_only_their_own_record(client_member, practice):
    ClientFactory.create_batch(2, practice=practice)

    response = client_member.api.get(CLIENTS)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [client_member.user.client.pk]
    assert rows[0]["has_account"] is True


def test_client_reads_their_own_health_flags(client_member):
    own = client_member.user.client
    own.health_flags = ["pregnancy"]
    own.save()

    response = client_member.api.get(detail(own))

    assert response.status_code == 200
    assert response.json()["health_flags"] == ["pregnancy"]


def test_another_client_record_is_404_for_a_client(client_member, practice):
    neighbour = ClientFactory(practice=practice, phone="+44 1")

    assert client_member.api.get(detail(neighbour)).status_code == 404
    response = client_member.api.patch(detail(neighbour), {"phone": "+44 2"}, format="json")
    assert response.status_code == 404
    neighbour.refresh_from_db()
    assert neighbour.phone == "+44 1"


def test_client_updates_their_phone_and_reminder_channels(client_member):
    own = client_member.user.client

    response = client_member.api.patch(
        detail(own), {"phone": "+44 7700 900999", "reminder_channels": ["sms"]}, format="json"
    )

    assert response.status_code == 200, response.content
    own.refresh_from_db()
    assert own.phone == "+44 7700 900999"
    assert own.reminder_channels == ["sms"]


@pytest.mark.parametrize(
    "field_value",
    [
        ("health_flags", []),
        ("health_flags", ["dvt"]),
        ("date_of_birth", "1990-01-01"),
        ("last_name", "Renamed"),
    ],
)
def test_client_cannot_change_clinician_owned_fields(client_member, field_value):
    field, value = field_value
    own = client_member.user.client
    own.health_flags = ["osteoporosis"]
    own.save()
    before = Client.objects.filter(pk=own.pk).values().get()

    response = client_member.api.patch(detail(own), {field: value}, format="json")

    assert response.status_code == 400
    assert field in error_fields(response)
    assert Client.objects.filter(pk=own.pk).values().get() == before


def test_client_cannot_create_client_records(client_member):
    response = client_member.api.post(CLIENTS, new_client_body(), format="json")

    assert response.status_code == 403
    assert Client.objects.count() == 1  # only their own


# --- not deletable, no future birth dates, no server-owned fields -----------------------------


@pytest.mark.parametrize("role", ["owner", "therapist", "front_desk", "client"])
def test_delete_is_not_allowed(members, role):
    client = members["client"].user.client

    response = members[role].api.delete(detail(client))

    assert response.status_code == 405
    assert Client.objects.filter(pk=client.pk).exists()


def test_date_of_birth_in_the_future_is_400(owner):
    tomorrow = timezone.localdate() + dt.timedelta(days=2)

    response = owner.api.post(
        CLIENTS, new_client_body(date_of_birth=tomorrow.isoformat()), format="json"
    )

    assert response.status_code == 400
    assert "date_of_birth" in error_fields(response)
    assert not Client.objects.exists()


def test_date_of_birth_today_is_accepted(owner):
    today = timezone.localdate()

    response = owner.api.post(
        CLIENTS, new_client_body(date_of_birth=today.isoformat()), format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize("field", ["practice", "user", "id", "has_account", "created_at"])
def test_server_owned_fields_in_a_body_are_400(owner, field, other_practice):
    response = owner.api.post(CLIENTS, new_client_body(**{field: 1}), format="json")

    assert response.status_code == 400
    assert field in error_fields(response)
    assert not Client.objects.exists()
