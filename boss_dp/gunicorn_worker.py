"""gunicorn's sync worker, answering the requests gunicorn itself refuses in the API's envelope."""

import json
import socket
import ssl
from datetime import datetime
from http import HTTPStatus

from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import errors
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.sync import SyncWorker

SERVER_ERROR_MSG = "服务器内部错误"

# gunicorn's client errors with the statuses its Worker.handle_error gives them (gunicorn 27),
# and what the client is told. The first match counts.
_REFUSALS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int, str], ...] = (
    (
        errors.LimitRequestLine,
        414,
        "请求行(方法、路径与查询参数)过长,不能超过 {cfg.limit_request_line} 字节,请减少查询参数",
    ),
    (
        errors.LimitRequestHeaders,
        431,
        "请求头过大:最多 {cfg.limit_request_fields} 个,每个不能超过 {cfg.limit_request_field_size} 字节",
    ),
    (errors.InvalidRequestLine, 400, "请求行格式错误:路径与查询参数须为 URL 编码的 ASCII 字符"),
    (errors.InvalidRequestMethod, 400, "HTTP 方法无效"),
    (errors.InvalidHTTPVersion, 400, "请求行格式错误:HTTP 版本无效(路径或查询参数中的空格须编码为 %20)"),
    ((errors.InvalidHeader, errors.InvalidHeaderName, errors.ObsoleteFolding), 400, "请求头格式错误"),
    (
        (errors.InvalidChunkSize, errors.ChunkMissingTerminator, errors.InvalidChunkExtension),
        400,
        "分块传输的请求体格式错误",
    ),
    (errors.ExpectationFailed, 417, "不支持该 Expect 请求头"),
    (errors.UnsupportedTransferCoding, 501, "不支持该传输编码(Transfer-Encoding)"),
    ((errors.InvalidProxyLine, errors.InvalidSchemeHeaders, errors.InvalidH2CPreface), 400, "请求无效"),
    ((errors.ForbiddenProxyRequest, ssl.SSLError), 403, "拒绝访问"),
    (errors.ConfigurationProblem, 500, SERVER_ERROR_MSG),
)


class EnvelopeSyncWorker(SyncWorker):
    """The sync worker; what gunicorn refuses before Django sees it is answered like the API answers.

    gunicorn refuses a request it cannot accept on its own: a request line longer than
    `limit_request_line` (414), more headers than `limit_request_fields` or one longer than
    `limit_request_field_size` (431), a malformed request line, method, version or header (400),
    and a few rarer cases. Its Worker.handle_error picks the status, logs, and writes a small HTML
    page (util.write_error) in one method, with no hook for the page alone; so this class replaces
    that method: the same statuses and log lines as gunicorn's, and instead of the page the JSON
    envelope `{"code": <status>, "msg": <Chinese text>, "data": null}` with the status as HTTP
    status. A failure that is not the client's (the application sent a header gunicorn cannot
    send) is a 500 in the envelope, logged with its traceback as gunicorn logs it.
    """

    def handle_error(
        self, req: Request | None, client: socket.socket, addr: tuple[str, int] | None, exc: BaseException
    ) -> None:
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket's peer has no address
        refusal = _refusal(exc, self.cfg)
        if refusal is None:
            target = "(no URI read)" if req is None else f"{req.method} {req.uri}"
            self.log.exception("Error handling request %s", target)
            status, msg = 500, SERVER_ERROR_MSG
        else:
            status, msg = refusal
            self.log.warning("Invalid request from ip=%s: %s", addr[0], _loggable(exc))
            if req is None and isinstance(exc, errors.InvalidHeader):
                req = exc.req  # a repeated Host or Content-Length: the request line was read

        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ.update(REMOTE_ADDR=addr[0], REMOTE_PORT=str(addr[1]), PATH_INFO=util.unquote_to_wsgi_str(req.path))
            response = Response(req, client, self.cfg)
            response.status = f"{status} {HTTPStatus(status).phrase}"
            self.log.access(response, req, environ, datetime.now() - started)

        try:
            util.write_nonblock(client, _envelope(status, msg))
        except Exception:
            self.log.debug("Failed to send error message.")


def _refusal(exc: BaseException, cfg: Config) -> tuple[int, str] | None:
    """The status and `msg` of a request gunicorn refuses, or None for a failure that is not the client's."""
    if isinstance(exc, (errors.InvalidResponseHeader, errors.InvalidResponseHeaderName)):
        return None
    for kinds, status, msg in _REFUSALS:
        if isinstance(exc, kinds):
            return status, msg.format(cfg=cfg)
    return None


def _loggable(exc: BaseException) -> str:
    """gunicorn's text for a refusal, withholding an invalid version's.

    The "version" gunicorn quotes is everything after the request line's second space: with an
    unencoded space in a query string, the rest of the query (search terms, phone numbers), with
    no `?` left in it for the logger to cut at.
    """
    if isinstance(exc, errors.InvalidHTTPVersion):
        return "Invalid HTTP Version (withheld)"
    return str(exc)


def _envelope(status: int, msg: str) -> bytes:
    body = json.dumps({"code": status, "msg": msg, "data": None}, ensure_ascii=False, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body
