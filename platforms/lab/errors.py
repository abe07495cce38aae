"""The lab's two ways of saying no: a synchronous refusal and a failed task."""

from __future__ import annotations

from typing import Any


class LabError(Exception):
    """A refusal the platform answers synchronously, with an HTTP status.

    `message` is the English text; `zh` the Chinese one where the lab has its own (otherwise
    `--locale zh` answers the status's generic Chinese text); `data` goes into the error
    envelope's data object, for what a client must recognise by code rather than by words.
    """

    def __init__(
        self, status: int, message: str, *, zh: str = "", data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.zh = zh
        self.data = data or {}


class TaskFailed(Exception):
    """Ends a task with status `failure` and this description (`zh`: its Chinese text, else
    the generic one under `--locale zh`)."""

    def __init__(self, message: str, *, zh: str = "") -> None:
        super().__init__(message)
        self.zh = zh


class TaskCanceled(TaskFailed):
    """Ends a task with status `canceled` (someone canceled it on the platform)."""


class TaskGone(Exception):
    """The task left the state (a reset dropped it): its worker stops without a word."""
