import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Payments carry their invoice's client, so tenancy scopes them like any client record.
    Added before any payment existed: the placeholder default is never stored."""

    dependencies = [
        ("billing", "0001_initial"),
        ("clients", "0009_medical_clearance_revocation"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="client",
            field=models.ForeignKey(
                default=0,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payments",
                to="clients.client",
            ),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["client", "received_at"], name="billing_pay_client__d40056_idx"),
        ),
    ]
