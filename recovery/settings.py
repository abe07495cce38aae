"""Settings for the Quick Recovery Console, read from the environment only.

See docs/operations.md for every variable. Bad values fail at start-up (recovery/env.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from recovery.auditkeys import parse_keys
from recovery.background.conf import (  # noqa: F401 (settings read by django-rq and us)
    _JOB_TIMEOUT,
    NOTIFICATIONS_QUEUE,
    RQ,
    RQ_JOB_MODULES,
    RQ_RESULT_TTL,
    RQ_SCHEDULER_INTERVAL_SECONDS,
    RQ_SCHEDULER_LOCK_SECONDS,
    RQ_SERIALIZER,
    rq_queues,
)
from recovery.env import (
    env_bool,
    env_fernet_keys,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    require,
    with_redis_password,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))  # type: ignore[arg-type]

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = require(
    "SECRET_KEY",
    env_secret("SECRET_KEY"),
    "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'",
)
# Platform credentials are encrypted with these keys, independent of SECRET_KEY so that
# rotating one never locks out the other. Newest key first.
CREDENTIALS_KEYS = env_fernet_keys("CREDENTIALS_KEYS")
# The audit chain's HMAC keys (`id:secret`, newest first; recovery/auditkeys.py). Kept outside
# the database so that whoever can write the database cannot forge a row or a signed head.
AUDIT_KEYS = parse_keys(
    "AUDIT_KEY",
    require(
        "AUDIT_KEY",
        env_secret("AUDIT_KEY"),
        "Generate one with: python -c 'from recovery.auditkeys import generate_key_entry; "
        "print(generate_key_entry())'",
    ),
)
# Signed chain heads (one JSON line per team) land here; best on storage the database's
# writers cannot reach. Written every AUDIT_HEADS_SECONDS and after pruning.
AUDIT_HEADS_DIR = Path(env_str("AUDIT_HEADS_DIR", str(VAR_DIR / "audit-heads")))  # type: ignore[arg-type]
AUDIT_HEADS_SECONDS = env_float("AUDIT_HEADS_SECONDS", 300.0, minimum=1.0)
# The audit page verifies a chain of up to this many rows in the request (about a second);
# a longer one in a worker, the page polling for the result.
AUDIT_VERIFY_INLINE_ROWS = env_int("AUDIT_VERIFY_INLINE_ROWS", 5000, minimum=0)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "recovery.admin_site.SuperuserAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_rq",
    "axes",
    "csp",
    "recovery",
    "recovery.api",
    "platforms",
    "recovery.notifications",
    "recovery.drills",
]

MIDDLEWARE = [
    # Outermost: whatever goes wrong under /api/, the client gets JSON, never an HTML page.
    "recovery.api.middleware.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (cookie, then Accept-Language); a signed-in person's own choice
    # overrides it below, once they are known.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "recovery.languages.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "recovery.middleware.AuditContextMiddleware",
    # Last, as django-axes asks, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "recovery.urls"
WSGI_APPLICATION = "recovery.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "recovery.tenancy.team_context",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL is None:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the RQ workers write to one file: WAL lets readers go on during a
    # write, IMMEDIATE transactions take the write lock up front instead of failing midway.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Refuses every sign-in from an address that failed too often, whatever the username.
    "recovery.ratelimit.AddressThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Invitations to a team (and their links) stay open this long; docs/architecture.md, Tenancy.
INVITATION_DAYS = env_int("INVITATION_DAYS", 7, minimum=1)

# Failed logins: 5 failures lock that username from that IP for 15 minutes.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "recovery.views.auth.locked_out"
AXES_VERBOSE = False
# Behind a reverse proxy, name the header that carries the client address.
AXES_IPWARE_META_PRECEDENCE_ORDER = env_list("CLIENT_IP_HEADERS", ["REMOTE_ADDR"])
# And per address whatever the username (recovery.ratelimit): one password tried against many
# usernames is refused after this many failures, until the window ends.
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30, minimum=1)
LOGIN_ADDRESS_WINDOW_MINUTES = env_int("LOGIN_ADDRESS_WINDOW_MINUTES", 15, minimum=1)

# The console speaks English and Simplified Chinese (docs/zh/): each person picks one on their
# profile (recovery.languages), else the browser's Accept-Language decides.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# REDIS_URL may carry the password (redis://:PASSWORD@host:6379/0; rediss:// for TLS), or the
# password comes from REDIS_PASSWORD / REDIS_PASSWORD_FILE (make run's var/stack.env names the
# file, so that the URL it writes holds no secret).
REDIS_URL = with_redis_password(
    env_str("REDIS_URL", "redis://127.0.0.1:6379/0") or "", env_secret("REDIS_PASSWORD")
)
# Workers refuse a Redis that takes no password when DEBUG is off (recovery/redisauth.py):
# whoever can write to Redis decides what the workers run. This lets an operator say that the
# Redis is reachable by no one else (a private socket, a firewalled host).
REDIS_ALLOW_NO_AUTH = env_bool("REDIS_ALLOW_NO_AUTH", False)
# Error pages and mail list settings: REDIS_URL and RQ_QUEUES hold the password.
DEFAULT_EXCEPTION_REPORTER_FILTER = "recovery.redisauth.SafeExceptionReporterFilter"
# Queues, workers and their scheduler: recovery/background/conf.py says what each is and why.
RQ_QUEUES = rq_queues(REDIS_URL)

# Platform calls made inside a web request (Test connection, inventory reads) end after this
# many seconds overall, so that a platform that does not answer holds a web thread no longer.
WEB_PLATFORM_DEADLINE_SECONDS = env_float("WEB_PLATFORM_DEADLINE_SECONDS", 10.0, minimum=1.0)
# Per team, at once, across all web processes (recovery/teamlimits.py): more are refused with
# a message rather than queued behind the others in web threads.
TEAM_MAX_CONCURRENT_TESTS = env_int("TEAM_MAX_CONCURRENT_TESTS", 2, minimum=1)
TEAM_MAX_CONCURRENT_INVENTORY_READS = env_int("TEAM_MAX_CONCURRENT_INVENTORY_READS", 4, minimum=1)
TEAM_MAX_CONCURRENT_PREFLIGHTS = env_int("TEAM_MAX_CONCURRENT_PREFLIGHTS", 2, minimum=1)
# VMs in one launch or dry run (at most 500, launch_input.MAX_VMS): a preflight reads each VM
# from the platform in the web request, about 50 ms each.
LAUNCH_MAX_VMS = env_int("LAUNCH_MAX_VMS", 500, minimum=1)

# Recovery engine: how often a waiting step looks at the platform again (the first look after
# the minimum; then when the task's progress says it ends, or backing off to the maximum when it
# reports none), and how long a worker's lease on a recovery lasts.
RECOVERY_POLL_MIN_SECONDS = env_float("RECOVERY_POLL_MIN_SECONDS", 0.5, minimum=0.05)
RECOVERY_POLL_MAX_SECONDS = env_float("RECOVERY_POLL_MAX_SECONDS", 30.0, minimum=0.1)
# The tasks on the path to running from the backup (mount, create, rebase, power on; the RTO
# people feel) are short: their first look comes this soon, so that their progress times the
# next; never sooner than 0.05 s (engine.LOOK_FLOOR_SECONDS), which spares the platform.
RECOVERY_RUNNING_PATH_FIRST_LOOK_SECONDS = env_float(
    "RECOVERY_RUNNING_PATH_FIRST_LOOK_SECONDS", 0.25, minimum=0.05
)
# A job that reads a task on that path about to end (its progress says within this many
# seconds) waits for it itself when nothing else is waiting for the worker, rather than through
# a look, the scheduler and a new job (engine._waits_here); 0: never.
RECOVERY_IN_JOB_WAIT_SECONDS = env_float("RECOVERY_IN_JOB_WAIT_SECONDS", 0.25, minimum=0.0)
# A merge copies whole disks: its first look waits this long, so that it sees progress to time
# the next look by (a look at 0.5 s sees 0% of any merge over 50 s, and costs one more look).
RECOVERY_MERGE_FIRST_LOOK_SECONDS = env_float(
    "RECOVERY_MERGE_FIRST_LOOK_SECONDS", 2.0, minimum=0.05
)
# A recovery waiting for a turn on a datastore or host (services/capacity.py) is woken when one
# ends; this look is only the safety net. Short, a thousand waiters would swamp the workers with
# looks that find nothing (docs/performance.md, 1,000 VMs); a wake lost with Redis costs this.
RECOVERY_TURN_LOOK_SECONDS = env_float("RECOVERY_TURN_LOOK_SECONDS", 120.0, minimum=0.1)
# While a recovery's page is open, its merge is looked at at least this often (recovery.watching).
RECOVERY_WATCHED_LOOK_SECONDS = env_float("RECOVERY_WATCHED_LOOK_SECONDS", 2.0, minimum=0.1)
RECOVERY_LEASE_SECONDS = env_int("RECOVERY_LEASE_SECONDS", 120, minimum=1)
# A graceful shutdown (of an in-place restore's source, or of the VM the console created, at
# teardown) that has not turned the VM off after this long fails the step: the guest ignored
# it. The operator may then choose a forced power-off; the console never forces by itself.
RECOVERY_GRACEFUL_STOP_SECONDS = env_float("RECOVERY_GRACEFUL_STOP_SECONDS", 300.0, minimum=0.1)
# After the merge task succeeded, how long the platform may take to stop reporting the VM as
# running from the backup (instant_vm, disks backed on the backup datastore) before the step
# fails and alerts.
RECOVERY_MERGE_RELEASE_SECONDS = env_float("RECOVERY_MERGE_RELEASE_SECONDS", 600.0, minimum=0.1)
# A recovery nobody looked at for this long (its worker died, Redis lost its job) is resumed
# by the reconciler.
RECOVERY_STALE_SECONDS = env_float("RECOVERY_STALE_SECONDS", 60.0, minimum=0.5)
# How often the workers run the reconciler (they start it again if Redis lost it).
RECOVERY_RECONCILE_SECONDS = env_float("RECOVERY_RECONCILE_SECONDS", 60.0, minimum=0.5)
# How long a mounted NFS datastore may stay not usable (initting, no connected host) after
# its attach before the step fails with advice.
RECOVERY_DATASTORE_READY_SECONDS = env_float("RECOVERY_DATASTORE_READY_SECONDS", 300.0, minimum=0.1)
# First back-off of a retried platform call (doubling, with jitter, within the call's budget).
PLATFORM_RETRY_BASE_SECONDS = env_float("PLATFORM_RETRY_BASE_SECONDS", 0.5, minimum=0.01)
# Where the console may read NFS exports itself (file picker, preflight of backup files):
# each connection's admins map its exports ("server:/export = /local/dir", the connection's
# export_mounts) to directories under one of these roots, so that nobody maps /etc.
# Symlinks below a root are never followed.
NFS_EXPORT_ROOTS = [Path(item) for item in env_list("NFS_EXPORT_ROOTS")]
# Before per-connection mappings: "ip:/export=/local/dir" pairs, comma-separated. No longer
# read when listing or checking files (it let every team read every export): migration
# platforms 0002 and seed_demo copy each pair onto the connections whose default NFS source
# it maps, and its directories count as allowed roots.
NFS_EXPORT_MOUNTS = {
    key.strip(): value.strip()
    for key, _, value in (item.partition("=") for item in env_list("NFS_EXPORT_MOUNTS"))
    if key and value
}
for _root in [*NFS_EXPORT_ROOTS, *map(Path, NFS_EXPORT_MOUNTS.values())]:
    if not _root.is_absolute():
        raise ImproperlyConfigured(
            f"NFS_EXPORT_ROOTS / NFS_EXPORT_MOUNTS: {_root} is not an absolute path."
        )

# JSON API (docs/api.md): requests per minute per token, per user (all their tokens: making
# more tokens buys no more) and per team, and how long a launch's Idempotency-Key and its
# response are kept.
API_REQUESTS_PER_MINUTE = env_int("API_REQUESTS_PER_MINUTE", 600, minimum=1)
API_USER_REQUESTS_PER_MINUTE = env_int("API_USER_REQUESTS_PER_MINUTE", 600, minimum=1)
API_TEAM_REQUESTS_PER_MINUTE = env_int("API_TEAM_REQUESTS_PER_MINUTE", 3000, minimum=1)
API_IDEMPOTENCY_HOURS = env_int("API_IDEMPOTENCY_HOURS", 24, minimum=1)

# --- Notifications and drills (docs/notifications.md, docs/drills.md) -----------------------
# Links in notifications: the console's public address, e.g. https://qrc.example.com
SITE_URL = env_str("SITE_URL", "") or ""
# Email goes through Django's backend: SMTP unless EMAIL_BACKEND names another.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
if EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
    # Django's SMTP backend with an overall deadline (EMAIL_TIMEOUT alone is per read).
    EMAIL_BACKEND = "recovery.notifications.mail.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS (STARTTLS) or EMAIL_USE_SSL, not both.")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "quick-recovery@localhost")
# Webhook and email deliveries: attempts, backoff (doubling from the base, capped), timeout.
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 6, minimum=1)
NOTIFY_RETRY_BASE_SECONDS = env_float("NOTIFY_RETRY_BASE_SECONDS", 30.0, minimum=0.01)
NOTIFY_RETRY_MAX_SECONDS = env_float("NOTIFY_RETRY_MAX_SECONDS", 3600.0, minimum=0.01)
# One delivery attempt (webhook or email: connect, send, answer) ends within this, however
# slowly the receiver trickles bytes: an overall deadline, not a per-read timeout.
NOTIFY_TIMEOUT_SECONDS = env_float("NOTIFY_TIMEOUT_SECONDS", 10.0, minimum=0.1)

# --- Outbound calls (platforms/outbound/, docs/operations.md) ------------------------------
# Addresses webhooks and platform connections may reach although they are loopback, private,
# link-local or otherwise non-public: CIDRs ("10.20.0.0/16", "127.0.0.1/32") or host names.
OUTBOUND_ALLOW = env_list("OUTBOUND_ALLOW")
# Connecting (TCP and, for https, the handshake's first bytes) never waits longer than this.
OUTBOUND_CONNECT_TIMEOUT_SECONDS = env_float("OUTBOUND_CONNECT_TIMEOUT_SECONDS", 5.0, minimum=0.1)
# One platform call, every attempt and a login included, ends within this.
PLATFORM_CALL_DEADLINE_SECONDS = env_float("PLATFORM_CALL_DEADLINE_SECONDS", 120.0, minimum=1.0)
_job_timeout = _JOB_TIMEOUT
for _name, _value in (
    ("PLATFORM_CALL_DEADLINE_SECONDS", PLATFORM_CALL_DEADLINE_SECONDS),
    ("NOTIFY_TIMEOUT_SECONDS", NOTIFY_TIMEOUT_SECONDS),
    ("OUTBOUND_CONNECT_TIMEOUT_SECONDS", OUTBOUND_CONNECT_TIMEOUT_SECONDS),
):
    # Well below RQ's job timeout: a job killed mid-call leaves no record of what it did.
    if _value > _job_timeout / 2:
        raise ImproperlyConfigured(
            f"{_name} ({_value:g} s) must be at most half of RQ_JOB_TIMEOUT ({_job_timeout} s)."
        )
# How often the workers look for due drills.
DRILL_TICK_SECONDS = env_float("DRILL_TICK_SECONDS", 30.0, minimum=0.1)

# --- Security -----------------------------------------------------------------------------
# HTTPS is on unless DEBUG or explicitly switched off (make run serves plain HTTP on loopback).
HTTPS = env_bool("HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 12, minimum=1) * 3600
# htmx sends the token from the page (hx-headers on <body>), so the cookie can stay HttpOnly.
CSRF_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SILENCED_SYSTEM_CHECKS: list[str] = []
if not SECURE_HSTS_PRELOAD:
    # Submitting a domain to the browsers' preload list is a domain-wide commitment that the
    # operator makes on purpose (HSTS_PRELOAD=1); not having done so is not a defect.
    SILENCED_SYSTEM_CHECKS.append("security.W021")

# No inline scripts or styles anywhere: templates load static files only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact": {"()": "recovery.logredact.RedactingFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.request": {"level": "ERROR"}},
}

if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty; name the host names this site answers to.")
