"""Test settings: the production module, with test-only secrets and a private Redis port.

The private Redis itself is started by the `private_redis` session fixture in conftest.py.
"""

from __future__ import annotations

import os

from recovery.devstack.redis import free_port

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
# A fixed, valid Fernet key that protects nothing real.
os.environ.setdefault("CREDENTIALS_KEYS", "dGVzdC1vbmx5LWtleS1mb3ItdGhlLXRlc3Qtc3VpdGU=")
os.environ.setdefault("HTTPS", "0")
# The lab's tasks take fractions of a second in tests: look again quickly.
os.environ.setdefault("RECOVERY_POLL_MIN_SECONDS", "0.05")
os.environ.setdefault("RECOVERY_POLL_MAX_SECONDS", "0.3")
os.environ.setdefault("PLATFORM_RETRY_BASE_SECONDS", "0.05")
# Never the machine's shared Redis on 6379: each test run gets its own server.
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"

from recovery.settings import *  # noqa: F403

# Fast hashing: tests create many users; nothing here guards a real password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest needs collectstatic; tests render templates without running it.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
