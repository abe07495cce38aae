"""Platform clients, found by kind: views and the engine never branch on SCP vs HCI."""

from __future__ import annotations

from django.utils.module_loading import import_string

from platforms.clients.base import CallHook, CallRecord, PlatformClient
from platforms.clients.config import ClientConfig
from platforms.clients.errors import PlatformError

CLIENTS = {
    "scp": "platforms.clients.scp.SCPClient",
    "hci": "platforms.clients.hci.HCIClient",
}


def get_client(
    config: ClientConfig, on_call: CallHook | None = None, **options: object
) -> PlatformClient:
    try:
        path = CLIENTS[config.kind]
    except KeyError:
        raise PlatformError(
            f"Unknown platform kind {config.kind!r}.", permanent=True, kind="protocol"
        ) from None
    return import_string(path)(config, on_call, **options)


__all__ = [
    "CallHook",
    "CallRecord",
    "ClientConfig",
    "PlatformClient",
    "PlatformError",
    "get_client",
]
