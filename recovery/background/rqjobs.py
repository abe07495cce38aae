"""What a job in Redis may make a worker do: JSON data, and only our own task functions.

RQ's default serializer is pickle, and unpickling runs code: anything that can write to Redis
would run code in the workers, which hold CREDENTIALS_KEYS. Our jobs take primary keys and
plain data, so JSON carries them. JSON alone is not enough: a job names the function to call
by dotted path, and `os.system` is a dotted path too. Workers therefore run only functions
under RQ_JOB_MODULES (our tasks modules), and no callbacks.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.conf import settings
from rq.job import Job

logger = logging.getLogger(__name__)


class JSONSerializer:
    """RQ's JSON serializer, storing any return value RQ keeps as text rather than failing
    the job after its work is done (a result is for people to read, never run)."""

    @staticmethod
    def dumps(obj: Any, *args: Any, **kwargs: Any) -> bytes:
        return json.dumps(obj, default=str).encode("utf-8")

    @staticmethod
    def loads(data: bytes | str, *args: Any, **kwargs: Any) -> Any:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)


class JobRefused(RuntimeError):
    pass


def allowed(func_name: str | None) -> bool:
    return bool(func_name) and any(
        str(func_name).startswith(prefix) for prefix in settings.RQ_JOB_MODULES
    )


class AllowedJob(Job):
    """A job that calls only a function of RQ_JOB_MODULES, as a plain function."""

    @property
    def func(self) -> Any:
        if self.instance is not None or not allowed(self.func_name):
            raise JobRefused(f"job {self.id} names {self.func_name!r}: not one of our tasks")
        return super().func

    def perform(self) -> Any:
        # One id per run of a job (a periodic job reuses its job id): the audit page groups
        # the platform calls of this run under the rows it writes, with no client address.
        from recovery.audit import Origin, current_origin

        origin = current_origin.set(Origin(request_id=f"job-{uuid.uuid4().hex}"))
        try:
            return super().perform()
        finally:
            current_origin.reset(origin)

    @property
    def success_callback(self) -> Any:
        return self._refuse_callback(self._success_callback_name)

    @property
    def failure_callback(self) -> Any:
        return self._refuse_callback(self._failure_callback_name)

    @property
    def stopped_callback(self) -> Any:
        return self._refuse_callback(self._stopped_callback_name)

    def _refuse_callback(self, name: str | None) -> None:
        # We set no callbacks; one in Redis was written by someone else. Ignored, not raised:
        # RQ calls callbacks in its own loop, where an error would stop the worker.
        if name:
            logger.warning("job %s names a callback %r: ignored (we set none)", self.id, name)
        return None
