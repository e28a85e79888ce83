"""What every request and answer goes through: a bound on the request body, no caching of API answers, and
the Content-Security-Policy (Django 5.2 has none of its own)."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from contacts.api.envelope import is_api, request_too_large

Handler = Callable[[HttpRequest], HttpResponse]


# A client still sending its body when the connection closes sees it reset, not the 413: a body up to
# this many times the limit is read and thrown away first, so that the client reads the answer.
DISCARDED_MAX_FACTOR = 16
DISCARD_CHUNK_BYTES = 64 * 1024


class RequestBodyLimitMiddleware:
    """A body longer than REQUEST_BODY_MAX_BYTES is refused with 413 before anything parses it.

    Django bounds only the bodies it parses itself (DATA_UPLOAD_MAX_MEMORY_SIZE); DRF reads a JSON body
    straight from the socket. A body sent without a length (chunked) reaches Django as empty.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.REQUEST_BODY_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= limit:
            return self.get_response(request)
        if length <= limit * DISCARDED_MAX_FACTOR:
            while request.read(DISCARD_CHUNK_BYTES):
                pass
        return request_too_large(request, limit=limit)


class NoStoreApiMiddleware:
    """API answers hold personal data: no browser or proxy may keep a copy."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_api(request):
            response["Cache-Control"] = "no-store"
        return response


class ContentSecurityPolicyMiddleware:
    """Every answer carries settings.CONTENT_SECURITY_POLICY, unless a view set its own."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
