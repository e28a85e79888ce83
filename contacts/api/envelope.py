"""The one answer shape of the API: {"code": <HTTP status>, "msg": <text>, "data": <object or null>}.

Successes are wrapped by the renderer; failures are built by the exception handler, which sees
every exception a DRF view raises. Django's own error views cover what never reaches DRF
(unknown paths, a bad Host header), so no HTML error page is ever sent under /api/.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from contacts.exports.errors import (
    EXPORT_FAILED_MSG,
    ExportFailed,
    ExportJobFinished,
    ExportQueueUnavailable,
    ExportQuotaExceeded,
    ExportTooLarge,
)

logger = logging.getLogger("contacts.api")

SUCCESS = "success"
SERVER_ERROR_MSG = "服务器内部错误"
DATABASE_UNAVAILABLE_MSG = "数据库暂时不可用,请稍后重试"
CACHE_UNAVAILABLE_MSG = "服务暂时不可用,请稍后重试"


def envelope(data: Any = None, *, code: int = status.HTTP_200_OK, msg: str = SUCCESS) -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps successful bodies; error bodies arrive already wrapped by `exception_handler`."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None):
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code < 400:
            data = envelope(data, code=response.status_code)
        return super().render(data, accepted_media_type, renderer_context)


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_UNAVAILABLE_MSG
    default_code = "service_unavailable"


class ExportRefused(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "export_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class QuotaExceeded(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "quota_exceeded"

    def __init__(self, detail: str, *, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait


def _as_api_exception(exc: Exception) -> exceptions.APIException:
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, ExportTooLarge):
        return ExportRefused(str(exc))
    if isinstance(exc, ExportQuotaExceeded):
        return QuotaExceeded(str(exc), wait=exc.retry_after)
    if isinstance(exc, ExportFailed):  # recorded and logged by the export itself
        return exceptions.APIException(EXPORT_FAILED_MSG)
    if isinstance(exc, ExportJobFinished):
        return Conflict(str(exc))
    if isinstance(exc, ExportQueueUnavailable):
        return ServiceUnavailable(str(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, SuspiciousOperation):  # e.g. too many form fields: the client's fault
        logger.warning("suspicious request: %s", type(exc).__name__)
        return exceptions.ParseError("请求无效")
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", type(exc).__name__)
        return ServiceUnavailable()
    if isinstance(exc, RedisConnectionError):
        logger.error("cache unavailable: %s", type(exc).__name__)
        return ServiceUnavailable(CACHE_UNAVAILABLE_MSG)
    # The configured formatter leaves the exception's message out (it may quote personal data).
    logger.error("unhandled %s", type(exc).__name__, exc_info=exc)
    return exceptions.APIException(SERVER_ERROR_MSG)


def _first_message(errors: Any) -> str:
    while isinstance(errors, (list, dict)) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return str(errors)


def _describe(exc: exceptions.APIException) -> tuple[str, Any]:
    """The `msg` and `data` of an error: a 400 names each parameter and its problem."""
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(detail, dict):
            detail = {"non_field_errors": detail}
        parts = [
            _first_message(errors) if field == "non_field_errors" else f"{field}: {_first_message(errors)}"
            for field, errors in detail.items()
        ]
        return "; ".join(parts) or "请求参数错误", detail
    if isinstance(detail, dict):  # simplejwt's token errors: {"detail", "code", "messages"}
        return str(detail.get("detail") or _first_message(detail)), None
    if isinstance(detail, list):
        return _first_message(detail), None
    return str(detail), None


def exception_handler(exc: Exception, context: dict) -> Response:
    api_exc = _as_api_exception(exc)
    msg, data = _describe(api_exc)
    headers = {}
    if getattr(api_exc, "auth_header", None):
        headers["WWW-Authenticate"] = api_exc.auth_header
    if getattr(api_exc, "wait", None):
        headers["Retry-After"] = str(int(api_exc.wait))
    return Response(envelope(data, code=api_exc.status_code, msg=msg), status=api_exc.status_code, headers=headers)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def json_error(code: int, msg: str, data: Any = None) -> JsonResponse:
    """An error in the envelope from outside DRF's views and their exception handler."""
    return JsonResponse(envelope(data, code=code, msg=msg), status=code, json_dumps_params={"ensure_ascii": False})


# Without the exemption a write to an unknown path met the CSRF check and got Django's HTML 403 page.
@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return json_error(404, "接口不存在")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(400, "请求无效")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(403, "没有权限")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def request_too_large(request: HttpRequest, *, limit: int) -> HttpResponse:
    msg = f"请求体过大,最多 {limit} 字节"
    if is_api(request):
        return json_error(413, msg)
    return HttpResponse(msg, status=413, content_type="text/plain; charset=utf-8")


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return json_error(500, SERVER_ERROR_MSG)
    return defaults.server_error(request)
