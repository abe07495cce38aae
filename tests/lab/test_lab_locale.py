"""`--locale zh`: every error the lab answers is worded in Chinese, so that nothing in the
console can lean on English text; what a client must recognise stays in codes and structure."""

from __future__ import annotations

import re

import pytest

from platforms.clients import ClientConfig, PlatformError, get_client
from tests.lab.flow import attach, cluster_id, rebase_body
from tests.labclient import ACCESS_KEY, SECRET_KEY

SERVERS = "/janus/20180725/servers"
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")  # an English word; ids are hex or host-style


def _words(message: str, *ids: str) -> list[str]:
    for known in ids:
        message = message.replace(known, "")
    return LATIN_WORD.findall(message)


def test_the_lab_speaks_english_unless_told_otherwise(lab):
    assert lab.admin("GET", "state")["settings"]["locale"] == "en"
    missing = lab.request("GET", f"{SERVERS}/nope")
    assert missing.status_code == 404 and missing.json()["message"] == "server nope not found"


def test_an_unknown_locale_is_refused_and_nothing_changes(lab):
    refused = lab.session.post(f"{lab.base_url}/_lab/settings", json={"locale": "fr"}, timeout=5)
    assert refused.status_code == 400 and "en, zh" in refused.json()["error"]
    assert lab.admin("GET", "state")["settings"]["locale"] == "en"


@pytest.mark.parametrize("lab_locale", ["zh"])
def test_in_chinese_every_error_and_task_failure_has_no_english_words(lab, lab_locale):
    answers = [
        lab.request("GET", f"{SERVERS}/nope"),  # 404
        lab.request("POST", "/janus/20220725/servers", {"name": "x", "colour": 1}),  # 400
        lab.request("GET", SERVERS, auth="none"),  # 401
        lab.request("GET", "/janus/20180725/nothing-here"),  # 404 without a route
    ]
    for answer in answers:
        message = answer.json()["message"]
        assert answer.status_code >= 400 and message, answer.text
        assert _words(message) == [], message
    # The V2 envelope too: its errcode is the status, its message Chinese.
    v2 = lab.request("GET", "/janus/20240725/servers/nope").json()
    assert v2["errcode"] == "404" and _words(v2["message"]) == []
    # A failed task's description.
    lab.admin("POST", "faults", {"path": "/start$", "kind": "task_failure"})
    server = lab.server_named("app-01")
    task = lab.task("POST", f"{SERVERS}/{server['id']}/start")
    assert task["status"] == "failure" and task["description"]
    assert _words(task["description"]) == [], task["description"]


def _client(lab):
    config = ClientConfig(
        kind="scp", base_url=lab.base_url, auth_method="aksk",
        access_key=ACCESS_KEY, secret_key=SECRET_KEY, timeout_seconds=5,
    )  # fmt: skip
    return get_client(config, retry_base_seconds=0.01)


@pytest.mark.parametrize("lab_locale", ["en", "zh"])
def test_the_client_recognises_a_datastore_in_use_by_its_code_not_its_words(lab, lab_locale):
    server = lab.server_named("app-01")
    datastore = attach(lab)
    lab.task("POST", f"{SERVERS}/{server['id']}/rebase-backing-file",
             rebase_body(lab, server, datastore))  # fmt: skip
    client = _client(lab)
    with pytest.raises(PlatformError) as refused:
        client.detach_datastore(datastore["id"], cluster_id(lab))
    error = refused.value
    assert error.datastore_in_use and error.permanent
    assert error.in_use_by == [server["id"]]
    assert ("in use" in error.platform_message) is (lab_locale == "en")
    # Another 400 of the same call is not "in use": unmounting a datastore that is not NFS.
    production = next(d for d in client.datastores() if d.type != "nfs")
    with pytest.raises(PlatformError) as other:
        client.detach_datastore(production.id, cluster_id(lab))
    assert other.value.status == 400 and not other.value.datastore_in_use
