"""The retention clock (DOMAIN.md 4 "Retention"): `retain_until` per practice jurisdiction, minors,
leap days, and who sees it."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients.models import Client
from practice.retention import RULES, Jurisdiction, add_years, erasure_due_by, retain_until
from tests.factories import AppointmentFactory, ClientFactory, NoteFactory, OutcomeFactory

CLIENTS = "/api/v1/clients/"
days = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))
rules = st.sampled_from(list(RULES.values()))


# --- pure date arithmetic -------------------------------------------------------------------------


@given(day=days, years=st.integers(min_value=0, max_value=100))
def test_add_years_is_the_anniversary_and_never_early(day, years):
    later = add_years(day, years)
    assert later.year == day.year + years
    if (day.month, day.day) == (2, 29) and not calendar.isleap(later.year):
        assert later == dt.date(later.year, 3, 1)  # the period is never cut short by a day
    else:
        assert (later.month, later.day) == (day.month, day.day)


@given(last=days, birth=st.none() | days, rule=rules)
def test_retain_until_is_the_later_of_the_adult_and_the_minor_clock(last, birth, rule):
    until = retain_until(last_entry=last, date_of_birth=birth, rule=rule)
    assert until is not None
    assert until >= add_years(last, rule.years)
    assert until - last >= dt.timedelta(days=365 * rule.years)
    if birth is not None:
        assert until >= add_years(birth, rule.majority_age + rule.years)
        assert until in (add_years(last, rule.years), add_years(birth, 18 + rule.years))
    else:
        assert until == add_years(last, rule.years)


def test_no_clinical_record_means_no_clock():
    assert (
        retain_until(last_entry=None, date_of_birth=dt.date(2010, 1, 1), rule=RULES["ca_on"])
        is None
    )


@pytest.mark.parametrize(
    ("jurisdiction", "expected"),
    [
        (Jurisdiction.ONTARIO, dt.date(2034, 5, 1)),  # CMTO: 10 years from the last entry
        (Jurisdiction.FLORIDA, dt.date(2029, 5, 1)),
        (Jurisdiction.TEXAS, dt.date(2031, 5, 1)),
        (Jurisdiction.US_OTHER, dt.date(2030, 5, 1)),
        (Jurisdiction.UNSPECIFIED, dt.date(2034, 5, 1)),  # the longest rule until one is chosen
    ],
)
def test_each_jurisdiction_counts_its_years_from_the_last_entry(jurisdiction, expected):
    rule = RULES[jurisdiction]
    assert retain_until(last_entry=dt.date(2024, 5, 1), date_of_birth=None, rule=rule) == expected


def test_an_ontario_minor_is_kept_ten_years_after_their_18th_birthday():
    rule = RULES[Jurisdiction.ONTARIO]
    # seen at 12 in 2020: 10 years after the last entry is 2030, 10 after turning 18 is 2036
    until = retain_until(
        last_entry=dt.date(2020, 6, 1), date_of_birth=dt.date(2008, 2, 29), rule=rule
    )
    assert until == dt.date(2036, 2, 29)  # 2036 is a leap year
    until = retain_until(
        last_entry=dt.date(2020, 6, 1), date_of_birth=dt.date(2008, 2, 29), rule=RULES["us_fl"]
    )
    assert until == dt.date(2031, 3, 1)  # 18 + 5 years, 29 Feb -> 1 Mar in a common year


def test_erasure_answers_are_due_within_a_month_or_30_days_when_hipaa_covered():
    assert erasure_due_by(dt.date(2026, 1, 31), hipaa_covered=False) == dt.date(2026, 2, 28)
    assert erasure_due_by(dt.date(2026, 12, 15), hipaa_covered=False) == dt.date(2027, 1, 15)
    assert erasure_due_by(dt.date(2026, 3, 1), hipaa_covered=True) == dt.date(2026, 3, 31)


# --- the stored clock moves with clinical writes ------------------------------------------------


def test_clinical_writes_start_and_move_the_clock_and_bookings_do_not(practice):
    client = ClientFactory(practice=practice, date_of_birth=None)
    AppointmentFactory(client=client)  # a booking is not clinical contact
    client.refresh_from_db()
    assert client.last_clinical_entry is None

    NoteFactory(client=client)
    client.refresh_from_db()
    assert client.last_clinical_entry is not None

    Client.objects.filter(pk=client.pk).update(last_clinical_entry=dt.date(2015, 1, 1))
    OutcomeFactory(complaint__client=client)
    client.refresh_from_db()
    assert client.last_clinical_entry > dt.date(2015, 1, 1)


def test_owner_and_therapist_read_retain_until_following_the_jurisdiction(
    owner, therapist, practice
):
    client = ClientFactory(practice=practice, date_of_birth=dt.date(1970, 1, 1))
    Client.objects.filter(pk=client.pk).update(last_clinical_entry=dt.date(2024, 5, 1))

    assert owner.api.get(f"{CLIENTS}{client.pk}/").json()["retain_until"] == "2034-05-01"
    changed = owner.api.patch("/api/v1/practice/", {"jurisdiction": "us_fl"}, format="json")
    assert changed.status_code == 200, changed.content
    shown = therapist.api.get(f"{CLIENTS}{client.pk}/").json()
    assert (shown["retain_until"], shown["legal_hold"], shown["restricted"]) == (
        "2029-05-01",
        False,
        False,
    )
    listed = owner.api.get(CLIENTS).json()["results"]
    assert [row["retain_until"] for row in listed] == ["2029-05-01"]


def test_front_desk_and_api_keys_do_not_see_retention_and_clients_do_not_see_holds(
    front_desk, client_member, practice
):
    client = ClientFactory(practice=practice)
    desk = front_desk.api.get(f"{CLIENTS}{client.pk}/").json()
    assert not {"retain_until", "legal_hold", "legal_hold_reason", "restricted"} & set(desk)
    own = client_member.api.get(f"{CLIENTS}{client_member.user.client.pk}/").json()
    assert "retain_until" in own
    assert "legal_hold" not in own


def test_only_the_owner_changes_the_jurisdiction(therapist, practice):
    response = therapist.api.patch("/api/v1/practice/", {"jurisdiction": "us_fl"}, format="json")
    assert response.status_code == 403
    practice.refresh_from_db()
    assert practice.jurisdiction == "unspecified"


def test_an_unknown_jurisdiction_is_400(owner, practice):
    response = owner.api.patch("/api/v1/practice/", {"jurisdiction": "mars"}, format="json")
    assert response.status_code == 400
    practice.refresh_from_db()
    assert practice.jurisdiction == "unspecified"
