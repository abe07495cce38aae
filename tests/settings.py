"""Test settings: the production module, with test-only secrets and a private Redis port.

The private Redis itself is started by the `private_redis` session fixture in conftest.py.
"""

from __future__ import annotations

import os
import tempfile

from recovery.devstack.redis import free_port, new_password, redis_url

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
# A fixed, valid Fernet key that protects nothing real.
os.environ.setdefault("CREDENTIALS_KEYS", "dGVzdC1vbmx5LWtleS1mb3ItdGhlLXRlc3Qtc3VpdGU=")
# A fixed audit key that protects nothing real (the tamper tests add and rotate keys).
os.environ.setdefault("AUDIT_KEY", "t1:test-only-audit-key-" + "y" * 40)
# Never the checkout's var/: worker processes the tests start inherit this directory.
os.environ.setdefault("AUDIT_HEADS_DIR", tempfile.mkdtemp(prefix="qrc-audit-heads-"))
os.environ.setdefault("HTTPS", "0")
# The lab's tasks take fractions of a second in tests: look again quickly.
os.environ.setdefault("RECOVERY_POLL_MIN_SECONDS", "0.05")
os.environ.setdefault("RECOVERY_POLL_MAX_SECONDS", "0.3")
os.environ.setdefault("RECOVERY_TURN_LOOK_SECONDS", "0.3")
os.environ.setdefault("RECOVERY_MERGE_FIRST_LOOK_SECONDS", "0.05")
os.environ.setdefault("RECOVERY_RUNNING_PATH_FIRST_LOOK_SECONDS", "0.05")
os.environ.setdefault("PLATFORM_RETRY_BASE_SECONDS", "0.05")
os.environ.setdefault("RECOVERY_LEASE_SECONDS", "3")
os.environ.setdefault("RECOVERY_STALE_SECONDS", "1")
os.environ.setdefault("RECOVERY_RECONCILE_SECONDS", "2")
# Never the machine's shared Redis on 6379: each test run gets its own server, with a password
# as `make run` has, and worker processes the tests start inherit QRC_TEST_REDIS_URL to reach
# the same one.
#
# Under pytest-xdist each worker process is a test run of its own (its own Redis, flushed
# between its tests): the controller's URL, inherited through the environment, must not be
# shared, so a worker that has not chosen one yet chooses its own.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if os.environ.get("QRC_TEST_REDIS_OWNER", "") != _XDIST_WORKER:
    os.environ.pop("QRC_TEST_REDIS_URL", None)
os.environ["QRC_TEST_REDIS_OWNER"] = _XDIST_WORKER
os.environ.setdefault("QRC_TEST_REDIS_URL", redis_url(free_port(), new_password()))
os.environ["REDIS_URL"] = os.environ["QRC_TEST_REDIS_URL"]
# The suite's lab, webhook receivers and tarpits listen on loopback, and its sample platform
# addresses are 10.0.0.x: allowed here; tests/security/test_outbound.py turns this off.
os.environ.setdefault("OUTBOUND_ALLOW", "127.0.0.0/8,::1/128,localhost,10.0.0.0/8")
# tests/jobs.py: plain functions the queue tests run in a worker.
os.environ.setdefault("RQ_EXTRA_JOB_MODULES", "tests.jobs.")

from recovery.settings import *  # noqa: E402, F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: worker processes started by the crash tests must see the test data.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"qrc-test-{os.getpid()}.sqlite3")
    }

# Fast hashing: tests create many users; nothing here guards a real password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest needs collectstatic; tests render templates without running it.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
