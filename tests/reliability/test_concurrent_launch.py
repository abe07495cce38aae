"""20 operators press Launch for the same VM at the same moment, through the real wizard views:
one recovery is created, the other 19 are told why not, and nothing else happens."""

from __future__ import annotations

import re
import threading
from collections import Counter
from html import unescape

import pytest
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from recovery.models import AuditAction, AuditEvent, Recovery, Role
from tests.factories import MembershipFactory, UserFactory
from tests.recovery.engine_helpers import effects, lab_connection

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 20
FLASH = re.compile(r'<li class="flash-error">(.*?)</li>', re.S)


def _step(name: str) -> str:
    return reverse("launch-step", args=[name])


def _through_the_wizard(client: Client, connection, vm_id: str, number: int) -> None:
    """Steps one to five, as each operator's browser would (input kept in their session)."""
    assert client.post(_step("connection"), {"connection": connection.pk}).status_code == 302
    assert client.post(_step("vms"), {"vm": [vm_id]}).status_code == 302
    source = {
        "nfs_server": "192.0.2.50",
        "nfs_export": "/backup",
        "datastore_name": f"qr-race-{number}",
        f"map-{vm_id}-ide0": "db-01/ide0.qcow2",
        f"map-{vm_id}-ide1": "db-01/ide1.qcow2",
    }
    assert client.post(_step("source"), source).status_code == 302
    assert client.post(_step("mode"), {"mode": "restore", "power_on": "1"}).status_code == 302
    assert client.post(_step("reason"), {"reason": f"outage, operator {number}"}).status_code == 302


def test_twenty_concurrent_launches_of_one_vm_accept_exactly_one(personas, lab, figures, settings):
    # The race itself, not the team's cap on preflights at once (2 by default would refuse
    # 18 of these presses before they reach the launch; tests/api/test_team_limits.py).
    settings.TEAM_MAX_CONCURRENT_PREFLIGHTS = THREADS
    connection = lab_connection(personas.team, lab)
    vm_id = lab.server_named("db-01")["id"]
    clients = []
    for number in range(THREADS):
        user = UserFactory(username=f"op{number}")
        MembershipFactory(team=personas.team, user=user, role=Role.OPERATOR)
        client = Client()
        client.force_login(user)
        _through_the_wizard(client, connection, vm_id, number)
        clients.append(client)

    barrier = threading.Barrier(THREADS)
    responses: list = [None] * THREADS

    def press_launch(number: int) -> None:
        try:
            barrier.wait(timeout=30)
            responses[number] = clients[number].post(_step("preflight"))
        except Exception as error:  # reported below, with the others' outcomes
            responses[number] = error
        finally:
            db.close()  # this thread's connection

    threads = [threading.Thread(target=press_launch, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    errors = [r for r in responses if not hasattr(r, "status_code")]
    assert not errors, errors
    recovery = Recovery.objects.get()  # exactly one row
    accepted = [r for r in responses if r.status_code == 302]
    refused = [r for r in responses if r.status_code != 302]
    assert len(accepted) == 1 and accepted[0]["Location"] == reverse(
        "recovery-detail", args=[recovery.pk]
    )
    assert len(refused) == THREADS - 1
    messages = Counter()
    for response in refused:
        assert response.status_code == 200
        page = response.content.decode()
        [flash] = [unescape(m).strip() for m in FLASH.findall(page)]
        messages[flash] += 1
        # What went wrong, that nothing happened, and (in the checklist) what to do.
        assert flash.startswith(
            "Preflight failed, nothing was changed on the platform: "
            "db-01 is already under recovery ("
        ), flash
        assert "Finish or cancel that recovery first." in unescape(page)
    assert AuditEvent.objects.filter(action=AuditAction.RECOVERY_LAUNCH).count() == 1
    assert effects(lab) == []  # no worker runs here: the refusals changed nothing either
    figures["launches pressed at once"] = THREADS
    figures["accepted"] = len(accepted)
    figures["refused"] = len(refused)
    # Refused by the preflight's look at the database, or (preflight passed while the winner
    # was committing) by the one-active-recovery-per-VM constraint.
    figures["refused by the constraint"] = sum(
        n for text, n in messages.items() if "launched a moment ago" in text
    )
    figures["refusal messages"] = dict(messages)
    figures.report()
