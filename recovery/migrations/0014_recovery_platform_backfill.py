"""Active recoveries learn their platform's URL (its own migration: on PostgreSQL, rows
updated in a migration that also alters the table can fail with pending trigger events)."""

from urllib.parse import urlsplit

from django.db import migrations

# Spelled out: a migration must not import code that may change after it
# (platforms.clients.config.platform_url, recovery.choices.ACTIVE).
ACTIVE = [
    "attaching", "cancelling", "cleaning_up", "creating_vm", "detaching", "failed", "merged",
    "merging", "powering_off", "powering_on", "queued", "ready", "rebasing",
    "running_from_backup",
]  # fmt: skip
DEFAULT_PORTS = {"http": 80, "https": 443}


def _platform_url(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
        host = (parts.hostname or "").lower()
    except ValueError:
        port, host = None, parts.netloc.rpartition("@")[2].lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}{f':{port}' if port else ''}{parts.path.rstrip('/')}"


def platform_of_active_recoveries(apps, schema_editor):
    """Active recoveries learn their platform's URL. Two of one VM through two rows to one
    platform (what the new rule forbids) keep theirs blank, outside the rule, rather than
    failing the upgrade: the older one holds the place."""
    recovery_model = apps.get_model("recovery", "Recovery")
    taken = set()
    rows = recovery_model.objects.filter(status__in=ACTIVE, connection__isnull=False)
    for recovery in rows.select_related("connection").order_by("launched_at", "pk"):
        key = (_platform_url(recovery.connection.base_url), recovery.vm_id)
        if key in taken:
            continue
        taken.add(key)
        recovery.platform_url = key[0]
        recovery.save(update_fields=["platform_url"])


class Migration(migrations.Migration):
    dependencies = [("recovery", "0013_recovery_platform")]

    operations = [migrations.RunPython(platform_of_active_recoveries, migrations.RunPython.noop)]
