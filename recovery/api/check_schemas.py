"""The checks a verify-only launch chooses (recovery.verify.plan). The limits are checked by
plan_problems(), the one place for them, so the schema only names the fields and their
defaults; a value out of range is a 400 `invalid_request` that says what to change."""

from __future__ import annotations

from ninja import Field, Schema

from recovery.verify.plan import COMMAND_TIMEOUT_DEFAULT, GUEST_TIMEOUT_DEFAULT


class ChecksIn(Schema):
    bootable_disk: bool = Field(
        True, description="Preflight: the first disk's backup carries a boot signature."
    )
    guest_alive: bool = Field(True, description="Wait for the guest agent (vmtools).")
    guest_timeout: int = Field(GUEST_TIMEOUT_DEFAULT, description="Seconds, 10 to 3600.")
    command: str = Field(
        "", description="Run inside the guest (SCP 6.8.0+, vmtools): one line, up to 500."
    )
    command_exit: int = Field(
        0, description="The exit status that means success (0 to 255); needs a command."
    )
    command_file: str = Field(
        "", description="An absolute path that must exist in the guest, e.g. /etc/hostname."
    )
    command_timeout: int = Field(
        COMMAND_TIMEOUT_DEFAULT, description="Seconds for the in-guest task, 10 to 3600."
    )
