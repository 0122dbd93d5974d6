"""`manage.py create_practice` (API.md "Setting up"): a practice, its owner, nothing on failure."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from practice.management.commands.create_practice import Command
from practice.models import Membership, Practice, Role, Therapist, User
from techniques.models import Technique

pytestmark = pytest.mark.django_db

BUILT_IN_TECHNIQUES = {
    "effleurage",
    "kneading",
    "friction",
    "tapotement",
    "compression",
    "trigger_point",
    "myofascial_release",
    "stretching",
    "vibration",
}


def arguments(**overrides) -> list[str]:
    options = {
        "slug": "east",
        "name": "East Side Massage",
        "timezone": "Europe/Berlin",
        "owner-email": "Ana@East.test",
        "owner-password": "trigger-points-99",
        **overrides,
    }
    return [part for name, value in options.items() for part in (f"--{name}", value)]


def create(**overrides) -> str:
    out = io.StringIO()
    call_command("create_practice", *arguments(**overrides), stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int, int, int]:
    return (
        Practice.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
        Therapist.objects.count(),
        Technique.objects.count(),
    )


def test_creates_a_practice_whose_owner_is_also_a_therapist():
    output = create(**{"owner-first-name": "Ana", "owner-last-name": "Silva"})

    practice = Practice.objects.get(slug="east")
    assert (practice.name, practice.timezone) == ("East Side Massage", "Europe/Berlin")
    owner = User.objects.get(email="ana@east.test")
    assert (owner.first_name, owner.last_name) == ("Ana", "Silva")
    assert owner.check_password("trigger-points-99")
    assert owner.is_active
    assert owner.membership.practice == practice
    assert owner.membership.role == Role.OWNER
    assert owner.therapist.practice == practice
    assert owner.therapist.active
    assert "east" in output


def test_a_new_practice_gets_the_nine_built_in_techniques():
    create()

    practice = Practice.objects.get(slug="east")
    codes = list(Technique.objects.filter(practice=practice).values_list("code", flat=True))
    assert len(codes) == 9
    assert set(codes) == BUILT_IN_TECHNIQUES
    assert all(Technique.objects.filter(practice=practice).values_list("is_builtin", flat=True))


def test_the_new_owner_can_log_in(anon):
    create()

    response = anon.post(
        "/api/v1/auth/token/", {"email": "ana@east.test", "password": "trigger-points-99"}
    )

    assert response.status_code == 200


def test_a_taken_slug_fails_and_creates_nothing(practice):
    before = counts()

    with pytest.raises(CommandError) as failure:
        create(slug="north")

    assert "north" in str(failure.value)
    assert "\n" not in str(failure.value).strip()
    assert counts() == before
    assert not User.objects.filter(email="ana@east.test").exists()


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "europe/berlin", "CET+1", ""])
def test_an_unknown_timezone_fails_and_creates_nothing(zone):
    with pytest.raises(CommandError) as failure:
        create(timezone=zone)

    assert "time zone" in str(failure.value).lower()
    assert "\n" not in str(failure.value).strip()
    assert counts() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("password", ["short", "password123", "12345678901234", "ana@east.test"])
def test_a_weak_password_fails_and_creates_nothing(password):
    with pytest.raises(CommandError) as failure:
        create(**{"owner-password": password})

    assert str(failure.value).strip()
    assert "\n" not in str(failure.value).strip()
    # The practice row is written before the owner's password is checked: it must roll back.
    assert counts() == (0, 0, 0, 0, 0)


def test_an_owner_email_already_in_use_fails_and_creates_nothing(practice):
    before = counts()

    with pytest.raises(CommandError) as failure:
        create(**{"owner-email": "owner@north.test"})

    assert "email" in str(failure.value).lower()
    assert counts() == before
    assert not Practice.objects.filter(slug="east").exists()


@pytest.mark.parametrize("slug", ["Not A Slug", "bookings"])
def test_an_unusable_slug_fails_and_creates_nothing(slug):
    with pytest.raises(CommandError) as failure:
        create(slug=slug)

    assert "\n" not in str(failure.value).strip()
    assert counts() == (0, 0, 0, 0, 0)


def test_from_the_command_line_a_failure_exits_non_zero_with_one_line(
    practice, capsys, monkeypatch
):
    # run_from_argv closes every connection when it ends; the test's transaction must survive it.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    before = counts()

    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "create_practice", *arguments(slug="north")])

    assert exit_info.value.code != 0
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1
    assert "north" in errors[0]
    assert counts() == before


def test_from_the_command_line_success_exits_zero(capsys, monkeypatch):
    monkeypatch.setattr(connections, "close_all", lambda: None)

    Command().run_from_argv(["manage.py", "create_practice", *arguments()])

    assert Practice.objects.filter(slug="east").exists()
    assert "east" in capsys.readouterr().out
