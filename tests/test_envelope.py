"""Every answer under /api/ is the {code, msg, data} envelope with the HTTP status equal to code."""

import json
import logging

import pytest
from django.db import DatabaseError, OperationalError
from django.db.backends.utils import CursorWrapper
from factories import make_contact

from boss_dp.log import ValuelessTracebackFormatter
from contacts.api.views import ContactViewSet

pytestmark = pytest.mark.django_db

NOT_FOUND = {"code": 404, "msg": "接口不存在", "data": None}
SERVER_FAILED = {"code": 500, "msg": "服务器内部错误", "data": None}


def assert_json(response) -> None:
    assert response["Content-Type"] == "application/json"
    assert b"<html" not in response.content.lower()


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize(
    "path", ["/api/", "/api/nope", "/api/contacts/abc", "/api/contacts/1/extra", "/api/auth/", "/api/v2/contacts"]
)
def test_an_unknown_api_path_is_a_404_envelope_not_an_html_page(api, settings, debug, path):
    """Django's 404 page, plain or technical, never shows under /api/."""
    settings.DEBUG = debug
    response = api.get(path)
    assert response.status_code == 404
    assert_json(response)
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_bare_api_prefix_is_a_404_envelope_not_a_slash_redirect(api, settings, debug, method):
    """`/api` is answered like any unknown API path, not redirected (nor, for a POST, failed) by APPEND_SLASH."""
    settings.DEBUG = debug
    response = getattr(api, method)("/api")
    assert response.status_code == 404
    assert_json(response)
    assert response.json() == NOT_FOUND


def test_an_unknown_api_path_is_a_404_envelope_for_any_method(api):
    """A POST to nowhere is answered like a GET to nowhere."""
    response = api.post("/api/nope", {"a": 1}, format="json")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_a_disallowed_host_is_a_400_envelope(api):
    """A request for a host name the service does not serve is refused in JSON, not Django's page."""
    response = api.get("/api/contacts", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert_json(response)
    assert response.json() == {"code": 400, "msg": "请求无效", "data": None}


def test_a_missing_contact_is_a_404_envelope(api):
    """An id that names no contact is a 404 in the envelope."""
    response = api.get("/api/contacts/424242")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "msg": "未找到。", "data": None}


@pytest.mark.parametrize("client_name", ["anon", "api", "admin_api"])
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/contacts/{id}", "GET, PATCH, HEAD, OPTIONS"),
        ("put", "/api/contacts/{id}", "GET, PATCH, HEAD, OPTIONS"),
        ("delete", "/api/contacts", "GET, POST, HEAD, OPTIONS"),
        ("put", "/api/contacts", "GET, POST, HEAD, OPTIONS"),
    ],
)
def test_an_unsupported_method_is_a_405_envelope(request, client_name, method, path, allowed):
    """DELETE and PUT do not exist: 405 for anyone, whatever their permissions, with the methods that do."""
    client = request.getfixturevalue(client_name)
    contact = make_contact()
    response = getattr(client, method)(path.format(id=contact.pk), {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"code": 405, "msg": f"方法 “{method.upper()}” 不被允许。", "data": None}
    assert response["Allow"] == allowed


@pytest.mark.parametrize(("method", "path"), [("get", "/api/auth/token"), ("post", "/api/health")])
def test_an_unsupported_method_on_the_open_endpoints_is_a_405_envelope(anon, method, path):
    """The login and health endpoints answer a wrong method with 405 too."""
    response = getattr(anon, method)(path)
    assert response.status_code == 405
    assert response.json() == {"code": 405, "msg": f"方法 “{method.upper()}” 不被允许。", "data": None}


def test_asking_only_for_html_is_a_406_envelope(api):
    """The API speaks JSON only; a client that accepts nothing else is told so in JSON."""
    response = api.get("/api/contacts", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert_json(response)
    assert response.json() == {"code": 406, "msg": "无法满足Accept HTTP头的请求。", "data": None}


def test_an_unsupported_body_type_is_a_415_envelope(admin_api):
    """A body the API cannot parse by its type is refused in JSON, naming the type."""
    response = admin_api.post("/api/contacts", "name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json() == {"code": 415, "msg": "不支持请求中的媒体类型 “text/plain”。", "data": None}


@pytest.mark.parametrize("sent", [1, "张三", True, None], ids=["number", "text", "boolean", "null"])
def test_a_body_that_is_not_an_object_is_a_400_envelope(admin_api, sent):
    """A JSON value where a contact object (or a list of them) belongs is a 400, not a 500."""
    response = admin_api.post("/api/contacts", json.dumps(sent), content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["data"])) == (400, ["non_field_errors"])
    assert body["msg"] == body["data"]["non_field_errors"][0]


def test_a_list_of_non_objects_is_a_400_naming_each_item(admin_api):
    """A JSON list is a bulk create: items that are not contact objects are refused by their index."""
    response = admin_api.post("/api/contacts", [1, 2], format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["data"])) == (400, ["0", "1"])
    assert [list(errors) for errors in body["data"].values()] == [["non_field_errors"], ["non_field_errors"]]


@pytest.mark.parametrize("fmt", ["api", "json", "html", "xml"])
def test_the_format_parameter_is_ignored(api, fmt):
    """`?format=` selects nothing: no browsable API, the JSON envelope as usual."""
    make_contact()
    response = api.get(f"/api/contacts?format={fmt}")
    assert response.status_code == 200
    assert_json(response)
    body = response.json()
    assert (body["code"], body["msg"], body["data"]["total"]) == (200, "success", 1)


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_an_unexpected_exception_is_a_500_envelope_with_the_traceback_only_in_the_log(
    api, monkeypatch, caplog, settings, debug
):
    """The client learns only that the server failed; the log gets the failing frames but not the message."""
    settings.DEBUG = debug

    def explode(self):
        raise RuntimeError("secret detail 13800138000")

    monkeypatch.setattr(ContactViewSet, "get_queryset", explode)
    with caplog.at_level(logging.ERROR):
        response = api.get("/api/contacts?search=13800138000")
    assert response.status_code == 500
    assert_json(response)
    assert response.json() == SERVER_FAILED
    assert b"Traceback" not in response.content
    assert b"secret detail" not in response.content
    [record] = [record for record in caplog.records if record.exc_info]
    logged = ValuelessTracebackFormatter().format(record)
    assert "unhandled RuntimeError" in logged
    assert 'raise RuntimeError("secret detail 13800138000")' in logged  # the failing line of code
    assert "builtins.RuntimeError (message withheld)" in logged
    assert "secret detail 13800138000\n" not in logged and not logged.endswith("13800138000")


def test_a_database_error_is_a_500_envelope(api, monkeypatch, caplog):
    """A failing query that is not a lost connection is a server failure, logged without the values it quotes."""

    phone = "138" + "00138000"
    message = f"duplicate key value (contact)=({phone}) already exists"

    def fail(*args, **kwargs):
        raise DatabaseError(message)

    monkeypatch.setattr(CursorWrapper, "execute", fail)
    with caplog.at_level(logging.ERROR):
        response = api.get("/api/contacts")
    monkeypatch.undo()
    assert response.status_code == 500
    assert response.json() == SERVER_FAILED
    [record] = [record for record in caplog.records if record.exc_info]
    logged = ValuelessTracebackFormatter().format(record)
    assert "unhandled DatabaseError" in logged
    assert "django.db.utils.DatabaseError (message withheld)" in logged
    assert "13800138000" not in logged


def test_the_console_log_uses_the_formatter_that_withholds_messages(settings):
    """Every log line the service writes goes through the formatter that keeps messages out."""
    assert settings.LOGGING["formatters"]["plain"]["()"] == "boss_dp.log.ValuelessTracebackFormatter"
    assert {handler["formatter"] for handler in settings.LOGGING["handlers"].values()} == {"plain"}


def test_an_unreachable_database_is_a_503_envelope(api, monkeypatch):
    """A lost database connection is a temporary unavailability: 503, try again later."""

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", refuse)
    response = api.get("/api/contacts")
    monkeypatch.undo()
    assert response.status_code == 503
    assert response.json() == {"code": 503, "msg": "数据库暂时不可用,请稍后重试", "data": None}


def test_an_unreachable_redis_cache_is_a_503_envelope(anon, settings, db):
    """Login counts live in the cache: with Redis down, login is temporarily unavailable, not a 500."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    response = anon.post("/api/auth/token", {"username": "someone", "password": "x"}, format="json")
    assert response.status_code == 503
    assert response.json() == {"code": 503, "msg": "服务暂时不可用,请稍后重试", "data": None}


def test_a_400_names_each_parameter_and_its_problem(api):
    """msg says which parameters are wrong and why; data holds the errors per field."""
    response = api.get("/api/contacts?reply_status=maybe&wechat_exchanged=perhaps")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "msg": "reply_status: 只能是 未回复 或 已回复; wechat_exchanged: 只能是 true 或 false(也可用 1 或 0)",
        "data": {
            "reply_status": ["只能是 未回复 或 已回复"],
            "wechat_exchanged": ["只能是 true 或 false(也可用 1 或 0)"],
        },
    }


def test_a_400_from_the_body_names_each_field_and_its_problem(api, admin_api):
    """A bad body is reported like bad parameters: field and problem in msg, the errors in data."""
    response = admin_api.post("/api/contacts", {"name": "", "account_id": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "msg": "name: 该字段不能为空。; account_id: 请填写合法的整数值。",
        "data": {"name": ["该字段不能为空。"], "account_id": ["请填写合法的整数值。"]},
    }


def test_a_success_is_wrapped_in_the_envelope(api):
    """A 200 carries code 200, msg success and the payload in data."""
    contact = make_contact()
    response = api.get(f"/api/contacts/{contact.pk}")
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["msg"], body["data"]["id"]) == (200, "success", contact.pk)


BODY_ENDPOINTS = [
    ("post", "/api/auth/token"),
    ("post", "/api/auth/token/refresh"),
    ("post", "/api/auth/logout"),
    ("post", "/api/contacts"),
    ("patch", "/api/contacts/{id}"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
@pytest.mark.parametrize("depth", [33, 100_000])
def test_json_nested_past_the_limit_is_a_400_envelope_and_logs_nothing(admin_api, method, path, depth, caplog):
    """Nesting beyond 32 levels, or deep enough to exhaust Python's recursion, is refused before any view."""
    path = path.format(id=make_contact().pk)
    body = "[" * depth + "]" * depth
    with caplog.at_level(logging.INFO):
        response = getattr(admin_api, method)(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "msg": "JSON parse error - 嵌套超过 32 层", "data": None}
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []


def test_json_nested_to_the_limit_reaches_the_view(admin_api):
    """32 levels parse; the view then refuses the value as a field error, not as a parse error."""
    nested: object = "x"
    for _ in range(31):
        nested = [nested]
    response = admin_api.post("/api/contacts", {"name": nested, "account_id": 1}, format="json")
    assert response.status_code == 400
    assert list(response.json()["data"]) == ["name"]


@pytest.mark.parametrize(("method", "path"), [*BODY_ENDPOINTS, ("post", "/admin/login/")])
def test_a_body_over_the_limit_is_a_413_before_it_is_read(admin_api, settings, method, path):
    """REQUEST_BODY_MAX_BYTES bounds every body: the API answers a 413 envelope, other pages plain text."""
    settings.REQUEST_BODY_MAX_BYTES = 1000
    path = path.format(id=make_contact().pk)
    body = '{"notes": "' + "x" * 1000 + '"}'
    response = getattr(admin_api, method)(path, body, content_type="application/json")
    assert response.status_code == 413
    if path.startswith("/api/"):
        assert response.json() == {"code": 413, "msg": "请求体过大,最多 1000 字节", "data": None}
    else:
        assert response.content.decode() == "请求体过大,最多 1000 字节"
    assert getattr(admin_api, method)(path, body[:900] + '"}', content_type="application/json").status_code != 413


def test_the_default_body_limit_is_one_mebibyte():
    """The documented default."""
    from django.conf import settings

    assert settings.REQUEST_BODY_MAX_BYTES == settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024


@pytest.mark.parametrize(
    "path", ["/api/contacts", "/api/contacts/1", "/api/nope", "/api/health", "/api/schema", "/api/docs"]
)
def test_api_answers_are_not_stored_by_any_cache(api, path):
    """Answers, errors included, hold personal data: Cache-Control: no-store on every one of them."""
    make_contact()
    response = api.get(path)
    assert response["Cache-Control"] == "no-store"


def test_pages_outside_the_api_keep_their_own_caching(client):
    """The admin's login page is not an API answer; Django's own headers stand."""
    response = client.get("/admin/login/")
    assert response["Cache-Control"] != "no-store"
