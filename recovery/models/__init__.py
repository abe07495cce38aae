from __future__ import annotations

from recovery.models.recovery import Batch, Recovery, RecoveryEvent
from recovery.models.team import Membership, Role, Team

__all__ = ["Batch", "Membership", "Recovery", "RecoveryEvent", "Role", "Team"]
