from __future__ import annotations

from recovery.models.team import Membership, Role, Team

__all__ = ["Membership", "Role", "Team"]
