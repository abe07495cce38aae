"""Sangfor HCI: the janus dialect (HCI 6.10+) and a thin /hci/vt/api/v1 dialect over SCP.

HCIJanusClient is SCP's client under the HCI kind: Sangfor's SCP spec marks the janus
quick-recovery calls (attachnfs, detach, rebase-backing-file, merge-backup-data) as serving HCI
resource pools from 6.8 or 6.10. For HCIClient (v1), only attachnfs, rebasebackingfile and
startmergebackupdata are documented under /hci/vt/api/v1; every other path here is assumed
(docs/architecture.md, "HCI"), with SCP's bodies, envelope and /janus auth. Swap this module
when Sangfor's HCI reference is at hand.
"""

from __future__ import annotations

from platforms.clients.scp import SCPClient

PREFIX = "/hci/vt/api/v1"


class HCIJanusClient(SCPClient):
    kind = "hci"
    dialect = "janus"


class HCIClient(SCPClient):
    kind = "hci"
    dialect = "hci-v1"

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
