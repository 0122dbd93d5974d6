"""Timing: requests/s of an endpoint and of its baseline in alternating slices, median of rounds.

Requests go through django.test.Client, so the endpoint runs its whole stack (middleware,
authentication, permissions, throttles, filters, pagination, serializers, audit log); the baseline
is a bare view over the same rows (bench/views.py) sent through the same client.
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import statistics
import time
from dataclasses import dataclass

from django.test import Client

from bench.results import Figure


class BenchError(Exception):
    """A request the bench relies on did not answer as expected."""


@dataclass(frozen=True)
class Pair:
    """One figure: an endpoint and the baseline it is compared with (higher ratio is better)."""

    name: str
    endpoint: str
    baseline: str
    target: float
    unit: str = "req/s"


@dataclass(frozen=True)
class Measured:
    pair: Pair
    value: float  # median requests/s of the endpoint
    baseline: float  # median requests/s of the baseline
    rounds: list[tuple[float, float]]

    @property
    def ratio(self) -> float:
        return self.value / self.baseline

    @property
    def passed(self) -> bool:
        return self.ratio >= self.pair.target

    def figure(self) -> Figure:
        return Figure(
            name=self.pair.name,
            value=self.value,
            baseline=self.baseline,
            ratio=self.ratio,
            target=self.pair.target,
            unit=self.pair.unit,
            passes_when=f"ratio >= {self.pair.target}",
            passed=self.passed,
        )

    def spread(self) -> str:
        """The range over rounds of each side and of their ratio: how noisy the machine was."""
        endpoint = [e for e, _ in self.rounds]
        baseline = [b for _, b in self.rounds]
        ratios = [e / b for e, b in self.rounds]
        return (
            f"{self.pair.name}: {len(self.rounds)} rounds, endpoint {min(endpoint):.0f}-"
            f"{max(endpoint):.0f}, baseline {min(baseline):.0f}-{max(baseline):.0f} "
            f"{self.pair.unit}, ratio {min(ratios):.2f}-{max(ratios):.2f}"
        )


def get_ok(client: Client, url: str) -> dict:
    response = client.get(url)
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {response.content[:300]!r}")
    return response.json()


def check_same_rows(client: Client, pair: Pair) -> int:
    """The baseline must return the rows the endpoint returns, in the same order."""
    endpoint_ids = [row["id"] for row in get_ok(client, pair.endpoint)["results"]]
    baseline_ids = [row["id"] for row in get_ok(client, pair.baseline)["results"]]
    if endpoint_ids != baseline_ids:
        raise BenchError(f"{pair.name}: the baseline does not return the endpoint's rows.")
    return len(endpoint_ids)


def requests_per_second(client: Client, url: str, seconds: float) -> float:
    """GETs of `url` back to back for `seconds` (at least one); every answer must be 200.

    Garbage left from before is collected first, untimed: each side pays the collector for
    its own garbage (an endpoint's prefetched rows form reference cycles), not for the other's.
    """
    gc.collect()
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        status = client.get(url).status_code
        if status != 200:
            raise BenchError(f"GET {url} answered {status} during timing.")
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def measure(
    client: Client,
    pair: Pair,
    *,
    rounds: int,
    seconds: float,
    warmup: float,
) -> Measured:
    """Rounds of one slice of the endpoint and one of its baseline, back to back (which goes first
    flips each round, so drift in the machine or a growing table charges both alike); the value and
    the baseline are the medians over rounds."""
    requests_per_second(client, pair.endpoint, warmup)
    requests_per_second(client, pair.baseline, warmup)
    samples: list[tuple[float, float]] = []
    for number in range(rounds):
        if number % 2 == 0:
            endpoint = requests_per_second(client, pair.endpoint, seconds)
            baseline = requests_per_second(client, pair.baseline, seconds)
        else:
            baseline = requests_per_second(client, pair.baseline, seconds)
            endpoint = requests_per_second(client, pair.endpoint, seconds)
        samples.append((endpoint, baseline))
    return Measured(
        pair=pair,
        value=statistics.median(e for e, _ in samples),
        baseline=statistics.median(b for _, b in samples),
        rounds=samples,
    )


def profile(client: Client, url: str, *, requests: int, top: int = 30) -> str:
    """cProfile of `requests` GETs of `url`: the functions where the time goes, by own time and
    by cumulative time."""
    get_ok(client, url)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()
