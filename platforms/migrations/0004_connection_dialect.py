from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("platforms", "0003_platform_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="platformconnection",
            name="dialect",
            field=models.CharField(
                choices=[
                    ("auto", "Detect at Test connection"),
                    ("janus", "janus OpenAPI (the SCP paths; HCI 6.10 and later)"),
                    ("hci-v1", "HCI v1 API (/hci/vt/api/v1; older HCI)"),
                ],
                default="auto",
                help_text="HCI only. Detect: Test connection finds which API the cluster answers "
                "(janus first) and remembers it. Choose one to force it.",
                max_length=8,
                verbose_name="API dialect",
            ),
        ),
        migrations.AddField(
            model_name="platformconnection",
            name="detected_dialect",
            field=models.CharField(blank=True, editable=False, max_length=8),
        ),
    ]
