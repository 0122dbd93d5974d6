from django.apps import AppConfig


class TreatmentConfig(AppConfig):
    # django.contrib.sessions already owns the label "sessions".
    name = "sessions"
    label = "treatment"
    verbose_name = "Treatment sessions"

    def ready(self) -> None:
        from sessions import signals  # noqa: F401 - connects the receivers
