"""Sign each audit chain's head into AUDIT_HEADS_DIR now, or start the periodic job."""

from __future__ import annotations

from django.utils.translation import gettext as _

from recovery import tasks
from recovery.auditheads import heads_path, write_heads
from recovery.background import periodic
from recovery.background.commands import PeriodicJobCommand


class Command(PeriodicJobCommand):
    help = (
        "Write the signed heads of the audit chains (AUDIT_HEADS_DIR/heads.jsonl). "
        "--schedule starts the periodic job instead (every AUDIT_HEADS_SECONDS)."
    )
    job_id = periodic.id_of(tasks.audit_heads)

    def scheduled(self) -> str:
        return _("The audit heads are signed periodically on the RQ workers.")

    def run_once(self) -> list[str]:
        result = write_heads()
        return [
            _("Signed %(signed)s head(s), kept %(kept)s unchanged or broken one(s) in %(path)s.")
            % {"signed": result["signed"], "kept": result["kept"], "path": heads_path()}
        ]
