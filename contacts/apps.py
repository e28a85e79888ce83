from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ContactsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "contacts"


class ContactsAdminConfig(admin_apps.AdminConfig):
    """Django's admin with this service's site (login limits, guarded change lists)."""

    default = False  # not the default configuration of the contacts app
    default_site = "contacts.admin_site.ContactsAdminSite"
