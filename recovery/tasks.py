"""RQ entry points: thin, taking primary keys only; the periodic loops are declared here."""

from __future__ import annotations

from recovery import engine
from recovery.background.periodic import periodic_job


def advance(recovery_id: int) -> str:
    return engine.advance(recovery_id)


@periodic_job("qrc-reconciler", every="RECOVERY_RECONCILE_SECONDS")
def reconcile() -> dict:
    from recovery.services.reconcile import reconcile as run

    return run()


# Again after an error too (as every periodic job): a head not signed is a truncation not caught.
@periodic_job("qrc-audit-heads", every="AUDIT_HEADS_SECONDS")
def audit_heads() -> dict:
    from recovery.auditheads import write_heads

    return write_heads()


def check_audit_chain(team_id: int) -> dict:
    from recovery import auditcheck

    return auditcheck.run(team_id)
