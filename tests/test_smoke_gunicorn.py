"""The service over real HTTP: gunicorn with gunicorn.conf.py, two workers, debug off, a throwaway database.

Login, list and detail as a browser frontend would call them, an admin static file served by
whitenoise, and the login throttle holding across both workers because its counts live in the
shared database cache.
"""

import contextlib
import os
import re
import socket
import time
from pathlib import Path

import pytest
from served import Gunicorn, call, login, manage, prepare_database, served, service_env, suite_database

pytestmark = pytest.mark.slow

OVERLAY = """from boss_dp.settings import *  # noqa: F403

STATIC_ROOT = {static_root!r}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with two workers over 30 demo contacts; static files collected into a temporary folder.

    A settings module that only moves STATIC_ROOT keeps collectstatic out of the working tree, where
    other test runs may be collecting at the same time.
    """
    tmp_path = tmp_path_factory.mktemp("smoke")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "smoke_settings.py").write_text(OVERLAY.format(static_root=str(tmp_path / "static")))
    with suite_database(tmp_path, "smoke") as url:
        env = service_env(
            url,
            tmp_path,
            DJANGO_SETTINGS_MODULE="smoke_settings",
            PYTHONPATH=os.pathsep.join(filter(None, [str(overlay), os.environ.get("PYTHONPATH")])),
            WEB_CONCURRENCY="2",
            # The worker's pid in the access log tells which worker answered each request.
            GUNICORN_CMD_ARGS="--access-logformat '%(p)s %(m)s %(U)s %(s)s'",
        )
        prepare_database(env, contacts=30)
        manage(env, "collectstatic", "--noinput", "-v", "0")
        with served(env, tmp_path / "logs") as gunicorn:
            gunicorn.wait_for_workers(2)
            yield gunicorn


def test_login_list_and_detail_over_http(server):
    """A frontend logs in, lists a page, and opens one contact: all in the envelope, debug off."""
    token = login(server.port)
    listing = call(server.port, "GET", "/api/contacts?page=1&page_size=5", token=token)
    assert listing.status == 200
    assert listing.headers["content-type"] == "application/json"
    body = listing.json()
    assert (body["code"], body["msg"]) == (200, "success")
    assert (body["data"]["total"], body["data"]["page"], body["data"]["page_size"]) == (30, 1, 5)
    assert len(body["data"]["results"]) == 5
    first = body["data"]["results"][0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first["created_at"])
    detail = call(server.port, "GET", f"/api/contacts/{first['id']}/", token=token)
    assert detail.status == 200
    assert detail.json() == {"code": 200, "msg": "success", "data": first}


def test_errors_over_http_are_envelopes_not_pages(server):
    """With debug off, a missing token and an unknown path still answer JSON envelopes."""
    anonymous = call(server.port, "GET", "/api/contacts")
    assert (anonymous.status, anonymous.json()) == (401, {"code": 401, "msg": "身份认证信息未提供。", "data": None})
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
    unknown = call(server.port, "GET", "/api/no/such/thing")
    assert (unknown.status, unknown.json()) == (404, {"code": 404, "msg": "接口不存在", "data": None})


def test_admin_static_files_are_served_by_whitenoise(server):
    """The admin login page links hashed static files, and gunicorn serves them, cacheable for ever."""
    page = call(server.port, "GET", "/admin/login/")
    assert page.status == 200
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.body.decode())
    assert stylesheet, "the admin page must link the hashed stylesheet from the manifest"
    css = call(server.port, "GET", stylesheet.group(1))
    assert css.status == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers["cache-control"]
    assert b"body" in css.body
    assert call(server.port, "GET", "/static/admin/css/base.css").status == 200


def _hold_a_worker(port: int) -> socket.socket:
    """A connection whose request never ends, keeping the sync worker that accepts it busy."""
    held = socket.create_connection(("127.0.0.1", port), timeout=30)
    held.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return held


def _release(held: socket.socket) -> None:
    """Finish the held request and read its answer, which frees its worker."""
    held.sendall(b"Connection: close\r\n\r\n")
    with contextlib.suppress(OSError):
        while held.recv(65536):
            pass
    held.close()


def _wrong_login(server: Gunicorn, n: int):
    return call(server.port, "POST", "/api/auth/token", payload={"username": f"guess-{n}", "password": "wrong"})


def _login_workers(log: Path) -> list[str]:
    """The worker pid of each login answer, in order."""
    return re.findall(r"^<(\d+)> POST /api/auth/token \d+$", log.read_text(), flags=re.MULTILINE)


def test_the_login_throttle_holds_across_both_workers(server):
    """Attempts served by two different workers add up: the 11th login from one address is a 429.

    Each worker is kept busy in turn with an unfinished request, so that five attempts are
    answered by one worker and the rest by the other; a per-worker count would allow 20.
    """
    # Logins of the other tests in this module came from the same address, within the same minute.
    before = already = len(_login_workers(server.access_log))
    assert already < 5
    first_busy = _hold_a_worker(server.port)
    second_busy = None
    try:
        assert call(server.port, "GET", "/api/health").status == 200  # answered by the other worker
        answers = [_wrong_login(server, n) for n in range(5)]
        second_busy = _hold_a_worker(server.port)
        time.sleep(0.5)
        _release(first_busy)
        answers += [_wrong_login(server, n) for n in range(5, 10 - already)]
        throttled = _wrong_login(server, 99)
        right_password_too = call(
            server.port, "POST", "/api/auth/token", payload={"username": "served", "password": "whatever"}
        )
    finally:
        for held in (first_busy, second_busy):
            if held is not None:
                with contextlib.suppress(OSError):
                    _release(held)
    assert [answer.status for answer in answers] == [401] * (10 - already)
    assert throttled.status == 429
    wait = int(throttled.headers["retry-after"])
    assert 1 <= wait <= 60
    assert throttled.json() == {"code": 429, "msg": f"请求已被限流。 预计 {wait} 秒后可用。", "data": None}
    assert right_password_too.status == 429
    time.sleep(0.5)
    workers = _login_workers(server.access_log)[before:]
    assert len(workers) == 12 - already
    assert len(set(workers[:5])) == 1
    assert len(set(workers[5:])) == 1
    assert set(workers[:5]) != set(workers[5:]), "both workers must have answered logins"
