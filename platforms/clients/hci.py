"""Sangfor HCI: a thin dialect over SCP.

Only attachnfs, rebasebackingfile and startmergebackupdata are documented under
/hci/vt/api/v1; every other path here is assumed (docs/architecture.md, "HCI"), with SCP's
bodies, envelope and /janus auth. Swap this module when Sangfor's HCI reference is at hand.
"""

from __future__ import annotations

from platforms.clients.scp import SCPClient

PREFIX = "/hci/vt/api/v1"


class HCIClient(SCPClient):
    kind = "hci"

    PLATFORM = f"{PREFIX}/platform"
    CLUSTERS = f"{PREFIX}/clusters"
    HOSTS = f"{PREFIX}/hosts"
    STORAGES = f"{PREFIX}/datastores"
    STORAGE = PREFIX + "/datastores/{id}"
    ATTACH_NFS = (f"{PREFIX}/datastores/actions/attachnfs",) * 2
    SERVERS = f"{PREFIX}/vms"
    SERVER = PREFIX + "/vms/{id}"
    SERVER_V1 = PREFIX + "/vms/{id}"
    SERVER_CONFIG = PREFIX + "/vms/{id}/config"
    CREATE_SERVER = f"{PREFIX}/vms"
    START = PREFIX + "/vms/{id}/actions/poweron"
    STOP = PREFIX + "/vms/{id}/actions/poweroff"
    REBASE = PREFIX + "/vms/{id}/actions/rebasebackingfile"
    MERGE = PREFIX + "/vms/{id}/actions/startmergebackupdata"
    TASK = PREFIX + "/tasks/{id}"
