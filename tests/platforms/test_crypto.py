from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from platforms import crypto
from platforms.models import PlatformConnection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
SECRET = "sk-live-7f3a9c1e-do-not-leak"


def _raw_columns(pk: int) -> tuple[str, str]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT secret_key_encrypted, password_encrypted FROM platforms_platformconnection "
            "WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_a_secret_round_trips_and_the_column_never_holds_it():
    connection = ConnectionFactory(secret=SECRET)
    stored, _ = _raw_columns(connection.pk)
    assert SECRET not in stored and stored.startswith("gAAAA")
    fresh = PlatformConnection.objects.get(pk=connection.pk)
    assert fresh.get_secret("secret_key") == SECRET
    assert fresh.client_config().secret_key == SECRET
    assert SECRET not in repr(fresh.client_config()) and SECRET not in str(fresh)


def test_rotation_re_encrypts_under_the_newest_key(settings):
    old_key = settings.CREDENTIALS_KEYS[0]
    connection = ConnectionFactory(secret=SECRET)
    connection.username = "u"
    connection.set_secret("password", "pw-123")
    connection.save()
    before = _raw_columns(connection.pk)

    new_key = Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [new_key, old_key]
    call_command("rotate_credential_key", stdout=__import__("io").StringIO())
    after = _raw_columns(connection.pk)
    assert after[0] != before[0] and after[1] != before[1]

    settings.CREDENTIALS_KEYS = [new_key]  # the old key is gone: still readable
    fresh = PlatformConnection.objects.get(pk=connection.pk)
    assert fresh.get_secret("secret_key") == SECRET
    assert fresh.get_secret("password") == "pw-123"


def test_an_unknown_key_gives_a_clear_error_without_the_token(settings):
    connection = ConnectionFactory(secret=SECRET)
    settings.CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretUnreadable) as caught:
        PlatformConnection.objects.get(pk=connection.pk).get_secret("secret_key")
    message = str(caught.value)
    assert "rotate_credential_key" in message
    assert connection.secret_key_encrypted not in message and SECRET not in message


def test_the_admin_never_shows_a_secret(admin_client_superuser):
    connection = ConnectionFactory(secret=SECRET)
    page = admin_client_superuser.get(
        f"/admin/platforms/platformconnection/{connection.pk}/change/"
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert SECRET not in body and connection.secret_key_encrypted not in body
