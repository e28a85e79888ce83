"""Settings for boss_dp contacts, all read from the environment here and nowhere else.

Every variable is optional in development; with DJANGO_DEBUG=0 a missing DJANGO_SECRET_KEY
stops the process at start-up instead of running with a guessable key.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from boss_dp.rates import rate_parse

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _str(name: str, default: str) -> str:
    """The variable's text; unset or empty (`NAME=` in a shell or .env) both mean the default."""
    return env.str(name, default="") or default


def _csv(name: str, default: str) -> list[str]:
    return [item.strip() for item in _str(name, default).split(",") if item.strip()]


def _rate(name: str, default: str) -> str:
    """A throttle rate, checked at start-up rather than at the first login."""
    rate = _str(name, default)
    try:
        rate_parse(rate)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None
    return rate


DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-only-key-do-not-use-in-production-0123456789"  # noqa: S105

ALLOWED_HOSTS = _csv("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
HTTPS = env.bool("DJANGO_HTTPS", default=False)
# How many reverse proxies in front of the service append to X-Forwarded-For; 0 trusts none.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "contacts.apps.ContactsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "contacts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "boss_dp.middleware.ContentSecurityPolicyMiddleware",
    "boss_dp.middleware.NoStoreApiMiddleware",
    "boss_dp.middleware.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Every request body, JSON or form: a contact with the longest notes is about 40 KB.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

ROOT_URLCONF = "boss_dp.urls"
WSGI_APPLICATION = "boss_dp.wsgi.application"

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

DATABASES = {"default": env.db_url_config(_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
# Reusing connections across requests doubles the throughput of short queries under load;
# health checks drop a connection that the server has closed.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DB_PREPARED_STATEMENTS", True):
    # Server-side binding lets each connection keep its frequent statements prepared on the server:
    # planning was most of PostgreSQL's work for a list page (0.9 -> 0.35 ms of server CPU a request).
    # The backend leaves out the statements that filter contacts (see its docstring). Turn it off
    # behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode).
    DATABASES["default"]["ENGINE"] = "boss_dp.postgresql"
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Past MAX_ENTRIES the database cache evicts live entries in key order, login counts first:
    # Django's default of 300 let a burst of attempts reset every address's count.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "boss_dp_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

AUTHENTICATION_BACKENDS = ["contacts.backends.OneQueryModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = _str("DJANGO_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Finished exports (contacts/exports/storage.py): <MEDIA_ROOT>/exports on this machine's disk.
    "exports": {"BACKEND": "contacts.exports.storage.ExportsFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# EXPORT_STORAGE=s3 keeps finished exports in one S3 bucket (or an S3-compatible store) that every instance
# of the service shares; its credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the
# machine's role, as boto3 finds them.
EXPORT_STORAGE = _str("EXPORT_STORAGE", "filesystem")
if EXPORT_STORAGE == "s3":
    if not _str("EXPORT_S3_BUCKET", ""):
        raise ImproperlyConfigured("EXPORT_STORAGE=s3 needs EXPORT_S3_BUCKET, the bucket the exports go to.")
    STORAGES["exports"] = {
        "BACKEND": "contacts.exports.s3_storage.ExportsS3Storage",
        "OPTIONS": {
            "bucket_name": _str("EXPORT_S3_BUCKET", ""),
            "location": _str("EXPORT_S3_PREFIX", "exports"),
            "endpoint_url": _str("EXPORT_S3_ENDPOINT_URL", "") or None,
            "region_name": _str("EXPORT_S3_REGION", "") or None,
        },
    }
elif EXPORT_STORAGE != "filesystem":
    raise ImproperlyConfigured(f"EXPORT_STORAGE must be filesystem or s3, not {EXPORT_STORAGE!r}.")
MEDIA_ROOT = BASE_DIR / _str("DJANGO_MEDIA_ROOT", "media")  # a relative path is taken from the project root
MEDIA_URL = "media/"

CORS_ALLOWED_ORIGINS = _csv("CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/(api|media/exports)/.*$"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["contacts.api.authentication.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["contacts.api.permissions.ModelPermissions"],
    "DEFAULT_RENDERER_CLASSES": ["contacts.api.envelope.EnvelopeJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "contacts.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "contacts.api.envelope.exception_handler",
    "URL_FORMAT_OVERRIDE": None,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S",
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "login_address": _rate("LOGIN_RATE_PER_ADDRESS", "10/min"),
        "login_username": _rate("LOGIN_RATE_PER_USERNAME", "10/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "contacts.api.schema.EnvelopeAutoSchema",
}

# The OpenAPI schema at /api/schema and Swagger UI at /api/docs, served from local files.
SPECTACULAR_SETTINGS = {
    "TITLE": "boss_dp contacts API",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "contacts.api.schema.postprocess_envelope_components",
    ],
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Every token carries a digest of its user's password hash: a password change ends them all.
    "CHECK_REVOKE_TOKEN": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "boss_dp.log.ValuelessTracebackFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django logs every 4xx with the request path, whose query string carries search terms
        # (names, phone numbers): the service logs its own failures instead.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = [f"https://{host.lstrip('.')}" for host in ALLOWED_HOSTS if host != "*"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The admin's and Swagger UI's scripts, styles, fonts and images are the service's own files (images
# also as data: URLs in their style sheets); no inline script or style, no eval, no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# The health probe of a load balancer arrives over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/health/?$"]

# Exports (see API_CONTACTS.md): 1,048,575 rows is one Excel sheet below its header.
EXPORT_MAX_ROWS = env.int("EXPORT_MAX_ROWS", default=1_048_575)
EXPORT_LINK_TTL_SECONDS = env.int("EXPORT_LINK_TTL_SECONDS", default=3600)
EXPORT_RETENTION_DAYS = env.int("EXPORT_RETENTION_DAYS", default=7)
# What one user may export (at once, and in any 24 hours) and what all exports together may take on disk.
EXPORT_CONCURRENT_PER_USER = env.int("EXPORT_CONCURRENT_PER_USER", default=2)
EXPORT_DAILY_PER_USER = env.int("EXPORT_DAILY_PER_USER", default=50)
EXPORT_STORAGE_MAX_BYTES = env.int("EXPORT_STORAGE_MAX_BYTES", default=5 * 1024**3)
# An export that records no progress for this long is taken for dead (its process killed): a job is run
# again from the start, at most EXPORT_JOB_MAX_ATTEMPTS times in all, or recorded as failed. An export
# records its progress every second while rows stream; counting and publishing are silent for longer.
EXPORT_JOB_STALE_SECONDS = env.int("EXPORT_JOB_STALE_SECONDS", default=300)
# Exports made at once (GET /api/contacts/export, the admin's action) one machine runs together: each
# holds a web worker; past it a 429 points to the job API.
EXPORT_SYNC_MAX_RUNNING = env.int("EXPORT_SYNC_MAX_RUNNING", default=1)
EXPORT_JOB_MAX_ATTEMPTS = env.int("EXPORT_JOB_MAX_ATTEMPTS", default=3)

# Imports (POST /api/contacts/import, manage.py import_contacts): the largest file, its most rows, and the most
# an xlsx (a zip) may hold once uncompressed, read from its directory before anything is decompressed.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=100_000)
IMPORT_MAX_UNCOMPRESSED_BYTES = env.int("IMPORT_MAX_UNCOMPRESSED_BYTES", default=512 * 1024 * 1024)

# Celery (boss_dp/celery.py): export jobs. The broker is Redis in production; without one configured, a
# folder on this machine's disk serves the single machine (`make run`).
CELERY_BROKER_URL = _str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_FOLDERS: list[str] = []
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_folder = BASE_DIR / _str("CELERY_BROKER_FOLDER", "var/celery-broker")  # relative: to the project root
    CELERY_BROKER_FOLDERS = [str(_broker_folder / "queue"), str(_broker_folder / "control")]
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": CELERY_BROKER_FOLDERS[0],
        "data_folder_out": CELERY_BROKER_FOLDERS[0],
        "control_folder": CELERY_BROKER_FOLDERS[1],
    }
else:
    # An unacknowledged job goes back to the queue after this long: longer than the longest export.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
# A request that cannot reach the broker answers 503 at once rather than after minutes of retries.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 1, "interval_max": 1}
# One queue per deployment: several may share a Redis.
CELERY_TASK_DEFAULT_QUEUE = _str("CELERY_QUEUE", "boss_dp")
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "reap dead export jobs": {"task": "contacts.exports.tasks.export_jobs_reap", "schedule": 60.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")
