"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows: hoarding the diary.

The flow a script would abuse is the public booking page: no account, so nothing but a rate limit
stood between a bot and every free slot of a practice (10 POSTs an hour per address is still 240 a
day, and a botnet has many addresses). Backcare caps what one caller may *hold*: while an email
already holds PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL (3) live public bookings in a practice, or an
address (an IPv6 one counted by its /64, behind NUM_PROXIES proxies the forwarded one) holds
PUBLIC_BOOKING_MAX_LIVE_PER_IP (10), the next is refused with 429 `throttled` (the contract's
rate-limit answer) and Retry-After the seconds until the earliest held booking starts. Live means
future and not cancelled; a client account's own bookings count with the public ones and meet
the same cap (issue 13.9), staff and API bookings never count. The count runs in
the booking's transaction, behind a per-email and per-address advisory lock on Postgres, so racing
requests cannot all see room for one more. Every refusal is checked to have written nothing.

429 rather than 409: the request is fine and the slot may be free; it is this caller's allowance
that is spent, and it comes back by itself (Retry-After) or when they cancel a booking.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from clients.domain import ComplaintStatus
from clients.models import Client
from practice.models import WebhookEvent
from sessions.scheduling.models import (
    Appointment,
    AppointmentEvent,
    IdempotencyRecord,
    QuietRefusal,
    Source,
    Status,
)
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    WebhookSubscriptionFactory,
)

pytestmark = pytest.mark.django_db

SLUG = "north"
BOOKINGS = f"/api/v1/public/{SLUG}/bookings/"
IP = "203.0.113.50"


@pytest.fixture(autouse=True)
def _generous_post_rate(rates):
    """The per-address POST rate (10/hour) is API4's; here only the live-booking caps refuse."""
    rates(public_booking="10000/hour", public="10000/min")


def at(practice, days: int, hour: int) -> datetime:
    day = timezone.now().astimezone(practice.tz).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=practice.tz).astimezone(UTC)


def body(public_setup, start: datetime, email: str = "robin@example.com", **extra) -> dict:
    therapist, service = public_setup
    return {
        "service": service.pk,
        "therapist": therapist.pk,
        "start": start.isoformat(),
        "first_name": "Robin",
        "last_name": "Ashdown",
        "email": email,
        "phone": "+44 7700 900456",
        **extra,
    }


def book(api: APIClient, data: dict, ip: str = IP, **headers):
    return api.post(BOOKINGS, data, format="json", REMOTE_ADDR=ip, **headers)


def written() -> tuple[int, ...]:
    return (
        Client.objects.count(),
        Appointment.objects.count(),
        AppointmentEvent.objects.count(),
        WebhookEvent.objects.count(),
        IdempotencyRecord.objects.count(),
    )


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    payload = response.json()
    assert payload["code"] == "throttled"
    assert set(payload) == {"code", "detail"}
    assert "upcoming online bookings" in payload["detail"]
    assert int(response["Retry-After"]) > 0


def test_an_email_holds_at_most_three_live_public_bookings(anon, practice, public_setup):
    WebhookSubscriptionFactory(practice=practice, events=["appointment.created", "client.created"])
    for day in (2, 3, 4):
        assert book(anon, body(public_setup, at(practice, day, 10))).status_code == 201
    before = written()

    refused = book(anon, body(public_setup, at(practice, 5, 10)), HTTP_IDEMPOTENCY_KEY="k-4")

    assert_throttled(refused)
    assert written() == before  # no client, appointment, history, outbox row or idempotency record
    assert not Appointment.objects.filter(start=at(practice, 5, 10)).exists()


def test_retry_after_is_the_time_until_the_earliest_held_booking(anon, practice, public_setup):
    earliest = at(practice, 2, 10)
    for start in (at(practice, 9, 10), earliest, at(practice, 6, 10)):
        assert book(anon, body(public_setup, start)).status_code == 201

    refused = book(anon, body(public_setup, at(practice, 12, 10)))

    assert_throttled(refused)
    expected = (earliest - timezone.now()).total_seconds()
    assert abs(int(refused["Retry-After"]) - expected) < 60


@pytest.mark.parametrize(
    "spelling", ["ROBIN@EXAMPLE.COM", "  Robin@Example.com ", "robin@example.COM"]
)
def test_the_email_is_counted_whatever_its_case_or_spaces(anon, practice, public_setup, spelling):
    for day in (2, 3, 4):
        assert book(anon, body(public_setup, at(practice, day, 10))).status_code == 201

    refused = book(anon, body(public_setup, at(practice, 5, 10), email=spelling), ip="198.51.100.1")

    assert_throttled(refused)
    assert Appointment.objects.count() == 3


def test_an_email_at_its_cap_is_refused_from_any_address(anon, practice, public_setup):
    for n, day in enumerate((2, 3, 4)):
        assert (
            book(anon, body(public_setup, at(practice, day, 10)), ip=f"192.0.2.{n}").status_code
            == 201
        )

    assert_throttled(book(anon, body(public_setup, at(practice, 5, 10)), ip="192.0.2.99"))


def test_cancelling_with_the_manage_link_gives_the_allowance_back(anon, practice, public_setup):
    links = [
        book(anon, body(public_setup, at(practice, day, 10))).json()["manage_url"]
        for day in (3, 4, 5)
    ]
    assert_throttled(book(anon, body(public_setup, at(practice, 6, 10))))

    cancel = anon.post(f"{urlparse(links[0]).path}cancel/", {}, format="json")
    assert cancel.status_code == 200, cancel.content

    assert book(anon, body(public_setup, at(practice, 6, 10))).status_code == 201
    assert Appointment.objects.exclude(status=Status.CANCELLED).count() == 3


def test_past_and_cancelled_public_bookings_do_not_count(anon, practice, public_setup):
    therapist, service = public_setup
    client = ClientFactory(practice=practice, email="robin@example.com")
    past = timezone.now() - timedelta(days=3)
    for n in range(3):
        AppointmentFactory(
            client=client,
            therapist=therapist,
            service=service,
            source=Source.PUBLIC,
            start=past - timedelta(days=n),
            status=Status.COMPLETED,
            booked_from_ip=IP,
        )
        AppointmentFactory(
            client=client,
            therapist=therapist,
            service=service,
            source=Source.PUBLIC,
            start=timezone.now() + timedelta(days=20 + n),
            status=Status.CANCELLED,
            booked_from_ip=IP,
        )

    assert book(anon, body(public_setup, at(practice, 2, 10))).status_code == 201


def test_staff_and_api_bookings_do_not_count(anon, practice, public_setup):
    therapist, service = public_setup
    client = ClientFactory(practice=practice, email="robin@example.com")
    for n, source in enumerate([Source.STAFF, Source.API] * 3):
        AppointmentFactory(
            client=client,
            therapist=therapist,
            service=service,
            source=source,
            start=timezone.now() + timedelta(days=30, hours=2 * n),
        )

    assert book(anon, body(public_setup, at(practice, 2, 10))).status_code == 201


def test_bookings_at_another_practice_do_not_count(anon, practice, other_practice, public_setup):
    other_client = ClientFactory(practice=other_practice, email="robin@example.com")
    for n in range(5):
        AppointmentFactory(
            client=other_client,
            source=Source.PUBLIC,
            booked_from_ip=IP,
            start=timezone.now() + timedelta(days=10, hours=2 * n),
        )

    assert book(anon, body(public_setup, at(practice, 2, 10))).status_code == 201


def test_an_address_holds_at_most_its_cap_across_many_emails(
    anon, practice, public_setup, settings
):
    settings.PUBLIC_BOOKING_MAX_LIVE_PER_IP = 4
    for n in range(4):
        data = body(public_setup, at(practice, 2 + n, 10), email=f"bot{n}@example.com")
        assert book(anon, data).status_code == 201
    before = written()

    refused = book(anon, body(public_setup, at(practice, 8, 10), email="bot9@example.com"))

    assert_throttled(refused)
    assert written() == before
    assert not Client.objects.filter(email="bot9@example.com").exists()
    # Another address is not affected.
    other = book(
        anon, body(public_setup, at(practice, 8, 10), email="bot9@example.com"), ip="198.51.100.9"
    )
    assert other.status_code == 201, other.content


def test_the_default_address_cap_is_ten(anon, practice, public_setup):
    for n in range(10):
        data = body(
            public_setup, at(practice, 2 + n // 3, 9 + 2 * (n % 3)), email=f"p{n}@example.com"
        )
        assert book(anon, data).status_code == 201, n

    assert_throttled(book(anon, body(public_setup, at(practice, 9, 10), email="p10@example.com")))


def test_a_forged_forwarded_for_header_does_not_make_a_new_address(
    anon, practice, public_setup, settings
):
    settings.PUBLIC_BOOKING_MAX_LIVE_PER_IP = 2
    for n in range(2):
        data = body(public_setup, at(practice, 2 + n, 10), email=f"bot{n}@example.com")
        assert book(anon, data, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code == 201

    forged = book(
        anon,
        body(public_setup, at(practice, 6, 10), email="bot5@example.com"),
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )

    assert_throttled(forged)
    assert set(Appointment.objects.values_list("booked_from_ip", flat=True)) == {IP}


def test_behind_a_proxy_the_forwarded_address_is_counted(anon, practice, public_setup, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.PUBLIC_BOOKING_MAX_LIVE_PER_IP = 1
    proxy = "10.0.0.2"
    first = body(public_setup, at(practice, 2, 10), email="a@example.com")
    assert book(anon, first, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.20").status_code == 201
    second = body(public_setup, at(practice, 3, 10), email="b@example.com")
    # Another visitor behind the same proxy has their own allowance ...
    assert book(anon, second, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.21").status_code == 201
    # ... and the first one's is spent, whatever they put in front of the proxy's entry.
    third = body(public_setup, at(practice, 4, 10), email="c@example.com")
    spoofed = book(anon, third, ip=proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.20")

    assert_throttled(spoofed)
    assert sorted(Appointment.objects.values_list("booked_from_ip", flat=True)) == [
        "198.51.100.20",
        "198.51.100.21",
    ]


def test_an_ipv6_caller_is_counted_by_its_64(anon, practice, public_setup, settings):
    settings.PUBLIC_BOOKING_MAX_LIVE_PER_IP = 2
    for n in range(2):
        data = body(public_setup, at(practice, 2 + n, 10), email=f"bot{n}@example.com")
        assert book(anon, data, ip=f"2001:db8:1:2::{n + 1:x}").status_code == 201

    rotated = book(
        anon,
        body(public_setup, at(practice, 6, 10), email="bot7@example.com"),
        ip="2001:db8:1:2:dead:beef:0:1",
    )

    assert_throttled(rotated)
    assert set(Appointment.objects.values_list("booked_from_ip", flat=True)) == {"2001:db8:1:2::"}
    other_network = book(
        anon,
        body(public_setup, at(practice, 6, 10), email="bot7@example.com"),
        ip="2001:db8:1:3::1",
    )
    assert other_network.status_code == 201, other_network.content


def test_a_zero_cap_is_off(anon, practice, public_setup, settings):
    settings.PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL = 0
    for day in range(2, 7):
        assert book(anon, body(public_setup, at(practice, day, 10))).status_code == 201


def test_an_idempotent_retry_of_a_booking_is_replayed_not_refused(anon, practice, public_setup):
    for day in (2, 3):
        assert book(anon, body(public_setup, at(practice, day, 10))).status_code == 201
    third = body(public_setup, at(practice, 4, 10))
    first = book(anon, third, HTTP_IDEMPOTENCY_KEY="third")
    assert first.status_code == 201

    again = book(anon, third, HTTP_IDEMPOTENCY_KEY="third")

    assert again.status_code == 201, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["start"] == first.json()["start"]  # the link is re-issued (issue 13.10)
    assert Appointment.objects.count() == 3


def test_the_address_is_never_shown(anon, practice, public_setup, owner):
    response = book(anon, body(public_setup, at(practice, 2, 10)))
    assert response.status_code == 201
    assert IP not in response.content.decode()
    listed = owner.api.get("/api/v1/appointments/")
    assert IP not in listed.content.decode()
    assert all("booked_from_ip" not in row for row in listed.json()["results"])


# --- races (Postgres: real concurrent transactions) --------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_bookings_of_one_email_never_exceed_the_cap(practice, public_setup, rates):
    rates(public_booking="10000/hour", public="10000/min")
    starts = [at(practice, 2 + n // 4, 9 + 2 * (n % 4)) for n in range(12)]
    barrier = threading.Barrier(len(starts))
    statuses: list[int] = []

    def run(index: int, start: datetime) -> None:
        try:
            api = APIClient(raise_request_exception=False)
            barrier.wait(timeout=30)
            # Twelve addresses: only the per-email cap can refuse.
            response = book(api, body(public_setup, start), ip=f"192.0.2.{index + 1}")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201] * 3 + [429] * 9
    assert Appointment.objects.filter(source=Source.PUBLIC).count() == 3
    assert Client.objects.filter(email="robin@example.com").count() == 1


# --- client accounts meet the same caps (issue 13.9) ----------------------------------------------


def account_body(public_setup, start: datetime, **extra) -> dict:
    therapist, service = public_setup
    return {"service": service.pk, "therapist": therapist.pk, "start": start.isoformat(), **extra}


def test_a_client_account_holds_at_most_three_live_bookings(practice, public_setup, client_member):
    for day in (2, 3, 4):
        response = client_member.api.post(
            "/api/v1/appointments/", account_body(public_setup, at(practice, day, 10))
        )
        assert response.status_code == 201, response.content

    refused = client_member.api.post(
        "/api/v1/appointments/", account_body(public_setup, at(practice, 5, 10))
    )

    assert_throttled(refused)
    assert Appointment.objects.filter(client=client_member.user.client).count() == 3


def test_a_series_cannot_take_a_client_account_past_its_cap(practice, public_setup, client_member):
    # The review's attack: a series plus singles gave one account 12 live appointments.
    response = client_member.api.post(
        "/api/v1/appointments/series/",
        account_body(public_setup, at(practice, 2, 10), every_days=1, count=6),
    )

    assert_throttled(response)
    assert not Appointment.objects.filter(client=client_member.user.client).exists()


def test_public_and_account_bookings_of_one_person_share_the_cap(
    anon, practice, public_setup, client_member
):
    email = client_member.user.client.email
    for day in (2, 3):
        assert book(anon, body(public_setup, at(practice, day, 10), email=email)).status_code == 201
    assert (
        client_member.api.post(
            "/api/v1/appointments/", account_body(public_setup, at(practice, 4, 10))
        ).status_code
        == 201
    )

    refused = book(anon, body(public_setup, at(practice, 5, 10), email=email))

    assert_throttled(refused)


def test_staff_may_still_book_a_client_past_the_cap(practice, public_setup, client_member, owner):
    client = client_member.user.client
    for day in (2, 3, 4, 5):
        response = owner.api.post(
            "/api/v1/appointments/",
            account_body(public_setup, at(practice, day, 10), client=client.pk),
        )
        assert response.status_code == 201, response.content


# --- Public answers never differ by whom the email belongs to (issue 13.3) ------------------------
# The answer of the public page is a function of the request and the diary, never of the record an
# email matches: for each kind of person behind an email (unknown, known, awaiting a red-flag
# referral, restricted after erasure), a taken slot answers the same 409 and a free slot the same
# 201 shape.


def _person(practice, kind: str) -> str:
    email = f"{kind}@example.com"
    if kind == "unknown":
        return email
    client = ClientFactory(practice=practice, email=email)
    if kind == "referral":
        ComplaintFactory(client=client, status=ComplaintStatus.REFERRAL_REQUIRED)
    if kind == "restricted":
        Client.objects.filter(pk=client.pk).update(restricted_at=timezone.now())
    return email


PEOPLE = ["unknown", "known", "referral", "restricted"]


def test_a_taken_slot_answers_alike_for_every_kind_of_person(anon, practice, public_setup):
    slot = at(practice, 2, 10)
    assert book(anon, body(public_setup, slot, email="first@example.com")).status_code == 201
    emails = {kind: _person(practice, kind) for kind in PEOPLE}

    answers = {
        kind: book(anon, body(public_setup, slot, email=email), ip=f"192.0.2.{n}")
        for n, (kind, email) in enumerate(emails.items())
    }

    assert {a.status_code for a in answers.values()} == {409}
    assert len({a.content for a in answers.values()}) == 1


def test_a_free_slot_answers_alike_for_every_kind_of_person(anon, practice, public_setup):
    emails = {kind: _person(practice, kind) for kind in PEOPLE}

    answers = {
        kind: book(
            anon, body(public_setup, at(practice, 3 + n, 10), email=email), ip=f"192.0.2.{n}"
        )
        for n, (kind, email) in enumerate(emails.items())
    }

    assert {a.status_code for a in answers.values()} == {201}
    shapes = {tuple(sorted(a.json())) for a in answers.values()}
    assert len(shapes) == 1
    # Only people who may book online hold an appointment; the others were told by email.
    booked = set(Appointment.objects.values_list("client__email", flat=True))
    assert booked == {"unknown@example.com", "known@example.com"}


@pytest.mark.parametrize("kind", PEOPLE)
def test_what_the_public_sees_after_a_booking_is_alike_for_every_kind_of_person(
    anon, practice, public_setup, kind
):
    """The slot a booking answered 201 for is taken afterwards, whoever's email it carried: a
    quiet refusal holds its time on the public side like a booking (else availability, or a
    second booking of the same time, would tell who may not book online)."""
    _therapist, service = public_setup
    slot = at(practice, 2, 10)
    assert book(anon, body(public_setup, slot, email=_person(practice, kind))).status_code == 201

    day = slot.astimezone(practice.tz).date().isoformat()
    offered = anon.get(
        f"/api/v1/public/{practice.slug}/availability/",
        {"service": service.pk, "start": day, "end": day},
    ).json()["slots"]
    again = book(anon, body(public_setup, slot, email="second@example.com"), ip="192.0.2.77")

    assert slot.isoformat().replace("+00:00", "Z") not in {s["start"] for s in offered}
    assert again.status_code == 409
    assert again.json()["code"] == "slot_unavailable"


def test_the_live_cap_answers_alike_for_every_kind_of_person(anon, practice, public_setup):
    emails = {kind: _person(practice, kind) for kind in PEOPLE}

    fourth = {}
    for n, (kind, email) in enumerate(emails.items()):
        for day in (2, 3, 4):
            slot = at(practice, day, 9 + 2 * n)
            assert (
                book(anon, body(public_setup, slot, email=email), ip=f"192.0.2.{n}").status_code
                == 201
            )
        fourth[kind] = book(
            anon, body(public_setup, at(practice, 5, 9 + 2 * n), email=email), ip=f"192.0.2.{n}"
        )

    assert {a.status_code for a in fourth.values()} == {429}
    assert len({a.json()["detail"] for a in fourth.values()}) == 1


def test_a_quiet_refusals_reschedule_link_moves_only_the_refusal(anon, practice, public_setup):
    """Found by mypy (issue 16): the refusal went to the appointment service, which looked up the
    *appointment* with the refusal's id and moved someone else's booking."""
    victim_start = at(practice, 2, 10)
    victim = book(anon, body(public_setup, victim_start, email="victim@example.com"), ip=IP)
    assert victim.status_code == 201
    refused = book(
        anon, body(public_setup, at(practice, 3, 10), email=_person(practice, "referral"))
    )
    assert refused.status_code == 201
    # Give the refusal the victim's appointment's id (both tables count from 1 on a fresh database).
    QuietRefusal.objects.update(id=Appointment.objects.get().pk)
    refusal = QuietRefusal.objects.get()
    new_start = at(practice, 4, 11)

    answer = anon.post(
        urlparse(refused.json()["manage_url"]).path + "reschedule/",
        {"start": new_start.isoformat()},
        format="json",
        REMOTE_ADDR=IP,
    )

    assert answer.status_code == 200, answer.content
    assert answer.json()["start"] == new_start.isoformat().replace("+00:00", "Z")
    assert answer.json()["status"] == "booked"
    refusal.refresh_from_db()
    assert refusal.start == new_start
    assert Appointment.objects.get().start == victim_start  # untouched
    assert Appointment.objects.count() == 1
