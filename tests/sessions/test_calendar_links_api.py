"""`therapists/{id}/calendars/` (issue 20.4): the owner, or a therapist for themselves, links an
iCalendar URL or a CalDAV calendar. The app password is stored encrypted and never shown; URLs
follow the webhook SSRF rules; bad input is a 400 naming the field, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from practice.models import Role
from sessions.scheduling import outside_calendars
from sessions.scheduling.availability import Interval
from sessions.scheduling.models import BusyBlock, CalendarLink
from tests.conftest import make_member
from tests.factories import BusyBlockFactory, CalendarLinkFactory, TherapistFactory

pytestmark = pytest.mark.django_db

ICS = "https://calendar.example.com/private-abc/basic.ics"
CALDAV = "https://dav.example.com/calendars/me/work/"


@pytest.fixture(autouse=True)
def public_example_hosts(settings, monkeypatch):
    """example.com resolves to a public address in the rules' eyes; no network is touched."""
    monkeypatch.setattr(
        "practice.webhooks.socket.getaddrinfo",
        lambda host, port, **kw: (
            [(2, 1, 6, "", ("93.184.215.14", port))]
            if host.endswith("example.com")
            else [(2, 1, 6, "", ("127.0.0.1", port))]
        ),
    )


def url(therapist, link=None, action="") -> str:
    base = f"/api/v1/therapists/{therapist.pk}/calendars/"
    return f"{base}{link.pk}/{action}" if link is not None else base


def errors(response) -> set[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    return {error["field"] for error in body["errors"]}


def test_the_owner_links_an_ics_calendar_that_syncs_at_once(owner, therapist):
    row = therapist.user.therapist

    response = owner.api.post(url(row), {"kind": "ics", "url": ICS, "name": "Home"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "ics"
    assert body["url"] == ICS
    assert body["therapist"] == row.pk
    assert body["has_password"] is False
    assert body["last_error"] == ""
    assert body["last_synced_at"] is None
    link = CalendarLink.objects.get(pk=body["id"])
    assert link.next_sync_at <= timezone.now()
    assert owner.api.get(url(row)).json()[0]["id"] == link.pk


def test_a_caldav_password_is_stored_encrypted_and_never_shown(therapist):
    row = therapist.user.therapist
    secret = "app-password-never-shown"

    response = therapist.api.post(
        url(row),
        {"kind": "caldav", "url": CALDAV, "username": "me", "password": secret, "write_back": True},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert secret not in response.content.decode()
    assert response.json()["has_password"] is True
    assert response.json()["write_back"] is True
    link = CalendarLink.objects.get(pk=response.json()["id"])
    assert secret not in link.password_encrypted
    assert outside_calendars.decrypt_password(link.password_encrypted) == secret
    for shown in (therapist.api.get(url(row)), therapist.api.get(url(row, link))):
        assert secret not in shown.content.decode()


def test_a_therapist_manages_only_their_own_calendars(practice, therapist, front_desk):
    colleague = TherapistFactory(practice=practice)
    theirs = CalendarLinkFactory(therapist=colleague)

    assert therapist.api.get(url(colleague)).status_code == 404
    assert therapist.api.get(url(colleague, theirs)).status_code == 404
    assert therapist.api.delete(url(colleague, theirs)).status_code == 404
    created = therapist.api.post(url(colleague), {"kind": "ics", "url": ICS}, format="json")
    assert created.status_code == 404
    assert front_desk.api.get(url(colleague)).status_code == 403
    assert CalendarLink.objects.filter(therapist=colleague).count() == 1


def test_another_practice_sees_none_of_them(other_owner, therapist):
    row = therapist.user.therapist
    link = CalendarLinkFactory(therapist=row)

    assert other_owner.api.get(url(row)).status_code == 404
    assert other_owner.api.patch(url(row, link), {"name": "x"}, format="json").status_code == 404
    assert CalendarLink.objects.get(pk=link.pk).name == ""


def test_a_client_is_refused(practice, therapist):
    client = make_member(practice, Role.CLIENT, "calendar-client@north.test")
    assert client.api.get(url(therapist.user.therapist)).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "ics"}, "url"),
        ({"kind": "outlook", "url": ICS}, "kind"),
        ({"kind": "ics", "url": "not a url"}, "url"),
        ({"kind": "ics", "url": "ftp://calendar.example.com/a.ics"}, "url"),
        ({"kind": "ics", "url": "http://localhost/a.ics"}, "url"),  # loopback: SSRF rules
        ({"kind": "ics", "url": "http://calendar.example.com:99999/a.ics"}, "url"),
        ({"kind": "ics", "url": ICS, "password": "x"}, "password"),
        ({"kind": "ics", "url": ICS, "write_back": True}, "write_back"),
        ({"kind": "caldav", "url": CALDAV, "username": "me"}, "password"),
        (
            {
                "kind": "caldav",
                "url": "http://dav.example.com/c/",
                "username": "m",
                "password": "p",
            },
            "url",
        ),  # a password in the clear: https only
        ({"kind": "ics", "url": ICS, "etag": "forged"}, "etag"),  # unknown field
        ({"kind": "ics", "url": ICS, "name": "x" * 101}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_links_nothing(owner, therapist, body, field):
    response = owner.api.post(url(therapist.user.therapist), body, format="json")

    assert field in errors(response)
    assert not CalendarLink.objects.exists()


def test_a_new_url_syncs_again_and_keeps_the_busy_times_until_then(owner, therapist):
    row = therapist.user.therapist
    link = CalendarLinkFactory(therapist=row, etag='"old"', sync_token="t1")
    BusyBlockFactory(link=link)

    response = owner.api.patch(url(row, link), {"url": ICS}, format="json")

    assert response.status_code == 200, response.content
    link.refresh_from_db()
    assert (link.url, link.etag, link.sync_token) == (ICS, "", "")
    assert link.next_sync_at <= timezone.now()
    assert BusyBlock.objects.filter(link=link).count() == 1
    assert "url" in errors(
        owner.api.patch(url(row, link), {"url": "http://10.0.0.1/"}, format="json")
    )
    assert "kind" in errors(owner.api.patch(url(row, link), {"kind": "caldav"}, format="json"))


def test_unlinking_frees_the_busy_times(owner, therapist):
    row = therapist.user.therapist
    link = CalendarLinkFactory(therapist=row)
    BusyBlockFactory(link=link)

    assert owner.api.delete(url(row, link)).status_code == 204

    assert not BusyBlock.objects.exists()
    assert not CalendarLink.objects.exists()


def test_sync_now_makes_a_backed_off_link_due(owner, therapist):
    row = therapist.user.therapist
    link = CalendarLinkFactory(therapist=row, failures=4, last_error="HTTP 500")

    response = owner.api.post(url(row, link, "sync/"))

    assert response.status_code == 202
    assert outside_calendars.claim_due_links() == [link.pk]


def test_a_sync_of_a_url_changed_meanwhile_is_dropped(owner, therapist):
    """A sync in flight when the URL changes must not write the old calendar's busy times."""
    row = therapist.user.therapist
    link = CalendarLinkFactory(therapist=row)
    assert outside_calendars.claim_due_links(now=timezone.now() + timedelta(hours=1)) == [link.pk]
    read = CalendarLink.objects.get(pk=link.pk)  # what the worker read
    assert owner.api.patch(url(row, link), {"url": ICS}, format="json").status_code == 200
    start = timezone.now() + timedelta(days=2)
    outcome = outside_calendars.Outcome(blocks={"": [Interval(start, start + timedelta(hours=1))]})

    outside_calendars.record_success(read, outcome, timezone.now())
    outside_calendars.record_failure(read, "HTTP 500")

    link.refresh_from_db()
    assert not BusyBlock.objects.exists()
    assert (link.last_synced_at, link.last_error, link.failures) == (None, "", 0)
    assert link.lease_until is None
