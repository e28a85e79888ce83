"""Exports as CSV: the bytes of the file, the formula guard, the download, jobs, limits and failures."""

import csv
import datetime as dt
import io
import re
from urllib.parse import quote, urlsplit

import pytest
from celery import current_app
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone
from export_support import exports_folder, folder_names
from hypothesis import given
from hypothesis import strategies as st
from served import call, login, prepare_database, served, service_env, suite_database

from contacts.exports import services
from contacts.exports.columns import DEFAULT_COLUMNS, export_columns
from contacts.exports.csvfile import CSV_CONTENT_TYPE, contacts_csv_write, csv_text_guard
from contacts.exports.errors import ExportTooLarge
from contacts.exports.storage import FILENAME_RE
from contacts.imports.columns import cell_read
from contacts.models import Contact, ContactExport, ReplyStatus

EXPORT = "/api/contacts/export"
JOBS = "/api/contacts/exports"
CSV_NAME = re.compile(r"contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.csv")
HEADER = "ID,姓名,岗位,联系方式,回复状态,是否交换微信,Worker ID,备注,联系时间,创建时间\r\n"


def import_unguard(text: str) -> str:
    """A CSV text cell as the import reads it."""
    return cell_read("notes", text, from_csv=True)


def local(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text))


@pytest.fixture
def contacts(db) -> list[Contact]:
    """Commas, quotes and a newline in a note; formula-like text; an empty contact time; both flags."""
    return [
        Contact.objects.create(
            name="张三",
            position="产品经理",
            contact="13800138000",
            reply_status=ReplyStatus.REPLIED,
            wechat_exchanged=True,
            account_id=1,
            worker_id="worker-001",
            notes='薪资 20k,可谈 "面议"\n第二行',
            contacted_at=local("2024-03-01 10:15:30"),
            created_at=local("2024-03-01 09:15:30.250000"),
        ),
        Contact.objects.create(
            name="=1+1",
            position="",
            contact="+86 139 0000 1111",
            reply_status=ReplyStatus.PENDING,
            wechat_exchanged=False,
            account_id=2,
            worker_id="",
            notes="",
            contacted_at=None,
            created_at=local("2024-03-02 00:00:00"),
        ),
        Contact.objects.create(
            name="'@李四",
            position="-1",
            contact="'a",
            reply_status=ReplyStatus.PENDING,
            wechat_exchanged=False,
            account_id=3,
            worker_id="@worker",
            notes="\t制表符开头",
            contacted_at=local("2024-12-31 23:59:59"),
            created_at=local("2024-06-30 12:00:00"),
        ),
    ]


def export_csv(client, **params) -> tuple[dict, bytes]:
    response = client.get(EXPORT, {"format": "csv", **params})
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    return data, (exports_folder() / data["filename"]).read_bytes()


def download(data: dict):
    link = urlsplit(data["download_url"])
    return Client().get(f"{link.path}?{link.query}")


def test_the_csv_is_utf8_with_bom_crlf_rfc4180_quoting_and_the_workbooks_values(export_api, contacts):
    """Byte for byte: BOM, the workbook's headers, 是/否, local times, an empty contact time, quoted fields."""
    first, second, third = contacts
    data, body = export_csv(export_api, ordering="id")
    assert (
        body
        == (
            "\ufeff"
            + HEADER
            + f'{first.pk},张三,产品经理,13800138000,已回复,是,worker-001,"薪资 20k,可谈 ""面议""\n第二行",'
            "2024-03-01 10:15:30,2024-03-01 09:15:30\r\n"
            f"{second.pk},'=1+1,,'+86 139 0000 1111,未回复,否,,,,2024-03-02 00:00:00\r\n"
            f"{third.pk},''@李四,'-1,'a,未回复,否,'@worker,'\t制表符开头,2024-12-31 23:59:59,2024-06-30 12:00:00\r\n"
        ).encode()
    )
    assert CSV_NAME.fullmatch(data["filename"])
    assert data["total_records"] == 3


def test_the_csv_reads_back_through_the_csv_module_as_the_workbooks_cells(export_api, contacts):
    """Parsed as RFC 4180 and unguarded as the import does, every text is the stored one."""
    _, body = export_csv(export_api, ordering="id")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == [column.header for column in DEFAULT_COLUMNS]
    names = [import_unguard(row[1]) for row in rows[1:]]
    notes = [import_unguard(row[7]) for row in rows[1:]]
    assert names == [contact.name for contact in contacts]
    assert notes == [contact.notes for contact in contacts]


@pytest.mark.parametrize(
    ("text", "guarded"),
    [
        ("=x", "'=x"),
        ("'=x", "''=x"),
        ("''@y", "'''@y"),
        ("-1", "'-1"),
        ("+86 138", "'+86 138"),
        ("@张三", "'@张三"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'a", "'a"),
        ("''", "''"),
        ("a=b", "a=b"),
        ("张三", "张三"),
        ("", ""),
        ("＝1", "＝1"),
    ],
)
def test_the_formula_guard_adds_one_quote_exactly_where_the_rule_says(text, guarded):
    """`^'*[=+\\-@\\t\\r]` gains one leading quote; anything else is left as it is."""
    assert csv_text_guard(text) == guarded
    assert import_unguard(guarded) == text


@given(st.text(alphabet=st.sampled_from("'=+-@\t\rab张 "), max_size=8) | st.text(max_size=20))
def test_the_import_rule_undoes_the_guard_for_any_text(text):
    """Guarded then unguarded as the import does, every text comes back exactly, quotes included."""
    assert import_unguard(csv_text_guard(text)) == text


def test_the_download_is_text_csv_with_the_csv_file_name(export_api, contacts):
    """The signed link serves the file as text/csv; charset=utf-8, attachment named like the export."""
    data, body = export_csv(export_api)
    response = download(data)
    assert response.status_code == 200
    assert response["Content-Type"] == CSV_CONTENT_TYPE
    assert response["Content-Disposition"] == f'attachment; filename="{data["filename"]}"'
    assert b"".join(response.streaming_content) == body
    link = urlsplit(data["download_url"])
    head = Client().head(f"{link.path}?{link.query}")
    assert (head.status_code, head["Content-Type"]) == (200, CSV_CONTENT_TYPE)


def test_file_names_of_both_formats_are_export_names():
    """The storage's name pattern takes .xlsx and .csv, nothing else."""
    stem = "contacts_export_20240304_153045_a1b2c3d4"
    assert [bool(FILENAME_RE.fullmatch(f"{stem}.{ext}")) for ext in ("xlsx", "csv", "CSV", "tsv", "csv.tmp")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_a_csv_export_is_recorded_with_its_format(export_api, contacts):
    """The history row says csv, with the default columns (empty), the filters alone and the file's size."""
    data, body = export_csv(export_api, reply_status="未回复")
    record = ContactExport.objects.get()
    assert (record.file_format, record.columns, record.filename) == ("csv", [], data["filename"])
    assert record.filters == {"reply_status": "未回复", "ordering": "-created_at"}
    assert (record.status, record.row_count, record.size_bytes) == ("succeeded", 2, len(body))


def test_no_matching_rows_give_the_header_alone(export_api, contacts):
    """A CSV of nothing is the BOM and the header line."""
    _, body = export_csv(export_api, search="没有这个人")
    assert body == ("\ufeff" + HEADER).encode()


def test_the_row_limit_refuses_a_csv_like_a_workbook(export_api, contacts, settings):
    """More rows than EXPORT_MAX_ROWS: the same 400, a failed record and no file."""
    settings.EXPORT_MAX_ROWS = 2
    response = export_api.get(EXPORT, {"format": "csv"})
    assert response.json() == {
        "code": 400,
        "msg": "符合条件的记录有 3 条,超过单次导出上限 2 条,请缩小日期范围后重试",
        "data": None,
    }
    assert folder_names() == []
    assert ContactExport.objects.get().status == "failed"


def test_the_writer_stops_past_the_row_limit_mid_stream(settings):
    """Rows arriving beyond EXPORT_MAX_ROWS raise ExportTooLarge (rows added after the count)."""
    settings.EXPORT_MAX_ROWS = 1
    rows = [(1, "a"), (2, "b")]
    with pytest.raises(ExportTooLarge) as raised:
        contacts_csv_write(target=io.BytesIO(), rows=rows, columns=export_columns(["id", "name"]))
    assert (raised.value.rows, raised.value.limit) == (2, 1)


def test_a_database_error_half_way_leaves_no_csv_and_no_scratch(export_api, contacts, monkeypatch):
    """A cursor failing after a row: 500, a failed record, nothing left in the exports folder."""
    real_rows = services.contact_rows

    def failing_rows(queryset, **options):
        rows = real_rows(queryset, **options)
        yield next(rows)
        raise DatabaseError("connection lost")

    monkeypatch.setattr(services, "contact_rows", failing_rows)
    response = export_api.get(EXPORT, {"format": "csv"})
    assert response.json() == {"code": 500, "msg": "导出失败,请稍后重试", "data": None}
    assert folder_names() == []
    assert ContactExport.objects.get().error.startswith("DatabaseError")


@pytest.fixture
def sent(monkeypatch) -> list:
    messages: list = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: messages.append((name, args)))
    return messages


def test_a_csv_job_runs_to_success_and_downloads_as_csv(export_api, contacts, sent):
    """format and columns in the JSON body: the worker writes that CSV, the job shows them, the link serves it."""
    accepted = export_api.post(JOBS, {"format": "csv", "columns": "name,account_id", "ordering": "id"}, format="json")
    assert accepted.status_code == 202, accepted.content
    job_id = accepted.json()["data"]["id"]
    record = ContactExport.objects.get(pk=job_id)
    assert (record.file_format, record.columns, record.filters) == ("csv", ["name", "account_id"], {"ordering": "id"})
    services.export_job_run(export_id=job_id)
    done = export_api.get(f"{JOBS}/{job_id}").json()["data"]
    assert (done["status"], done["format"], done["columns"]) == ("succeeded", "csv", ["name", "account_id"])
    assert CSV_NAME.fullmatch(done["filename"])
    response = download(done)
    assert response["Content-Type"] == CSV_CONTENT_TYPE
    assert b"".join(response.streaming_content) == "\ufeff姓名,账号 ID\r\n张三,1\r\n'=1+1,2\r\n''@李四,3\r\n".encode()


def test_a_running_csv_job_cancelled_leaves_no_file(export_api, contacts, sent, monkeypatch):
    """Cancelled while it writes: recorded as cancelled, no file and no scratch file left."""
    monkeypatch.setattr(services, "PROGRESS_ROWS", 1)
    monkeypatch.setattr(services, "PROGRESS_CHECK_ROWS", 1)
    job_id = export_api.post(f"{JOBS}?format=csv").json()["data"]["id"]
    real_rows = services.contact_rows

    def rows_then_cancel(queryset, **options):
        for number, row in enumerate(real_rows(queryset, **options), 1):
            if number == 2:
                assert export_api.delete(f"{JOBS}/{job_id}").status_code == 200
            yield row

    monkeypatch.setattr(services, "contact_rows", rows_then_cancel)
    services.export_job_run(export_id=job_id)
    assert ContactExport.objects.get(pk=job_id).status == "cancelled"
    assert folder_names() == []


def test_a_csv_scratch_file_left_behind_is_purged_and_its_export_marked_interrupted(export_api, contacts):
    """A killed worker's `.<name>.csv.<random>.tmp` is a scratch file the purge recognises."""
    data, _ = export_csv(export_api)
    record = ContactExport.objects.get()
    ContactExport.objects.filter(pk=record.pk).update(status="running")
    scratch = exports_folder() / f".{data['filename']}.abcd1234.tmp"
    scratch.write_bytes(b"half")
    purged = services.exports_purge(days=30, now=timezone.now() + dt.timedelta(days=2))
    assert [(item.name, item.scratch) for item in purged] == [(scratch.name, True)]
    assert not scratch.exists()
    assert ContactExport.objects.get().status == "failed"


@pytest.mark.slow
def test_a_csv_export_is_served_by_gunicorn_and_downloads_over_http(tmp_path):
    """As deployed: a CSV export of chosen columns over HTTP, then its link opened without a token."""
    with suite_database(tmp_path, "export_csv") as url:
        env = service_env(url, tmp_path, WEB_CONCURRENCY="2")
        prepare_database(env, contacts=25)
        with served(env, tmp_path / "logs") as server:
            token = login(server.port)
            query = f"format=csv&columns=id,account_id,name&reply_status={quote('已回复')}"
            reply = call(server.port, "GET", f"/api/contacts/export?{query}", token=token)
            assert reply.status == 200, reply.body
            data = reply.json()["data"]
            assert CSV_NAME.fullmatch(data["filename"])
            link = urlsplit(data["download_url"])
            fetched = call(server.port, "GET", f"{link.path}?{link.query}")
            assert fetched.status == 200
            assert fetched.headers["content-type"] == CSV_CONTENT_TYPE
            assert fetched.headers["content-disposition"] == f'attachment; filename="{data["filename"]}"'
            assert fetched.body.startswith("\ufeffID,账号 ID,姓名\r\n".encode())
            rows = list(csv.reader(io.StringIO(fetched.body.decode("utf-8-sig"), newline="")))
            assert len(rows) - 1 == data["total_records"]
            assert all(len(row) == 3 and row[0].isdigit() and row[1].isdigit() for row in rows[1:])
            refused = call(server.port, "GET", "/api/contacts/export?format=pdf", token=token)
            assert refused.status == 400
            assert refused.json()["msg"] == 'format: 只能是 xlsx 或 csv,不能是 "pdf"'
