"""The lab's two ways of saying no: a synchronous refusal and a failed task."""

from __future__ import annotations


class LabError(Exception):
    """A refusal the platform answers synchronously, with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TaskFailed(Exception):
    """Ends a task with status `failure` and this description."""


class TaskGone(Exception):
    """The task left the state (a reset dropped it): its worker stops without a word."""
