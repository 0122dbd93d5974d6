from django.apps import AppConfig


class PracticeConfig(AppConfig):
    name = "practice"
    verbose_name = "Practice"

    def ready(self) -> None:
        from practice import schema  # noqa: F401 - registers the schema extension

        # Models and what builds on them load only once the app registry is ready.
        from practice.models import TimeOff
        from practice.tombstones import track_deletions

        track_deletions(TimeOff, "time_off")
