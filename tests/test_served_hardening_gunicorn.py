"""Issue 9 against the served gunicorn, as an attacker meets it: raw requests over a socket.

gunicorn answers what it refuses itself in the envelope; it trusts no forwarded header, so only
Django's settings let a proxy set the scheme and host of a download link; no log line can be forged
with control characters; and no query string reaches a log.
"""

import contextlib
import http.client
import json
import os
import socket
import ssl
import types
import unicodedata
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import pytest
from gunicorn.config import Config
from gunicorn.http import errors
from gunicorn.workers.base import Worker
from served import PASSWORD, Reply, prepare_database, served, service_env, suite_database

from boss_dp.gunicorn_worker import EnvelopeSyncWorker

pytestmark = pytest.mark.slow

PHONE = "13800138000"
NAME = "张伟"
CHINESE = "产品经理"  # text that is no personal data
UNSAFE_CATEGORIES = {"Cc", "Zl", "Zp", "Cf"}

# The served app with one middleware more: a request carrying `X-Log-The-Path` has its decoded path
# logged through the service's logging (settings.LOGGING), as any code of the service that logged a
# path would. The service itself logs no text a client chose.
OVERLAY_SETTINGS = """from boss_dp.settings import *  # noqa: F403

MIDDLEWARE = [*MIDDLEWARE, "path_logging.log_the_path"]  # noqa: F405
"""
OVERLAY_MIDDLEWARE = """import logging


def log_the_path(get_response):
    def middleware(request):
        if "HTTP_X_LOG_THE_PATH" in request.META:
            logging.getLogger("contacts.api").warning("requested %s", request.path)
        return get_response(request)

    return middleware
"""


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("hardening")
    with suite_database(tmp_path, "hardening") as url:
        env = service_env(url, tmp_path)
        prepare_database(env, contacts=3)
        yield env, tmp_path


@pytest.fixture(scope="module")
def server(database):
    """The service with DJANGO_HTTPS=0 (no proxy in front), and the path-logging middleware."""
    env, tmp_path = database
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "hardening_settings.py").write_text(OVERLAY_SETTINGS)
    (overlay / "path_logging.py").write_text(OVERLAY_MIDDLEWARE)
    env = {
        **env,
        "DJANGO_HTTPS": "0",
        "DJANGO_SETTINGS_MODULE": "hardening_settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(overlay), os.environ.get("PYTHONPATH")])),
        "WEB_CONCURRENCY": "2",
    }
    with served(env, tmp_path / "logs") as gunicorn:
        yield gunicorn


@pytest.fixture(scope="module")
def https_server(database):
    """The service behind a TLS proxy as deployed: DJANGO_HTTPS=1, the proxy's host allowed."""
    env, tmp_path = database
    env = {
        **env,
        "DJANGO_HTTPS": "1",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,contacts.example.com",
        "WEB_CONCURRENCY": "1",
    }
    with served(env, tmp_path / "https-logs") as gunicorn:
        yield gunicorn


def exchange(port: int, request: bytes) -> Reply:
    """Send `request` as it is on a new connection and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return Reply(int(status_line.split(" ")[1]), {k.lower(): v for k, v in headers.items()}, body)


def get(port: int, path: str, headers: dict[str, str]) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def login(port: int, headers: dict[str, str]) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = json.dumps({"username": "served", "password": PASSWORD})
        connection.request("POST", "/api/auth/token", body, {**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return json.loads(response.read())["data"]["access"]
    finally:
        connection.close()


def lines_since(log: Path, mark: int) -> list[str]:
    """The lines written to `log` after it was `mark` bytes long, split at newlines only.

    gunicorn writes a request's log lines before it closes the connection, so they are there once
    `exchange` returns.
    """
    return log.read_bytes()[mark:].decode("utf-8").split("\n")[:-1]


def unsafe_characters(log: Path) -> list[str]:
    """Every character of the log that could break or disguise a line, but the newlines ending its lines."""
    text = log.read_text(encoding="utf-8")
    return [char for char in text if unicodedata.category(char) in UNSAFE_CATEGORIES and char != "\n"]


# 7. gunicorn's own refusals ---------------------------------------------------------------------

REFUSALS = {
    "request line over 4094 bytes": (
        f"GET /api/contacts?search={PHONE}&page={'1' * 5000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        414,
        "请求行(方法、路径与查询参数)过长,不能超过 4094 字节,请减少查询参数",
    ),
    "header over 8190 bytes": (
        f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {'c' * 9000}\r\n\r\n",
        431,
        "请求头过大:最多 100 个,每个不能超过 8190 字节",
    ),
    "more than 100 headers": (
        "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"X-H{n}: v\r\n" for n in range(101)) + "\r\n",
        431,
        "请求头过大:最多 100 个,每个不能超过 8190 字节",
    ),
    "unencoded Chinese in the query": (
        f"GET /api/contacts?search={NAME} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        400,
        "请求行格式错误:路径与查询参数须为 URL 编码的 ASCII 字符",
    ),
    "unencoded space in the query": (
        f"GET /api/contacts?search={NAME.encode().hex()} {PHONE} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        400,
        "请求行格式错误:HTTP 版本无效(路径或查询参数中的空格须编码为 %20)",
    ),
    "invalid method": ("G(T /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "HTTP 方法无效"),
    "header without a colon": ("GET /api/health HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", 400, "请求头格式错误"),
    "two Host headers": ("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: a\r\n\r\n", 400, "请求头格式错误"),
    "unknown transfer coding": (
        "POST /api/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: zip\r\n\r\n",
        501,
        "不支持该传输编码(Transfer-Encoding)",
    ),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_requests_gunicorn_refuses_are_answered_in_the_envelope(server, name):
    """A request gunicorn refuses before Django gets a JSON envelope with a Chinese msg, its code the HTTP status."""
    request, status, msg = REFUSALS[name]
    reply = exchange(server.port, request.encode())
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert reply.json() == {"code": status, "msg": msg, "data": None}


def gunicorns_answer(handle_error, exc: BaseException) -> bytes:
    """What a worker's handle_error writes for `exc`, with the default configuration."""
    written = bytearray()
    client = types.SimpleNamespace(gettimeout=lambda: 0.0, sendall=written.extend)
    worker = types.SimpleNamespace(cfg=Config(), log=mock.Mock())
    handle_error(worker, None, client, ("127.0.0.1", 5000), exc)
    return bytes(written)


def test_every_refusal_keeps_gunicorns_status():
    """For each error gunicorn can raise while reading a request, our worker answers gunicorn's status, enveloped.

    This guards an upgrade of gunicorn: a new error class is answered with the status gunicorn
    gives it, or the test names it.
    """
    kinds = [
        kind for kind in vars(errors).values() if isinstance(kind, type) and issubclass(kind, errors.ParseException)
    ]
    assert len(kinds) > 15
    for kind in [*kinds, ssl.SSLError]:
        theirs = gunicorns_answer(Worker.handle_error, kind("x"))
        ours = gunicorns_answer(EnvelopeSyncWorker.handle_error, kind("x"))
        status = int(theirs.split(b" ", 2)[1])
        head, _, body = ours.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()), kind
        assert b"\r\nContent-Type: application/json\r\n" in head
        envelope = json.loads(body)
        assert (envelope["code"], envelope["data"]) == (status, None), kind
        assert any("\u4e00" <= char <= "\u9fff" for char in envelope["msg"]), kind


# 9. forwarded headers ----------------------------------------------------------------------------

FORGED_PROXY_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Ssl": "on",
    "X-Forwarded-Protocol": "ssl",
    "SCRIPT_NAME": "/evil",
}


def test_without_a_proxy_forwarded_headers_do_not_change_the_download_link(server):
    """With DJANGO_HTTPS=0, headers claiming https, another host or a prefix leave the link as the client called it."""
    token = login(server.port, {})
    reply = get(server.port, "/api/contacts/export", {**FORGED_PROXY_HEADERS, "Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    data = reply.json()["data"]
    assert data["download_url"].startswith(f"http://127.0.0.1:{server.port}/media/exports/{data['filename']}?")
    assert data["total_records"] == 3


def test_behind_a_tls_proxy_its_headers_make_the_download_link_https(https_server):
    """With DJANGO_HTTPS=1, the proxy's X-Forwarded-Proto and -Host give the https link a browser can open."""
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "contacts.example.com"}
    token = login(https_server.port, proxy)
    reply = get(https_server.port, "/api/contacts/export", {**proxy, "Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    data = reply.json()["data"]
    assert data["download_url"].startswith(f"https://contacts.example.com/media/exports/{data['filename']}?")
    # Without the proxy's word the request is plain http, which DJANGO_HTTPS=1 redirects.
    assert get(https_server.port, "/api/contacts/export", {"Authorization": f"Bearer {token}"}).status == 301


# 10. one line per log message --------------------------------------------------------------------


def test_a_path_with_control_characters_leaves_one_escaped_access_log_line(server):
    """The attacker's path with an encoded newline and ESC is one access-log line, the characters escaped."""
    mark = server.access_log.stat().st_size
    reply = exchange(server.port, b"GET /media/exports/a%0aFORGED%1b[2J HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert reply.status == 404
    [line] = lines_since(server.access_log, mark)
    assert '"GET /media/exports/a\\nFORGED\\x1b[2J HTTP/1.1" 404 ' in line
    assert unsafe_characters(server.access_log) == []
    assert unsafe_characters(server.error_log) == []


def test_refused_requests_with_control_characters_leave_no_raw_control_character(server):
    """Request lines and headers gunicorn refuses for their control characters are logged escaped, one line each."""
    refused = [
        b"GET /a\x1b[2J\x85FORGED HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /a\xe2\x80\xa8\xe2\x80\xaeFORGED HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\nX-\x1b[2JFORGED: 1\r\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\x1b[2J\x85FORGED\r\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Value: \x1b[2J\x0bFORGED\r\n\r\n",
    ]
    mark = server.error_log.stat().st_size
    for request in refused:
        assert exchange(server.port, request).status == 400
    lines = lines_since(server.error_log, mark)
    assert len(lines) == len(refused)
    assert all(" [WARNING] Invalid request from ip=127.0.0.1: " in line for line in lines)
    assert unsafe_characters(server.error_log) == []
    assert unsafe_characters(server.access_log) == []


def test_a_django_log_line_of_a_hostile_path_stays_one_line(server):
    """A path logged through settings.LOGGING is one line: newline, ESC, separators and bidi escaped, Chinese kept."""
    path = "/api/contacts/x%0AFORGED%1B%5B2J%E2%80%A8%E2%80%AE" + quote(CHINESE)
    marks = server.error_log.stat().st_size, server.access_log.stat().st_size
    reply = exchange(server.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Log-The-Path: 1\r\n\r\n".encode())
    assert reply.status == 404
    escaped = f"/api/contacts/x\\nFORGED\\x1b[2J\\u2028\\u202e{CHINESE}"
    [django_line] = lines_since(server.error_log, marks[0])
    assert django_line.endswith(f" WARNING contacts.api requested {escaped}")
    [access_line] = lines_since(server.access_log, marks[1])
    assert f'"GET {escaped} HTTP/1.1" 404 ' in access_line
    assert unsafe_characters(server.error_log) == []
    assert unsafe_characters(server.access_log) == []


# 11. no query string in any log ------------------------------------------------------------------

# Request lines that hide a query string from a redaction that stops at a quote, a space or a tab,
# or that encode its `?`; some gunicorn accepts (Django answers), the others it refuses.
HOSTILE_REQUEST_LINES = [
    (f"GET /api/contacts'?search={PHONE} HTTP/1.1", 404),
    (f'GET /api/contacts"?search={PHONE} HTTP/1.1', 404),
    (f"GET /api/contacts%3Fsearch={PHONE} HTTP/1.1", 404),
    (f"GET /api/contacts%3fsearch%3D{PHONE}%20{quote(NAME)} HTTP/1.1", 404),
    (f"GET /media/exports/a%3Fsearch%3D{PHONE} HTTP/1.1", 404),
    (f"GET /media/exports/a%253Fsearch%253D{PHONE} HTTP/1.1", 404),
    (f"GET /api/contacts??search={PHONE}'' HTTP/1.1", 401),
    (f"GET /api/contacts'?search={PHONE}\x01 HTTP/1.1", 400),
    (f"GET /api/contacts?search='{PHONE}'\t HTTP/1.1", 400),
    (f'GET /api/contacts?search="{PHONE}"\t HTTP/1.1', 400),
    (f"GET /api/contacts?search='{PHONE[:3]} {PHONE[3:]}' HTTP/1.1", 400),
    (f"GET /api/contacts?search={PHONE[:3]}\t{PHONE[3:]} HTTP/1.1", 400),
    (f"GET\t/api/contacts?search={PHONE}\tHTTP/1.1", 400),
    (f"GET /api/contacts'%3Fsearch={PHONE}\x1b HTTP/1.1", 400),
    (f"GET /api/contacts?page=1?search={PHONE}?\x7f HTTP/1.1", 400),
    (f"GET /api/contacts?search={NAME}{PHONE} HTTP/1.1", 400),
    (f"GET /api/contacts?search={PHONE}&page=1{'0' * 5000} HTTP/1.1", 414),
]


def test_hostile_request_lines_leave_no_query_string_in_any_log(server):
    """However the query is hidden, neither log gets the phone number, the name or a query parameter."""
    for line, status in HOSTILE_REQUEST_LINES:
        reply = exchange(server.port, f"{line}\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert reply.status == status, line
        assert reply.json()["code"] == status
    # A refused header after a request line with a query: gunicorn had read the line, and logs the access.
    mark = server.access_log.stat().st_size
    request = f"GET /api/contacts?search={PHONE} HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: a\r\n\r\n"
    assert exchange(server.port, request.encode()).status == 400
    [line] = lines_since(server.access_log, mark)
    assert '"GET /api/contacts HTTP/1.1" 400 ' in line

    for log in (server.access_log, server.error_log):
        text = log.read_text(encoding="utf-8")
        for private in (PHONE, PHONE[3:], NAME, NAME.encode().decode("latin-1"), quote(NAME), "search"):
            assert private not in text, (log.name, private)
