import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Exports land in a fresh temporary folder for each test."""
    settings.MEDIA_ROOT = tmp_path / "media"


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
