"""What every request and answer goes through: a bound on the request body, no caching of API answers, and
the Content-Security-Policy (Django 5.2 has none of its own)."""

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from contacts.api.envelope import is_api, request_too_large

Handler = Callable[[HttpRequest], HttpResponse]


# A client still sending its body when the connection closes sees it reset, not the 413: a body up to
# this many times the limit is read and thrown away first, so that the client reads the answer.
DISCARDED_MAX_FACTOR = 16
DISCARD_CHUNK_BYTES = 64 * 1024
# The import's upload is a file of up to IMPORT_MAX_BYTES in a multipart body: its boundaries, part headers
# (the file name among them) and the small `dry_run` field take well under this.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
IMPORT_PATH_RE = re.compile(r"/api/contacts/import/?")


def request_body_limit(request: HttpRequest) -> int:
    """The largest body `request` may send: REQUEST_BODY_MAX_BYTES, or an import's file and its envelope."""
    if request.method == "POST" and IMPORT_PATH_RE.fullmatch(request.path_info):
        return max(settings.REQUEST_BODY_MAX_BYTES, settings.IMPORT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES)
    return settings.REQUEST_BODY_MAX_BYTES


class RequestBodyLimitMiddleware:
    """A body longer than REQUEST_BODY_MAX_BYTES (an import's: see `request_body_limit`) is refused with 413
    before anything parses it.

    Django bounds only the bodies it parses itself (DATA_UPLOAD_MAX_MEMORY_SIZE); DRF reads a JSON body
    straight from the socket. A body sent without a length (chunked) reaches Django as empty.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = request_body_limit(request)
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
