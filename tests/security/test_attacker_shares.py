"""Issue 15, shares and backup exports: what another team's admin, a borrowing team and a
crafted backup file could do, driven through the real views against the lab.

Blue Team (personas.team) owns the lab connection and offers it to Red Team (the outsider is
Red's admin; Rita is Red's operator). Every test here failed before shares needed consent,
before a share could be limited, before a share ended meant "clean up only", and before
backup exports were mapped per connection, without symlinks and with capped header reads.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

import pytest
from django.urls import reverse

from platforms.diskimage import QCOW2_MAGIC
from platforms.models import ConnectionShare
from recovery.choices import Status
from recovery.models import AuditAction, AuditEvent, Recovery, Role
from recovery.services.recoveries import Plan, VMRequest, launch
from tests.api.conftest import Api, token_for
from tests.factories import MembershipFactory, UserFactory
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, effects, lab_connection, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def blue_lab(personas, lab):
    """Blue's connection to the lab, with its NFS source as the default."""
    return lab_connection(
        personas.team, lab, name="Lab SCP", default_nfs_server=NFS_SERVER,
        default_nfs_export=NFS_EXPORT,
    )  # fmt: skip


@pytest.fixture
def rita(personas):
    """An operator of Red Team, the team Blue offers its connection to."""
    user = UserFactory(username="rita")
    return MembershipFactory(team=personas.other_team, user=user, role=Role.OPERATOR)


def _offer(personas, connection, **limits) -> ConnectionShare:
    admin = personas.client_for(personas.admin)
    response = admin.post(
        reverse("connection-share", args=[connection.pk]), {"team": "red team", **limits}
    )
    assert response.status_code == 302
    return ConnectionShare.objects.get(connection=connection, team=personas.other_team)


def _accept(personas, share) -> None:
    red_admin = personas.client_for(personas.outsider)
    assert red_admin.post(reverse("share-accept", args=[share.pk])).status_code == 302


def _step(name: str) -> str:
    return reverse("launch-step", args=[name])


def _to_source(client, connection, vm_id):
    """The wizard up to its backup-source page: the file picker's page."""
    assert client.post(_step("connection"), {"connection": connection.pk}).status_code == 302
    assert client.post(_step("vms"), {"vm": [vm_id]}).status_code == 302
    return client.get(_step("source"))


def _to_preflight(client, connection, vm_id, mapping: dict[str, str] | None = None):
    """The wizard's preflight page for one VM, every disk mapped as `mapping` says (disk id
    -> path) or to the suggested file."""
    page = _to_source(client, connection, vm_id).content.decode()
    fields = dict(re.findall(r'name="(map-[^"]+)" value="([^"]*)"', page))
    fields |= {f: "" for f in re.findall(r'<select id="[^"]+" name="(map-[^"]+)"', page)}
    for name in fields:
        disk = name.rsplit("-", 1)[1]
        fields[name] = (mapping or {}).get(disk) or fields[name] or f"db-01/{disk}.qcow2"
    body = {"nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT, "datastore_name": "qr-x"}
    response = client.post(_step("source"), {**body, **fields})
    assert response.status_code == 302, response.content.decode()[:3000]
    client.post(_step("mode"), {"mode": "verify"})
    client.post(_step("reason"), {"reason": "attack drill"})
    return client.get(_step("preflight"))


def _plan(**fields) -> Plan:
    values = {
        "mode": "restore", "nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT,
        "datastore_name": "qr-red", "reason": "red team restore",
    }  # fmt: skip
    return Plan(**{**values, **fields})


# --- consent --------------------------------------------------------------------------


def test_a_share_is_not_usable_until_an_admin_of_the_receiving_team_accepts_it(
    personas, blue_lab, rita, lab
):
    share = _offer(personas, blue_lab)
    operator = personas.client_for(rita)
    # Offered, not accepted: nobody in Red Team can open, list for launch or use it.
    assert operator.get(reverse("connection-detail", args=[blue_lab.pk])).status_code == 404
    assert operator.post(_step("connection"), {"connection": blue_lab.pk}).status_code == 400
    listing = operator.get(reverse("connection-list")).content.decode()
    assert "Offered to Red Team" in listing and "An admin of Red Team accepts" in listing
    api = Api(token_for(rita))
    assert api.get(f"/api/v1/connections/{blue_lab.pk}").status_code == 404
    db01 = lab.server_named("db-01")["id"]
    launched = api.post(
        "/api/v1/recoveries",
        {"connection_id": blue_lab.pk, "vms": [{"vm_id": db01}], "mode": "verify",
         "reason": "pushed in"},
    )  # fmt: skip
    assert launched.status_code == 404 and not Recovery.objects.exists()
    # An operator cannot accept for the team; its admin can.
    assert operator.post(reverse("share-accept", args=[share.pk])).status_code == 403
    _accept(personas, share)
    assert operator.get(reverse("connection-detail", args=[blue_lab.pk])).status_code == 200
    rows = AuditEvent.objects.filter(action=AuditAction.CONNECTION_SHARE)
    states = sorted((row.team.name, row.data["state"]) for row in rows)
    assert states == [
        ("Blue Team", "accepted"), ("Blue Team", "offered"),
        ("Red Team", "accepted"), ("Red Team", "offered"),
    ]  # fmt: skip


def test_a_declined_share_stays_unusable_and_cannot_be_accepted_later(personas, blue_lab, rita):
    share = _offer(personas, blue_lab)
    red_admin = personas.client_for(personas.outsider)
    red_admin.post(reverse("share-decline", args=[share.pk]))
    response = red_admin.post(reverse("share-accept", args=[share.pk]), follow=True)
    assert "is declined already" in response.content.decode()
    detail = personas.client_for(rita).get(reverse("connection-detail", args=[blue_lab.pk]))
    assert detail.status_code == 404
    # Another team's admin cannot decide on Red's offer at all.
    blue_admin = personas.client_for(personas.admin)
    assert blue_admin.post(reverse("share-accept", args=[share.pk])).status_code == 404


def test_the_wizard_and_the_api_name_the_owner_of_a_shared_connection_called_like_ours(
    personas, blue_lab, rita, lab
):
    own = lab_connection(personas.other_team, lab, name="Lab SCP")
    _accept(personas, _offer(personas, blue_lab))
    operator = personas.client_for(rita)
    page = operator.get(_step("connection")).content.decode()
    assert "<strong>Lab SCP (shared by Blue Team)</strong>" in page
    assert "<strong>Lab SCP</strong>" in page  # Red's own, as it is
    listed = json.loads(Api(token_for(rita)).get("/api/v1/connections").content)["items"]
    labels = {item["id"]: item["label"] for item in listed}
    assert labels == {blue_lab.pk: "Lab SCP (shared by Blue Team)", own.pk: "Lab SCP"}
    manager = MembershipFactory(team=personas.other_team, role=Role.MANAGER)
    drills = personas.client_for(manager).get(reverse("drill-create")).content.decode()
    assert "Lab SCP (shared by Blue Team)</option>" in drills


# --- a share that ends: clean up only --------------------------------------------------


def test_after_unshare_power_on_merge_and_retry_are_refused_and_cancel_still_works(
    personas, blue_lab, rita, lab
):
    share = _offer(personas, blue_lab)
    _accept(personas, share)
    db01, app01 = (lab.server_named(name)["id"] for name in ("db-01", "app-01"))
    red = personas.other_team
    [ready] = launch(red, blue_lab, rita.user, [VMRequest(db01)], _plan(power_on=False))
    [running] = launch(red, blue_lab, rita.user, [VMRequest(app01)], _plan(auto_merge=False))
    ready, running = run([ready, running])
    assert (ready.status, running.status) == (Status.READY, Status.RUNNING_FROM_BACKUP)
    admin = personas.client_for(personas.admin)
    admin.post(reverse("connection-unshare", args=[blue_lab.pk, share.pk]))

    operator = personas.client_for(rita)

    def act(recovery, action):
        url = reverse("recovery-action", args=[recovery.pk, action])
        return operator.post(url, follow=True).content.decode()

    refused = "is not shared with Red Team (any more)"
    assert refused in act(ready, "power-on")
    assert refused in act(running, "merge")
    detail = operator.get(reverse("recovery-detail", args=[running.pk])).content.decode()
    assert 'data-action="merge"' not in detail and 'data-action="cancel"' in detail
    Recovery.objects.filter(pk=ready.pk).update(status=Status.FAILED, failed_status="powering_on")
    assert refused in act(ready, "retry")
    api = Api(token_for(rita))
    answer = api.post(f"/api/v1/recoveries/{running.pk}/actions/merge")
    assert answer.status_code == 409 and refused in answer.content.decode()
    # Cleaning up is what is left, and it works: the VMs it made are deleted, the mount undone.
    act(ready, "cancel")
    act(running, "cancel")
    ready, running = run([ready, running])
    assert (ready.status, running.status) == (Status.CANCELLED, Status.CANCELLED)
    assert not [e for e in effects(lab) if e["action"] in ("merge",)]
    assert sorted(e["action"] for e in effects(lab, "delete")) == ["delete", "delete"]


def test_the_engine_does_not_carry_a_borrowed_recovery_on_once_the_share_ends(
    personas, blue_lab, rita, lab
):
    share = _offer(personas, blue_lab)
    _accept(personas, share)
    db01 = lab.server_named("db-01")["id"]
    [recovery] = launch(personas.other_team, blue_lab, rita.user, [VMRequest(db01)], _plan())
    # Removed before a worker picks the launch up: nothing may be mounted or created for it.
    personas.client_for(personas.admin).post(
        reverse("connection-unshare", args=[blue_lab.pk, share.pk])
    )
    [recovery] = run([recovery])
    assert recovery.status == Status.FAILED and recovery.failed_status == Status.ATTACHING
    assert "is not shared with Red Team" in recovery.error_message
    assert "share it again" in recovery.error_advice
    assert effects(lab) == []
    assert AuditEvent.objects.filter(
        action=AuditAction.GUARD_REFUSED, team=personas.other_team, data__kind="share"
    ).exists()


# --- a limited share -------------------------------------------------------------------


def test_a_share_limited_to_db_vms_neither_lists_nor_launches_app_01(personas, blue_lab, rita, lab):
    _accept(personas, _offer(personas, blue_lab, vm_patterns="db-*"))
    operator = personas.client_for(rita)
    inventory = operator.get(
        reverse("connection-inventory", args=[blue_lab.pk]), {"section": "vms"}
    ).content.decode()
    assert "db-01" in inventory and "app-01" not in inventory
    assert "1 VM" in inventory  # the total counts allowed VMs only
    wizard_vms = operator.post(_step("connection"), {"connection": blue_lab.pk})
    wizard_vms = operator.get(_step("vms")).content.decode()
    assert "db-01" in wizard_vms and "app-01" not in wizard_vms
    app01 = lab.server_named("app-01")["id"]
    chosen = operator.post(_step("vms"), {"vm": [app01]})
    assert chosen.status_code == 400
    assert "for VMs db-* only" in chosen.content.decode()
    api = Api(token_for(rita))
    listed = json.loads(api.get(f"/api/v1/connections/{blue_lab.pk}/vms").content)["items"]
    names = [vm["name"] for vm in listed]
    assert names == ["db-01"]
    body = {"connection_id": blue_lab.pk, "vms": [{"vm_id": app01}], "mode": "verify",
            "reason": "not ours", "dry_run": True}  # fmt: skip
    dry = json.loads(api.post("/api/v1/recoveries", body).content)
    [checks] = [vm["checks"] for vm in dry["vms"]]
    assert [c["name"] for c in checks if not c["ok"]] == ["Shared for this use"]
    assert "app-01 is not one of them" in checks[0]["message"]
    launched = api.post("/api/v1/recoveries", {**body, "dry_run": False})
    assert launched.status_code == 409 and not Recovery.objects.exists()
    assert effects(lab) == []


def test_a_share_limited_to_one_nfs_source_refuses_another(personas, blue_lab, rita, lab):
    _accept(personas, _offer(personas, blue_lab, nfs_sources="192.0.2.50:/backup"))
    db01 = lab.server_named("db-01")["id"]
    operator = personas.client_for(rita)
    _to_source(operator, blue_lab, db01)
    response = operator.post(
        _step("source"),
        {"nfs_server": "192.0.2.99", "nfs_export": "/blue-only", "datastore_name": "qr-x",
         f"map-{db01}-ide0": "a.qcow2", f"map-{db01}-ide1": "b.qcow2"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "192.0.2.99:/blue-only is not one of them" in response.content.decode()
    with pytest.raises(Exception, match="Preflight failed"):
        launch(
            personas.other_team, blue_lab, rita.user, [VMRequest(db01)],
            _plan(nfs_server="192.0.2.99", nfs_export="/blue-only"),
        )  # fmt: skip


# --- backup exports --------------------------------------------------------------------


def test_another_teams_export_is_not_in_my_file_picker(
    personas, blue_lab, rita, lab, lab_process, settings
):
    lab_export = lab_process.state_dir / "exports" / "backup"
    # Before: one global mapping, read for every team's connections alike.
    settings.NFS_EXPORT_MOUNTS = {f"{NFS_SERVER}:{NFS_EXPORT}": str(lab_export)}
    settings.NFS_EXPORT_ROOTS = [lab_export.parent]
    blue_lab.export_mounts = f"{NFS_SERVER}:{NFS_EXPORT} = {lab_export}"
    blue_lab.save()
    # Red's own connection to the same platform, pointed at Blue's NFS source.
    red_lab = lab_connection(
        personas.other_team, lab, name="Red SCP", default_nfs_server=NFS_SERVER,
        default_nfs_export=NFS_EXPORT,
    )  # fmt: skip
    db01 = lab.server_named("db-01")["id"]
    page = _to_source(personas.client_for(rita), red_lab, db01).content.decode()
    assert "KiB clusters" not in page and "choose a file" not in page
    assert "The console cannot read this export" in page
    # Blue's own operator does see it, so the picker works.
    blue_page = _to_source(personas.client_for(personas.operator), blue_lab, db01)
    assert re.search(
        r"db-01/ide1\.qcow2 · [\d :-]+ · qcow2 64 KiB clusters", blue_page.content.decode()
    )
    # And Red's admin cannot map Blue's directory, nor anything outside the allowed roots.
    red_admin = personas.client_for(personas.outsider)
    for directory, why in ((lab_export, "is mapped by another team"),
                           (Path("/etc"), "not under an allowed root")):  # fmt: skip
        response = red_admin.post(
            reverse("connection-exports", args=[red_lab.pk]),
            {"export_mounts": f"{NFS_SERVER}:{NFS_EXPORT} = {directory}"},
        )
        assert response.status_code == 400 and why in response.content.decode()
    red_lab.refresh_from_db()
    assert red_lab.export_mounts == ""


def test_a_symlink_in_an_export_is_not_followed(
    personas, blue_lab, lab, lab_process, settings, tmp_path
):
    lab_files = lab_process.state_dir / "exports" / "backup" / "db-01"
    export = tmp_path / "exports" / "backup"
    export.mkdir(parents=True)
    (export / "db-01").symlink_to(lab_files, target_is_directory=True)  # a linked directory
    (export / "leak.qcow2").symlink_to(lab_files / "ide0.qcow2")  # a linked file
    settings.NFS_EXPORT_MOUNTS = {f"{NFS_SERVER}:{NFS_EXPORT}": str(export)}
    settings.NFS_EXPORT_ROOTS = [tmp_path / "exports"]
    blue_lab.export_mounts = f"{NFS_SERVER}:{NFS_EXPORT} = {export}"
    blue_lab.save()
    operator = personas.client_for(personas.operator)
    db01 = lab.server_named("db-01")["id"]
    page = _to_source(operator, blue_lab, db01).content.decode()
    assert "leak.qcow2" not in page and "ide0.qcow2 · qcow2" not in page
    assert "finds no disk image in it (symlinks are not followed)" in page
    # Mapped by hand, a linked file is refused at the backup step, with the preflight's check.
    operator.get(reverse("launch"))
    _to_source(operator, blue_lab, db01)
    response = operator.post(_step("source"), {
        "nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT, "datastore_name": "qr-x",
        f"map-{db01}-ide0": "leak.qcow2", f"map-{db01}-ide1": "db-01/ide1.qcow2",
    })  # fmt: skip
    row_errors = re.findall(r'<p class="error">([^<]*)</p>', response.content.decode())
    assert response.status_code == 400
    assert sum("is (or lies under) a symlink" in e for e in row_errors) == 2  # both disks


def test_a_qcow2_header_claiming_a_huge_l1_table_does_not_make_preflight_read_past_the_cap(
    personas, blue_lab, lab, settings, tmp_path
):
    export = tmp_path / "exports" / "backup"
    (export / "db-01").mkdir(parents=True)
    crafted = export / "db-01" / "ide0.qcow2"
    size = 64 * 1024 * 1024
    with crafted.open("wb") as handle:
        # version 3, a backing file name of 4 GiB - 1 at offset 72, 64 KiB clusters, 1 GiB
        # virtual size, then an L1 table of 2^31 - 1 entries (16 GiB) at 64 KiB.
        handle.write(QCOW2_MAGIC + struct.pack(">IQIIQ", 3, 72, 0xFFFFFFFF, 16, 1 << 30))
        handle.write(struct.pack(">IIQ", 0, 0x7FFFFFFF, 65536))
        handle.truncate(size)  # sparse: its bytes cost nothing to keep, only to read
    settings.NFS_EXPORT_MOUNTS = {f"{NFS_SERVER}:{NFS_EXPORT}": str(export)}
    settings.NFS_EXPORT_ROOTS = [tmp_path / "exports"]
    blue_lab.export_mounts = f"{NFS_SERVER}:{NFS_EXPORT} = {export}"
    blue_lab.save()
    operator = personas.client_for(personas.operator)
    db01 = lab.server_named("db-01")["id"]
    before = _bytes_read()
    _to_source(operator, blue_lab, db01)
    response = operator.post(_step("source"), {
        "nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT, "datastore_name": "qr-x",
        f"map-{db01}-ide0": "db-01/ide0.qcow2", f"map-{db01}-ide1": "db-01/ide1.qcow2",
    })  # fmt: skip
    page = response.content.decode()
    read = _bytes_read() - before
    # Refused at the backup step, by the preflight's own check of the file.
    assert response.status_code == 400
    assert "claims" in page and "The header is damaged or crafted." in page
    # Everything this process read during the wizard (database, HTTP to the lab, the
    # picker's and the backup step's header reads): far below the file, let alone its claims.
    assert read < 4 * 1024 * 1024, f"read {read} bytes"
    print(f"\nwizard read {read} bytes; the file is {size} bytes")


def _bytes_read() -> int:
    """Bytes this process read through read(2) and the like (Linux: /proc/self/io rchar)."""
    text = Path(f"/proc/{os.getpid()}/io").read_text()
    return int(re.search(r"rchar: (\d+)", text)[1])
