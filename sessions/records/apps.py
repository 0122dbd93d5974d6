from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """Clinical records: session plans, notes and amendments, alerts, follow-up answers. Its models
    moved here from the `treatment` app, their tables unchanged."""

    name = "sessions.records"
    label = "records"
    verbose_name = "Clinical records"
