"""One audit row per request, naming every record it touched (",1,2,3,")."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("practice", "0003_practice_sensitive_area_consent_required")]

    operations = [
        migrations.RemoveIndex(model_name="auditevent", name="practice_au_practic_604181_idx"),
        migrations.RemoveField(model_name="auditevent", name="record_id"),
        migrations.AddField(
            model_name="auditevent",
            name="record_ids",
            field=models.TextField(default=","),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["practice", "record_type", "at"], name="practice_au_practic_9fdf24_idx"
            ),
        ),
    ]
