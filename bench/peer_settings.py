"""Settings of the availability_vs_peer figure only: Backcare's own, plus django-appointment (the
`bench` dependency group) so that both schedules live in one throwaway database.

Never used by `make run` or `make test`; config/settings.py does not know the peer.
"""

from __future__ import annotations

from config.settings import *  # noqa: F403 - the app's settings, then the peer's additions
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "appointment"]
# The peer keeps naive wall-clock times in TIME_ZONE (its "now + notice" uses localtime()): the
# bench practice's zone, so both sides mean the same instants. Backcare always converts through
# the practice's own zone, whatever this is.
TIME_ZONE = "Europe/London"
# The peer caches its Config row: in a process-local cache, not a shared Redis or file cache.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Its defaults matched to the bench practice: a 15-minute step, no minimum notice in minutes (the
# figure asks from tomorrow on, past Backcare's notice too).
APPOINTMENT_SLOT_DURATION = 15
APPOINTMENT_BUFFER_TIME = 0
APPOINTMENT_LEAD_TIME = (9, 0)
APPOINTMENT_FINISH_TIME = (18, 0)
# The peer ships no migrations: Django would create its tables before migrating the app's, and on
# Postgres its foreign key to practice_user would point at a table not made yet. These, made once
# with `makemigrations appointment` under these settings, order it after the app's.
MIGRATION_MODULES = {"appointment": "bench.peer_schema.migrations"}
