"""Members of staff, managed by the owner (API.md `staff/`, "Tenancy and roles")."""

from __future__ import annotations

import pytest

from practice.models import AuthToken, Membership, Role, Therapist, User
from tests.factories import PASSWORD

STAFF = "/api/v1/staff/"


def new_member(**overrides) -> dict:
    return {
        "email": "sam@north.test",
        "first_name": "Sam",
        "last_name": "Okafor",
        "role": "therapist",
        "password": "deep-tissue-2026",
        **overrides,
    }


def membership_of(member) -> Membership:
    return Membership.objects.get(user=member.user)


def test_owner_lists_staff_but_not_clients(owner, therapist, front_desk, client_member):
    response = owner.api.get(STAFF)

    assert response.status_code == 200
    rows = {row["email"]: row for row in response.json()["results"]}
    assert set(rows) == {"owner@north.test", "therapist@north.test", "desk@north.test"}
    assert rows["therapist@north.test"]["role"] == "therapist"
    assert rows["therapist@north.test"]["therapist"] == therapist.user.therapist.pk
    assert rows["desk@north.test"]["therapist"] is None
    assert all("password" not in row for row in rows.values())


def test_owner_creates_a_therapist_who_can_log_in(owner, anon):
    response = owner.api.post(STAFF, new_member())

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "sam@north.test"
    assert body["role"] == "therapist"
    assert "password" not in body
    user = User.objects.get(email="sam@north.test")
    assert user.membership.practice == owner.user.membership.practice
    assert user.membership.role == Role.THERAPIST
    assert body["therapist"] == user.therapist.pk
    assert user.therapist.active
    login = anon.post(
        "/api/v1/auth/token/", {"email": "sam@north.test", "password": "deep-tissue-2026"}
    )
    assert login.status_code == 200


def test_a_new_front_desk_member_is_not_a_therapist(owner):
    response = owner.api.post(STAFF, new_member(role="front_desk"))

    assert response.status_code == 201
    assert response.json()["therapist"] is None
    assert not Therapist.objects.filter(user__email="sam@north.test").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short"}, "password"),
        ({"role": "client"}, "role"),
        ({"role": "superuser"}, "role"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "therapist@north.test"}, "email"),
        ({"email": "owner@south.test"}, "email"),  # emails are unique across practices
        ({"practice": 999}, "practice"),
        ({"is_staff": True}, "is_staff"),
        ({"id": 12345}, "id"),
    ],
)
def test_invalid_staff_member_is_400_and_creates_nothing(
    owner, therapist, other_owner, overrides, field
):
    users_before = User.objects.count()
    memberships_before = Membership.objects.count()

    response = owner.api.post(STAFF, new_member(**overrides))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert User.objects.count() == users_before
    assert Membership.objects.count() == memberships_before


def test_password_is_required_on_create(owner):
    body = new_member()
    del body["password"]

    response = owner.api.post(STAFF, body)

    assert response.status_code == 400
    assert not User.objects.filter(email="sam@north.test").exists()


def test_owner_changes_a_role(owner, therapist):
    membership = membership_of(therapist)

    response = owner.api.patch(f"{STAFF}{membership.pk}/", {"role": "front_desk"})

    assert response.status_code == 200
    assert response.json()["role"] == "front_desk"
    membership.refresh_from_db()
    assert membership.role == Role.FRONT_DESK
    assert not Therapist.objects.get(user=therapist.user).active


def test_a_front_desk_member_made_therapist_becomes_bookable(owner, front_desk):
    membership = membership_of(front_desk)

    response = owner.api.patch(f"{STAFF}{membership.pk}/", {"role": "therapist"})

    assert response.status_code == 200
    therapist = Therapist.objects.get(user=front_desk.user)
    assert therapist.active
    assert response.json()["therapist"] == therapist.pk


def test_a_therapist_moved_away_and_back_is_active_again(owner, therapist):
    membership = membership_of(therapist)
    owner.api.patch(f"{STAFF}{membership.pk}/", {"role": "front_desk"})

    response = owner.api.patch(f"{STAFF}{membership.pk}/", {"role": "therapist"})

    assert response.status_code == 200
    assert Therapist.objects.get(user=therapist.user).active


def test_owner_edits_a_members_name(owner, therapist):
    membership = membership_of(therapist)

    response = owner.api.patch(f"{STAFF}{membership.pk}/", {"first_name": "Robin"})

    assert response.status_code == 200
    therapist.user.refresh_from_db()
    assert therapist.user.first_name == "Robin"
    assert membership_of(therapist).role == Role.THERAPIST


@pytest.mark.parametrize(
    "body",
    [{"email": "new@north.test"}, {"password": "another-password-9"}, {"practice": 1}],
)
def test_email_password_and_practice_cannot_be_changed_through_staff(owner, therapist, body):
    membership = membership_of(therapist)

    response = owner.api.patch(f"{STAFF}{membership.pk}/", body)

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == list(body)
    therapist.user.refresh_from_db()
    assert therapist.user.email == "therapist@north.test"
    assert therapist.user.check_password(PASSWORD)


def test_the_last_owner_cannot_be_demoted(owner):
    membership = membership_of(owner)

    response = owner.api.patch(f"{STAFF}{membership.pk}/", {"role": "therapist"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"][0]["field"] == "role"
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_an_owner_can_be_demoted_while_another_owner_remains(owner, therapist):
    owner.api.patch(f"{STAFF}{membership_of(therapist).pk}/", {"role": "owner"})

    response = owner.api.patch(f"{STAFF}{membership_of(owner).pk}/", {"role": "therapist"})

    assert response.status_code == 200
    assert membership_of(owner).role == Role.THERAPIST
    assert membership_of(therapist).role == Role.OWNER


def test_the_last_owner_cannot_be_removed(owner):
    membership = membership_of(owner)

    response = owner.api.delete(f"{STAFF}{membership.pk}/")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]
    assert Membership.objects.filter(pk=membership.pk, role=Role.OWNER).exists()
    owner.user.refresh_from_db()
    assert owner.user.is_active
    assert owner.api.get("/api/v1/me/").status_code == 200


def test_removing_a_member_disables_their_login(owner, therapist, anon):
    membership = membership_of(therapist)

    response = owner.api.delete(f"{STAFF}{membership.pk}/")

    assert response.status_code == 204
    assert not Membership.objects.filter(pk=membership.pk).exists()
    therapist.user.refresh_from_db()
    assert not therapist.user.is_active
    assert not AuthToken.objects.filter(user=therapist.user, revoked_at__isnull=True).exists()
    assert therapist.api.get("/api/v1/me/").status_code == 401
    login = anon.post(
        "/api/v1/auth/token/", {"email": "therapist@north.test", "password": PASSWORD}
    )
    assert login.status_code == 400
    assert not Therapist.objects.get(user=therapist.user).active  # kept for past records


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_the_owner_manages_staff(members, role):
    member = members[role]
    target = membership_of(members["therapist"])
    users_before = User.objects.count()

    listing = member.api.get(STAFF)
    created = member.api.post(STAFF, new_member())
    changed = member.api.patch(f"{STAFF}{target.pk}/", {"role": "owner"})
    removed = member.api.delete(f"{STAFF}{target.pk}/")

    for response in (listing, created, changed, removed):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert User.objects.count() == users_before
    target.refresh_from_db()
    assert target.role == Role.THERAPIST


def test_another_practices_staff_is_404(owner, other_owner):
    theirs = membership_of(other_owner)

    assert owner.api.get(f"{STAFF}{theirs.pk}/").status_code == 404
    assert owner.api.patch(f"{STAFF}{theirs.pk}/", {"role": "therapist"}).status_code == 404
    assert owner.api.delete(f"{STAFF}{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == Role.OWNER
    assert User.objects.get(pk=theirs.user_id).is_active


def test_a_client_membership_is_not_staff(owner, client_member):
    membership = membership_of(client_member)

    assert owner.api.get(f"{STAFF}{membership.pk}/").status_code == 404
    assert owner.api.delete(f"{STAFF}{membership.pk}/").status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_staff_can_be_filtered_by_role(owner, therapist, front_desk):
    response = owner.api.get(STAFF, {"role": "front_desk"})

    assert [row["email"] for row in response.json()["results"]] == ["desk@north.test"]
