"""Hostile files sent to the import over HTTP, against gunicorn as deployed: refused with a 400 (or a 413
past the body limit), nothing written, no worker lost and nothing in the error log."""

from __future__ import annotations

import http.client
import json
import uuid

import pytest
from import_support import PNG, billion_laughs, cell_flood, csv_bytes, encrypted_xlsx, style_flood, xlsx, zip_bomb
from served import Gunicorn, Reply, login, manage, prepare_database, served, service_env, suite_database

pytestmark = pytest.mark.slow

MAX_BYTES = 2 * 1024 * 1024
MAX_UNCOMPRESSED = 8 * 1024 * 1024
OVERHEAD = 64 * 1024
TOO_COMPLEX = "xlsx 文件的结构超出导入的上限(元素过多或嵌套过深),已拒绝"


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> tuple[Gunicorn, dict[str, str]]:
    tmp_path = tmp_path_factory.mktemp("import_served")
    with suite_database(tmp_path, "imports") as url:
        env = service_env(
            url,
            tmp_path,
            IMPORT_MAX_BYTES=str(MAX_BYTES),
            IMPORT_MAX_UNCOMPRESSED_BYTES=str(MAX_UNCOMPRESSED),
            LOGIN_RATE_PER_ADDRESS="10000/min",
        )
        prepare_database(env, contacts=20)
        manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth.models import Permission, User\n"
            "User.objects.get(username='served').user_permissions.add("
            "Permission.objects.get(content_type__app_label='contacts', codename='view_all_contacts'))\n",
        )
        with served(env, tmp_path / "logs") as gunicorn:
            yield gunicorn, env


def post_file(port: int, token: str, content: bytes, filename: str = "contacts.xlsx", **fields: str) -> Reply:
    """A multipart POST of `content` as the field `file` (and `fields`) to the import."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    body = b"".join(parts)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", "/api/contacts/import", body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def stored(env: dict[str, str]) -> str:
    """Every contact's id, name and account, and the tallies: what an import could have touched."""
    return manage(
        env,
        "shell",
        "-c",
        "from contacts.models import Contact, ContactTally\n"
        "print(list(Contact.objects.order_by('id').values_list('id', 'name', 'account_id', 'updated_at')))\n"
        "print(sorted(ContactTally.objects.values_list('account_id', 'reply_status', 'wechat_exchanged', 'total')))\n",
    )


def refused(msg: str) -> dict:
    return {"code": 400, "msg": f"file: {msg}", "data": {"file": [msg]}}


HOSTILE = [
    ("zip bomb", lambda: zip_bomb(MAX_UNCOMPRESSED + 1), f"xlsx 文件解压后超过 {MAX_UNCOMPRESSED} 字节,已拒绝"),
    ("entities in the sheet", lambda: billion_laughs("sheet"), "xlsx 文件含有 XML 实体或文档类型声明,已拒绝"),
    ("entities in the strings", lambda: billion_laughs("strings"), "xlsx 文件含有 XML 实体或文档类型声明,已拒绝"),
    ("entities in the workbook", lambda: billion_laughs("workbook"), "xlsx 文件含有 XML 实体或文档类型声明,已拒绝"),
    ("a row of 1,500,000 cells", lambda: cell_flood(1_500_000), TOO_COMPLEX),
    ("300,000 cell formats", lambda: style_flood(300_000), TOO_COMPLEX),
    ("not a spreadsheet", lambda: PNG, "不是 xlsx 或 csv 文件"),
    (
        "password protected",
        encrypted_xlsx,
        "文件受密码保护(或是旧版 xls):请在 Excel 中取消密码并另存为 xlsx 或 csv 后再导入",
    ),
    ("over IMPORT_MAX_BYTES", lambda: PNG + bytes(MAX_BYTES), f"文件超过 {MAX_BYTES} 字节"),
]


def test_hostile_files_are_refused_over_http_and_write_nothing(service):
    """Each hostile file is a 400 naming the problem, for the real import and its dry run alike; the
    database is as it was, and the error log holds no traceback."""
    server, env = service
    token = login(server.port)
    before = stored(env)
    for kind, make, msg in HOSTILE:
        content = make()
        for fields in ({}, {"dry_run": "true"}):
            reply = post_file(server.port, token, content, **fields)
            assert (reply.status, reply.json()) == (400, refused(msg)), (kind, fields)
    assert stored(env) == before
    assert "Traceback" not in server.error_log.read_text()


def test_a_body_past_import_max_bytes_and_the_overhead_is_a_413(service):
    """The body limit lets an import's file through beyond REQUEST_BODY_MAX_BYTES (1 MiB), up to
    IMPORT_MAX_BYTES and the multipart overhead, and no further."""
    server, _ = service
    token = login(server.port)
    limit = MAX_BYTES + OVERHEAD
    reply = post_file(server.port, token, PNG + bytes(1536 * 1024))
    assert (reply.status, reply.json()) == (400, refused("不是 xlsx 或 csv 文件"))
    reply = post_file(server.port, token, bytes(limit))
    assert (reply.status, json.loads(reply.body)) == (
        413,
        {"code": 413, "msg": f"请求体过大,最多 {limit} 字节", "data": None},
    )


def test_unknown_headers_missing_and_repeated_ids_are_400s_over_http(service):
    """The row-level refusals of the issue's list answer the report with nothing written."""
    server, env = service
    token = login(server.port)
    before = stored(env)
    reply = post_file(server.port, token, csv_bytes([["姓名", "电话"], ["张三", "1"]]), "a.csv")
    assert (reply.status, reply.json()["data"]["errors"]) == (
        400,
        [{"row": 1, "column": "电话", "msg": "未知的列(列名应与导出文件一致)"}],
    )
    reply = post_file(server.port, token, xlsx([["ID", "姓名"], [1, "甲"], [1, "乙"], [10**9, "丙"]]))
    assert (reply.status, reply.json()["data"]["errors"]) == (
        400,
        [
            {"row": 3, "column": "ID", "msg": "ID 重复:第 2 行已有这个 ID"},
            {"row": 4, "column": "ID", "msg": "ID 不存在"},
        ],
    )
    assert stored(env) == before


def test_a_good_file_imports_over_http(service):
    """The same service imports a real file: 200 and the report."""
    server, env = service
    token = login(server.port)
    reply = post_file(server.port, token, xlsx([["姓名", "账号 ID", "联系方式"], ["served", 3, 13800138000]]))
    assert (reply.status, reply.json()) == (
        200,
        {
            "code": 200,
            "msg": "success",
            "data": {"created": 1, "updated": 0, "unchanged": 0, "error_count": 0, "errors": []},
        },
    )
    out = manage(
        env, "shell", "-c", "from contacts.models import Contact\nprint(Contact.objects.get(name='served').contact)"
    )
    assert out.splitlines()[-1] == "13800138000"
