"""The fuzzed server: a live server on the test database, seeded with a practice whose records
the fuzzer's ids hit, and one identity per role (plus anonymous) to fuzz as."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from practice.auth import issue_token
from practice.models import Role, User
from practice.services import create_practice
from tests.conftest import make_member
from tests.factories import (
    PASSWORD,
    ApiKeyFactory,
    AppointmentFactory,
    AuditEventFactory,
    ComplaintFactory,
    ConsentFactory,
    NoteFactory,
    OutcomeFactory,
    ReminderFactory,
    SessionPlanFactory,
    TechniqueFactory,
    TimeOffFactory,
    WaitlistEntryFactory,
    WebhookSubscriptionFactory,
)
from tests.sessions.booking_setup import local, make_bookable

IDENTITIES = ["owner", "therapist", "front_desk", "client", "anonymous"]

# Examples per operation and phase: enough to find shape bugs, small enough that five identities
# times ~110 operations finish in minutes. Fixed seed: a CI failure reproduces locally.
MAX_EXAMPLES = 6
SEED = 20260801


@dataclass
class Seed:
    """What the fuzzer should sometimes hit instead of a random id: real rows of the practice."""

    slug: str
    ids: dict[str, list[int]] = field(default_factory=dict)  # first path segment -> ids
    tokens: dict[str, list[str]] = field(default_factory=dict)  # path prefix -> secrets
    bearer: dict[str, str] = field(default_factory=dict)  # identity -> token


def _seed_practice() -> Seed:
    practice = create_practice(
        slug="north",
        name="North Back Clinic",
        timezone_name="Europe/London",
        owner_email="owner@north.test",
        owner_password=PASSWORD,
    )
    owner = User.objects.get(email="owner@north.test")
    therapist = make_member(practice, Role.THERAPIST, "therapist@north.test")
    desk = make_member(practice, Role.FRONT_DESK, "desk@north.test")
    client_member = make_member(practice, Role.CLIENT, "client@north.test")
    bookable = make_bookable(practice, therapist.user)
    own_client = client_member.user.client  # type: ignore[attr-defined]

    clients = [bookable.client, own_client]
    complaints = [ComplaintFactory(client=c, practice=practice) for c in clients]
    appointments = [
        AppointmentFactory(
            client=c,
            practice=practice,
            therapist=bookable.therapist,
            service=bookable.service,
            start=local(practice, 3 + n, 10),
        )
        for n, c in enumerate(clients)
    ]
    plans = [SessionPlanFactory(appointment=a) for a in appointments]
    notes = [
        NoteFactory(client=a.client, practice=practice, author=therapist.user, appointment=a)
        for a in appointments
    ]
    seed = Seed(slug=practice.slug)
    seed.ids = {
        "clients": [c.pk for c in clients],
        "complaints": [c.pk for c in complaints],
        "consents": [ConsentFactory(client=c, practice=practice).pk for c in clients],
        "outcomes": [OutcomeFactory(complaint=c).pk for c in complaints],
        "appointments": [a.pk for a in appointments],
        "session-plans": [p.pk for p in plans],
        "notes": [n.pk for n in notes],
        "reminders": [ReminderFactory(appointment=a).pk for a in appointments],
        "waitlist": [
            WaitlistEntryFactory(client=c, practice=practice, service=bookable.service).pk
            for c in clients
        ],
        "services": [bookable.service.pk],
        "therapists": [bookable.therapist.pk, owner.therapist.pk],  # type: ignore[attr-defined]
        "time-off": [TimeOffFactory(therapist=bookable.therapist, practice=practice).pk],
        "techniques": [TechniqueFactory(practice=practice).pk],
        "staff": [therapist.user.membership.pk, desk.user.membership.pk],  # type: ignore[attr-defined]
        "api-keys": [ApiKeyFactory(practice=practice).pk],
        "webhooks": [WebhookSubscriptionFactory(practice=practice).pk],
        "audit-events": [AuditEventFactory(practice=practice).pk],
    }
    # A public booking gives a real manage-link token.
    start = local(practice, 6, 11)
    booked = APIClient().post(
        f"/api/v1/public/{practice.slug}/bookings/",
        {
            "service": bookable.service.pk,
            "therapist": bookable.therapist.pk,
            "start": start.isoformat(),
            "first_name": "Pat",
            "last_name": "Public",
            "email": "pat@example.com",
            "phone": "+44 7700 900456",
        },
        format="json",
    )
    assert booked.status_code == 201, booked.content
    seed.tokens["public/bookings"] = [booked.json()["manage_url"].rstrip("/").split("/")[-1]]
    seed.bearer = {
        "owner": issue_token(owner),
        "therapist": therapist.token,
        "front_desk": desk.token,
        "client": client_member.token,
    }
    return seed


@pytest.fixture
def no_throttling(monkeypatch):
    """Thousands of requests in minutes: every rate is lifted (429 stays documented)."""
    rates = dict.fromkeys(SimpleRateThrottle.THROTTLE_RATES, "1000000/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.fixture(params=IDENTITIES)
def fuzz_identity(request) -> str:
    return request.param


@pytest.fixture
def fuzz_seed(transactional_db, no_throttling) -> Seed:
    return _seed_practice()


_SEGMENT = re.compile(r"^/api/v1/([^/{]+)/")


def _real_values(seed: Seed, path: str) -> dict[str, list]:
    """The real values a path parameter of `path` may take, by parameter name."""
    values: dict[str, list] = {"slug": [seed.slug]}
    match = _SEGMENT.match(path)
    if match and match.group(1) in seed.ids:
        values["id"] = seed.ids[match.group(1)]
    for prefix, tokens in seed.tokens.items():
        if path.startswith(f"/api/v1/{prefix}/"):
            values["token"] = tokens
    return values


@pytest.fixture
def fuzz_schema(live_server, fuzz_seed, fuzz_identity):
    auth = {}
    if fuzz_identity in fuzz_seed.bearer:
        auth = {"openapi": {"bearer": {"bearer": fuzz_seed.bearer[fuzz_identity]}}}
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": live_server.url,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {
                # See test_schemathesis.py: rule 400s pass here, shape 400s fail a check there.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
                }
            },
            **({"auth": auth} if auth else {}),
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/schema/?format=json", config=config
    )

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        """Half the time, swap a generated id/slug/token for a real one of the seed."""
        if not path_parameters:
            return st.just(path_parameters)
        real = _real_values(fuzz_seed, context.operation.path)
        swapped = dict(path_parameters)
        for name, value in path_parameters.items():
            if name in real and isinstance(value, int | str) and not isinstance(value, bool):
                if name == "id" and not isinstance(value, int):
                    continue  # a negative case (not an integer) stays negative
                swapped[name] = real[name][abs(hash(str(value))) % len(real[name])]
        return st.sampled_from([path_parameters, swapped])

    return schema


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request):
    """schemathesis 4.32's lazy schema renames the test node per operation through
    `node._nodeid`, which pytest 9.2 no longer has (its ids became `node._id`); give it one."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
