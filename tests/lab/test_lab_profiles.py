"""The lab's profiles: which APIs it answers, as the HCI dialect tests rely on."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("profile", "janus", "v1", "version"),
    [
        ("scp", 200, 200, "SCP6.11.1 (lab)"),
        ("hci-janus", 200, 404, "HCI6.10.0 (lab)"),
        ("hci-v1", 404, 200, "HCI6.5.0 (lab)"),
    ],
)
def test_a_profile_answers_only_its_apis(lab, profile, janus, v1, version):
    lab.admin("POST", "settings", {"profile": profile})
    assert lab.request("GET", "/janus/20240725/servers").status_code == janus
    assert lab.request("GET", "/hci/vt/api/v1/vms").status_code == v1
    answering = "/janus/20180725/platform" if janus == 200 else "/hci/vt/api/v1/platform"
    assert lab.request("GET", answering).json()["data"]["version"] == version
    # The sign-in paths are there in every profile: the v1 dialect shares janus's login.
    assert lab.request("GET", "/janus/public-key", auth="none").status_code == 200


def test_an_unknown_profile_is_refused(lab):
    response = lab.session.post(f"{lab.base_url}/_lab/settings", json={"profile": "vmware"})
    assert response.status_code == 400 and "profile must be one of" in response.text
