from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    """Appointments, availability, booking, quiet refusals, idempotency, the reminder outbox and
    the waitlist. Its models moved here from the `treatment` app, their tables unchanged."""

    name = "sessions.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
