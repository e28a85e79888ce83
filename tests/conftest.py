import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from contacts.models import Contact

PASSWORD = "correct-horse-battery-staple"


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


def make_user(username: str, *perms: str, **extra) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


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


def make_contact(**fields) -> Contact:
    """A saved contact with plausible values; any field can be given."""
    values = {
        "name": "张三",
        "position": "产品经理",
        "contact": "13800138000",
        "account_id": 1,
        "worker_id": "worker-001",
        **fields,
    }
    return Contact.objects.create(**values)


def local_time(text: str) -> dt.datetime:
    """`YYYY-MM-DD HH:MM[:SS[.ffffff]]` read as a wall-clock time in the configured time zone."""
    return timezone.make_aware(dt.datetime.fromisoformat(text))
