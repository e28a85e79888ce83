from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate, pre_save


class ContactsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "contacts"

    def ready(self) -> None:
        from .accounts import revoke_refresh_tokens_on_deactivation
        from .day_tally import day_tally_after_migrate

        pre_save.connect(revoke_refresh_tokens_on_deactivation, sender=settings.AUTH_USER_MODEL)
        post_migrate.connect(day_tally_after_migrate, sender=self)


class ContactsAdminConfig(admin_apps.AdminConfig):
    """Django's admin with this service's site (login limits, guarded change lists)."""

    default = False  # not the default configuration of the contacts app
    default_site = "contacts.admin_site.ContactsAdminSite"
