"""Prometheus counters the apps increment; `/metrics` (config/metrics.py) exposes them.

Here, in the lowest layer, so any app can count without importing `config`.
"""

from __future__ import annotations

from prometheus_client import Counter

BOOKING_CONFLICTS = Counter(
    "backcare_booking_conflicts",
    "Bookings refused as slot_unavailable: found taken by the slot check, or lost to a concurrent "
    "booking at the database's exclusion constraint.",
    ["detected_by"],
)
