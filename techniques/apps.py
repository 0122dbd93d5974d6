from django.apps import AppConfig


class TechniquesConfig(AppConfig):
    name = "techniques"
    verbose_name = "Techniques"

    def ready(self) -> None:
        from techniques import signals  # noqa: F401 - connects the receivers
