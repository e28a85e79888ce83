"""Configuration from the environment: the deploy check, the secret key rule, each variable of the table, CORS."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LONG_SECRET = "k3y-" + "a1B2c3D4e5F6g7H8i9J0" * 3
TABLE = [
    "DATABASE_URL",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_MEDIA_ROOT",
    "DJANGO_TIME_ZONE",
    "CORS_ALLOWED_ORIGINS",
    "JWT_ACCESS_MINUTES",
    "JWT_REFRESH_DAYS",
    "DJANGO_HTTPS",
    "REDIS_URL",
    "TRUSTED_PROXY_COUNT",
]
PRINT_SETTINGS = """
import json
import django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "database": [db["ENGINE"], db["NAME"], db.get("HOST", ""), str(db.get("PORT", "")), db.get("USER", "")],
    "debug": s.DEBUG,
    "allowed_hosts": s.ALLOWED_HOSTS,
    "media_root": str(s.MEDIA_ROOT),
    "time_zone": s.TIME_ZONE,
    "cors": s.CORS_ALLOWED_ORIGINS,
    "jwt": [s.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds(), s.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].days],
    "cache": [s.CACHES["default"]["BACKEND"], s.CACHES["default"]["LOCATION"]],
    "proxies": s.REST_FRAMEWORK["NUM_PROXIES"],
    "https": [s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,
              s.SECURE_PROXY_SSL_HEADER],
}))
"""

pytestmark = pytest.mark.slow


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any variable of the table (or pytest's), plus `values`."""
    env = {key: value for key, value in os.environ.items() if key not in TABLE and not key.startswith("PYTEST")}
    env["DJANGO_SETTINGS_MODULE"] = "boss_dp.settings"
    env.update(values)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def settings_with(script: str = PRINT_SETTINGS, **values: str) -> dict:
    result = run([sys.executable, "-c", script], clean_env(**values))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- the deploy check and the secret key -------------------------------------------------------------


def test_the_deploy_check_passes_with_debug_off_behind_https():
    """`check --deploy --fail-level WARNING` is clean with DJANGO_DEBUG=0, DJANGO_HTTPS=1 and a long key."""
    env = clean_env(DJANGO_DEBUG="0", DJANGO_HTTPS="1", DJANGO_SECRET_KEY=LONG_SECRET)
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_fails_without_https():
    """The check is real: without DJANGO_HTTPS the missing HSTS and redirect are reported."""
    env = clean_env(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=LONG_SECRET)
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr
    assert "security.W008" in result.stderr


def test_debug_off_without_a_secret_key_stops_at_start_with_a_clear_message(tmp_path):
    """No DJANGO_SECRET_KEY and no .env beside the settings: the process refuses to start.

    The settings file is run from a copy so that a developer's .env (which `make run` writes)
    cannot supply the key.
    """
    (tmp_path / "boss_dp").mkdir()
    (tmp_path / "boss_dp" / "__init__.py").write_text("")
    for module in ("settings.py", "rates.py"):
        shutil.copy(REPO / "boss_dp" / module, tmp_path / "boss_dp" / module)
    env = clean_env(DJANGO_DEBUG="0", PYTHONPATH=str(tmp_path))
    result = run([sys.executable, "-c", "import boss_dp.settings"], env, cwd=tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off." in result.stderr


def test_an_empty_secret_key_stops_manage_py_too():
    """`DJANGO_SECRET_KEY=` (set but empty) is no key, whatever .env holds."""
    result = run([sys.executable, "manage.py", "check"], clean_env(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=""))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off." in result.stderr


def test_debug_on_runs_without_a_secret_key():
    """Development needs no key: DJANGO_DEBUG=1 starts with an insecure development one."""
    assert settings_with(DJANGO_DEBUG="1", DJANGO_SECRET_KEY="")["debug"] is True


# --- the configuration table -------------------------------------------------------------------------


def test_every_variable_has_its_documented_default():
    """With only a secret key set: SQLite in the project, local hosts, Shanghai, no CORS, 60 min / 7 days."""
    assert settings_with(DJANGO_SECRET_KEY=LONG_SECRET) == {
        "database": ["django.db.backends.sqlite3", str(REPO / "db.sqlite3"), "", "", ""],
        "debug": False,
        "allowed_hosts": ["localhost", "127.0.0.1"],
        "media_root": str(REPO / "media"),
        "time_zone": "Asia/Shanghai",
        "cors": [],
        "jwt": [3600.0, 7],
        "cache": ["django.core.cache.backends.db.DatabaseCache", "boss_dp_cache"],
        "proxies": 0,
        "https": [False, False, False, 0, None],
    }


def test_every_variable_of_the_table_is_honoured(tmp_path):
    """Each variable of the issue's table (and TRUSTED_PROXY_COUNT) changes the setting it names."""
    assert settings_with(
        DJANGO_SECRET_KEY=LONG_SECRET,
        DATABASE_URL="postgres://boss:pw@db.example.com:5433/contacts_db",
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS="api.example.com, .example.org",
        DJANGO_MEDIA_ROOT=str(tmp_path / "files"),
        DJANGO_TIME_ZONE="Europe/Berlin",
        CORS_ALLOWED_ORIGINS="https://app.example.com,https://ops.example.com",
        JWT_ACCESS_MINUTES="15",
        JWT_REFRESH_DAYS="2",
        DJANGO_HTTPS="1",
        REDIS_URL="redis://127.0.0.1:6379/7",
        TRUSTED_PROXY_COUNT="1",
    ) == {
        "database": ["boss_dp.postgresql", "contacts_db", "db.example.com", "5433", "boss"],
        "debug": True,
        "allowed_hosts": ["api.example.com", ".example.org"],
        "media_root": str(tmp_path / "files"),
        "time_zone": "Europe/Berlin",
        "cors": ["https://app.example.com", "https://ops.example.com"],
        "jwt": [900.0, 2],
        "cache": ["django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/7"],
        "proxies": 1,
        "https": [True, True, True, 31536000, ["HTTP_X_FORWARDED_PROTO", "https"]],
    }


def test_postgresql_connections_prepare_their_statements_unless_turned_off():
    """PostgreSQL binds on the server and prepares statements unless DB_PREPARED_STATEMENTS=0; URL options stay."""
    url = "postgres://boss@db.example.com:5432/contacts_db?sslmode=require"
    script = PRINT_SETTINGS.replace('"debug": s.DEBUG,', '"engine": db["ENGINE"], "options": db["OPTIONS"],')
    prepared = settings_with(DJANGO_SECRET_KEY=LONG_SECRET, DATABASE_URL=url, script=script)
    assert (prepared["engine"], prepared["options"]) == (
        "boss_dp.postgresql",
        {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 5},
    )
    plain = settings_with(DJANGO_SECRET_KEY=LONG_SECRET, DATABASE_URL=url, DB_PREPARED_STATEMENTS="0", script=script)
    assert (plain["engine"], plain["options"]) == ("django.db.backends.postgresql", {"sslmode": "require"})
    sqlite = settings_with(DJANGO_SECRET_KEY=LONG_SECRET, script=script)
    assert sqlite["engine"] == "django.db.backends.sqlite3" and "server_side_binding" not in sqlite["options"]


def test_empty_variables_mean_their_defaults():
    """`NAME=` (set but empty, as a blank line of .env leaves it) falls back to the default, not to nonsense."""
    empty = dict.fromkeys(
        ["DATABASE_URL", "DJANGO_ALLOWED_HOSTS", "DJANGO_MEDIA_ROOT", "DJANGO_TIME_ZONE", "REDIS_URL", "DJANGO_DEBUG"],
        "",
    )
    assert settings_with(DJANGO_SECRET_KEY=LONG_SECRET, **empty) == settings_with(DJANGO_SECRET_KEY=LONG_SECRET)


def test_a_relative_media_root_is_taken_from_the_project_root():
    """DJANGO_MEDIA_ROOT=uploads means <project>/uploads, wherever the process was started."""
    assert settings_with(DJANGO_SECRET_KEY=LONG_SECRET, DJANGO_MEDIA_ROOT="uploads")["media_root"] == str(
        REPO / "uploads"
    )


def test_a_sqlite_database_url_is_honoured(tmp_path):
    """DATABASE_URL may name another SQLite file."""
    database = settings_with(DJANGO_SECRET_KEY=LONG_SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    assert database["database"][:2] == ["django.db.backends.sqlite3", str(tmp_path / "other.sqlite3")]


# --- CORS ----------------------------------------------------------------------------------------------


def preflight(client, origin: str):
    return client.options(
        "/api/contacts",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


@pytest.mark.django_db
def test_a_preflight_from_an_allowed_origin_is_allowed_with_the_authorization_header(client, settings):
    """The browser frontend's origin may call the API with a Bearer token."""
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = preflight(client, "https://app.example.com")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert "GET" in response["Access-Control-Allow-Methods"]


@pytest.mark.django_db
def test_a_preflight_from_another_origin_gets_no_cors_headers(client, settings):
    """Any other origin is not granted access."""
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = preflight(client, "https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
def test_an_allowed_origin_reads_the_answer_of_a_real_request(api, settings):
    """The actual GET carries the header too, so the browser hands the JSON to the page."""
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = api.get("/api/contacts", HTTP_ORIGIN="https://app.example.com")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"


@pytest.mark.django_db
def test_cors_headers_are_limited_to_the_api(client, settings):
    """The admin is not opened to other origins."""
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = client.get("/admin/", HTTP_ORIGIN="https://app.example.com")
    assert response.status_code == 302
    assert "Access-Control-Allow-Origin" not in response


# --- where exports are kept --------------------------------------------------------------------------

PRINT_EXPORTS_STORAGE = """
import json
import django
django.setup()
from django.conf import settings as s
print(json.dumps(s.STORAGES["exports"]))
"""


def test_exports_stay_on_this_machines_disk_by_default():
    """Without EXPORT_STORAGE, finished exports go to <MEDIA_ROOT>/exports."""
    assert settings_with(PRINT_EXPORTS_STORAGE, DJANGO_SECRET_KEY=LONG_SECRET) == {
        "BACKEND": "contacts.exports.storage.ExportsFileSystemStorage"
    }


def test_export_storage_s3_names_the_bucket_its_prefix_endpoint_and_region():
    """EXPORT_STORAGE=s3 configures the shared bucket from EXPORT_S3_*; the prefix defaults to exports."""
    values = {"EXPORT_STORAGE": "s3", "EXPORT_S3_BUCKET": "boss-exports", "DJANGO_SECRET_KEY": LONG_SECRET}
    backend = "contacts.exports.s3_storage.ExportsS3Storage"
    assert settings_with(PRINT_EXPORTS_STORAGE, **values) == {
        "BACKEND": backend,
        "OPTIONS": {"bucket_name": "boss-exports", "location": "exports", "endpoint_url": None, "region_name": None},
    }
    assert settings_with(
        PRINT_EXPORTS_STORAGE,
        **values,
        EXPORT_S3_PREFIX="prod/exports",
        EXPORT_S3_ENDPOINT_URL="https://minio.example.com",
        EXPORT_S3_REGION="cn-north-1",
    ) == {
        "BACKEND": backend,
        "OPTIONS": {
            "bucket_name": "boss-exports",
            "location": "prod/exports",
            "endpoint_url": "https://minio.example.com",
            "region_name": "cn-north-1",
        },
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"EXPORT_STORAGE": "s3"}, "EXPORT_STORAGE=s3 needs EXPORT_S3_BUCKET, the bucket the exports go to."),
        ({"EXPORT_STORAGE": "nfs"}, "EXPORT_STORAGE must be filesystem or s3, not 'nfs'."),
    ],
)
def test_an_export_storage_without_what_it_needs_stops_at_start(values, message):
    """A missing bucket or an unknown storage stops manage.py at once with a clear message."""
    result = run([sys.executable, "manage.py", "check"], clean_env(DJANGO_SECRET_KEY=LONG_SECRET, **values))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


PRINT_IMPORT_LIMITS = """
import json
import django
django.setup()
from django.conf import settings as s
print(json.dumps([s.IMPORT_MAX_BYTES, s.IMPORT_MAX_ROWS, s.IMPORT_MAX_UNCOMPRESSED_BYTES]))
"""


def test_import_limits_have_their_documented_defaults_and_follow_the_environment():
    """IMPORT_MAX_BYTES 20 MiB, IMPORT_MAX_ROWS 100,000, IMPORT_MAX_UNCOMPRESSED_BYTES 512 MiB unless set."""
    assert settings_with(PRINT_IMPORT_LIMITS, DJANGO_SECRET_KEY=LONG_SECRET) == [20 * 1024**2, 100_000, 512 * 1024**2]
    assert settings_with(
        PRINT_IMPORT_LIMITS,
        DJANGO_SECRET_KEY=LONG_SECRET,
        IMPORT_MAX_BYTES="1000",
        IMPORT_MAX_ROWS="10",
        IMPORT_MAX_UNCOMPRESSED_BYTES="5000",
    ) == [1000, 10, 5000]


@pytest.mark.parametrize("rate", ["10/minute", "1/5s", "100/day"])
def test_a_login_rate_takes_drf_units_and_windows_of_several_units(rate):
    """`LOGIN_RATE_PER_ADDRESS=1/5s` is one attempt in five seconds; DRF's own spellings still work."""
    assert settings_with(
        "import django\ndjango.setup()\nfrom django.conf import settings as s\nimport json\n"
        'print(json.dumps(s.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]))',
        DJANGO_SECRET_KEY=LONG_SECRET,
        LOGIN_RATE_PER_ADDRESS=rate,
    ) == {"login_address": rate, "login_username": "10/min"}


@pytest.mark.parametrize(
    ("rate", "reason"),
    [
        ("ten/min", "is not a rate such as 10/min or 1/5s"),
        ("5/fortnight", "is not a rate such as 10/min or 1/5s"),
        ("1/0s", "has an empty window"),
    ],
)
def test_a_login_rate_that_means_nothing_stops_at_start(rate, reason):
    """A rate the throttle could not read stops manage.py at once, instead of failing the first login."""
    result = run(
        [sys.executable, "manage.py", "check"],
        clean_env(DJANGO_SECRET_KEY=LONG_SECRET, LOGIN_RATE_PER_USERNAME=rate),
    )
    assert result.returncode != 0
    assert f"ImproperlyConfigured: LOGIN_RATE_PER_USERNAME: {rate!r} {reason}" in result.stderr
