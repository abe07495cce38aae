"""Webhooks and email have their own queue and worker: a slow receiver never holds a recovery."""

from __future__ import annotations

import time
from collections.abc import Iterator

import django_rq
import pytest

from recovery.choices import Status
from recovery.models import Recovery
from recovery.notifications.events import emit
from recovery.notifications.models import Delivery
from tests.notifications.helpers import webhook
from tests.recovery.engine_helpers import lab_connection, start
from tests.tarpit import Tarpit
from tests.workers import kill_worker, start_worker


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    pit = Tarpit()
    yield pit
    pit.close()


@pytest.mark.django_db(transaction=True)
def test_deliveries_go_to_the_notifications_queue_and_recoveries_to_default(personas):
    from recovery import engine

    channel = webhook(personas.team, "http://192.0.2.1/hook", "s3cret-s3cret")
    emit(personas.team, "recovery.failed", "k1", summary="x", only_channel=channel)
    engine.enqueue(12345)
    notifications = django_rq.get_queue("notifications")
    default = django_rq.get_queue("default")
    assert [job.func_name for job in notifications.jobs] == ["recovery.notifications.tasks.deliver"]
    assert [list(job.args) for job in notifications.jobs] == [[Delivery.objects.get().pk]]
    assert [job.func_name for job in default.jobs] == ["recovery.tasks.advance"]


@pytest.mark.django_db(transaction=True)
def test_a_recovery_advances_while_the_notifications_worker_is_held_by_a_slow_webhook(
    personas, lab, tarpit
):
    channel = webhook(personas.team, tarpit.url, "s3cret-s3cret")
    # The receiver holds its answer longer than the whole recovery takes.
    slow = {"NOTIFY_TIMEOUT_SECONDS": "120"}
    notifier = start_worker(extra_env=slow, queues=("notifications",))
    recoverer = start_worker(extra_env=slow, queues=("default",))
    try:
        emit(personas.team, "recovery.failed", "held", summary="held", only_channel=channel)
        assert tarpit.accepted.wait(30), "the notifications worker never called the webhook"
        held_at = time.monotonic()
        connection = lab_connection(personas.team, lab)
        [recovery] = start(connection, lab, ["db-01"])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            recovery.refresh_from_db()
            if recovery.is_terminal:
                break
            time.sleep(0.1)
        took = time.monotonic() - held_at
        print(f"\nrecovery completed {took:.1f} s after the notifications worker was held")
        assert recovery.status == Status.COMPLETED, recovery.error_message
        # The notifications worker is still in that one call: nothing of the recovery waited.
        assert Delivery.objects.filter(status=Delivery.Status.SENDING).count() == 1
        assert Recovery.objects.get(pk=recovery.pk).is_terminal
    finally:
        kill_worker(notifier)
        kill_worker(recoverer)
