import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the superuser `admin` when there is no superuser yet."

    def handle(self, *args, **options) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already.")
            return
        if users.filter(username="admin").exists():
            raise CommandError(
                "A user `admin` exists but is not a superuser: make it one in the database, "
                "or create a superuser with `manage.py createsuperuser`."
            )
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        users.create_superuser(username="admin", password=password)
        if os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            self.stdout.write("Created the admin account `admin` with DJANGO_SUPERUSER_PASSWORD.")
        else:
            self.stdout.write(f"Created the admin account `admin` with the password: {password}")
            self.stdout.write("It is shown this once; change it in /admin/ or with `manage.py changepassword admin`.")
