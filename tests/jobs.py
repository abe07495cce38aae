"""Plain module-level functions for RQ to import in tests (RQ pickles by dotted path)."""

from __future__ import annotations


def describe_team(team_id: int) -> str:
    from recovery.models import Team

    team = Team.objects.get(pk=team_id)
    return f"{team.name} has {team.memberships.count()} members"
