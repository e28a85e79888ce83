from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_save


class ContactsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "contacts"

    def ready(self) -> None:
        from .accounts import revoke_refresh_tokens_on_deactivation

        pre_save.connect(revoke_refresh_tokens_on_deactivation, sender=settings.AUTH_USER_MODEL)
