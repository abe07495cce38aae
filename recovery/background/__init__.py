"""Background work in one place: queues, delayed jobs, leases, periodic loops, workers.

- `enqueue(func, *args, on=, delay=)` (queues.py): every job is queued here, naming its
  task by dotted path, so no module imports the tasks that call it back; a delay goes through
  the looks (looks.py), queued when they fall due.
- `leases` (leases.py): the one "only one worker at a time" rule, a conditional UPDATE of a
  row's `lease_until` (and `lease_owner`, where the owner may renew it).
- `periodic` (periodic.py): the loops that must never stop, declared with `@periodic_job`.
- `worker` and `inline`: the RQ workers with their fast scheduler, and the in-process runner
  of tests and `recover --inline`; `rqjobs`: JSON jobs that may call our tasks only;
  `commands`: PeriodicJobCommand, the management command of a periodic job.

Domain code uses `enqueue`, `leases` and `periodic_job`; worker.py and inline.py are for
`rqworker`, tests and `recover --inline`. This __init__ imports no RQ, so that the settings
(conf.py) may import the package.
"""

from __future__ import annotations

from recovery.background.queues import DEFAULT, connection, enqueue, idle, queue

__all__ = ["DEFAULT", "connection", "enqueue", "idle", "queue"]
