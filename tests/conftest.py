"""The suite's fixtures. The builders they use, and that tests import, are in factories.py."""

import pytest
from django.contrib.auth.models import User
from factories import PASSWORD, client_for, make_user
from rest_framework.test import APIClient


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
    return make_user("reader", "contacts.view_contact")


@pytest.fixture
def api(reader) -> APIClient:
    """A client logged in as a user who may read contacts."""
    return client_for(reader)


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser(username="boss", password=PASSWORD)


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return client_for(admin_user)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
