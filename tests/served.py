"""The service as it is deployed, for the served tests: the suite's databases, environment and user.

gunicorn, manage.py, HTTP calls and PostgreSQL databases come from the harness package (shared with
the benchmark) and are re-exported here, so that a served test imports everything from one place.

Each test gets its own database outside pytest-django's (the served processes cannot see an
in-memory test database): a SQLite file in the test's temporary folder, or, when the suite runs on
PostgreSQL, a throwaway database on the same server, created and dropped here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from harness.client import Reply, call
from harness.postgres import throwaway_database as throwaway_postgres_database
from harness.service import PYTHON, REPO, Gunicorn, free_port, manage, served

__all__ = [
    "PASSWORD",
    "PYTHON",
    "READ_WRITE_EXPORT",
    "REPO",
    "Gunicorn",
    "Reply",
    "call",
    "free_port",
    "login",
    "manage",
    "postgres_server_url",
    "prepare_database",
    "served",
    "service_env",
    "suite_database",
    "suite_runs_on_postgres",
    "throwaway_postgres_database",
]

PASSWORD = "served-test-password-0123456789"
READ_WRITE_EXPORT = ("view_contact", "add_contact", "change_contact", "export_contact", "view_all_contacts")
DEFAULT_TEST_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def suite_runs_on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


def postgres_server_url() -> str:
    """The suite's PostgreSQL server, or the machine's (TEST_POSTGRES_URL) when the suite runs on SQLite."""
    if suite_runs_on_postgres():
        return os.environ["DATABASE_URL"]
    return os.environ.get("TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL


@contextlib.contextmanager
def suite_database(tmp_path: Path, purpose: str) -> Iterator[str]:
    """PostgreSQL in the suite's PostgreSQL run, else a SQLite file: yields a DATABASE_URL."""
    if suite_runs_on_postgres():
        with throwaway_postgres_database(os.environ["DATABASE_URL"], purpose) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / f'{purpose}.sqlite3'}"


def service_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The served service's environment: debug off, a fresh secret key, no Redis, media, TMPDIR and the
    jobs' queue (a folder no worker reads) in `tmp_path`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "GUNICORN_", "WEB_CONCURRENCY"))
    }
    scratch = tmp_path / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "boss_dp.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_BROKER_FOLDER": str(tmp_path / "celery-broker"),
            "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
            "TMPDIR": str(scratch),
        }
    )
    env.update(extra)
    return env


def prepare_database(env: dict[str, str], *, contacts: int, username: str = "served") -> None:
    """Migrate, load `contacts` demo contacts and create a user who may read, add, change and export."""
    manage(env, "migrate", "--noinput", "-v", "0")
    if contacts:
        manage(env, "seed_contacts", "--count", str(contacts))
    code = (
        "from django.contrib.auth.models import Permission, User\n"
        f"user = User.objects.create_user({username!r}, password={PASSWORD!r})\n"
        "user.user_permissions.set(Permission.objects.filter("
        f"content_type__app_label='contacts', codename__in={list(READ_WRITE_EXPORT)!r}))\n"
    )
    manage(env, "shell", "-c", code)


def login(port: int, username: str = "served") -> str:
    """An access token of `username` (PASSWORD), from the served service's login."""
    reply = call(port, "POST", "/api/auth/token", payload={"username": username, "password": PASSWORD})
    assert reply.status == 200, reply.body
    return reply.json()["data"]["access"]
