from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("platforms", "0003_platform_id"),
        ("recovery", "0012_invitations_last_used"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="recovery",
            name="platform_id",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="recovery",
            name="platform_url",
            field=models.CharField(blank=True, max_length=320),
        ),
    ]
