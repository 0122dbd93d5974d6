"""Backcare settings, read from the environment (API.md "Configuration").

With nothing set this runs on a SQLite file and an embedded (filesystem) Celery broker, so
`make run` needs no external service; `DATABASE_URL` and `REDIS_URL` switch to Postgres and Redis.
"""

import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("BACKCARE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
    WEBHOOK_ALLOW_PRIVATE_HOSTS=(bool, False),
)

DEBUG = env("DEBUG")


def _local_secret_key() -> str:
    """A random key kept in var/ for a checkout with no SECRET_KEY (make run, make test).

    Deployments set SECRET_KEY; the file keeps a local server's signed values valid on restart.
    """
    path = VAR_DIR / "secret_key"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
WEBHOOK_ALLOW_PRIVATE_HOSTS = env("WEBHOOK_ALLOW_PRIVATE_HOSTS")
BASE_URL = env.str("BASE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")
# Live (future, not cancelled) bookings one email / one address may hold through the public page
# of a practice (OWASP API6, sessions/scheduling/public_caps.py); 0 turns a cap off.
PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL = env.int("PUBLIC_BOOKING_MAX_LIVE_PER_EMAIL", default=3)
PUBLIC_BOOKING_MAX_LIVE_PER_IP = env.int("PUBLIC_BOOKING_MAX_LIVE_PER_IP", default=10)
# Outside calendars (issue 20.4, sessions/scheduling/outside_calendars.py): how often a link is
# synced, and the caps of one sync (bytes read, events expanded, seconds per request).
CALENDAR_SYNC_MINUTES = env.int("CALENDAR_SYNC_MINUTES", default=5)
CALENDAR_MAX_BYTES = env.int("CALENDAR_MAX_BYTES", default=5 * 1024 * 1024)
CALENDAR_MAX_EVENTS = env.int("CALENDAR_MAX_EVENTS", default=5000)
CALENDAR_TIMEOUT_SECONDS = env.int("CALENDAR_TIMEOUT_SECONDS", default=10)
# The Fernet key (urlsafe base64 of 32 bytes) that encrypts CalDAV app passwords at rest; unset,
# one is derived from SECRET_KEY (HKDF), so rotating SECRET_KEY then means re-entering them.
CALENDAR_ENCRYPTION_KEY = env.str("CALENDAR_ENCRYPTION_KEY", default="")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets, served locally (config/views.py)
    "corsheaders",
    "practice",
    "clients",
    "techniques",
    "sessions.scheduling.apps.SchedulingConfig",
    "sessions.billing.apps.BillingConfig",
    "sessions.records.apps.RecordsConfig",
    "sessions.insight.apps.InsightConfig",
    # The old app: no models now, kept for its migrations (and the receivers it connects).
    "sessions.apps.TreatmentConfig",
]

MIDDLEWARE = [
    # Outermost: the request id, the access line and the request metrics cover everything below.
    "config.observability.RequestMiddleware",
    # RateLimit-* headers of the throttles a request met (practice.throttling), on every answer.
    "practice.throttling.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before CommonMiddleware, so a redirect or an error answer carries the CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    # The API authenticates by bearer token, not cookies; CSRF stays on for anything else.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],  # the docs pages (config/urls.py)
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'backcare.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of failing
    # with "database is locked" half-way through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
    # The pool checks a connection before handing it out: after a Postgres restart its idle
    # connections are dead, and without the check each one failed a request (make loadtest).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=2),
        "max_size": env.int("DB_POOL_MAX", default=20),
        "timeout": 10,
        # A failed reconnect is retried with exponential backoff (1, 2, 4, 8 ... s) for this long;
        # then the next request starts a fresh attempt at once. psycopg's default (300 s) left the
        # app failing for as long again as Postgres had been down (make loadtest).
        "reconnect_timeout": env.float("DB_POOL_RECONNECT_TIMEOUT", default=5.0),
    }
    # Behind PgBouncer in transaction mode (README "Scaling"), a session is not ours from one
    # transaction to the next: no statement psycopg prepared on it (PgBouncer before 1.21, or
    # without max_prepared_statements) and no server-side cursor outside a transaction.
    if env.bool("PGBOUNCER_TRANSACTION_MODE", default=False):
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "practice.User"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Rate-limit counters only: with Redis down requests go through (config/cache.py).
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "backcare",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    # A file cache is shared by the gunicorn workers, so rate limits hold across processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    # Embedded broker: messages are files under var/, shared by the web process and the worker.
    # Its exchange tables go there too (kombu's default is `control/` in the working directory),
    # and the URL names a host so that kombu does not warn "No hostname was supplied".
    _broker_dir = VAR_DIR / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "dispatch-reminders": {"task": "sessions.tasks.dispatch_reminders", "schedule": 60.0},
    "dispatch-webhooks": {"task": "practice.tasks.dispatch_webhooks", "schedule": 60.0},
    # Outside calendars: due links synced, appointments written back (issue 20.4).
    "sync-outside-calendars": {"task": "sessions.tasks.sync_outside_calendars", "schedule": 60.0},
    "expire-waitlist": {"task": "sessions.tasks.expire_waitlist", "schedule": 3600.0},
    "schedule-rebook-nudges": {"task": "sessions.tasks.schedule_rebook_nudges", "schedule": 3600.0},
    "expire-unverified-accounts": {
        "task": "practice.tasks.expire_unverified_accounts",
        "schedule": 3600.0,
    },
    "purge-idempotency-records": {
        "task": "sessions.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
    # DOMAIN.md 4: clinical records past `retain_until` and not on legal hold
    # (sessions.records.privacy).
    "purge-expired-records": {"task": "sessions.tasks.purge_expired_records", "schedule": 86400.0},
    # Tombstones past each practice's sync horizon (practice.tombstones).
    "purge-tombstones": {"task": "practice.tasks.purge_tombstones", "schedule": 86400.0},
}

# --- Email ----------------------------------------------------------------------------------
# Online card payments (issue 19.3, sessions/billing/providers.py): `manual` (the default) takes
# none and needs no network; `stripe` creates PaymentIntents and is confirmed by Stripe's webhook.
PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="manual")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_URL = env.str("STRIPE_API_URL", default="https://api.stripe.com")
# Stripe's own default: a signed webhook older than this is refused (replays).
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
SMS_URL = env.str("SMS_URL", default="console://")
SMS_FROM = env.str("SMS_FROM", default="Backcare")
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Backcare <no-reply@backcare.invalid>")

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTH_TOKEN_TTL_HOURS = env.int("AUTH_TOKEN_TTL_HOURS", default=24 * 7)
EMAIL_VERIFICATION_TTL_HOURS = 48
# A client account whose email is not proven in this time is deleted (issue 13.7: no squatting).
UNVERIFIED_ACCOUNT_TTL_HOURS = env.int("UNVERIFIED_ACCOUNT_TTL_HOURS", default=72)
PASSWORD_RESET_TTL_HOURS = 1

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Bodies larger than this are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["practice.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["practice.permissions.IsPracticeMember"],
    "DEFAULT_PARSER_CLASSES": ["config.api.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "config.api.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "practice.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
        "practice.sync.UpdatedSinceFilter",
    ],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",  # + the error responses
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": env.str("THROTTLE_LOGIN_IP", default="30/min"),
        # Failed logins only: per email and address, and per email from every address.
        "login_email": env.str("THROTTLE_LOGIN_EMAIL", default="5/min"),
        "login_email_all": env.str("THROTTLE_LOGIN_EMAIL_ALL", default="50/hour"),
        "register": env.str("THROTTLE_REGISTER", default="10/hour"),
        "password_reset_email": env.str("THROTTLE_PASSWORD_RESET_EMAIL", default="3/hour"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "public": env.str("THROTTLE_PUBLIC", default="300/min"),
        # Bookings made per address (a 400 or 409 uses none), and failed attempts per address.
        "public_booking": env.str("THROTTLE_PUBLIC_BOOKING", default="10/hour"),
        "public_idempotency_keys": env.str("THROTTLE_PUBLIC_IDEMPOTENCY_KEYS", default="20/hour"),
        "public_booking_failed": env.str("THROTTLE_PUBLIC_BOOKING_FAILED", default="60/hour"),
        "api_key": env.str("THROTTLE_API_KEY", default="600/min"),
        # Intake saves and submits (issue 17): per link, and per caller address.
        "intake_token": env.str("THROTTLE_INTAKE_TOKEN", default="60/hour"),
        "intake_address": env.str("THROTTLE_INTAKE_ADDRESS", default="300/hour"),
    },
    "DEFAULT_THROTTLE_CLASSES": [
        "practice.throttling.MemberRateThrottle",
        "practice.throttling.ApiKeyRateThrottle",
    ],
    # Rate limits key on the caller's address. Unset, DRF trusts any X-Forwarded-For, so a client
    # could forge a new address per request; behind a reverse proxy set NUM_PROXIES to its depth.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Backcare API",
    "DESCRIPTION": "Practice management for massage therapists who treat back pain.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs pages load their scripts from this app (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No badge fetched from validator.swagger.io: the page talks to this server only.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.document_operations",  # summaries, parameters, outcome answers, examples
    ],
    "ENUM_NAME_OVERRIDES": {
        "HealthFlagEnum": "practice.vocabulary.HEALTH_FLAGS",
        "ConsentKindEnum": "clients.models.ConsentKind",
        "AmendmentKindEnum": "sessions.records.models.AmendmentKind",
        "ComplaintStatusEnum": "clients.domain.ComplaintStatus",
        "AppointmentStatusEnum": "sessions.scheduling.models.Status",
        "BookingSourceEnum": "sessions.scheduling.models.Source",
        "CalendarKindEnum": "sessions.scheduling.models.CalendarKind",
        "PaymentMethodEnum": "sessions.billing.models.PaymentMethod",
        "DischargeReasonEnum": "sessions.records.course_models.DischargeReason",
        "CourseStatusEnum": "sessions.records.course_models.CourseStatus",
        # The list's rows (InvoiceRow) and one invoice (Invoice) share these two choice sets.
        "InvoiceKindEnum": "sessions.billing.models.InvoiceKind",
        "InvoiceStatusEnum": "sessions.billing.models.InvoiceStatus",
        "IntakeQuestionTypeEnum": "sessions.records.intake_forms.QUESTION_TYPES",
        "TypeEnum": "practice.models.TOMBSTONE_TYPES",  # as named before intake questions' `type`
    },
}


# --- Production safety (DEBUG off; OWASP API8, tests/owasp/test_api8_misconfiguration.py) -------
def _is_local_host(host: str) -> bool:
    """A name only this machine or its compose network answers: localhost, loopback, `web`."""
    host = host.strip("[]").lower()
    return host in {"localhost", "testserver", "::1"} or host.startswith("127.") or "." not in host


# HTTPS-only (redirect + HSTS) is the default of a deployment reached by a public name or served
# at an https BASE_URL; `make run`, compose and the tests (local hosts, http) stay on plain HTTP.
PUBLIC_DEPLOYMENT = not DEBUG and (
    BASE_URL.startswith("https://") or not all(_is_local_host(h) for h in ALLOWED_HOSTS)
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PUBLIC_DEPLOYMENT)
# Probes and scrapers call these over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
_ONE_YEAR = 365 * 86400
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=_ONE_YEAR if PUBLIC_DEPLOYMENT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# Behind a TLS-terminating proxy, the header it sets says the request came over HTTPS (so the
# redirect does not loop). The proxy must overwrite a client's own; empty turns it off.
_PROXY_SSL_HEADER = env.str("SECURE_PROXY_SSL_HEADER", default="HTTP_X_FORWARDED_PROTO")
SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER, "https") if _PROXY_SSL_HEADER else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True

# CORS: browsers on these origins (comma-separated `https://app.example.com`) may call the API.
# Empty (the default): no CORS headers at all, so no other site's page can read an answer.
# Bearer tokens, not cookies: credentials are never allowed cross-origin.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "if-none-match",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = (
    "ETag",
    "Retry-After",
    "Sync-Since",
    "Idempotent-Replayed",
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)

# --- Logs and metrics (README "Deploying") -------------------------------------------------------
# `json`: one JSON object a line (timestamp, level, logger, message, request_id, task_id in Celery
# tasks, and the access line's fields); `text`: lines for people (`make run` uses it).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.observability.RequestIdFilter"},
        "redact": {"()": "config.observability.RedactFilter"},
    },
    "formatters": {
        "json": {"()": "config.observability.JsonFormatter"},  # python-json-logger
        "text": {
            "()": "config.observability.TextFormatter",
            "fmt": "%(asctime)s %(levelname)-7s %(ids)s %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "redact"],
            "formatter": "text" if LOG_FORMAT == "text" else "json",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # 4xx are in the access line already; 5xx still log here, with their traceback.
        "django.request": {"level": "ERROR"},
    },
}
# `/metrics` answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
