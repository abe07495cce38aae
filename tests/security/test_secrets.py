"""Secrets: after connections are created, tested and used in full recoveries against the lab,
no plaintext secret is anywhere: the database (dumpdata and raw SQL over every table), the
audit rows, Redis, every log record at DEBUG, any HTML or export served, exception messages.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import re
import secrets
import zlib
from collections import Counter
from typing import Any

import pytest
import redis
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from platforms.clients import PlatformError, get_client
from platforms.clients.auth import AkSkAuth
from platforms.models import PlatformConnection
from recovery.choices import Status
from recovery.models import AuditEvent, Recovery
from recovery.services import recoveries as actions
from tests.labclient import ACCESS_KEY, PASSWORD, SECRET_KEY, USERNAME
from tests.recovery.engine_helpers import run
from tests.security.isolation_fill import fill
from tests.security.snapshot import tables
from tests.security.urlwalk import endpoints
from tests.security.world import SECRET as WORLD_SECRET
from tests.security.world import WEBHOOK_SECRET as WORLD_WEBHOOK_SECRET
from tests.security.world import build_world

pytestmark = pytest.mark.django_db(transaction=True)

WRONG_SECRET = f"sk-wrong-{secrets.token_hex(8)}"
ROTATED_SECRET = f"sk-rotated-{secrets.token_hex(8)}"
UNREACHABLE_PASSWORD = f"pw-nowhere-{secrets.token_hex(8)}"
WEBHOOK_SECRET = f"whsec-{secrets.token_hex(12)}"


def _form(lab_url: str, **fields: str) -> dict[str, str]:
    data = {
        "kind": "scp", "base_url": lab_url, "auth_method": "aksk", "access_key": ACCESS_KEY,
        "region": "cn-south-1", "service": "open-api", "timeout_seconds": "5",
        "max_concurrent_recoveries": "4", "default_nfs_server": "192.0.2.50",
        "default_nfs_export": "/backup",
    }  # fmt: skip
    data.update(fields)
    return data


def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG for every logger there is (some, like django.request, set their own level)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)


def _forms_of(secret: str) -> dict[str, str]:
    """The secret and the encodings a careless store would use."""
    raw = secret.encode()
    return {
        "plain": secret,
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "urlsafe base64": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "hex": raw.hex(),
    }


class Haystacks:
    """Everything the run produced, by where it was found."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}
        self.counts: Counter[str] = Counter()

    def add(self, where: str, text: str) -> None:
        self.texts.setdefault(where, []).append(text)
        self.counts[where] += 1

    def find(self, name: str, secret: str) -> list[str]:
        found = []
        for encoding, needle in _forms_of(secret).items():
            for where, texts in self.texts.items():
                hits = [text for text in texts if needle in text]
                if hits:
                    at = hits[0].find(needle)
                    context = hits[0][max(0, at - 80) : at + 80]
                    found.append(f"{name} ({encoding}) in {where}: …{context}…")
        return found


def _launch(client: Client, connection: PlatformConnection, vm_id: str, disks: list, **plan):
    """The launch wizard, step by step, as an operator uses it."""
    step = lambda name: reverse("launch-step", args=[name])  # noqa: E731
    pages = [client.post(step("connection"), {"connection": connection.pk})]
    pages.append(client.post(step("vms"), {"vm": [vm_id]}))
    pages.append(client.get(step("source")))
    mapping = {f"map-{vm_id}-{disk}": path for disk, path in disks}
    pages.append(client.post(step("source"), {"nfs_server": "192.0.2.50",
        "nfs_export": "/backup", "datastore_name": plan["datastore"], **mapping}))  # fmt: skip
    pages.append(client.post(step("mode"), {"mode": plan["mode"], "power_on": "1",
                                            "auto_merge": "1"}))  # fmt: skip
    pages.append(client.post(step("reason"), {"reason": "secrets drill"}))
    pages.append(client.get(step("preflight")))
    launched = client.post(step("preflight"))
    assert launched.status_code == 302, launched.content.decode()[:2000]
    return pages, Recovery.objects.get(connection=connection, vm_id=vm_id)


def test_no_plaintext_secret_anywhere_after_connections_are_created_tested_and_used(
    personas, lab, lab_process, settings, caplog
):
    _log_everything(caplog)
    settings.NFS_EXPORT_MOUNTS = {
        "192.0.2.50:/backup": str(lab_process.state_dir / "exports" / "backup")
    }
    found = Haystacks()
    admin = personas.client_for(personas.admin)
    operator = personas.client_for(personas.operator)

    def page(where: str, response) -> Any:
        if getattr(response, "streaming", False):
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        found.add(f"HTML/exports ({where})", body.decode(errors="replace"))
        return response

    # 1. Connections, created through the form: SCP with AK/SK and HCI with a password,
    # against the lab; one with a wrong secret (then rotated), one that reaches nothing.
    created = {}
    for name, fields in {
        "Lab SCP": {"secret_key": SECRET_KEY},
        "Lab HCI": {"kind": "hci", "auth_method": "password", "username": USERNAME,
                    "password": PASSWORD},
        "Lab SCP wrong key": {"secret_key": WRONG_SECRET},
        "Nowhere HCI": {"kind": "hci", "auth_method": "password", "username": "nobody",
                        "password": UNREACHABLE_PASSWORD, "base_url": "https://127.0.0.1:9"},
    }.items():  # fmt: skip
        response = page("create", admin.post(reverse("connection-create"), _form(lab.base_url,
            name=name, **fields)))  # fmt: skip
        assert response.status_code == 302, response.content.decode()[:3000]
        created[name] = PlatformConnection.objects.get(name=name)
    wrong = created["Lab SCP wrong key"]
    edit = reverse("connection-edit", args=[wrong.pk])
    page("edit form", admin.get(edit))
    rotated = _form(lab.base_url, name=wrong.name, secret_key=ROTATED_SECRET)
    assert page("edit", admin.post(edit, rotated)).status_code == 302

    # 2. Each one tested through the page (plain and htmx), as the operator.
    outcomes = {}
    for name, connection in created.items():
        url = reverse("connection-test", args=[connection.pk])
        page("test", operator.post(url))
        page("test (htmx)", operator.post(url, headers={"HX-Request": "true"}))
        connection.refresh_from_db()
        outcomes[name] = connection.last_test_ok
    assert outcomes == {
        "Lab SCP": True, "Lab HCI": True, "Lab SCP wrong key": False, "Nowhere HCI": False
    }  # fmt: skip

    # 3. A webhook channel with its signing secret, and an API token used against the API.
    webhook = {"kind": "webhook", "name": "ops hook", "enabled": "on", "secret": WEBHOOK_SECRET,
               "events": ["recovery.completed", "recovery.running_from_backup"],
               "url": "https://127.0.0.1:9/hook"}  # fmt: skip
    assert admin.post(reverse("notification-channel-create"), webhook).status_code == 302
    shown = admin.post(reverse("api-tokens"), {"name": "ci job", "expires": "never"})
    assert shown.status_code == 201  # shown this once, and not kept among the pages
    api_token = re.search(r"qrc_[\w-]+", shown.content.decode()).group(0)
    me = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {api_token}"})
    assert me.status_code == 200, me.content
    found.add("API answers", me.content.decode())

    # 4. Full recoveries through the wizard: restore over SCP (AK/SK), verify over HCI (token).
    scp, hci = created["Lab SCP"], created["Lab HCI"]
    db01, app01 = lab.server_named("db-01")["id"], lab.server_named("app-01")["id"]
    pages, restore = _launch(operator, scp, db01, [("ide0", "db-01/ide0.qcow2"),
        ("ide1", "db-01/ide1.qcow2")], mode="restore", datastore="qr-secret-a")  # fmt: skip
    for response in pages:
        page("launch wizard", response)
    pages, verify = _launch(operator, hci, app01, [("ide0", "app-01/ide0.qcow2")],
                            mode="verify", datastore="qr-secret-b")  # fmt: skip
    for response in pages:
        page("launch wizard", response)
    restore, verify = run([restore, verify])
    assert restore.status == Status.COMPLETED, (restore.step, restore.error_message)
    assert verify.status == Status.RUNNING_FROM_BACKUP, (verify.step, verify.error_message)
    actions.finish_verification(verify, personas.operator.user)
    [verify] = run([verify])
    assert verify.status == Status.COMPLETED, (verify.step, verify.error_message)

    # 5. Exception messages: clients of the wrong, rotated and unreachable connections.
    errors = 0
    for connection in (created["Lab SCP wrong key"], created["Nowhere HCI"]):
        connection.refresh_from_db()
        config = connection.client_config()
        found.add("reprs", repr(config))
        client = get_client(config, retry_base_seconds=0.01)
        found.add("reprs", repr(client.__dict__))
        with pytest.raises(PlatformError) as caught:
            client.platform_info()
        client.close()
        errors += 1
        found.add(
            "exception messages", f"{caught.value!s} | {caught.value!r} | {caught.value.args}"
        )
        found.add("exception messages", caught.getrepr(style="long").__str__())
    found.add("reprs", repr(AkSkAuth(ACCESS_KEY, SECRET_KEY, "r", "s")))

    # 6. Every page (GET) as team A's admin and as the superuser, with a world of team A's
    # objects for the URL parameters; the new connections' and recoveries' pages; exports.
    world = build_world(personas)
    root = Client()
    root.force_login(world.root)
    for endpoint in endpoints():
        fillers = fill(endpoint, world)
        assert not isinstance(fillers, str), fillers
        for url, _ in endpoint.urls(fillers):
            for who, client in (("admin", admin), ("root", root)):
                page(f"GET as {who}", client.get(url))
    for connection in created.values():
        for name in ("connection-detail", "connection-edit", "connection-inventory"):
            page(name, admin.get(reverse(name, args=[connection.pk])))
        for section in ("datastores", "hosts", "clusters"):
            url = reverse("connection-inventory", args=[connection.pk])
            page("inventory", admin.get(url, {"section": section}))
        page(
            "admin change", root.get(f"/admin/platforms/platformconnection/{connection.pk}/change/")
        )
    for recovery in (restore, verify):
        page("recovery", admin.get(reverse("recovery-detail", args=[recovery.pk])))
    for export in ("csv", "jsonl"):
        page("audit export", admin.get(reverse("audit"), {"export": export}))
    page("report export", admin.get(reverse("reports"), {"export": "csv"}))
    page("connection list", admin.get(reverse("connection-list")))

    # 7. The database: dumpdata, raw SQL over every table; the audit rows; Redis.
    dump = io.StringIO()
    # django-rq's dashboard "model" has no table: dumpdata of it can only fail.
    call_command("dumpdata", exclude=["django_rq"], stdout=dump, verbosity=0)
    found.add("dumpdata", dump.getvalue())
    quote = db.ops.quote_name
    with db.cursor() as cursor:
        for table in [*tables(), "django_session", "axes_accessattempt", "axes_accesslog"]:
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 - our table names
            rows = cursor.fetchall()
            found.add("SQL rows", "\n".join(map(repr, rows)))
            found.counts["SQL rows scanned"] += len(rows)
    audit_rows = list(AuditEvent.objects.order_by("id"))
    for row in audit_rows:
        found.add("audit rows", repr(row.content()))
    found.add("Redis", _redis_text())

    # 8. The logs of the whole run, at DEBUG.
    # (factory_boy's own DEBUG lines echo the test fixtures' arguments: test tooling, not us.)
    records = [r for r in caplog.records if not r.name.startswith("factory")]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        found.add("logs", formatter.format(record))

    secrets_to_find = {
        "SCP secret key": SECRET_KEY,
        "HCI password": PASSWORD,
        "wrong secret (before rotation)": WRONG_SECRET,
        "rotated secret": ROTATED_SECRET,
        "unreachable connection's password": UNREACHABLE_PASSWORD,
        "webhook signing secret": WEBHOOK_SECRET,
        "API token": api_token,
        "seeded connection's secret": WORLD_SECRET,
        "seeded webhook secret": WORLD_WEBHOOK_SECRET,
        "credentials key (CREDENTIALS_KEYS)": settings.CREDENTIALS_KEYS[0],
        "Django SECRET_KEY": settings.SECRET_KEY,
        "audit chain key (AUDIT_KEY)": settings.AUDIT_KEYS.keys[0][1].decode(),
    }
    leaks = [hit for name, value in secrets_to_find.items() for hit in found.find(name, value)]
    platform_calls = sum(1 for row in audit_rows if row.action == "platform.call")
    responses = sum(count for where, count in found.counts.items() if where.startswith("HTML"))
    print(
        f"\nsecrets: {len(secrets_to_find)} secrets x 4 encodings searched in {responses} "
        "responses (every URL swept as team admin and as superuser, forms, tests, wizard, "
        f"exports), {found.counts['SQL rows scanned']} database rows (raw SQL) and the dumpdata "
        f"output, {len(audit_rows)} audit rows ({platform_calls} platform calls), "
        f"{len(records)} log records at DEBUG, Redis, {errors} exception messages; "
        "2 full recoveries (restore over SCP AK/SK, verify over HCI password)"
    )
    assert not leaks, "\n".join(leaks)
    # The searches can find something: the encrypted columns are there, and decrypt.
    assert scp.get_secret("secret_key") == SECRET_KEY
    assert found.find("an encrypted column", scp.secret_key_encrypted)


def _redis_text() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL)
    parts = []
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        values: list[Any] = []
        if kind == "string":
            values = [client.get(key)]
        elif kind == "hash":
            values = [*client.hgetall(key).keys(), *client.hgetall(key).values()]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        for value in values:
            parts.append(_decoded(value))
        parts.append(key.decode(errors="replace"))
    return "\n".join(parts)


def _decoded(value: Any) -> str:
    if not isinstance(value, bytes):
        return str(value)
    with contextlib.suppress(zlib.error):
        value = zlib.decompress(value)  # RQ keeps job data as compressed pickles
    return value.decode(errors="replace")


def test_the_search_would_find_a_secret_stored_in_clear(personas, lab):
    """The haystacks are real: a secret written in clear where it should not be is found."""
    found = Haystacks()
    connection = PlatformConnection.objects.create(
        team=personas.team, name="careless", base_url=lab.base_url, access_key=ACCESS_KEY
    )
    PlatformConnection.objects.filter(pk=connection.pk).update(
        last_test_message=f"failed with {WRONG_SECRET}"
    )
    with db.cursor() as cursor:
        for table in tables():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")  # noqa: S608
            found.add("SQL rows", repr(cursor.fetchall()))
    found.add("logs", base64.b64encode(ROTATED_SECRET.encode()).decode())
    assert found.find("wrong", WRONG_SECRET)
    assert found.find("rotated", ROTATED_SECRET)
    assert not found.find("webhook", WEBHOOK_SECRET)
    assert apps.is_installed("platforms")
