"""The download of finished exports through their signed links, served by the application itself.

A link opens without an Authorization header (the frontend calls `window.open(download_url)`),
so its signature is the whole of the access check.
"""

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .api.envelope import envelope
from .exports import (
    FILENAME_RE,
    XLSX_CONTENT_TYPE,
    ExportLinkExpired,
    ExportLinkInvalid,
    export_file_open,
    export_link_verify,
)

NOT_FOUND_MSG = "文件不存在或已被清理"
MISSING_SIGNATURE_MSG = "缺少下载签名,请使用导出接口返回的 download_url"
INVALID_SIGNATURE_MSG = "下载链接无效"
EXPIRED_MSG = "下载链接已过期,请重新导出"
METHOD_MSG = "下载链接只支持 GET"


def _error(code: int, msg: str) -> JsonResponse:
    return JsonResponse(envelope(None, code=code, msg=msg), status=code, json_dumps_params={"ensure_ascii": False})


# Read-only: without the exemption a POST met the CSRF check (an HTML 403 page) before the 405.
@csrf_exempt
def export_download(request: HttpRequest, filename: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = _error(405, METHOD_MSG)
        response["Allow"] = "GET, HEAD"
        return response
    if not FILENAME_RE.fullmatch(filename):
        return _error(404, NOT_FOUND_MSG)
    signature = request.GET.get("signature")
    if not signature:
        return _error(403, MISSING_SIGNATURE_MSG)
    try:
        export_link_verify(filename=filename, signature=signature)
    except ExportLinkExpired:
        return _error(403, EXPIRED_MSG)
    except ExportLinkInvalid:
        return _error(403, INVALID_SIGNATURE_MSG)
    try:
        handle = export_file_open(filename=filename)
    except FileNotFoundError:
        return _error(404, NOT_FOUND_MSG)
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
    response["Cache-Control"] = "private, no-store"
    return response
