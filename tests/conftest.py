"""The suite's fixtures. The builders they use, and that tests import, are in factories.py."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from factories import PASSWORD, client_for, make_user
from rest_framework.test import APIClient
from served import postgres_server_url
from services import postgres_bin, postgres_problem, postgres_programs_problem, redis_problem, require_service

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/7"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Exports land in a fresh temporary folder for each test."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _unhashed_static(settings):
    """Pages render without `collectstatic`; the gunicorn smoke test covers the hashed files."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hashing with the production work factor would make every login in the suite take a third of a second."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def reader(db) -> User:
    return make_user("reader", "contacts.view_contact", "contacts.view_all_contacts")


@pytest.fixture
def api(reader) -> APIClient:
    """A client logged in as a user who may read contacts."""
    return client_for(reader)


@pytest.fixture
def exporter(db) -> User:
    """A user who may read and export every account's contacts."""
    return make_user("exporter", "contacts.view_contact", "contacts.view_all_contacts", "contacts.export_contact")


@pytest.fixture
def export_api(exporter) -> APIClient:
    return client_for(exporter)


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser(username="boss", password=PASSWORD)


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return client_for(admin_user)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def redis_url() -> str:
    """A Redis server for the tests that need one: TEST_REDIS_URL, by default database 7 of the local server."""
    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL
    require_service("Redis", lambda: redis_problem(url))
    return url


@pytest.fixture
def postgres_server() -> str:
    """The PostgreSQL server of the suite's PostgreSQL run, or TEST_POSTGRES_URL's in the SQLite run."""
    url = postgres_server_url()
    require_service("PostgreSQL", lambda: postgres_problem(url))
    return url


@pytest.fixture
def postgres_programs() -> Path:
    """The folder of PostgreSQL's initdb and pg_ctl, for a private cluster that a test may stop."""
    require_service("PostgreSQL's server programs", postgres_programs_problem)
    return postgres_bin()
