from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Money: invoices and their lines, credit notes, payments and refunds, the per-practice
    invoice number sequence. Above scheduling (it reacts to completed appointments through
    `sessions.scheduling.events`), below records."""

    name = "sessions.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from sessions.billing import receivers  # noqa: F401 - connects the receivers
