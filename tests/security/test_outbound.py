"""Outbound calls against hostile peers: a tarpit, a redirector, loopback and private targets.

Real sockets on loopback throughout; the only stand-in is socket.getaddrinfo for the DNS
rebinding case (a name answering differently to the form and to the connect).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import requests

from platforms.clients import get_client
from platforms.clients.config import ClientConfig
from platforms.clients.errors import PlatformError
from recovery.forms import ConnectionForm
from recovery.notifications.delivery import send_email, send_webhook
from recovery.notifications.events import emit
from recovery.notifications.forms import ChannelForm
from recovery.notifications.models import Channel, EventType
from tests.labclient import LAB_ADMIN_TOKEN
from tests.notifications.helpers import ALL_EVENTS, webhook
from tests.security.peers import Recorder, Tarpit

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec-outbound-0123456789-test"
DEADLINE = 2.0
CONNECTION = {
    "name": "SCP", "kind": "scp", "auth_method": "aksk", "access_key": "AK1",
    "secret_key": "sk-valid-1", "region": "cn-south-1", "service": "open-api",
    "timeout_seconds": "30", "max_concurrent_recoveries": "4",
}  # fmt: skip
REFUSED_TARGETS = [
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://[::1]:9/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10/hook", "private"),
    ("http://[fd12:3456::1]/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/", "metadata"),
    ("http://169.254.10.1/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://[::ffff:127.0.0.1]:9/", "loopback"),
]


@pytest.fixture
def policy_on(settings):
    """The production default: nothing non-public allowed (tests/settings.py allows loopback)."""
    settings.OUTBOUND_ALLOW = []
    return settings


def _notification(team):
    return emit(team, EventType.TEST, f"t-{time.monotonic_ns()}", summary="outbound test")


def _client(base_url: str, **config: Any):
    values = {"kind": "scp", "base_url": base_url, "auth_method": "aksk",
              "access_key": "AK", "secret_key": "sk-outbound", **config}  # fmt: skip
    return get_client(ClientConfig(**values), retry_base_seconds=0.01)


# --- deadlines ------------------------------------------------------------------------------


def test_a_tarpit_webhook_frees_the_worker_within_the_deadline(personas, settings):
    settings.NOTIFY_TIMEOUT_SECONDS = DEADLINE
    with Tarpit() as tarpit:
        channel = webhook(personas.team, tarpit.url + "/hook", SECRET, events=[EventType.TEST])
        notification = _notification(personas.team)
        started = time.monotonic()
        outcome = send_webhook(channel, notification, 1)
        took = time.monotonic() - started
    print(f"webhook to a tarpit (1 byte/s) freed after {took:.1f} s (deadline {DEADLINE:g} s)")
    assert tarpit.accepted == 1
    assert not outcome.ok and not outcome.permanent  # may answer properly later: retried
    assert f"did not finish answering within {DEADLINE:g} s" in outcome.error
    assert DEADLINE - 0.2 < took < DEADLINE + 1.5


def test_a_tarpit_platform_frees_the_worker_within_the_call_deadline():
    # A 600 s read timeout, as a connection may set: only the overall deadline ends it.
    with Tarpit() as tarpit:
        client = _client(tarpit.url, timeout_seconds=600, deadline_seconds=DEADLINE)
        started = time.monotonic()
        with pytest.raises(PlatformError) as caught:
            client.call("GET", "/janus/20180725/servers")
        took = time.monotonic() - started
    print(
        f"platform call to a tarpit (1 byte/s) freed after {took:.1f} s (deadline {DEADLINE:g} s)"
    )
    assert caught.value.kind == "timeout" and not caught.value.permanent
    assert "overall deadline" in str(caught.value)
    assert took < DEADLINE + 1.5


def test_a_tarpit_mail_server_frees_the_worker_within_the_deadline(personas, settings):
    settings.NOTIFY_TIMEOUT_SECONDS = DEADLINE
    settings.EMAIL_BACKEND = "recovery.notifications.mail.EmailBackend"
    settings.EMAIL_TIMEOUT = 600
    with Tarpit(script=b"220 slow.example.test ESMTP\r\n") as tarpit:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", tarpit.port
        channel = Channel.objects.create(
            team=personas.team, name="Ops", kind=Channel.Kind.EMAIL,
            recipients="ops@example.test", events=[EventType.TEST],
        )  # fmt: skip
        notification = _notification(personas.team)
        started = time.monotonic()
        outcome = send_email(channel, notification)
        took = time.monotonic() - started
    print(f"email to a tarpit SMTP server freed after {took:.1f} s (deadline {DEADLINE:g} s)")
    assert not outcome.ok and f"did not finish within {DEADLINE:g} s" in outcome.error
    assert took < DEADLINE + 1.5


def test_an_oversized_platform_answer_is_not_read_to_the_end(monkeypatch):
    monkeypatch.setattr("platforms.clients.base.MAX_RESPONSE_BYTES", 10)
    with Recorder() as peer, pytest.raises(PlatformError) as caught:  # 23 bytes of JSON
        _client(peer.url).call("GET", "/janus/20180725/servers")
    assert caught.value.kind == "protocol" and caught.value.permanent


# --- redirects -----------------------------------------------------------------------------


def test_a_redirecting_peer_is_not_followed_by_webhooks_or_the_platform_client(personas):
    with Recorder() as target, Recorder(status=302) as hostile:
        hostile.location = f"{target.url}/stolen"
        channel = webhook(personas.team, hostile.url + "/hook", SECRET, events=[EventType.TEST])
        outcome = send_webhook(channel, _notification(personas.team), 1)
        with pytest.raises(PlatformError) as caught:
            _client(hostile.url).call("POST", "/janus/20180725/servers", {"name": "x"})
    assert not outcome.ok and outcome.permanent and "not followed" in outcome.error
    assert caught.value.kind == "redirect" and caught.value.permanent
    assert hostile.paths == ["/hook", "/janus/20180725/servers"]
    assert target.paths == []  # neither the signed body nor the credentials went there


# --- the address policy ---------------------------------------------------------------------


@pytest.mark.parametrize(("url", "kind"), REFUSED_TARGETS)
def test_non_public_webhook_urls_are_refused_by_the_form(personas, policy_on, url, kind):
    form = ChannelForm(
        {"name": "Hook", "enabled": "on", "events": ALL_EVENTS[:1], "url": url},
        team=personas.team, kind=Channel.Kind.WEBHOOK,
    )  # fmt: skip
    assert not form.is_valid()
    [error] = form.errors["url"]
    assert kind.split("-")[0] in error and "an admin allows it with OUTBOUND_ALLOW" in error


@pytest.mark.parametrize(("url", "kind"), REFUSED_TARGETS[::3])
def test_non_public_connection_urls_are_refused_by_the_form(personas, policy_on, url, kind):
    data = {**CONNECTION, "base_url": url}
    form = ConnectionForm(data, team=personas.team)
    assert not form.is_valid()
    assert "OUTBOUND_ALLOW" in form.errors["base_url"][0]


def test_urls_with_user_info_are_refused_and_never_shown_back(personas, settings):
    url = "https://deploy:hunter2-secret@hooks.example.test/qrc"
    form = ChannelForm(
        {"name": "Hook", "enabled": "on", "events": ALL_EVENTS[:1], "url": url},
        team=personas.team, kind=Channel.Kind.WEBHOOK,
    )  # fmt: skip
    assert not form.is_valid()
    assert "user name or password" in form.errors["url"][0]
    assert "hunter2" not in str(form.errors)
    data = {**CONNECTION, "base_url": url}
    connection_form = ConnectionForm(data, team=personas.team)
    assert not connection_form.is_valid()
    assert "user name or password" in connection_form.errors["base_url"][0]
    # A row saved before the rule: refused when sending, its password in no log, and the
    # edit form does not show it.
    with Recorder() as peer:
        saved = f"http://deploy:hunter2-secret@127.0.0.1:{peer.port}/hook"
        channel = webhook(personas.team, saved, SECRET, events=[EventType.TEST])
        outcome = send_webhook(channel, _notification(personas.team), 1)
        with pytest.raises(PlatformError) as caught:
            _client(saved).call("GET", "/janus/20180725/servers")
    assert peer.paths == []
    assert not outcome.ok and outcome.permanent and "hunter2" not in outcome.error
    assert caught.value.kind == "refused" and "hunter2" not in str(caught.value)
    edit = ChannelForm(instance=channel, team=personas.team, kind=Channel.Kind.WEBHOOK)
    assert "hunter2" not in str(edit["url"])


def test_loopback_targets_are_refused_when_sending(personas, policy_on):
    with Recorder() as peer:
        channel = webhook(personas.team, peer.url + "/hook", SECRET, events=[EventType.TEST])
        outcome = send_webhook(channel, _notification(personas.team), 1)
        with pytest.raises(PlatformError) as caught:
            _client(peer.url).call("GET", "/janus/20180725/servers")
    assert peer.paths == []  # nothing reached the port
    assert not outcome.ok and outcome.permanent
    assert "127.0.0.1 is a loopback address" in outcome.error and "OUTBOUND_ALLOW" in outcome.error
    assert caught.value.kind == "refused" and caught.value.permanent


def test_a_name_resolving_to_loopback_is_refused_at_connect_time(personas, policy_on):
    with Recorder() as peer:
        channel = webhook(
            personas.team, f"http://localhost:{peer.port}/hook", SECRET, events=[EventType.TEST]
        )
        outcome = send_webhook(channel, _notification(personas.team), 1)
    assert peer.paths == []
    assert not outcome.ok and outcome.permanent and "localhost (" in outcome.error


def test_dns_rebinding_between_the_form_and_the_send_reaches_nothing(
    personas, policy_on, monkeypatch
):
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14", "127.0.0.1", "127.0.0.1"])

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.example.test":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with Recorder() as peer:
        url = f"http://rebind.example.test:{peer.port}/hook"
        form = ChannelForm(
            {"name": "Hook", "enabled": "on", "events": ALL_EVENTS[:1], "url": url},
            team=personas.team, kind=Channel.Kind.WEBHOOK,
        )  # fmt: skip
        assert form.is_valid(), form.errors  # a public address when the form looked
        channel = form.save()
        outcome = send_webhook(channel, _notification(personas.team), channel.pk)
    assert peer.paths == []
    assert not outcome.ok and "rebind.example.test (127.0.0.1) is a loopback" in outcome.error


def test_outbound_allow_opens_exactly_the_named_port(personas, policy_on):
    with Recorder() as allowed, Recorder() as other:
        policy_on.OUTBOUND_ALLOW = [f"127.0.0.1:{allowed.port}"]
        ok = send_webhook(
            webhook(personas.team, allowed.url + "/a", SECRET, events=[EventType.TEST], name="a"),
            _notification(personas.team), 1,
        )  # fmt: skip
        refused = send_webhook(
            webhook(personas.team, other.url + "/b", SECRET, events=[EventType.TEST], name="b"),
            _notification(personas.team), 2,
        )  # fmt: skip
    assert ok.ok and allowed.paths == ["/a"]
    assert not refused.ok and other.paths == []


# --- the lab's control endpoints ------------------------------------------------------------


def test_the_lab_controls_need_the_token_and_leave_the_state_alone_without_it(lab):
    lab.admin("POST", "settings", {"task_seconds": 7})
    before = lab.admin("GET", "state")
    reset = f"{lab.base_url}/_lab/reset"
    assert requests.post(reset, timeout=5).status_code == 401
    assert requests.post(reset, headers={"X-Lab-Token": "guess"}, timeout=5).status_code == 401
    assert requests.get(f"{lab.base_url}/_lab/state", timeout=5).status_code == 401
    after = lab.admin("GET", "state")
    assert after == before and after["settings"]["task_seconds"] == 7
    assert requests.get(f"{lab.base_url}/_lab/health", timeout=5).ok  # make run polls it
    bearer = {"Authorization": f"Bearer {LAB_ADMIN_TOKEN}"}
    assert requests.post(reset, headers=bearer, timeout=5).status_code == 200
