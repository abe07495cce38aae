"""Which handler answers which path. SCP paths are confirmed; HCI ones live in hci.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

from platforms.lab import hci
from platforms.lab.shapes import DELETE_STATUS

_SERVER = r"/janus/20180725/servers/(?P<server_id>[^/]+)"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: str
    public: bool = False
    status: int = 200  # HTTP status of success; 204 is sent without a body


def _route(method: str, path: str, handler: str, **options: object) -> Route:
    return Route(method, re.compile(f"^{path}$"), handler, **options)  # type: ignore[arg-type]


SCP_ROUTES = [
    _route("GET", r"/janus/(?:v2/)?public-key", "public_key", public=True),
    _route("POST", r"/janus/authenticate", "authenticate", public=True),
    _route("POST", r"/janus/v2/authenticate", "authenticate_v2", public=True),
    _route("GET", r"/janus/20180725/platform", "platform"),
    _route("GET", r"/janus/20210725/clusters", "clusters"),
    _route("GET", r"/janus/(?:20190725|20240725)/hosts", "hosts"),
    _route("GET", r"/janus/(?:20180725|20190725|20200725)/storages", "storages"),
    _route("POST", r"/janus/(?:20180725|20210725)/storages/attachnfs", "attach_nfs"),
    _route("DELETE", r"/janus/20180725/storages/(?P<storage_id>[^/]+)", "detach_storage"),
    _route("GET", r"/janus/(?:20180725|20240725)/servers", "servers"),
    _route("GET", r"/janus/(?:20180725|20240725)/servers/(?P<server_id>[^/]+)", "server"),
    _route("POST", r"/janus/20220725/servers", "create_server", status=201),
    _route("GET", _SERVER + "/config", "server_config"),
    _route("DELETE", _SERVER, "delete_server", status=DELETE_STATUS),
    _route("POST", _SERVER + "/start", "start_server", status=201),
    _route("POST", _SERVER + "/stop", "stop_server", status=201),
    _route("POST", _SERVER + "/rebase-backing-file", "rebase"),
    _route("POST", _SERVER + "/merge-backup-data", "merge"),
    _route("GET", r"/janus/20180725/tasks/(?P<task_id>[^/]+)", "task"),
    _route("POST", r"/janus/20180725/custom/orchestration-tasks/action", "orchestrate"),
]

ROUTES = SCP_ROUTES + [_route(m, p, h, **o) for m, p, h, o in hci.HCI_ROUTES]


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    return None


def envelope_version(path: str) -> str:
    """The API version date in a /janus path; HCI and auth paths answer like 2018 versions."""
    found = re.match(r"^/janus/(\d{8})/", path)
    return found.group(1) if found else "20180725"


def uses_v2_envelope(path: str) -> bool:
    return envelope_version(path) >= "20240725"
