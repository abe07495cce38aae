from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("recovery", "0014_recovery_platform_backfill")]

    operations = [
        migrations.AddConstraint(
            model_name="recovery",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "attaching",
                            "cancelling",
                            "cleaning_up",
                            "creating_vm",
                            "detaching",
                            "failed",
                            "merged",
                            "merging",
                            "powering_off",
                            "powering_on",
                            "queued",
                            "ready",
                            "rebasing",
                            "running_from_backup",
                        ],
                    ),
                    models.Q(("platform_url", ""), _negated=True),
                ),
                fields=("platform_url", "vm_id"),
                name="one_active_recovery_per_vm_per_platform_url",
            ),
        ),
        migrations.AddConstraint(
            model_name="recovery",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "attaching",
                            "cancelling",
                            "cleaning_up",
                            "creating_vm",
                            "detaching",
                            "failed",
                            "merged",
                            "merging",
                            "powering_off",
                            "powering_on",
                            "queued",
                            "ready",
                            "rebasing",
                            "running_from_backup",
                        ],
                    ),
                    models.Q(("platform_id", ""), _negated=True),
                ),
                fields=("platform_id", "vm_id"),
                name="one_active_recovery_per_vm_per_platform_id",
            ),
        ),
    ]
