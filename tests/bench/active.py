"""Active recoveries for the dashboard benchmark, written as the engine leaves them.

Each recovery gets the row fields, the events and the waits the engine writes on its way to its
status (recovery/workflow.py transition and note, engine._schedule, steps.py, merging.py,
services/capacity.py take_turn), so that the pages render what they show during a real launch:
a queue, rebases and merges waiting for a turn on the batch's datastore (the platform's "Max
Tasks per Datastore"), merges under way, failures waiting for an operator.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.management.color import no_style
from django.db import connection
from django.db.models import Max

from recovery.choices import Mode, Status
from recovery.models import Batch, Recovery, RecoveryEvent
from recovery.verify.plan import CheckPlan

# Where a launch of many VMs stands a few minutes in, out of 100 recoveries.
MIX: tuple[tuple[str, int], ...] = (
    (Status.QUEUED, 24),
    (Status.ATTACHING, 4),
    (Status.CREATING_VM, 4),
    (Status.REBASING, 12),
    (Status.READY, 3),  # launched with "power on" unticked: waits for an operator
    (Status.POWERING_ON, 3),
    (Status.CHECKING, 4),  # verify only
    (Status.RUNNING_FROM_BACKUP, 10),  # restore without auto-merge, or a verify to finish
    (Status.MERGING, 24),
    (Status.MERGED, 2),
    (Status.DETACHING, 2),
    (Status.FAILED, 6),
    (Status.CLEANING_UP, 2),  # a verify being torn down after Finish
)
RESTORE_PATH = (
    Status.QUEUED, Status.ATTACHING, Status.CREATING_VM, Status.REBASING, Status.READY,
    Status.POWERING_ON, Status.RUNNING_FROM_BACKUP, Status.MERGING, Status.MERGED,
    Status.DETACHING,
)  # fmt: skip
VERIFY_PATH = (
    Status.QUEUED, Status.ATTACHING, Status.CREATING_VM, Status.REBASING, Status.READY,
    Status.POWERING_ON, Status.CHECKING, Status.RUNNING_FROM_BACKUP, Status.CLEANING_UP,
)  # fmt: skip
STEP_SECONDS = 20  # between two moves of one recovery
FAILURES = (
    (
        Status.REBASING,
        "Rebasing the disks failed on the platform: backup file {r.vm_name}/ide0.qcow2 not found",
        "Check the backup files named above; edit the mapping, then retry.",
    ),
    (
        Status.ATTACHING,
        "Attaching datastore failed on the platform: NFS server 10.0.0.1 refused the mount",
        "Fix the cause named above, then retry the step; or clean up.",
    ),
)


@dataclass
class Launch:
    """One launch of the bench team: a batch (several VMs), or None for single launches."""

    batch: Batch | None
    datastore: str
    datastore_id: str
    reason: str


def _moved_message(r: Recovery, to: str, came_from: str) -> str:
    """What the engine's move into `to` says (empty: the transition's "A → B")."""
    vm = r.new_vm["name"]
    return {
        Status.CREATING_VM: f"NFS datastore {r.datastore_name} is attached ({r.datastore_id})",
        Status.REBASING: f"Created {vm} ({r.created_vm_id}) with 1 NIC(s)",
        Status.READY: "All 1 disk(s) run from the backup files",
        Status.CHECKING: f"{vm} is running from the backup",
        Status.RUNNING_FROM_BACKUP: (
            "3 of 3 check(s) passed"
            if came_from == Status.CHECKING
            else f"{vm} is running from the backup"
        ),
        Status.MERGED: "Merged: the VM runs from production storage",
        Status.CLEANING_UP: (
            "bench finished the verification: power off and delete the VM the console "
            "created, detach"
        ),
    }.get(to, "")


class Writer:
    """Recoveries and their events for bulk inserts, with the times the engine would set."""

    def __init__(self, team: Any, connection: Any, user: Any) -> None:
        self.team, self.connection, self.user = team, connection, user
        self.events: list[RecoveryEvent] = []

    def event(
        self, r: Recovery, at: datetime, step: str, message: str, level: str = "info"
    ) -> None:
        self.events.append(
            RecoveryEvent(recovery=r, step=step, message=message, level=level, time=at)
        )

    def walk(self, r: Recovery, path: tuple[str, ...], waits: str, holds_turn: bool) -> None:
        """The moves along `path` (events, times, fields), then what it waits for at its end."""
        at = r.launched_at
        where = f"into a new VM {r.new_vm['name']}"
        launched = f"Launched by bench ({Mode(r.mode).label}, {where}): {r.reason}"
        self.event(r, at, Status.QUEUED, launched)
        for came_from, to in itertools.pairwise(path):
            at += timedelta(seconds=STEP_SECONDS)
            message = _moved_message(r, to, came_from)
            self.event(r, at, to, message or f"{Status(came_from).label} → {Status(to).label}")
            r.step, r.status_since = message or Status(to).label, at
            if to in (Status.RUNNING_FROM_BACKUP, Status.CHECKING) and r.recovered_at is None:
                r.recovered_at = at
            if to == Status.MERGED:
                r.merged_at, r.merge_progress = at, 100
            if to == Status.CREATING_VM:
                r.mounted_datastore = True
                r.task_ids["attach"] = f"task-attach-{r.pk}"
            if to == Status.REBASING:
                r.task_ids["create"] = f"task-create-{r.pk}"
            if to == Status.READY:
                r.disks_on_backup = ["ide0"]
        if waits:
            r.wait_reason = waits
            self.event(r, at + timedelta(seconds=1), r.status, waits)
        elif holds_turn and r.status in (Status.REBASING, Status.MERGING):
            key = "rebase" if r.status == Status.REBASING else "merge"
            r.task_ids[key] = f"task-{key}-{r.pk}"
            r.client_tokens[key] = uuid.uuid4().hex
            r.task_started[key] = (at + timedelta(seconds=1)).timestamp()
            text = (
                f"Rebasing ide0 of {r.new_vm['name']} onto the backup files"
                if key == "rebase"
                else "Merging the backup data into production storage"
            )
            self.event(r, at + timedelta(seconds=1), r.status, text)

    def fail(self, r: Recovery, failed: str, message: str, advice: str) -> None:
        at = r.status_since or r.launched_at
        at += timedelta(seconds=STEP_SECONDS)
        text = f"{Status(failed).label} failed: {message}"
        r.status, r.failed_status, r.error_message, r.error_advice = (
            Status.FAILED, failed, message, advice,
        )  # fmt: skip
        r.step, r.status_since = text, at
        self.event(r, at, Status.FAILED, text, level="error")


def _stations(count: int, seed: int) -> list[str]:
    """`count` statuses in MIX's proportions, shuffled (the same every run)."""
    labels = [status for status, weight in MIX for _ in range(weight)]
    stations = [labels[n % len(labels)] for n in range(count)]
    random.Random(seed).shuffle(stations)
    return stations


def seed_active(
    team: Any, connection: Any, user: Any, sizes: list[int], start: int
) -> list[int | None]:
    """One launch per size (a batch when it has more than one VM; a size of 1 is a single
    launch), every recovery active, VMs numbered from `start`. Returns the batch ids."""
    from django.utils import timezone

    now = timezone.now()
    writer = Writer(team, connection, user)
    batch_ids: list[int | None] = []
    number = start
    for index, size in enumerate(sizes):
        reason = f"INC-{start + index}: storage array lost"
        # A launch made half an hour ago: the batch's rows a few milliseconds apart.
        launched = now - timedelta(minutes=30) + timedelta(seconds=index)
        batch = None
        if size > 1:
            batch = Batch.objects.create(
                team=team, connection=connection, reason=reason, launched_by=user
            )
            Batch.objects.filter(pk=batch.pk).update(created=launched)  # auto_now_add: "now"
        batch_ids.append(batch.pk if batch else None)
        launch = Launch(batch, f"qr-inc-{start + index}", f"ds-{start + index}", reason)
        number = _launch(writer, launch, size, number, launched)
    # Every row is written once with its final fields and times (an update of 20 fields per
    # row afterwards, or of each event's time, took most of the dashboard's seed).
    with stamped_as_given(RecoveryEvent, "time"):
        RecoveryEvent.objects.bulk_create(writer.events, batch_size=2000)
    return batch_ids


def _launch(writer: Writer, launch: Launch, size: int, number: int, launched: datetime) -> int:
    stations = _stations(size, seed=number)
    rows = []
    for n, station in enumerate(stations):
        vm = f"{('web', 'db', 'app', 'file')[n % 4]}-{number + n:05d}"
        verify = station in (Status.CHECKING, Status.CLEANING_UP) or (
            station == Status.RUNNING_FROM_BACKUP and n % 2
        )
        rows.append(
            Recovery(
                team=writer.team,
                connection=writer.connection,
                connection_name=writer.connection.name,
                batch=launch.batch,
                vm_id=f"act-{number + n}",
                vm_name=vm,
                disks=[{"id": "ide0", "size_mb": 40960}],
                mode=Mode.VERIFY if verify else Mode.RESTORE,
                checks=CheckPlan().as_json() if verify else {},
                disk_mapping={"ide0": f"{vm}/ide0.qcow2"},
                nfs_server="10.0.0.1",
                nfs_export="/backup",
                datastore_name=launch.datastore,
                reason=launch.reason,
                launched_by=writer.user,
                step="Queued",
                correlation_id=uuid.uuid4().hex,
                power_on=station != Status.READY,
                auto_merge=not (station == Status.RUNNING_FROM_BACKUP and not verify),
            )
        )
    # The walk names things after each row's id (new VM, task ids): ids are given here, the
    # rows written once after it.
    first = (Recovery.objects.aggregate(last=Max("pk"))["last"] or 0) + 1
    for n, r in enumerate(rows):
        r.pk = first + n
    _walk_all(writer, launch, rows, stations, launched)
    with stamped_as_given(Recovery, "launched_at"):
        Recovery.objects.bulk_create(rows, batch_size=500)
    if connection.vendor == "postgresql":  # ids given by hand: move the sequence past them
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Recovery]):
                cursor.execute(sql)
    return number + size


@contextmanager
def stamped_as_given(model: Any, name: str) -> Iterator[None]:
    """Inserts keep the time set on each row in `model.name` (an auto_now_add field writes
    "now" otherwise)."""
    field = model._meta.get_field(name)
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = True


def _walk_all(
    writer: Writer, launch: Launch, rows: list[Recovery], stations: list[str], launched: datetime
) -> None:
    limit = writer.connection.max_tasks_per_datastore
    turns = 0  # rebases and merges under way on the launch's datastore
    queued = 0
    # Rebases still to come on the datastore (services/capacity.rebases_to_come: attaching,
    # creating the VM, or waiting for a turn; not the queued, the connection being full): a
    # merge waits for them, running the VMs first.
    to_come = sum(s in (Status.ATTACHING, Status.CREATING_VM) for s in stations) + max(
        0, stations.count(Status.REBASING) - limit
    )
    for n, (r, station) in enumerate(zip(rows, stations, strict=True)):
        r.launched_at = launched + timedelta(milliseconds=n)
        r.new_vm = {"name": f"{r.vm_name}-qr{r.pk}"}
        r.created_vm_id, r.datastore_id, r.cluster_id = f"vm-new-{r.pk}", launch.datastore_id, "c1"
        failure = FAILURES[n % len(FAILURES)] if station == Status.FAILED else None
        target = failure[0] if failure else station
        path = VERIFY_PATH if r.mode == Mode.VERIFY else RESTORE_PATH
        walked = path[: path.index(target) + 1]
        r.status = target
        waits, holds = "", False
        if target == Status.QUEUED and not failure:
            queued += 1
            waits = (
                f"Queued: {writer.connection.max_concurrent_recoveries} of "
                f"{writer.connection.max_concurrent_recoveries} recoveries on "
                f"{writer.connection.name} are at work, {queued - 1} ahead in the queue"
            )
        elif target in (Status.REBASING, Status.MERGING) and not failure:
            holds = turns < limit
            turns += holds
            if not holds and target == Status.MERGING and to_come:
                waits = (
                    f"Waiting: the rebases of {to_come} recoveries go first on datastore "
                    f"{r.datastore_name} (running the VMs comes before merging); the merge "
                    "starts when they are done"
                )
            elif not holds:
                waits = (
                    f"Waiting: {limit} of {limit} tasks on datastore {r.datastore_name} (the "
                    f"platform's limit on {writer.connection.name}); it starts when one ends"
                )
            elif target == Status.MERGING:
                r.merge_progress = (n * 7) % 100
        writer.walk(r, walked, waits if not failure else "", holds and not failure)
        if failure:
            writer.fail(r, failure[0], failure[1].format(r=r), failure[2])
