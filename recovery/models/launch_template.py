"""Launch templates: a team's saved launch settings, for its runbooks (UI and API)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from recovery.choices import Mode, Target


class LaunchTemplate(models.Model):
    """What to launch and how; each launch still says why and runs a fresh preflight.

    `disk_mapping` is vm id -> disk id -> path on the export, or "newest" (the disk's newest
    usable restore point when the launch is made); empty for a VM: each disk's newest.
    `options` holds power_on, auto_merge, power_off_first and connect_network.
    """

    team = models.ForeignKey(
        "recovery.Team", on_delete=models.CASCADE, related_name="launch_templates"
    )
    name = models.CharField(max_length=100)
    connection = models.ForeignKey(
        "platforms.PlatformConnection", on_delete=models.CASCADE, related_name="launch_templates"
    )
    vm_ids = models.JSONField(default=list)
    vm_names = models.JSONField(default=list, help_text="As they were when saved, to show.")
    nfs_server = models.CharField(max_length=255)
    nfs_export = models.CharField(max_length=500)
    disk_mapping = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.RESTORE)
    target = models.CharField(max_length=10, choices=Target.choices, default=Target.NEW_VM)
    options = models.JSONField(default=dict, blank=True)
    # Verify only: the checks (recovery.verify.plan.CheckPlan's JSON); {}: the defaults.
    checks = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="launch_template_name_per_team")
        ]

    def __str__(self) -> str:
        return self.name
