"""Test data builders: users with permissions, API clients logged in as them, contacts, local times.

Plain functions that tests import (`from factories import make_contact`); the fixtures built on them
are in conftest.py.
"""

import datetime as dt

from django.contrib.auth.models import Permission, User
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from contacts.models import Contact

PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, *perms: str, **extra: object) -> User:
    """A saved user with PASSWORD and the permissions named `app_label.codename`."""
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def client_for(user: User) -> APIClient:
    """An API client that sends a fresh access token of `user`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def make_contact(**fields: object) -> Contact:
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
