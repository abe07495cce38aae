"""RQ entry points: thin, taking primary keys only."""

from __future__ import annotations

from recovery import engine


def advance(recovery_id: int) -> str:
    return engine.advance(recovery_id)


def reconcile() -> dict:
    from recovery.services.reconcile import reconcile as run

    return run(reschedule=True)


def audit_heads() -> dict:
    from recovery.auditheads import schedule_heads, write_heads

    try:
        return write_heads()
    finally:
        # Always again, even after an error: a head not signed is a truncation not caught.
        schedule_heads()


def check_audit_chain(team_id: int) -> dict:
    from recovery import auditcheck

    return auditcheck.run(team_id)
