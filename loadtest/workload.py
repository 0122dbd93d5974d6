"""The mixed workload: N client threads, each with an HTTP connection of its own, for a fixed time.

Each thread picks an operation at random (weights in OPERATIONS) until the time is up and records
every request: endpoint, status (0 for a connection error or timeout), start and end times on one
clock shared with the fault's events. Bookings take distinct free slots from a shared deck (dealt
from `GET availability/` so that no two overlap for one therapist), each for a client of its own;
a few re-book a slot already taken, and those must answer 409. Notes are written for appointments
this run booked (201), each once.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import httpx

API = "/api/v1/"
PRACTICE_TZ = ZoneInfo("Europe/London")
HORIZON_DAYS = 89
CONFLICT_SHARE = 0.05  # of bookings re-post a slot already booked: 409 expected

# Outcome of one request.
OK, CONFLICT, SERVER_ERROR, CONNECTION, OTHER = "ok", "409", "5xx", "conn", "other"
ERRORS = (SERVER_ERROR, CONNECTION, OTHER)
EXPECTED = {
    "GET me/": (200,),
    "GET clients/": (200,),
    "GET appointments/": (200,),
    "GET availability/": (200,),
    "POST appointments/": (201,),
    "POST notes/": (201,),
}
ENDPOINTS = tuple(EXPECTED)


def outcome(endpoint: str, status: int) -> str:
    if status == 0:
        return CONNECTION
    if status in EXPECTED[endpoint]:
        return OK
    if status == 409 and endpoint == "POST appointments/":
        return CONFLICT
    if status >= 500:
        return SERVER_ERROR
    return OTHER


@dataclass(slots=True)
class Sample:
    endpoint: str
    status: int
    started: float  # seconds since the load started
    ended: float
    outcome: str


@dataclass
class Result:
    seconds: float  # wall time of the load
    samples: list[Sample]
    events: dict[str, float]  # fault events, seconds since the load started
    booked: dict[int, dict]  # appointment id -> slot, for every booking answered 201
    notes: set[int]  # note ids answered 201
    unconfirmed: list[dict]  # bookings answered 5xx or not at all: may or may not be written
    slots_left: int
    examples: dict[str, list[str]] = field(default_factory=dict)  # a few unexpected answers

    def with_later(self, later: Result) -> Result:
        """This run's figures, with what a later run of the same workload booked and wrote (the
        workload's bookings and notes accumulate, so the later run's are a superset)."""
        return Result(
            seconds=self.seconds,
            samples=self.samples,
            events=self.events,
            booked=later.booked,
            notes=later.notes,
            unconfirmed=later.unconfirmed,
            slots_left=later.slots_left,
            examples=self.examples,
        )


def today() -> dt.date:
    return dt.datetime.now(PRACTICE_TZ).date()


def distinct_slots(slots: list[dict], buffer: dt.timedelta, rng: random.Random) -> list[dict]:
    """Free slots of which none overlaps another of the same therapist (with the buffer),
    shuffled: each can be booked once, so none of these bookings should answer 409.
    (Also the bench's booking figure's, bench/booking_load.py.)"""
    last_end: dict[int, dt.datetime] = {}
    distinct = []
    for slot in sorted(slots, key=lambda s: (s["therapist"], s["start"])):
        start = dt.datetime.fromisoformat(slot["start"])
        if slot["therapist"] in last_end and start < last_end[slot["therapist"]]:
            continue
        last_end[slot["therapist"]] = dt.datetime.fromisoformat(slot["end"]) + buffer
        distinct.append(slot)
    rng.shuffle(distinct)
    return distinct


def deal_slots(slots: list[dict], buffer: dt.timedelta, rng: random.Random) -> deque:
    return deque(distinct_slots(slots, buffer, rng))


def fetch_slots(base_url: str, token: str, service: int) -> list[dict]:
    """Every free slot of the horizon, from `GET availability/` (at most 62 days a request)."""
    slots: list[dict] = []
    first = today() + dt.timedelta(days=1)
    last = today() + dt.timedelta(days=HORIZON_DAYS)
    with httpx.Client(base_url=base_url, timeout=120) as http:
        while first <= last:
            end = min(last, first + dt.timedelta(days=61))
            answer = http.get(
                f"{API}availability/",
                params={"service": service, "start": first.isoformat(), "end": end.isoformat()},
                headers={"Authorization": f"Bearer {token}"},
            )
            answer.raise_for_status()
            slots += answer.json()["slots"]
            first = end + dt.timedelta(days=1)
    return slots


def login(base_url: str, email: str, password: str) -> str:
    answer = httpx.post(
        f"{base_url}{API}auth/token/", json={"email": email, "password": password}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()["token"]


class Workload:
    def __init__(
        self,
        *,
        base_url: str,
        tokens: list[str],
        service: int,
        client_ids: list[int],
        slots: deque,
        clients: int,
        seed: int,
    ):
        self.base_url = base_url
        self.tokens = tokens
        self.service = service
        self.client_ids = client_ids
        self.clients = clients
        self.seed = seed
        self.lock = threading.Lock()
        self.slots = slots
        self.next_client = 0
        self.booked: dict[int, dict] = {}
        self.booked_slots: list[dict] = []
        self.to_note: deque[int] = deque()
        self.notes: set[int] = set()
        self.unconfirmed: list[dict] = []
        self.examples: dict[str, list[str]] = {}
        self.t0 = 0.0
        self.deadline = 0.0
        self.operations: list[tuple[Callable, int]] = [
            (self.me, 10),
            (self.clients_list, 15),
            (self.appointments_list, 15),
            (self.availability, 15),
            (self.book, 30),
            (self.note, 15),
        ]

    # --- plumbing ---------------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self.t0

    def call(
        self,
        http: httpx.Client,
        samples: list[Sample],
        endpoint: str,
        method: str,
        path: str,
        **kwargs,
    ) -> httpx.Response | None:
        started = self.now()
        try:
            response = http.request(method, f"{API}{path}", **kwargs)
            status, text = response.status_code, response.text
        except httpx.HTTPError as error:
            response, status, text = None, 0, f"{type(error).__name__}: {error}"
        kind = outcome(endpoint, status)
        samples.append(Sample(endpoint, status, started, self.now(), kind))
        if kind in ERRORS:
            with self.lock:
                seen = self.examples.setdefault(endpoint, [])
                if len(seen) < 3:
                    seen.append(f"{status} at {started:.1f}s: {text[:200]}")
        return response if kind in (OK, CONFLICT) else None

    # --- operations -------------------------------------------------------------------------

    def me(self, http, samples, rng) -> None:
        self.call(http, samples, "GET me/", "GET", "me/")

    def clients_list(self, http, samples, rng) -> None:
        params = {"page_size": 25, "page": rng.randint(1, 20)}
        self.call(http, samples, "GET clients/", "GET", "clients/", params=params)

    def appointments_list(self, http, samples, rng) -> None:
        params: dict = {"page_size": 25}
        if rng.random() < 0.5:
            params["start_after"] = dt.datetime.now(dt.UTC).isoformat()
        self.call(http, samples, "GET appointments/", "GET", "appointments/", params=params)

    def availability(self, http, samples, rng) -> None:
        first = today() + dt.timedelta(days=rng.randint(1, HORIZON_DAYS - 7))
        params = {
            "service": self.service,
            "start": first.isoformat(),
            "end": (first + dt.timedelta(days=rng.randint(0, 6))).isoformat(),
        }
        self.call(http, samples, "GET availability/", "GET", "availability/", params=params)

    def book(self, http, samples, rng) -> None:
        with self.lock:
            taken = rng.random() < CONFLICT_SHARE and self.booked_slots
            if taken or not self.slots:
                slot = rng.choice(self.booked_slots) if self.booked_slots else None
            else:
                slot = self.slots.popleft()
            client = self.client_ids[self.next_client % len(self.client_ids)]
            self.next_client += 1
        if slot is None:  # nothing booked yet and no free slot left
            self.me(http, samples, rng)
            return
        body = {
            "client": client,
            "service": self.service,
            "therapist": slot["therapist"],
            "start": slot["start"],
        }
        response = self.call(
            http,
            samples,
            "POST appointments/",
            "POST",
            "appointments/",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        with self.lock:
            if response is not None and response.status_code == 201:
                appointment = response.json()["id"]
                self.booked[appointment] = slot
                self.booked_slots.append(slot)
                self.to_note.append(appointment)
            elif response is None:
                self.unconfirmed.append(body)

    def note(self, http, samples, rng) -> None:
        with self.lock:
            appointment = self.to_note.popleft() if self.to_note else None
        if appointment is None:
            self.appointments_list(http, samples, rng)
            return
        pain = rng.randint(3, 8)
        body = {
            "appointment": appointment,
            "subjective": "Low back stiff after desk work; worse in the mornings.",
            "objective": "Hypertonic lumbar erectors, left more than right.",
            "assessment": "Responded well to kneading; tone reduced.",
            "plan": "Weekly for four weeks; cat-camel stretches at home.",
            # pain_after waits for the session: these appointments are still ahead (409 else).
            "pain_before": pain,
        }
        response = self.call(http, samples, "POST notes/", "POST", "notes/", json=body)
        if response is not None:
            with self.lock:
                self.notes.add(response.json()["id"])

    # --- the run ----------------------------------------------------------------------------

    def client_thread(self, index: int, samples: list[Sample], ready: threading.Barrier) -> None:
        rng = random.Random(self.seed * 1000 + index)
        operations = [operation for operation, _ in self.operations]
        weights = [weight for _, weight in self.operations]
        headers = {"Authorization": f"Bearer {self.tokens[index % len(self.tokens)]}"}
        timeout = httpx.Timeout(30.0, connect=5.0)
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout) as http:
            ready.wait()  # all threads start together; the deadline is set by then
            while time.monotonic() < self.deadline:
                rng.choices(operations, weights)[0](http, samples, rng)

    def run(self, seconds: float, fault: Callable | None = None, fault_at: float = 0.0) -> Result:
        """Load for `seconds`; `fault(mark)`, if given, runs `fault_at` seconds in, in a thread of
        its own, and calls `mark(name)` to time its events on the requests' clock."""
        events: dict[str, float] = {}
        self.examples = {}
        per_thread: list[list[Sample]] = [[] for _ in range(self.clients)]
        ready = threading.Barrier(self.clients + 1)
        threads = [
            threading.Thread(target=self.client_thread, args=(i, per_thread[i], ready), daemon=True)
            for i in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        self.t0 = time.monotonic()
        self.deadline = self.t0 + seconds
        ready.wait()

        fault_error: list[BaseException] = []

        def mark(name: str) -> None:
            events[name] = self.now()

        def run_fault() -> None:
            time.sleep(max(0.0, fault_at - self.now()))
            try:
                fault(mark)
            except BaseException as error:
                fault_error.append(error)

        fault_thread = threading.Thread(target=run_fault, daemon=True) if fault else None
        if fault_thread is not None:
            fault_thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 120)
        if fault_thread is not None:
            fault_thread.join(timeout=300)
        if fault_error:
            raise fault_error[0]
        if any(thread.is_alive() for thread in threads):
            raise RuntimeError("client threads still running long after the deadline")
        return Result(
            seconds=self.now(),
            samples=[sample for chunk in per_thread for sample in chunk],
            events=events,
            booked=dict(self.booked),
            notes=set(self.notes),
            unconfirmed=list(self.unconfirmed),
            slots_left=len(self.slots),
            examples=self.examples,
        )
