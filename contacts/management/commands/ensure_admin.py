import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the superuser `admin` when there is no superuser yet."

    def handle(self, *args, **options) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already.")
            return
        if users.filter(username=USERNAME).exists():
            raise CommandError(
                "A user `admin` exists but is not a superuser: make it one in the database, "
                "or create a superuser with `manage.py createsuperuser`."
            )
        chosen = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if chosen:
            try:
                with translation.override("en"):  # the command speaks English throughout
                    validate_password(chosen, user=get_user_model()(username=USERNAME))
            except ValidationError as exc:
                raise CommandError(
                    "DJANGO_SUPERUSER_PASSWORD is refused: " + " ".join(exc.messages) + " Choose a stronger one, "
                    "or leave it unset to have a random password generated and shown once."
                ) from None
        password = chosen or secrets.token_urlsafe(12)
        users.create_superuser(username=USERNAME, password=password)
        if chosen:
            self.stdout.write("Created the admin account `admin` with DJANGO_SUPERUSER_PASSWORD.")
        else:
            self.stdout.write(f"Created the admin account `admin` with the password: {password}")
            self.stdout.write(
                "It is shown this once; change it at /admin/password_change/ or with `manage.py changepassword admin`."
            )
