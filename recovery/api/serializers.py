"""Model rows and service results as the plain dicts the response schemas describe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.functional import Promise

from platforms.models import PlatformConnection
from recovery.models import AuditEvent, Batch, Recovery, Team
from recovery.services import actions, progress
from recovery.services.access import access
from recovery.services.checks import Check


def copied(item: Any, names: str) -> dict[str, Any]:
    """The item's attributes named (space-separated, as namedtuple takes them), as they are:
    the response schemas use the models' own names. Text (stored messages) and lazy labels
    come out in the request's language (Accept-Language), like every human message."""
    return {name: _shown(getattr(item, name)) for name in names.split()}


def _shown(value: Any) -> Any:
    return str(value) if isinstance(value, str | Promise) else value


def seconds(value: timedelta | None) -> float | None:
    return round(value.total_seconds(), 3) if value is not None else None


def connection(item: PlatformConnection, team: Team) -> dict[str, Any]:
    owned = item.team_id == team.pk
    data: dict[str, Any] = {
        "id": item.pk,
        **copied(item, "name kind"),
        "owned": owned,
        "owner_team": item.team.name,
        "label": item.label_for(team),
        **copied(
            item,
            "max_concurrent_recoveries max_tasks_per_datastore max_tasks_per_host"
            " default_nfs_server default_nfs_export last_test_ok last_test_message last_tested_at",
        ),
    }
    if not owned:
        rules = access(team, item)
        data.update(shared_vm_patterns=rules.vm_patterns, shared_nfs_sources=rules.nfs_sources)
    if owned:
        # A share is use-only: the borrowing team never sees where or how it connects.
        secret = "secret_key" if item.auth_method == "aksk" else "password"
        data.update(
            base_url=item.display_url,
            auth_method=item.auth_method,
            credentials_set=item.has_secret(secret),
            verify_tls=item.verify_tls,
            timeout_seconds=item.timeout_seconds,
        )
    return data


def recovery(item: Recovery) -> dict[str, Any]:
    return {
        "id": item.pk,
        **copied(item, "vm_id vm_name connection_id connection_name batch_id mode status"),
        "status_label": item.get_status_display(),
        **copied(item, "step reason"),
        "launched_by": item.launched_by.get_username() if item.launched_by else None,
        **copied(
            item,
            "launched_at recovered_at merged_at completed_at acknowledged_at merge_progress"
            " failed_status error_message error_advice nfs_server nfs_export datastore_name",
        ),
        "target": {
            "kind": item.target,
            "new_vm_name": item.target_vm_name if item.is_new_vm else "",
            "new_vm_id": item.created_vm_id,
            "network_connected": any(n.get("connect") for n in item.new_vm.get("networks", [])),
        },
        "rto_running_seconds": seconds(item.rto_running),
        "rto_merged_seconds": seconds(item.rto_merged),
        "is_active": item.is_active,
    }


def recovery_detail(item: Recovery, *, can_act: bool) -> dict[str, Any]:
    return {
        **recovery(item),
        **copied(item, "disks disk_mapping power_on auto_merge power_off_first"),
        "timeline": [
            {
                "status": step.status,
                "label": str(step.label),
                "state": step.state,
                "started": step.started,
                "duration_seconds": seconds(step.duration),
            }
            for step in progress.timeline(item)
        ],
        "events": [
            {"time": e.time, "level": e.level, "step": e.step, "message": str(e.message)}
            for e in item.events.all()
        ],
        "merge_eta_seconds": seconds(progress.merge_eta(item)),
        "running_from_backup_seconds": seconds(progress.running_from_backup_for(item)),
        "actions": [a.name for a in actions.available(item)] if can_act else [],
    }


def batch(item: Batch, members: list[Recovery]) -> dict[str, Any]:
    return {
        "id": item.pk,
        "connection_id": item.connection_id,
        "reason": item.reason,
        "launched_by": item.launched_by.get_username() if item.launched_by else None,
        "created": item.created,
        "settled": all(member.is_terminal for member in members),
        "recoveries": [recovery(member) for member in members],
    }


def check(item: Check) -> dict[str, Any]:
    return copied(item, "name ok message fix notice")


def audit_row(row: AuditEvent) -> dict[str, Any]:
    return {
        "id": row.pk,
        **copied(row, "seq time action"),
        "action_label": row.get_action_display(),
        "source": row.source,
        "actor": row.actor_name,
        **copied(
            row,
            "client_ip object_type object_id object_repr message data correlation_id request_id"
            " recovery_id hash",
        ),
    }
