"""/_lab/: the lab's own control panel for tests, benchmarks and demos.

Loopback clients only, and (all but /_lab/health) with the lab's admin token: loopback alone
let a webhook or a platform URL pointed at the lab re-seed it in the middle of a recovery.
"""

from __future__ import annotations

import hmac
from typing import Any

from platforms.lab import hci, outages, shapes
from platforms.lab.auth import Authenticator
from platforms.lab.core import Lab, LabError

TOKEN_HEADER = "x-lab-token"  # noqa: S105 - a header name, not a secret
OPEN_PATHS = ("/_lab/health",)  # make run and the tests poll it before they know anything


def presented_token(headers: dict[str, str]) -> str:
    """The token a request carries: X-Lab-Token, or Authorization: Bearer (lower-case keys)."""
    if headers.get(TOKEN_HEADER):
        return headers[TOKEN_HEADER].strip()
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def authorized(path: str, headers: dict[str, str], token: str) -> bool:
    if path.rstrip("/") in OPEN_PATHS:
        return True
    presented = presented_token(headers)
    # An unset token refuses everyone; compare_digest so timing tells nothing about it.
    return bool(token and presented) and hmac.compare_digest(presented.encode(), token.encode())


class Admin:
    def __init__(self, lab: Lab, auth: Authenticator) -> None:
        self.lab = lab
        self.auth = auth

    def handle(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Any:
        lab = self.lab
        key = (method, path.rstrip("/"))
        if key == ("GET", "/_lab/health"):
            return {"ok": True, "disks": lab.disks.kind}
        if key == ("GET", "/_lab/state"):
            with lab.store.lock:
                return {
                    **{
                        k: v
                        for k, v in lab.store.data.items()
                        if k not in ("idempotency", "tokens", "token_roles")
                    },
                    "settings": self.settings(),
                }
        if key == ("GET", "/_lab/requests"):
            since = int(query.get("since", "0"))
            with lab.store.lock:
                return lab.store.requests[since:]
        if key == ("GET", "/_lab/effects"):
            with lab.store.lock:
                return list(lab.store.data["effects"])
        if key == ("GET", "/_lab/throttle"):
            return lab.tasks.throttle.describe()
        if key == ("GET", "/_lab/faults"):
            return lab.faults.describe()
        if key == ("POST", "/_lab/faults"):
            try:
                rule = lab.faults.add(**body)
            except (TypeError, ValueError) as error:
                raise LabError(400, f"bad fault rule: {error}") from None
            return {"id": rule.id}
        if key == ("DELETE", "/_lab/faults"):
            lab.faults.clear()
            return {"cleared": True}
        if key == ("POST", "/_lab/settings"):
            return self.update_settings(body)
        if key == ("POST", "/_lab/reset"):
            lab.faults.clear()
            lab.config.merge_hold_percent = None
            lab.seed()
            lab.tasks.throttle.forget()
            return {"reset": True}
        if method == "POST" and path.startswith("/_lab/servers/") and path.endswith("/quirks"):
            return self.set_quirks(path.split("/")[3], body)
        if key in (("POST", "/_lab/nfs/lose"), ("POST", "/_lab/nfs/restore")):
            return outages.set_nfs_lost(lab, body, lost=path.rstrip("/").endswith("lose"))
        if key == ("POST", "/_lab/servers/foreign"):
            return outages.foreign_vm(lab, body)
        if key == ("DELETE", "/_lab/servers/foreign"):
            return outages.remove_foreign_vm(lab, body)
        if key == ("POST", "/_lab/tokens/expire"):
            return {"expired": self.auth.expire_tokens()}
        raise LabError(404, f"no lab admin endpoint {method} {path}")

    def settings(self) -> dict[str, Any]:
        config = self.lab.config
        return {
            "task_seconds": config.task_seconds,
            "merge_seconds": config.merge_seconds,
            "storage_init_seconds": config.storage_init_seconds,
            "guest_agent_seconds": config.guest_agent_seconds,
            "latency_ms": config.latency_ms,
            "max_tasks_per_datastore": config.max_tasks_per_datastore,
            "max_tasks_per_host": config.max_tasks_per_host,
            "locale": config.locale,
            "profile": config.profile,
            "merge_hold_percent": config.merge_hold_percent,
        }

    def update_settings(self, body: dict[str, Any]) -> dict[str, Any]:
        config = self.lab.config
        numbers = (
            ("task_seconds", float),
            ("merge_seconds", float),
            ("storage_init_seconds", float),
            ("guest_agent_seconds", float),
            ("latency_ms", int),
            ("max_tasks_per_datastore", int),
            ("max_tasks_per_host", int),
        )
        for name, kind in numbers:
            if name in body:
                try:
                    value = kind(body[name])
                except (TypeError, ValueError):
                    raise LabError(400, f"{name} must be a number") from None
                if value < 0:
                    raise LabError(400, f"{name} must not be negative")
                setattr(config, name, value)
        if "merge_hold_percent" in body:
            config.merge_hold_percent = self.hold_percent(body["merge_hold_percent"])
        if "locale" in body:
            if body["locale"] not in shapes.LOCALES:
                raise LabError(400, f"locale must be one of {', '.join(shapes.LOCALES)}")
            config.locale = body["locale"]
        if "profile" in body:
            if body["profile"] not in hci.PROFILES:
                raise LabError(400, f"profile must be one of {', '.join(hci.PROFILES)}")
            config.profile = body["profile"]
        return self.settings()

    @staticmethod
    def hold_percent(value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 99:
            raise LabError(400, "merge_hold_percent must be null or a whole number from 0 to 99")
        return value

    def set_quirks(self, server_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A VM's quirks (shapes.QUIRKS): how its guest and its flags misbehave, for tests."""
        for name, value in body.items():
            if value not in shapes.QUIRKS.get(name, ()):
                raise LabError(400, f"quirk {name} must be one of {shapes.QUIRKS.get(name, ())}")
        with self.lab.store.change() as state:
            server = state["servers"].get(server_id)
            if server is None:
                raise LabError(404, f"no server {server_id}")
            server.setdefault("quirks", {}).update(body)
            return dict(server["quirks"])
