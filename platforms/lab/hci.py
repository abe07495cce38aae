"""The HCI dialect: assumed shapes, all in this one module.

Only the three quick-recovery paths are documented by Sangfor (attachnfs, rebasebackingfile,
startmergebackupdata under /hci/vt/api/v1). Until Sangfor's HCI OpenAPI reference is at hand,
everything else here is an assumption [I]: the other paths are our guesses in the same style,
and bodies, envelope (V1), auth (the /janus schemes), task polling and answers mirror SCP.
"""

from __future__ import annotations

from platforms.lab.shapes import DELETE_STATUS

PREFIX = r"/hci/vt/api/v1"
_VM = PREFIX + r"/vms/(?P<server_id>[^/]+)"

# (method, path pattern, SCP handler it mirrors, options)
HCI_ROUTES: list[tuple[str, str, str, dict[str, object]]] = [
    # Documented by Sangfor:
    ("POST", PREFIX + r"/datastores/actions/attachnfs", "attach_nfs", {}),
    ("POST", _VM + r"/actions/rebasebackingfile", "rebase", {}),
    ("POST", _VM + r"/actions/startmergebackupdata", "merge", {}),
    # Assumed [I]:
    ("GET", PREFIX + r"/platform", "platform", {}),
    ("GET", PREFIX + r"/clusters", "clusters", {}),
    ("GET", PREFIX + r"/hosts", "hosts", {}),
    ("GET", PREFIX + r"/datastores", "storages", {}),
    ("DELETE", PREFIX + r"/datastores/(?P<storage_id>[^/]+)", "detach_storage", {}),
    ("GET", PREFIX + r"/vms", "servers", {}),
    ("POST", PREFIX + r"/vms", "create_server", {"status": 201}),  # [I] SCP's createServer body
    ("GET", _VM, "server", {}),
    ("GET", _VM + r"/config", "server_config", {}),  # [I] ServerConfig20180725
    ("DELETE", _VM, "delete_server", {"status": DELETE_STATUS}),  # [I] 204, no body, as SCP
    ("POST", _VM + r"/actions/poweron", "start_server", {"status": 201}),
    ("POST", _VM + r"/actions/poweroff", "stop_server", {"status": 201}),
    ("GET", PREFIX + r"/tasks/(?P<task_id>[^/]+)", "task", {}),
]

# Lab profiles: which APIs one lab answers, and the version it says it is [I]. "scp" is the
# default lab, answering janus and the HCI v1 paths alike (as it always has); "hci-janus" is an
# HCI 6.10+ cluster answering only janus (the spec says its quick-recovery calls serve HCI from
# 6.10; whether such a cluster still answers /hci/vt/api/v1 is unknown, so it does not here);
# "hci-v1" is an older HCI cluster answering only /hci/vt/api/v1, plus the /janus sign-in
# paths the v1 dialect is assumed to share.
PROFILES = {
    "scp": "SCP6.11.1 (lab)",
    "hci-janus": "HCI6.10.0 (lab)",
    "hci-v1": "HCI6.5.0 (lab)",
}


def answers(profile: str, path: str, public: bool) -> bool:
    """Whether a lab of this profile serves `path` at all (a "no" is answered 404)."""
    if profile == "hci-v1":
        return public or path.startswith(PREFIX + "/")
    if profile == "hci-janus":
        return not path.startswith(PREFIX + "/")
    return True
