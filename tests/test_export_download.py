"""The signed download link: opens without login, refuses bad or expired signatures, serves nothing else."""

import io
import os
import time
from urllib.parse import parse_qs, quote, urlsplit

import openpyxl
import pytest
from django.core import signing
from django.test import Client
from export_support import data_rows, exports_folder, workbook
from factories import client_for, make_user
from served import call, login, prepare_database, served, service_env, suite_database

from contacts.api.serializers import export_download_path
from contacts.models import Contact

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_FOUND = {"code": 404, "msg": "文件不存在或已被清理", "data": None}
MISSING = {"code": 403, "msg": "缺少下载签名,请使用导出接口返回的 download_url", "data": None}
INVALID = {"code": 403, "msg": "下载链接无效", "data": None}
EXPIRED = {"code": 403, "msg": "下载链接已过期,请重新导出", "data": None}
UNUSED_NAME = "contacts_export_20240304_153045_a1b2c3d4.xlsx"


@pytest.fixture
def exported(db) -> dict:
    """One finished export of three contacts: the API's `data`."""
    for name in ("张三", "李四", "王五"):
        Contact.objects.create(name=name, account_id=1)
    exporter = make_user("exporter", "contacts.view_contact", "contacts.export_contact", "contacts.view_all_contacts")
    response = client_for(exporter).get("/api/contacts/export")
    assert response.status_code == 200
    return response.json()["data"]


def link_of(data: dict) -> tuple[str, str]:
    """The path and the signature of a download_url."""
    parts = urlsplit(data["download_url"])
    return parts.path, parse_qs(parts.query)["signature"][0]


def test_the_link_opens_without_login_as_an_xlsx_attachment(exported):
    """No Authorization header: the file itself, with its type, name and length."""
    path, signature = link_of(exported)
    response = Client().get(path, {"signature": signature})
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == f'attachment; filename="{exported["filename"]}"'
    assert int(response["Content-Length"]) == len(body)
    assert response["Cache-Control"] == "private, no-store"
    assert body == (exports_folder() / exported["filename"]).read_bytes()
    assert len(data_rows(workbook(body)["联系记录"])) == 3


def test_the_link_can_be_opened_again_until_it_expires(exported):
    """A link is not single-use: opening it twice serves the file twice."""
    path, signature = link_of(exported)
    for _ in range(2):
        assert Client().get(path, {"signature": signature}).status_code == 200


def test_without_a_signature_the_answer_is_403(exported):
    """The bare file path is refused in the envelope, telling to use download_url."""
    path, _ = link_of(exported)
    for query in ({}, {"signature": ""}):
        response = Client().get(path, query)
        assert (response.status_code, response.json()) == (403, MISSING)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda signature: signature[:-1] + ("A" if signature[-1] != "A" else "B"),
        lambda signature: signature.split(".")[0] + ".",
        lambda signature: "9" + signature,
        lambda signature: "not-a-signature",
        lambda signature: signature.replace(".", ":"),
        lambda signature: signature + ".extra",
    ],
    ids=["last-char", "no-mac", "timestamp", "garbage", "separator", "suffix"],
)
def test_a_tampered_signature_is_refused(exported, tamper):
    """Any change to the signature gives 403 in the envelope and no file."""
    path, signature = link_of(exported)
    response = Client().get(path, {"signature": tamper(signature)})
    assert (response.status_code, response.json()) == (403, INVALID)


def test_a_signature_is_bound_to_its_file(exported):
    """The signature of one export does not open another."""
    other = exports_folder() / UNUSED_NAME
    other.write_bytes(b"another export")
    _, signature = link_of(exported)
    response = Client().get(f"/media/exports/{UNUSED_NAME}", {"signature": signature})
    assert (response.status_code, response.json()) == (403, INVALID)


def test_a_signature_from_another_signer_is_refused(exported):
    """A value signed with the site's key but another salt (another feature's token) is no link."""
    path, _ = link_of(exported)
    foreign = signing.TimestampSigner(sep=".").sign(exported["filename"])[len(exported["filename"]) + 1 :]
    response = Client().get(path, {"signature": foreign})
    assert (response.status_code, response.json()) == (403, INVALID)


def test_an_expired_link_says_it_expired(exported, settings, monkeypatch):
    """After EXPORT_LINK_TTL_SECONDS the link answers 403 with a message that it expired."""
    settings.EXPORT_LINK_TTL_SECONDS = 60
    path, signature = link_of(exported)
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now + 59)
    assert Client().get(path, {"signature": signature}).status_code == 200
    monkeypatch.setattr(signing.time, "time", lambda: now + 61)
    response = Client().get(path, {"signature": signature})
    assert (response.status_code, response.json()) == (403, EXPIRED)


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "%2e%2e",
        "..%2f..%2fboss_dp%2fsettings.py",
        "%2e%2e%2f%2e%2e%2fmanage.py",
        "%2fetc%2fpasswd",
        "/etc/passwd",
        "%00",
        f"{UNUSED_NAME}%00",
        f"{UNUSED_NAME}%00.txt",
        f"{UNUSED_NAME}%0a",
        f"sub/{UNUSED_NAME}",
        f"..%2fexports%2f{UNUSED_NAME}",
        "notes.txt",
        "contacts_export_20240304_153045_A1B2C3D4.xlsx",
        "contacts_export_20240304_153045_a1b2c3d4.xls",
        f".{UNUSED_NAME}.abcdefgh.tmp",
        "",
    ],
)
def test_names_that_are_not_exports_are_404_even_when_signed(db, name):
    """Traversal, encoded traversal, absolute paths, NUL and other names: 404, whatever the signature."""
    folder = exports_folder()
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("not an export")
    (folder / f".{UNUSED_NAME}.abcdefgh.tmp").write_bytes(b"scratch")
    (folder.parent / "secret.xlsx").write_bytes(b"outside the exports folder")
    decoded = name.replace("%2e", ".").replace("%2f", "/").replace("%00", "\x00").replace("%0a", "\n")
    signed = export_download_path(UNUSED_NAME).split("signature=")[1]
    for signature in (signed, "", "x"):
        response = Client().get(f"/media/exports/{name}?signature={signature}")
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    own_signature = export_download_path(decoded).split("signature=")[1]
    response = Client().get(f"/media/exports/{name}?signature={own_signature}")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_other_files_of_the_media_root_are_not_served(db):
    """Only exports are served: /media/<anything else> is an ordinary 404."""
    exports_folder().mkdir(parents=True)
    (exports_folder().parent / "secret.xlsx").write_bytes(b"private")
    assert Client().get("/media/secret.xlsx").status_code == 404


@pytest.mark.parametrize("target", ["export", "outside", "passwd"])
def test_a_symbolic_link_in_the_folder_is_never_served_or_followed(exported, tmp_path, target):
    """A link named like an export, signed, pointing at an export, outside, or at /etc/passwd: 404."""
    destinations = {
        "export": exports_folder() / exported["filename"],
        "outside": tmp_path / "outside.xlsx",
        "passwd": "/etc/passwd",
    }
    (tmp_path / "outside.xlsx").write_bytes(b"outside")
    os.symlink(destinations[target], exports_folder() / UNUSED_NAME)
    response = Client().get(export_download_path(UNUSED_NAME))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_folder_named_like_an_export_is_404(db):
    """Only regular files are served."""
    (exports_folder() / UNUSED_NAME).mkdir(parents=True)
    response = Client().get(export_download_path(UNUSED_NAME))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_purged_export_is_404_with_a_valid_link(exported):
    """Once the file is gone the still-valid link answers that it no longer exists."""
    path, signature = link_of(exported)
    (exports_folder() / exported["filename"]).unlink()
    response = Client().get(path, {"signature": signature})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_link_before_any_export_is_404(db):
    """No exports folder yet: a well-formed signed link is a 404, not a 500."""
    response = Client().get(export_download_path(UNUSED_NAME))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_head_is_answered_and_writes_are_not_allowed(exported):
    """HEAD gives the headers; POST to a link is refused with 405."""
    path, signature = link_of(exported)
    head = Client().head(path, {"signature": signature})
    assert (head.status_code, head["Content-Type"]) == (200, XLSX)
    assert Client().post(f"{path}?signature={quote(signature)}").status_code == 405


@pytest.mark.slow
def test_the_link_is_served_by_gunicorn_with_debug_off(tmp_path):
    """As deployed: export over HTTP, then open download_url with no Authorization header."""
    with suite_database(tmp_path, "export_download") as url:
        env = service_env(url, tmp_path, WEB_CONCURRENCY="2")
        prepare_database(env, contacts=25)
        with served(env, tmp_path / "logs") as server:
            token = login(server.port)
            reply = call(server.port, "GET", f"/api/contacts/export?reply_status={quote('已回复')}", token=token)
            assert reply.status == 200, reply.body
            data = reply.json()["data"]
            link = urlsplit(data["download_url"])
            assert link.netloc == f"127.0.0.1:{server.port}"
            assert link.scheme == "http"
            download = call(server.port, "GET", f"{link.path}?{link.query}")
            assert download.status == 200
            assert download.headers["content-type"] == XLSX
            assert download.headers["content-disposition"] == f'attachment; filename="{data["filename"]}"'
            sheet = openpyxl.load_workbook(io.BytesIO(download.body))["联系记录"]
            assert sheet.max_row - 1 == data["total_records"]
            refused = call(server.port, "GET", link.path)
            assert (refused.status, refused.json()) == (403, MISSING)
            traversal = call(server.port, "GET", "/media/exports/..%2f..%2fmanage.py")
            assert (traversal.status, traversal.json()) == (404, NOT_FOUND)
