"""The admin site: its login counts against the API's login limits, and every change list is guarded.

Django uses it as `admin.site` through `contacts.apps.ContactsAdminConfig` (its `default_site`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.db.models.base import ModelBase
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path

from .admin_changelist import GuardedChangeListAdmin
from .admin_dashboard import DASHBOARD_URL_NAME, contact_dashboard, dashboard_entry
from .api.throttles import login_attempt_wait


class ThrottledAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form; each submission is one attempt against the login limits.

    A refused attempt never reaches the password check. `retry_after` holds the seconds to wait.
    """

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "登录尝试过于频繁,请 %(wait)s 秒后再试。",
    }
    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        self.retry_after = login_attempt_wait(self.request)
        if self.retry_after is not None:
            raise ValidationError(self.error_messages["throttled"], code="throttled", params={"wait": self.retry_after})
        return super().clean()


class ContactsAdminSite(admin.AdminSite):
    login_form = ThrottledAuthenticationForm

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The login page; a refused attempt shows it again with the wait, as a 429 with Retry-After."""
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if isinstance(form, ThrottledAuthenticationForm) and form.retry_after is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response

    def get_urls(self) -> list[URLPattern | URLResolver]:
        """Django's admin URLs, and the contacts dashboard before them."""
        dashboard = self.admin_view(lambda request: contact_dashboard(request, site=self))
        return [path("contacts/dashboard/", dashboard, name=DASHBOARD_URL_NAME), *super().get_urls()]

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        """Django's app list, the contacts app opening with the dashboard for those who may see it."""
        app_list = super().get_app_list(request, app_label)
        entry = dashboard_entry(request)
        for app in app_list:
            if app["app_label"] == "contacts" and entry is not None:
                app["models"].insert(0, entry)
        return app_list

    def register(
        self,
        model_or_iterable: ModelBase | list[type[Model]],
        admin_class: type[admin.ModelAdmin] | None = None,
        **options: Any,
    ) -> None:
        """Register as Django does, giving every model admin the guarded change list.

        Django's own admins (User, Group) are registered here too, so no change list is left unguarded.
        """
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, GuardedChangeListAdmin):
            admin_class = type(
                admin_class.__name__,
                (GuardedChangeListAdmin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)
