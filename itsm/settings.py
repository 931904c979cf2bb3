"""Settings for the ITSM incident portal, driven by the environment (see .env.example).

With nothing set, the portal runs on the embedded default: SQLite under var/ and, when the
launcher has started it, an embedded Valkey. Production sets DATABASE_URL, REDIS_URL and
SECRET_KEY and leaves DEBUG off.
"""

import ipaddress
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The embedded default (no DATABASE_URL: SQLite under var/) is a laptop set-up, so DEBUG is on
# there unless said otherwise; with a real database it is off unless said otherwise.
DEBUG = env.bool("DEBUG", default="DATABASE_URL" not in os.environ)
TESTING = env.bool("ITSM_TESTING", default=False)


def _secret_key() -> str:
    """SECRET_KEY from the environment; in DEBUG, one generated once and kept in var/."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Where people reach the portal: links in email and chat messages, the war room's websocket
# origin in the Content-Security-Policy. `make run` (runportal) sets it for its children to the
# address it listens at when the environment does not.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# "Improve with AI" for communication drafts: an OpenAI-compatible chat-completions endpoint
# (e.g. http://127.0.0.1:11434/v1/chat/completions for Ollama); off while LLM_URL is empty.
LLM_URL = env.str("LLM_URL", default="")
LLM_MODEL = env.str("LLM_MODEL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", default=30.0)
# The public status page (/status/, docs/status-page.md): its title, and the page id its
# Statuspage-compatible JSON carries.
STATUS_PAGE_NAME = env.str("STATUS_PAGE_NAME", default="Service status")
STATUS_PAGE_ID = env.str("STATUS_PAGE_ID", default="itsm")
# Outbound webhooks (docs/webhooks.md): subscribers' URLs must resolve to public addresses
# over https unless WEBHOOKS_ALLOW_PRIVATE (a lab, the tests); each attempt waits at most
# WEBHOOKS_TIMEOUT seconds; a failed one is retried after each delay of the schedule in turn
# (seconds; Svix's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then given up.
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
WEBHOOKS_TIMEOUT = env.float("WEBHOOKS_TIMEOUT", default=10.0)
WEBHOOKS_RETRY_SCHEDULE = [
    int(seconds)
    for seconds in env.list(
        "WEBHOOKS_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"]
    )
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "simple_history",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "axes",
    "itsm",
    "incidents",
    "warroom",
    "postmortems",
]

MIDDLEWARE = [
    "itsm.request_id.RequestIdMiddleware",
    # /api/major-incidents is /api/major-incidents/: before anything reads the path.
    "itsm.api.slashes.ApiTrailingSlashMiddleware",
    # In DEBUG, an exception under /api/ is still answered in the API's JSON shape.
    "itsm.api.errors.DebugApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, which answers static files itself: they get the headers too.
    "csp.middleware.CSPMiddleware",
    "itsm.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "itsm.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "itsm.sessions.SessionExpiryMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as axes asks: turns a sign-in refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "itsm.urls"
ASGI_APPLICATION = "itsm.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "itsm.context_processors.roles",
                "itsm.context_processors.notifications",
                "itsm.context_processors.sign_in",
                "itsm.context_processors.two_factor",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------


# DATABASE_URL leads to PgBouncer in transaction mode, which pools the server connections: no
# pool of our own, no server-side cursors (a cursor does not outlive its transaction there).
DATABASE_PGBOUNCER = env.bool("DATABASE_PGBOUNCER", default=False)


IS_WORKER = bool({"qcluster", "qworker"} & set(sys.argv))


def _use_connection_pool() -> bool:
    """psycopg's pool, except in the django-q2 worker: qcluster forks its worker processes
    after the pool exists, and connections shared across a fork corrupt each other (django-q2
    issue #209: "can't change 'autocommit' now", tasks never taken from the queue)."""
    return env.bool("DATABASE_POOL", default=True) and not DATABASE_PGBOUNCER and not IS_WORKER


DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'itsm.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = {
        # WAL lets the web server and the worker read while the other writes; IMMEDIATE
        # takes the write lock at BEGIN so two writers queue instead of deadlocking.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif _db["ENGINE"] == "django.db.backends.postgresql" and _use_connection_pool():
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
    }
    # Each connection is checked before the pool hands it out, and one found dead has the pool
    # drop every dead one (itsm/postgresql/base.py): after PostgreSQL restarts, only the
    # requests in flight during the outage fail.
    _db["CONN_HEALTH_CHECKS"] = True
    _db["ENGINE"] = "itsm.postgresql"
elif _db["ENGINE"] == "django.db.backends.postgresql" and IS_WORKER:
    # The worker has no pool: django-q2 closes "old" connections before each task and each
    # result it saves; kept for a minute, checked before reuse, they are not opened anew every
    # time. (Not in a web process: under ASGI each request runs in a thread of its own, whose
    # kept connection would never be used again.)
    _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
if DATABASE_PGBOUNCER:
    _db["DISABLE_SERVER_SIDE_CURSORS"] = True
IS_POSTGRES = _db["ENGINE"] in ("django.db.backends.postgresql", "itsm.postgresql")
if IS_POSTGRES and not DATABASE_PGBOUNCER:
    # The statements run through itsm.postgresql.base.prepared_cursor are prepared on their
    # first use on a connection (Django's own cursors never are, whatever this says). Not
    # behind PgBouncer, whose transaction mode hands each transaction any server connection.
    _db.setdefault("OPTIONS", {})["prepare_threshold"] = 0

# The processes of the whole deployment (every host), whose connections must fit in PostgreSQL's
# max_connections less a margin: a check at start-up (`migrate`, `check --database default`,
# itsm/checks.py) warns when they do not.
DATABASE_BUDGET = {
    "web_processes": env.int("WEB_PROCESSES", default=1),
    "worker_clusters": env.int("WORKER_CLUSTERS", default=1),
    "pool": env.bool("DATABASE_POOL", default=True) and not DATABASE_PGBOUNCER,
    "pool_max": env.int("DATABASE_POOL_MAX", default=20),
    "margin": env.int("DATABASE_CONNECTIONS_MARGIN", default=10),
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

# How the channel layer's connections talk to Redis (docs/operations.md, "When Redis restarts").
# redis-py 8 times reads out after 5 s, while the layer's receive blocks 5 s on an idle channel
# (a quiet war room lost its pages: channels_redis#422); and its pool of 100 raises instead of
# waiting when many pages leave at once. A pooled connection that Redis dropped (a restart)
# fails its next command: reconnect and try again, twice, 0.1 s then 0.2 s later. One idle for
# 30 s is pinged before use; a connect that hangs gives up after 2 s. itsm.realtime tries a
# publish again on top.
CHANNEL_REDIS_OPTIONS = {
    "socket_timeout": None,
    "max_connections": 1000,
    "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
    "health_check_interval": 30,
    "socket_connect_timeout": 2,
    "socket_keepalive": True,
}

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, **CHANNEL_REDIS_OPTIONS}],
                "prefix": env.str("CHANNEL_PREFIX", default="itsm"),
            },
        }
    }
    CACHES = {
        # One redis-py client and connection pool per process, not one per call or per ASGI
        # request (itsm/cache.py): a request no longer opens a connection to Redis.
        "default": {
            "BACKEND": "itsm.cache.OneClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_PREFIX", default="itsm"),
        },
        # The public status page's answers (warroom/status/cache.py), on its hot path.
        "status": {
            "BACKEND": "itsm.cache.OneClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_PREFIX", default="itsm") + "-status",
        },
        # Each user's permission set between API requests (itsm/permission_cache.py).
        "permissions": {
            "BACKEND": "itsm.cache.OneClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_PREFIX", default="itsm") + "-permissions",
        },
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # No shared cache, no cached status page or permissions: a copy in one process's
        # memory would not hear of the writes another process makes (the worker, a second web
        # process).
        "status": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        "permissions": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }

# --- Worker (django-q2) ---------------------------------------------------------------------

# A task runs at most `timeout` seconds; one taken by a worker that died (kill -9, or stopped
# at WORKER_STOP_GRACE) is in the queue again `retry` seconds after it was taken.
WORKER_TASK_TIMEOUT = env.int("WORKER_TASK_TIMEOUT", default=60)
WORKER_PROCESSES = env.int("WORKER_PROCESSES", default=2)
Q_CLUSTER = {
    "name": "itsm",
    "orm": "default",
    # The ORM broker, taking the clock's firings first and every queue oldest first.
    "broker_class": "itsm.task_queue.UrgentFirstORM",
    "workers": WORKER_PROCESSES,
    "timeout": WORKER_TASK_TIMEOUT,
    # The cluster takes a few tasks ahead of its workers, not a backlog's worth: an urgent task
    # (a deadline) waits behind a task per worker at most, not behind everything taken before.
    "queue_limit": WORKER_PROCESSES,
    "poll": 0.1,
    "retry": WORKER_TASK_TIMEOUT + 15,
    "max_attempts": 3,
    "catch_up": False,
    # The cluster publishes its heartbeat (its Stat) to this cache; /healthz/ready reads it.
    "cache": "default",
    # Every success is kept, pruned by the clock after TASK_RESULTS_DAYS: django-q2's own limit
    # reads every kept result for each task it saves, which made saving results the worker's
    # bottleneck (and a worker that is recycled waits for its results to be saved).
    "save_limit": 0,
    "ack_failures": True,
}
TASK_RESULTS_DAYS = env.int("TASK_RESULTS_DAYS", default=7)
WORKER_HEARTBEAT_REQUIRED = env.bool("WORKER_HEARTBEAT_REQUIRED", default=True)
# Seconds `manage.py qworker` lets running tasks finish after SIGTERM before it stops them
# (their tasks go back to the queue).
WORKER_STOP_GRACE = env.float("WORKER_STOP_GRACE", default=8.0)
# Seconds a queued firing owns its due row (incidents/clock.py): past it, with the row still due
# and its task no longer in the queue (its worker died), a clock queues it again.
CLOCK_CLAIM = env.float("CLOCK_CLAIM", default=10.0)

# --- Auth -----------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Login protection -----------------------------------------------------------------------


def _lockout_parameters(value: str) -> list:
    """`username+ip_address,ip_address` → axes' [["username", "ip_address"], "ip_address"]:
    each comma-separated item is counted on its own; `+` joins fields counted together."""
    items = [item.strip().split("+") for item in value.split(",") if item.strip()]
    return [fields[0] if len(fields) == 1 else fields for fields in items]


# Failed sign-ins (portal, admin, and any backend added later: axes listens to Django's
# user_login_failed) are counted per lockout parameter; reaching the limit refuses sign-in from
# there for the cool-off, which restarts with every attempt made while locked.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = _lockout_parameters(
    env.str("LOGIN_LOCKOUT_PARAMETERS", default="username+ip_address,ip_address")
)
# With Redis, the counters live in the shared cache; without it (tests, a single hand-started
# process) in the database, which every process shares: a local-memory cache would give each
# process its own count.
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler"
    if REDIS_URL
    else "axes.handlers.database.AxesDatabaseHandler"
)
AXES_LOCKOUT_CALLABLE = "itsm.lockout.lockout_response"
# The client address is REMOTE_ADDR alone: the ASGI application has already taken it from
# X-Forwarded-For where the peer is a trusted proxy (FORWARDED_ALLOW_IPS), and a header read
# here would let any client pick the address it is counted by.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
# Kept off (axes' default): a guesser holding one real account could otherwise clear their
# address's count by signing in to it between guesses at others.
AXES_RESET_ON_SUCCESS = False
# itsm.AuthEvent is the one record of sign-ins; axes keeps only its counters.
AXES_DISABLE_ACCESS_LOG = True
# axes' log lines name the address; the username stays masked (people type passwords there).
AXES_SENSITIVE_PARAMETERS = ["username"]
AXES_ENABLE_ADMIN = False

# Bad bearer tokens: after this many from one address within the window, that address gets
# 429 for the rest of the window, good tokens included.
API_AUTH_FAILURE_LIMIT = env.int("API_AUTH_FAILURE_LIMIT", default=10)
API_AUTH_FAILURE_WINDOW = env.int("API_AUTH_FAILURE_WINDOW", default=600)

# Seconds without a request after which a portal session is signed out, and seconds after
# sign-in after which it is signed out whatever the activity.
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=8 * 3600)
SESSION_MAX_LIFETIME = env.int("SESSION_MAX_LIFETIME", default=24 * 3600)
SESSION_COOKIE_AGE = SESSION_MAX_LIFETIME

# /metrics for Prometheus (itsm/metrics.py): off (404) until a bearer token or allowed networks
# are set; with both set, a scrape needs both. The address is the one the lockout reads.
METRICS_TOKEN_MIN_LENGTH = 32
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < METRICS_TOKEN_MIN_LENGTH:
    raise ImproperlyConfigured(
        f"METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters "
        "(e.g. `openssl rand -hex 32`)."
    )


def _networks(values: list[str]) -> list:
    """`10.0.0.0/8,192.0.2.7` as networks; a typo fails the start, not every scrape."""
    try:
        return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value]
    except ValueError as error:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {error}") from error


METRICS_ALLOWED_NETWORKS = _networks(env.list("METRICS_ALLOWED_NETWORKS", default=[]))
# --- Metrics (postmortems/metrics, docs/metrics.md) -----------------------------------------

# An incident recurs when an earlier one on the same service, with the same related problem or
# alert group key, was logged this many days before it or fewer.
METRICS_RECURRENCE_DAYS = env.int("METRICS_RECURRENCE_DAYS", default=30)
# The currency of the reviews' revenue impact estimates, as the reports write it.
REPORTS_CURRENCY = env.str("REPORTS_CURRENCY", default="USD")

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at start-up when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the finders so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email ----------------------------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# Seconds each step of a send may wait: the mail server (each SMTP command), Slack and Teams.
# A notification's attempt owns its row for NOTIFICATION_LEASE seconds from the moment a worker
# claims it, then the clock queues it again (a worker that died mid-send): longer than a send
# takes, short enough that a message is late by seconds, not minutes.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
CHAT_TIMEOUT = env.int("CHAT_TIMEOUT", default=10)
NOTIFICATION_LEASE = env.int("NOTIFICATION_LEASE", default=45)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="itsm-portal@localhost")

# --- REST API -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "itsm.api.authentication.BearerTokenAuthentication",
        "itsm.api.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["itsm.api.permissions.ActionPermission"],
    "DEFAULT_PAGINATION_CLASS": "itsm.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "itsm.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "itsm.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "itsm.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ITSM incident portal API",
    "DESCRIPTION": (
        "Incidents, services and teams. Authenticate with `Authorization: Bearer <token>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page are public and read no credentials: a bad token sent to
    # them is neither a 401 nor counted against the address (itsm.api.throttle).
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ScaleEnum": "incidents.choices.Impact",
        "PriorityEnum": "incidents.choices.Priority",
        "IncidentStatusEnum": "incidents.choices.IncidentStatus",
        "NotificationStatusEnum": "itsm.choices.NotificationStatus",
        "IncidentSourceEnum": "incidents.choices.IncidentSource",
        "ChangeSourceEnum": "incidents.choices.ChangeSource",
        "DeclarationRuleKindEnum": "warroom.choices.RuleKind",
        "SlaKindEnum": "incidents.choices.SlaKind",
        "ActionItemPriorityEnum": "postmortems.choices.ActionItemPriority",
        "ActionItemStatusEnum": "postmortems.choices.ActionItemStatus",
        "ActionItemTypeEnum": "postmortems.choices.ActionItemType",
        "ComponentStatusEnum": "warroom.choices.ComponentStatus",
        "StatusIncidentStatusEnum": "warroom.choices.StatusIncidentStatus",
        "MaintenanceStatusEnum": "warroom.choices.MaintenanceStatus",
        "CommunicationKindEnum": "warroom.choices.CommunicationKind",
        "RecipientKindEnum": "warroom.choices.RecipientKind",
        "AlertStatusEnum": "incidents.choices.AlertStatus",
        "IntegrationKindEnum": "incidents.choices.IntegrationKind",
        "WebhookEventEnum": "itsm.choices.WebhookEvent",
        "WebhookDeliveryStatusEnum": "itsm.choices.WebhookDeliveryStatus",
    },
}

# --- Security -------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz/", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# Addresses (or networks) of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto
# are believed (itsm.asgi): a client elsewhere cannot choose the address it is logged and
# locked out by, nor claim TLS it does not have. The same variable uvicorn reads; "*" trusts
# every peer (only behind a private network).
FORWARDED_ALLOW_IPS = env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"])
if "BEHIND_TLS_PROXY" in os.environ:
    # It made Django believe X-Forwarded-Proto from any client; a silent no-op now would send
    # proxied requests round an HTTPS redirect loop instead.
    raise ImproperlyConfigured(
        "BEHIND_TLS_PROXY is no longer read: list the TLS proxy's addresses in "
        "FORWARDED_ALLOW_IPS, whose X-Forwarded-Proto is then believed (docs/deployment.md)."
    )

# --- Single sign-on (OpenID Connect) ---------------------------------------------------------

# Sign-in through an OpenID provider (mozilla-django-oidc, authorization code flow with PKCE)
# when OIDC_ISSUER is set. Each endpoint left empty comes from the provider's discovery document
# (<issuer>/.well-known/openid-configuration, see itsm/oidc.py). Who the provider vouches for,
# and their roles, are set at every sign-in (itsm/services.py: sso_user_sign_in). See
# docs/deployment.md, "Single sign-on (OpenID Connect)".
OIDC_ISSUER = env.str("OIDC_ISSUER", default="")
OIDC_ENABLED = bool(OIDC_ISSUER)
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="SSO")
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", default="openid email profile groups")
OIDC_RP_SIGN_ALGO = env.str("OIDC_SIGN_ALGO", default="RS256")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_USERINFO_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_JWKS_ENDPOINT", default="")
OIDC_OP_END_SESSION_ENDPOINT = env.str("OIDC_END_SESSION_ENDPOINT", default="")
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_ROLE_MAP = env.str("OIDC_ROLE_MAP", default="")
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", default=10)  # seconds for each request to the provider
OIDC_USE_PKCE = True
OIDC_TOKEN_USE_BASIC_AUTH = True  # client_secret_basic, the token endpoint's default method
OIDC_STORE_ID_TOKEN = True  # the id_token_hint that ends the provider's session at logout
LOCAL_LOGIN_ENABLED = env.bool("LOCAL_LOGIN_ENABLED", default=True)

if OIDC_ENABLED and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ImproperlyConfigured("OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be.")
if not (LOCAL_LOGIN_ENABLED or OIDC_ENABLED):
    raise ImproperlyConfigured("LOCAL_LOGIN_ENABLED=false needs OIDC_ISSUER: nobody could sign in.")
# Without local login no backend checks a password at all (the login pages refuse one too).
# django-axes first: it refuses a locked-out sign-in before any other backend is asked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    *(["itsm.signin.PortalOIDCBackend"] if OIDC_ENABLED else []),
    *(["django.contrib.auth.backends.ModelBackend"] if LOCAL_LOGIN_ENABLED else []),
]

# --- Two-factor authentication and browser policies ----------------------------------------

# Managers and super admins who sign in with a password must enrol a TOTP device (and are sent
# to enrolment on every page until they do). Recommended in production; off by default.
TWO_FACTOR_REQUIRED_FOR_MANAGERS = env.bool("TWO_FACTOR_REQUIRED_FOR_MANAGERS", default=False)
# The backends whose sign-ins two-factor authentication applies to: local passwords. Single
# sign-on backends are left out on purpose: the identity provider asks for the second factor.
TWO_FACTOR_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
OTP_TOTP_ISSUER = "ITSM portal"
# A wrong code locks the device for 1, 2, 4, 8… seconds (django-otp's throttling).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1


def _websocket_origin(base_url: str) -> str:
    """wss://host for https://host, ws://host for http://host."""
    return "ws" + base_url.removeprefix("http")


def _sign_out_targets() -> list[str]:
    """The provider's origins, to which the sign-out form's answer redirects (the provider's
    end_session_endpoint): a browser holds a form's redirects to `form-action` too."""
    if not OIDC_ENABLED:
        return []
    urls = (OIDC_ISSUER, OIDC_OP_END_SESSION_ENDPOINT)
    return sorted({"{0.scheme}://{0.netloc}".format(urlsplit(url)) for url in urls if url})


_SELF = "'self'"
_NONE = "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        # data: for Swagger UI's icons (/api/docs/).
        "img-src": [_SELF, "data:"],
        # 'self' covers same-origin websockets in current browsers; older ones (Safari before
        # 15.4) need the war room's ws:/wss: origin spelt out.
        "connect-src": [_SELF, _websocket_origin(PORTAL_BASE_URL)],
        "object-src": [_NONE],
        "base-uri": [_NONE],
        "form-action": [_SELF, *_sign_out_targets()],
        "frame-ancestors": [_NONE],
    }
}
# Browser features the portal never uses, refused to it and to anything it might embed.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "usb",
        "xr-spatial-tracking",
    )
}

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        # Every line passes through the scrubber: no configured secret or webhook URL is logged.
        "scrub": {"()": "itsm.redaction.ScrubFilter"},
        "request_id": {"()": "itsm.request_id.RequestIdLogFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["scrub"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Without Django's own handlers (a console in DEBUG, mail to ADMINS), which would write
        # its lines unscrubbed: they reach the root's scrubbed console only.
        "django": {"handlers": [], "level": LOG_LEVEL},
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["request_id"]},
        # axes: a line per failed sign-in and lockout (WARNING), none per success or start-up.
        "axes": {"level": "WARNING"},
    },
}

# --- Product --------------------------------------------------------------------------------

PORTAL_PAGE_SIZE = 25
# The admin's incident list shows PostgreSQL's estimate of the table's rows above this many
# (itsm.admin_mixins.EstimatedCountPaginator); an exact count reads every row.
ADMIN_ESTIMATED_COUNT_ABOVE = env.int("ADMIN_ESTIMATED_COUNT_ABOVE", default=10_000)
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="demo-portal-2026")
