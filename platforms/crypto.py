"""Secrets at rest: Fernet tokens under a MultiFernet of CREDENTIALS_KEYS (newest key first).

Independent of SECRET_KEY. A key is retired by adding a new one in front, running
`manage.py rotate_credential_key`, then removing the old key from the list.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # Never include the token or any key in the message.
        raise SecretUnreadable(
            "A stored credential cannot be decrypted with the keys in CREDENTIALS_KEYS; "
            "was a key removed before `manage.py rotate_credential_key` ran?"
        ) from None


def rotate(token: str) -> str:
    """The same secret, re-encrypted under the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored credential cannot be decrypted for rotation.") from None
