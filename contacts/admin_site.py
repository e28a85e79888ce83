"""The admin site: its login counts against the API's login limits.

Django uses it as `admin.site` through `contacts.apps.ContactsAdminConfig` (its `default_site`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

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
