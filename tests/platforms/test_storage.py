"""What the engine reads of a datastore: usable, offline, and whether it mounts our export."""

from __future__ import annotations

import pytest

from platforms.clients.types import Storage


def _storage(**raw) -> Storage:
    return Storage.parse({"id": "s1", "name": "qr", "type": "nfs", **raw})


@pytest.mark.parametrize(
    ("raw", "usable", "offline"),
    [
        ({"status": "normal", "connected_hosts": 2}, True, False),
        ({"status": "ok"}, True, False),  # a platform that does not count hosts
        ({"status": "initting", "connected_hosts": 0}, False, False),
        ({"status": "normal", "connected_hosts": 0}, False, True),  # reads fine, no host
        ({"status": "offline", "connected_hosts": 0}, False, True),
        ({"status": "error"}, False, True),
    ],
)
def test_a_datastore_is_usable_only_when_normal_and_reached_by_a_host(raw, usable, offline):
    storage = _storage(**raw)
    assert (storage.is_usable, storage.is_offline) == (usable, offline)


@pytest.mark.parametrize(
    ("target", "mounts"),
    [
        ("192.0.2.50:/backup", True),
        ("192.0.2.50:/backup/", True),
        ("192.0.2.51:/backup", False),
        ("192.0.2.50:/backup2", False),
        ("192.0.2.50", False),
        ("", None),  # the platform does not say: not refused on that ground
    ],
)
def test_a_datastore_mounts_our_export_only_when_its_target_names_it(target, mounts):
    assert _storage(status="normal", target=target).mounts("192.0.2.50", "/backup") is mounts


def test_an_ipv6_nfs_server_is_compared_as_a_host():
    storage = _storage(status="normal", target="[fd00::50]:/backup")
    assert storage.mounts("fd00::50", "/backup/") is True
