"""A drill's history per VM: the last results (a pass/fail strip), the boot time of each run
(power-on to the guest agent: its trend), the backup's age at each test (the RPO then), and
the next scheduled runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from recovery.drills.models import Drill, DrillRunVM
from recovery.models import VerifyCheck
from recovery.verify.plan import CheckName

RUNS_IN_STRIP = 12
NEXT_RUNS = 5


@dataclass
class VMHistory:
    vm: str
    results: list[tuple[int, str]] = field(default_factory=list)  # (run id, outcome), oldest first
    boot_seconds: list[float | None] = field(default_factory=list)  # per run, oldest first
    backup_age_hours: float | None = None  # at the last test that read it

    @property
    def boot_trend(self) -> str:
        """The boot times as a sparkline of block characters (blank: no boot measured)."""
        values = [v for v in self.boot_seconds if v is not None]
        if not values:
            return ""
        top = max(values) or 1.0
        bars = "▁▂▃▄▅▆▇█"
        return "".join(
            " " if v is None else bars[min(int(v / top * (len(bars) - 1)), len(bars) - 1)]
            for v in self.boot_seconds
        )


def _boots(recovery_ids: list[int]) -> dict[int, tuple[float | None, float | None]]:
    """recovery id -> (boot seconds, backup age in hours) from its evidence rows."""
    rows = VerifyCheck.objects.filter(recovery_id__in=recovery_ids).order_by("attempt", "order")
    on: dict[int, datetime] = {}
    found: dict[int, tuple[float | None, float | None]] = {}
    for row in rows:
        boot, age = found.get(row.recovery_id, (None, None))
        if row.name == CheckName.BOOTABLE_DISK:
            age = row.answer.get("age_hours")
        elif row.name == CheckName.POWERED_ON:
            on[row.recovery_id] = row.started_at
        elif row.name == CheckName.GUEST_ALIVE and row.result == VerifyCheck.Result.PASSED:
            start = on.get(row.recovery_id)
            if start and row.ended_at:
                boot = round((row.ended_at - start).total_seconds(), 1)
        found[row.recovery_id] = (boot, age)
    return found


def vm_histories(drill: Drill) -> list[VMHistory]:
    run_ids = list(drill.runs.values_list("pk", flat=True)[:RUNS_IN_STRIP])
    items = list(DrillRunVM.objects.filter(run_id__in=run_ids).order_by("run_id", "vm_name"))
    boots = _boots([item.recovery_id for item in items if item.recovery_id])
    by_vm: dict[str, VMHistory] = {name: VMHistory(name) for name in drill.vm_names()}
    for item in items:
        history = by_vm.setdefault(item.vm_name, VMHistory(item.vm_name))
        history.results.append((item.run_id, item.outcome))
        boot, age = boots.get(item.recovery_id or 0, (None, None))
        history.boot_seconds.append(boot)
        if age is not None:
            history.backup_age_hours = age
    return list(by_vm.values())


def next_runs(drill: Drill, after: datetime, count: int = NEXT_RUNS) -> list[datetime]:
    if not drill.enabled:
        return []
    times, moment = [], after
    for _ in range(count):
        try:
            moment = drill.next_after(moment)
        except (ValueError, KeyError):
            break
        times.append(moment)
    return times
