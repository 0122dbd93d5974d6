"""Fixtures of the operations tests: log lines captured as the console handler writes them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from tests.sessions.booking_setup import Bookable, make_bookable


def _build(spec: dict):
    spec = dict(spec)
    return import_string(spec.pop("()"))(**spec)


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)

    def attach(self) -> None:
        """(Again): an embedded Celery worker sets Django up, which resets the root handlers."""
        logging.getLogger().addHandler(self.handler)

    @property
    def raw(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line]

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.raw]

    def access(self) -> list[dict]:
        return [line for line in self.records() if line["logger"] == "backcare.access"]


@pytest.fixture
def json_logs() -> Iterator[Captured]:
    """Every record that reaches the root logger, formatted by the JSON formatter and the filters
    that settings.LOGGING gives the console handler (whatever LOG_FORMAT this run has)."""
    captured = Captured()
    handler = captured.handler
    handler.setFormatter(_build(settings.LOGGING["formatters"]["json"]))
    for name in settings.LOGGING["handlers"]["console"]["filters"]:
        handler.addFilter(_build(settings.LOGGING["filters"][name]))
    root = logging.getLogger()
    level = root.level
    captured.attach()
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def bookable(practice, therapist) -> Bookable:
    return make_bookable(practice, therapist.user)
