"""Start the retention clock (DOMAIN.md 4) of clients who had clinical records before it existed:
the practice-local day of their latest clinical entry, as sessions.privacy keeps it from now on."""

import zoneinfo

from django.db import migrations
from django.db.models import Max


def backfill(apps, schema_editor):
    Client = apps.get_model("clients", "Client")
    sources = [
        (apps.get_model("clients", "Complaint"), "client", "updated_at"),
        (apps.get_model("clients", "Outcome"), "client", "recorded_at"),
        (apps.get_model("clients", "Consent"), "client", "signed_at"),
        (apps.get_model("clients", "Consent"), "client", "withdrawn_at"),
        (apps.get_model("treatment", "Note"), "client", "updated_at"),
        (apps.get_model("treatment", "Amendment"), "note__client", "created_at"),
        (apps.get_model("treatment", "SessionPlan"), "client", "updated_at"),
    ]
    Appointment = apps.get_model("treatment", "Appointment")
    latest: dict[int, object] = {}

    def take(rows):
        for client_id, at in rows:
            if client_id is not None and at is not None:
                latest[client_id] = max(latest.get(client_id, at), at)

    for model, path, column in sources:
        take(model.objects.values(path).annotate(m=Max(column)).values_list(path, "m"))
    take(
        Appointment.objects.filter(status__in=["checked_in", "completed"])
        .values("client")
        .annotate(m=Max("updated_at"))
        .values_list("client", "m")
    )
    for client in Client.objects.filter(pk__in=latest).select_related("practice"):
        tz = zoneinfo.ZoneInfo(client.practice.timezone)
        Client.objects.filter(pk=client.pk).update(
            last_clinical_entry=latest[client.pk].astimezone(tz).date()
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0005_privacy_retention_erasure"),
        ("treatment", "0005_waitlistentry_waitlistoffer_and_more"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
