"""Platform clients, found by kind: views and the engine never branch on SCP vs HCI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string
from django.utils.translation import gettext_noop

from platforms.clients.base import CallHook, CallRecord
from platforms.clients.config import ClientConfig
from platforms.clients.errors import PlatformError
from platforms.clients.interface import PlatformClient

if TYPE_CHECKING:
    from platforms.clients.hci import HCIClient, HCIJanusClient
    from platforms.clients.scp import SCPClient

    # mypy checks here that every dialect implements the whole interface.
    _DIALECTS: tuple[type[PlatformClient], ...] = (SCPClient, HCIClient, HCIJanusClient)

# By kind, or by "kind:dialect" when the kind speaks more than one API.
CLIENTS = {
    "scp": "platforms.clients.scp.SCPClient",
    "scp:janus": "platforms.clients.scp.SCPClient",
    "hci": "platforms.clients.hci.HCIClient",
    "hci:hci-v1": "platforms.clients.hci.HCIClient",
    "hci:janus": "platforms.clients.hci.HCIJanusClient",
}


def get_client(
    config: ClientConfig, on_call: CallHook | None = None, **options: object
) -> PlatformClient:
    key = f"{config.kind}:{config.dialect}" if config.dialect else config.kind
    try:
        path = CLIENTS[key]
    except KeyError:
        raise PlatformError(
            gettext_noop("Unknown platform kind or dialect %(key)s."),
            params={"key": repr(key)},
            permanent=True,
            kind="protocol",
        ) from None
    client: PlatformClient = import_string(path)(config, on_call, **options)
    return client


__all__ = [
    "CallHook",
    "CallRecord",
    "ClientConfig",
    "PlatformClient",
    "PlatformError",
    "get_client",
]
