from __future__ import annotations

from recovery.models.audit import AuditAction, AuditEvent, Source
from recovery.models.launch_template import LaunchTemplate
from recovery.models.preferences import UserPreference
from recovery.models.recovery import Batch, Recovery, RecoveryEvent
from recovery.models.team import Invitation, Membership, Role, Team
from recovery.models.verify import VerifyCheck

__all__ = [
    "AuditAction",
    "AuditEvent",
    "Batch",
    "Invitation",
    "LaunchTemplate",
    "Membership",
    "Recovery",
    "RecoveryEvent",
    "Role",
    "Source",
    "Team",
    "UserPreference",
    "VerifyCheck",
]
