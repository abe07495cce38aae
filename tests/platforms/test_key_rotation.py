"""Key rotation re-encrypts every registered secret column, and no encrypted column goes
unregistered."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.test.utils import isolate_apps

from platforms import encrypted
from platforms.models import PlatformConnection
from recovery.notifications.models import Channel, Delivery, EventType
from tests.factories import ConnectionFactory
from tests.notifications.helpers import Receiver, drain, webhook
from tests.notifications.test_webhooks import receiver_checks

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "sk-live-rotate-me"
HOOK_SECRET = "whsec-rotate-me-too"


def _rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_credential_key", *args, stdout=out)
    return out.getvalue()


def _under_k1(settings) -> tuple[str, str]:
    k1, k2 = settings.CREDENTIALS_KEYS[0], Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [k1]
    return k1, k2


def test_connections_and_webhook_secrets_are_readable_after_the_old_key_is_dropped(
    personas, settings
):
    settings.NOTIFY_TIMEOUT_SECONDS = 2
    k1, k2 = _under_k1(settings)
    connection = ConnectionFactory(team=personas.team, secret=SECRET)
    connection.set_secret("password", "pw-123")
    connection.save()
    with Receiver() as receiver:
        hook = webhook(personas.team, receiver.url, HOOK_SECRET, events=[EventType.TEST])
        Channel.objects.create(team=personas.team, name="Mail", kind="email", recipients="a@b.c")
        stored = (connection.secret_key_encrypted, hook.secret_encrypted)

        settings.CREDENTIALS_KEYS = [k2, k1]  # the new key first, the old one still after it
        out = _rotate()
        settings.CREDENTIALS_KEYS = [k2]  # the old key is gone

        assert "platforms.PlatformConnection: 2 secret(s) in 1 row(s) re-encrypted" in out
        assert "notifications.Channel: 1 secret(s) in 1 row(s) re-encrypted" in out
        connection = PlatformConnection.objects.get(pk=connection.pk)
        hook = Channel.objects.get(pk=hook.pk)
        assert (connection.secret_key_encrypted, hook.secret_encrypted) != stored
        assert connection.get_secret("secret_key") == SECRET
        assert connection.get_secret("password") == "pw-123"
        assert connection.client_config().secret_key == SECRET
        assert hook.secret() == HOOK_SECRET

        # A delivery after the rotation is signed with the same secret the receiver holds.
        from recovery.notifications.events import emit

        notification = emit(personas.team, EventType.TEST, "after-rotation", summary="hello")
        delivery = Delivery.objects.get(notification=notification)
        drain(lambda: Delivery.objects.get(pk=delivery.pk).status in ("delivered", "failed"))
    assert Delivery.objects.get(pk=delivery.pk).status == "delivered"
    [request] = receiver.received
    headers = {key.lower(): value for key, value in request.headers.items()}
    assert receiver_checks(
        HOOK_SECRET, headers["x-qrc-timestamp"], request.body, headers["x-qrc-signature"]
    )


def test_rows_are_rotated_in_batches_and_every_one_is_counted(personas, settings):
    k1, k2 = _under_k1(settings)
    connections = [ConnectionFactory(team=personas.team, secret=f"s-{n}") for n in range(5)]
    settings.CREDENTIALS_KEYS = [k2, k1]
    out = _rotate("--batch-size", "2")
    settings.CREDENTIALS_KEYS = [k2]
    assert "platforms.PlatformConnection: 5 secret(s) in 5 row(s)" in out
    for n, connection in enumerate(connections):
        fresh = PlatformConnection.objects.get(pk=connection.pk)
        assert fresh.get_secret("secret_key") == f"s-{n}"


def test_a_secret_under_an_unknown_key_is_named_and_the_rest_are_still_rotated(personas, settings):
    k1, k2 = _under_k1(settings)
    readable = ConnectionFactory(team=personas.team, secret=SECRET)
    settings.CREDENTIALS_KEYS = [Fernet.generate_key().decode()]  # a key nobody kept
    lost = ConnectionFactory(team=personas.team, name="lost", secret="gone")
    settings.CREDENTIALS_KEYS = [k2, k1]
    with pytest.raises(CommandError) as caught:
        _rotate()
    message = str(caught.value)
    assert f"platforms.PlatformConnection {lost.pk} secret_key_encrypted" in message
    assert "Do not drop a key yet" in message and "gone" not in message
    assert lost.secret_key_encrypted not in message
    settings.CREDENTIALS_KEYS = [k2]
    assert PlatformConnection.objects.get(pk=readable.pk).get_secret("secret_key") == SECRET


def test_every_encrypted_column_of_the_project_is_registered():
    assert encrypted.unregistered() == []
    columns = {(entry.model._meta.label, entry.columns) for entry in encrypted.registered()}
    assert ("platforms.PlatformConnection", ("secret_key_encrypted", "password_encrypted")) in (
        columns
    )
    assert ("notifications.Channel", ("secret_encrypted",)) in columns
    assert encrypted.check_encrypted_columns() == []


def test_a_model_with_an_unregistered_encrypted_column_fails_the_system_check():
    with isolate_apps("platforms") as registry:

        class Vault(models.Model):
            token_encrypted = models.TextField(blank=True)

            class Meta:
                app_label = "platforms"

            def __str__(self) -> str:
                return "vault"

        [error] = encrypted.check_encrypted_columns([registry.get_app_config("platforms")])
    assert error.id == encrypted.CHECK_ID and error.is_serious()
    assert "platforms.Vault.token_encrypted" in error.msg and "register" in error.msg


def test_the_rotation_refuses_to_run_while_a_column_is_unregistered(
    personas, settings, monkeypatch
):
    hook = webhook(personas.team, "https://hooks.example.com/x", HOOK_SECRET)
    before = Channel.objects.get(pk=hook.pk).secret_encrypted
    forgotten = {k: v for k, v in encrypted._columns.items() if k != "notifications.Channel"}
    monkeypatch.setattr(encrypted, "_columns", forgotten)
    with pytest.raises(CommandError, match=r"notifications\.Channel\.secret_encrypted"):
        _rotate()
    assert Channel.objects.get(pk=hook.pk).secret_encrypted == before  # nothing half-done


def test_registering_a_column_the_model_does_not_have_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="no column"):
        encrypted.register(PlatformConnection, "api_key_encrypted")
