"""The Content-Security-Policy header (Django 5.2 has none of its own): settings.CONTENT_SECURITY_POLICY."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def content_security_policy(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    """Middleware: every answer carries the policy, unless a view set its own."""
    policy = settings.CONTENT_SECURITY_POLICY

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    return middleware
