from django.apps import AppConfig


class InsightConfig(AppConfig):
    """Reports a practice reads every week (issue 21): outcomes, what precedes improvement and
    operations. Reads only, no models: the top layer, built on records, scheduling and clients."""

    name = "sessions.insight"
    label = "insight"
    verbose_name = "Insight reports"
