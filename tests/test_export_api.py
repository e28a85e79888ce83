"""GET /api/contacts/export: the list's rows in a workbook, its answer, limits, history and failures."""

import datetime as dt
import errno
import os
import re
import threading
import time
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.utils import timezone
from export_support import (
    assert_no_formula_element,
    data_rows,
    exports_folder,
    folder_names,
    row_from_list_api,
    workbook,
)
from factories import client_for, make_user
from openpyxl.worksheet._writer import ALL_TEMP_FILES, WorksheetWriter
from served import call, login, manage, prepare_database, served, service_env, suite_database

from contacts.exports import services, storage
from contacts.models import Contact, ContactExport, ReplyStatus

FILENAME = re.compile(r"contacts_export_(\d{8}_\d{6})_[0-9a-f]{8}\.xlsx")
EXPORT_FAILED = {"code": 500, "msg": "导出失败,请稍后重试", "data": None}


@pytest.fixture
def exporter(db) -> User:
    return make_user("exporter", "contacts.view_contact", "contacts.export_contact", "contacts.view_all_contacts")


@pytest.fixture
def export_api(exporter):
    """A client logged in as a user who may read and export contacts."""
    return client_for(exporter)


def at(day: int, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2024, 3, day, hour, 15, 30))


@pytest.fixture
def contacts(db) -> list[Contact]:
    """A known set: two workers, both statuses, both WeChat flags, empty and filled optional fields."""
    specs = [
        ("张三", "产品经理", "13800138000", ReplyStatus.REPLIED, True, 1, "worker-001", "沟通顺畅,有意向", 1),
        ("李四", "前端工程师", "wechat:lisi123", ReplyStatus.PENDING, False, 2, "worker-002", "", 2),
        ("王五", "高级产品经理", "+86 139 0000 1111", ReplyStatus.REPLIED, False, 1, "worker-002", "薪资期望较高", 3),
        ("赵六", "", "", ReplyStatus.PENDING, False, 3, "", "", 4),
        ("欧阳娜娜", "Python开发工程师", "18612345678", ReplyStatus.REPLIED, True, 2, "worker-001", "多行\n备注", 5),
        ("钱七", "产品经理", "=1+1", ReplyStatus.PENDING, True, 1, "worker-003", "@张三 跟进", 5),
    ]
    made = []
    for index, (name, position, contact, status, wechat, account, worker, notes, day) in enumerate(specs):
        made.append(
            Contact.objects.create(
                name=name,
                position=position,
                contact=contact,
                reply_status=status,
                wechat_exchanged=wechat,
                account_id=account,
                worker_id=worker,
                notes=notes,
                contacted_at=None if index == 3 else at(day, 10),
                created_at=at(day, 9 + index % 2),
            )
        )
    return made


def export(client, path: str = "/api/contacts/export", headers: dict | None = None, **params):
    response = client.get(path, params, **(headers or {}))
    return response, response.json()


def exported_file(payload: dict) -> Path:
    return exports_folder() / payload["data"]["filename"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"search": "产品"},
        {"search": "产品 经理"},
        {"reply_status": "已回复"},
        {"wechat_exchanged": "true"},
        {"wechat_exchanged": "0"},
        {"start_date": "2024-03-02", "end_date": "2024-03-04"},
        {"worker_id": "worker-002"},
        {"account_id": "2"},
        {"ordering": "created_at"},
        {"ordering": "-contacted_at"},
        {"ordering": "contacted_at"},
        {"ordering": "id"},
        {"search": "产品经理", "reply_status": "已回复", "start_date": "2024-03-01", "ordering": "-id"},
    ],
)
def test_every_cell_matches_the_list_api_for_the_same_filters(export_api, contacts, params):
    """The workbook holds exactly the list's rows, in the list's order, cell for cell."""
    listed = export_api.get("/api/contacts", {**params, "page_size": 100}).json()["data"]
    response, payload = export(export_api, **params)
    assert response.status_code == 200, payload
    sheet = workbook(exported_file(payload))["联系记录"]
    assert data_rows(sheet) == [row_from_list_api(item) for item in listed["results"]]
    assert payload["data"]["total_records"] == listed["total"]


def test_the_answer_is_the_documented_envelope(export_api, contacts):
    """200 with download_url, filename, total_records and generated_at, as the original document shows."""
    before = timezone.localtime().replace(microsecond=0, tzinfo=None)
    response, payload = export(export_api)
    after = timezone.localtime().replace(tzinfo=None)
    assert response.status_code == 200
    assert set(payload) == {"code", "msg", "data"}
    assert (payload["code"], payload["msg"]) == (200, "success")
    data = payload["data"]
    assert set(data) == {"download_url", "filename", "total_records", "generated_at"}
    stamp = FILENAME.fullmatch(data["filename"]).group(1)
    generated = dt.datetime.strptime(data["generated_at"], "%Y-%m-%d %H:%M:%S")
    assert before <= generated <= after
    assert stamp == generated.strftime("%Y%m%d_%H%M%S")
    assert data["total_records"] == len(contacts)
    assert re.fullmatch(rf"http://testserver/media/exports/{data['filename']}\?signature=[\w.-]+", data["download_url"])
    assert folder_names() == [data["filename"]]


def test_the_trailing_slash_is_optional(export_api, contacts):
    """/api/contacts/export/ answers like /api/contacts/export, without a redirect."""
    response, payload = export(export_api, "/api/contacts/export/")
    assert response.status_code == 200
    assert payload["data"]["total_records"] == len(contacts)


def test_page_and_page_size_are_ignored(export_api, contacts):
    """Paging parameters, even invalid ones, neither page nor refuse the export."""
    response, payload = export(export_api, page="abc", page_size="-1")
    assert response.status_code == 200
    assert payload["data"]["total_records"] == len(contacts)
    response, payload = export(export_api, page="2", page_size="1")
    assert payload["data"]["total_records"] == len(contacts)


@pytest.mark.parametrize(
    "params",
    [
        {"reply_status": "maybe"},
        {"wechat_exchanged": "yes"},
        {"start_date": "2024-13-01"},
        {"start_date": "2024-03-05", "end_date": "2024-03-01"},
        {"end_date": "0001-01-01"},
        {"account_id": "0"},
        {"account_id": "abc"},
        {"ordering": "name"},
        {"search": "a\x00b"},
        {"search": "x" * 101},
    ],
)
def test_bad_filters_get_the_lists_400_and_write_nothing(export_api, contacts, params):
    """Validation is the list's: the same 400 in the envelope, no file, no history row."""
    listed = export_api.get("/api/contacts", params)
    response, payload = export(export_api, **params)
    assert listed.status_code == response.status_code == 400
    assert payload == listed.json()
    assert folder_names() == []
    assert not ContactExport.objects.exists()


def test_login_is_required(anon, contacts):
    """Without a Bearer token: 401 in the envelope."""
    response, payload = export(anon)
    assert response.status_code == 401
    assert (payload["code"], payload["data"]) == (401, None)
    assert folder_names() == []


@pytest.mark.parametrize(
    "perms", [("contacts.view_contact",), ("contacts.export_contact",), ()], ids=["view-only", "export-only", "none"]
)
def test_export_needs_both_view_and_export_permissions(db, contacts, perms):
    """Reading is not exporting, and exporting reads every contact: both permissions are needed."""
    response, payload = export(client_for(make_user("someone", *perms)))
    assert response.status_code == 403
    assert (payload["code"], payload["data"]) == (403, None)
    assert folder_names() == []


def test_other_methods_are_not_allowed(export_api, contacts):
    """Exporting reads only: POST is a 405, not an export."""
    response = export_api.post("/api/contacts/export", {})
    assert response.status_code == 405
    assert folder_names() == []


def test_no_matching_rows_give_a_header_only_workbook(export_api, contacts):
    """An export that matches nothing still answers 200 and a workbook with the header alone."""
    response, payload = export(export_api, search="没有这个人")
    assert response.status_code == 200
    assert payload["data"]["total_records"] == 0
    sheet = workbook(exported_file(payload))["联系记录"]
    assert data_rows(sheet) == []
    assert sheet.auto_filter.ref == "A1:J1"


def test_the_download_url_is_on_the_host_the_client_used(export_api, contacts):
    """The absolute URL names the Host header's host and port and the request's scheme."""
    _, payload = export(export_api, headers={"HTTP_HOST": "127.0.0.1:8123"})
    assert payload["data"]["download_url"].startswith("http://127.0.0.1:8123/media/exports/")


def test_forwarded_host_and_proto_are_ignored_without_https_mode(export_api, contacts):
    """Without DJANGO_HTTPS=1 a client cannot make the link point at another host or scheme."""
    headers = {"HTTP_X_FORWARDED_HOST": "evil.example", "HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "127.0.0.1"}
    _, payload = export(export_api, headers=headers)
    assert payload["data"]["download_url"].startswith("http://127.0.0.1/media/exports/")


def test_forwarded_host_and_proto_are_used_behind_the_https_proxy(export_api, contacts, settings):
    """With the settings DJANGO_HTTPS=1 makes, the proxy's host and scheme are the link's."""
    settings.USE_X_FORWARDED_HOST = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["contacts.example.com"]
    headers = {"HTTP_X_FORWARDED_HOST": "contacts.example.com", "HTTP_X_FORWARDED_PROTO": "https"}
    _, payload = export(export_api, headers=headers)
    assert payload["data"]["download_url"].startswith("https://contacts.example.com/media/exports/")


def test_formula_like_contacts_are_exported_as_literal_text(export_api, contacts):
    """A stored `=1+1` and `@张三 跟进` come back as text with no formula element in the file."""
    _, payload = export(export_api, worker_id="worker-003")
    path = exported_file(payload)
    sheet = workbook(path)["联系记录"]
    assert (sheet["D2"].value, sheet["D2"].data_type, sheet["D2"].quotePrefix) == ("=1+1", "s", True)
    assert (sheet["H2"].value, sheet["H2"].quotePrefix) == ("@张三 跟进", True)
    assert_no_formula_element(path)


def test_control_characters_in_stored_text_do_not_break_the_export(export_api, db):
    """A note holding control characters exports without them instead of failing."""
    Contact.objects.create(name="孙八", account_id=1, notes="第一行\x07\x1b第二行\x0c")
    _, payload = export(export_api)
    assert workbook(exported_file(payload))["联系记录"]["H2"].value == "第一行第二行"


def test_column_widths_fit_the_longest_value_counting_chinese_as_two(export_api, db):
    """A 12-character Chinese name gets a column twice as wide as a 12-letter worker id."""
    Contact.objects.create(name="欧" * 12, worker_id="w" * 12, account_id=1)
    Contact.objects.create(name="李", worker_id="w", account_id=1)
    _, payload = export(export_api)
    sheet = workbook(exported_file(payload))["联系记录"]
    assert sheet.column_dimensions["B"].width == 26
    assert sheet.column_dimensions["G"].width == 14


def test_the_export_is_recorded_in_the_history(export_api, exporter, contacts):
    """Who, when, the filters and ordering, the rows, the file name and size, and the time taken."""
    _, payload = export(export_api, reply_status="已回复", search="产品")
    record = ContactExport.objects.get()
    data = payload["data"]
    assert record.user == exporter
    assert record.username == "exporter"
    assert record.source == ContactExport.Source.API
    assert record.status == ContactExport.Status.SUCCEEDED
    assert record.filters == {"search": "产品", "reply_status": "已回复", "ordering": "-created_at"}
    assert record.filename == data["filename"]
    assert record.row_count == data["total_records"] == 2
    assert record.size_bytes == exported_file(payload).stat().st_size
    assert record.duration_ms >= 0
    assert record.error == ""
    assert record.purged_at is None
    assert timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M:%S") == data["generated_at"]


def test_the_row_limit_refuses_with_a_400_asking_to_narrow_the_dates(export_api, contacts, settings):
    """More matching rows than EXPORT_MAX_ROWS: 400, a message about the date range, no file."""
    settings.EXPORT_MAX_ROWS = 5
    response, payload = export(export_api)
    assert response.status_code == 400
    assert payload == {
        "code": 400,
        "msg": "符合条件的记录有 6 条,超过单次导出上限 5 条,请缩小日期范围后重试",
        "data": None,
    }
    assert folder_names() == []
    record = ContactExport.objects.get()
    assert (record.status, record.row_count) == (ContactExport.Status.FAILED, 0)


def test_an_export_at_the_row_limit_is_written(export_api, contacts, settings):
    """Exactly EXPORT_MAX_ROWS rows is allowed."""
    settings.EXPORT_MAX_ROWS = 6
    response, payload = export(export_api)
    assert response.status_code == 200
    assert payload["data"]["total_records"] == 6


def test_a_database_error_half_way_answers_500_and_leaves_no_file(export_api, contacts, monkeypatch, caplog):
    """A cursor failing after some rows: 500 in the envelope, no final or scratch file, a failed record."""
    real_rows = services.contact_rows
    temp_files_before = list(ALL_TEMP_FILES)

    def failing_rows(queryset, **options):
        rows = real_rows(queryset, **options)
        try:
            yield next(rows)
            yield next(rows)
            raise DatabaseError("connection lost while reading")
        finally:
            rows.close()

    monkeypatch.setattr(services, "contact_rows", failing_rows)
    response, payload = export(export_api)
    assert response.status_code == 500
    assert payload == EXPORT_FAILED
    assert folder_names() == []
    assert list(ALL_TEMP_FILES) == temp_files_before
    record = ContactExport.objects.get()
    assert record.status == ContactExport.Status.FAILED
    assert record.error.startswith("DatabaseError")
    assert "张三" not in caplog.text


def test_a_full_disk_answers_500_and_leaves_no_file(export_api, contacts, monkeypatch):
    """The disk filling while the archive is written: 500, nothing under a final name, no scratch."""

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "write", no_space)
    response, payload = export(export_api)
    assert response.status_code == 500
    assert payload == EXPORT_FAILED
    assert folder_names() == []
    record = ContactExport.objects.get()
    assert record.status == ContactExport.Status.FAILED
    assert record.error.startswith("OSError (No space left on device)")


def test_a_disk_filling_while_rows_stream_answers_500_and_leaves_no_file(export_api, contacts, monkeypatch):
    """The sheet's scratch file failing after three rows, with the cursor half read: a clean 500."""
    real_write_row = WorksheetWriter.write_row
    written = []

    def filling_disk(self, xf, row, row_idx):
        if len(written) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(row_idx)
        return real_write_row(self, xf, row, row_idx)

    monkeypatch.setattr(WorksheetWriter, "write_row", filling_disk)
    response, payload = export(export_api)
    assert response.status_code == 500
    assert payload == EXPORT_FAILED
    assert folder_names() == []
    assert ContactExport.objects.get().status == ContactExport.Status.FAILED
    assert Contact.objects.count() == len(contacts)


def test_publishing_never_replaces_an_existing_file(export_api, contacts, monkeypatch):
    """A file already under the final name is kept as it was and the export fails cleanly."""
    name = "contacts_export_20240304_153045_a1b2c3d4.xlsx"
    monkeypatch.setattr(services, "export_filename_new", lambda at, **options: name)
    exports_folder().mkdir(parents=True)
    (exports_folder() / name).write_bytes(b"somebody else's file")
    response, payload = export(export_api)
    assert (response.status_code, payload) == (500, EXPORT_FAILED)
    assert (exports_folder() / name).read_bytes() == b"somebody else's file"
    assert folder_names() == [name]


def test_a_file_system_without_hard_links_still_publishes(export_api, contacts, monkeypatch):
    """Where link() is refused, the finished file is renamed into place instead."""

    def refuse(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(storage.os, "link", refuse)
    response, payload = export(export_api)
    assert response.status_code == 200
    assert folder_names() == [payload["data"]["filename"]]
    assert len(data_rows(workbook(exported_file(payload))["联系记录"])) == len(contacts)


def test_no_cell_value_is_logged(export_api, contacts, caplog):
    """Exports log file names and counts, never a name, phone number or search term."""
    caplog.set_level("DEBUG")
    export(export_api, search="张三")
    export(export_api)
    assert "exports" in caplog.text
    for secret in ("张三", "13800138000", "沟通顺畅"):
        assert secret not in caplog.text


def test_two_exports_in_the_same_second_get_two_files(export_api, contacts, monkeypatch):
    """The random part of the name keeps exports of one second apart."""
    frozen = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    first = export(export_api)[1]["data"]["filename"]
    second = export(export_api)[1]["data"]["filename"]
    assert first != second
    assert FILENAME.fullmatch(first).group(1) == FILENAME.fullmatch(second).group(1)
    assert folder_names() == sorted([first, second])


# --- quotas: per user, and the exports folder as a whole ---------------------------------------------


@pytest.fixture
def frozen_now(monkeypatch) -> dt.datetime:
    now = timezone.now().replace(microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


def past_export(user: User, status: str, *, ago: dt.timedelta, now: dt.datetime) -> ContactExport:
    return ContactExport.objects.create(
        user=user,
        username=user.username,
        status=status,
        filename=services.export_filename_new(at=now - ago),
        created_at=now - ago,
        heartbeat_at=now - ago,
    )


def assert_quota_refused(client, msg: str, retry_after: int) -> None:
    records = ContactExport.objects.count()
    response = client.get("/api/contacts/export")
    assert response.status_code == 429
    assert response.json() == {"code": 429, "msg": msg, "data": None}
    assert response["Retry-After"] == str(retry_after)
    assert ContactExport.objects.count() == records
    assert folder_names() == []


def test_a_user_with_two_exports_running_is_refused_a_third_with_429(export_api, exporter, contacts, frozen_now):
    """EXPORT_CONCURRENT_PER_USER (2): past it a 429 envelope with Retry-After, and nothing recorded or written."""
    for minutes in (1, 2):
        past_export(exporter, ContactExport.Status.RUNNING, ago=dt.timedelta(minutes=minutes), now=frozen_now)
    assert_quota_refused(export_api, "已有 2 个导出正在进行,每人最多同时 2 个,请稍后重试", 30)
    other = client_for(
        make_user("colleague", "contacts.view_contact", "contacts.export_contact", "contacts.view_all_contacts")
    )
    assert other.get("/api/contacts/export").status_code == 200


def test_an_export_silent_past_the_stale_time_no_longer_counts(export_api, exporter, contacts, frozen_now):
    """A history row left "running" by a killed worker (no heartbeat for EXPORT_JOB_STALE_SECONDS) does not
    block its user for ever."""
    for seconds in (301, 5000):
        past_export(exporter, ContactExport.Status.RUNNING, ago=dt.timedelta(seconds=seconds), now=frozen_now)
    assert export_api.get("/api/contacts/export").status_code == 200


def test_the_daily_limit_counts_the_last_24_hours_and_says_when_to_retry(
    export_api, exporter, contacts, settings, frozen_now
):
    """EXPORT_DAILY_PER_USER exports in 24 hours; Retry-After is when the oldest of them leaves the window."""
    settings.EXPORT_DAILY_PER_USER = 3
    for hours in (23, 2, 1):
        past_export(exporter, ContactExport.Status.SUCCEEDED, ago=dt.timedelta(hours=hours), now=frozen_now)
    assert_quota_refused(export_api, "24 小时内每人最多导出 3 次,请 3600 秒后重试", 3600)


def test_exports_that_failed_or_left_the_window_do_not_count_against_the_day(
    export_api, exporter, contacts, settings, frozen_now
):
    """Failed exports and those older than 24 hours leave the daily quota alone."""
    settings.EXPORT_DAILY_PER_USER = 2
    past_export(exporter, ContactExport.Status.SUCCEEDED, ago=dt.timedelta(hours=25), now=frozen_now)
    for minutes in (1, 2, 3):
        past_export(exporter, ContactExport.Status.FAILED, ago=dt.timedelta(minutes=minutes), now=frozen_now)
    past_export(exporter, ContactExport.Status.SUCCEEDED, ago=dt.timedelta(hours=1), now=frozen_now)
    assert export_api.get("/api/contacts/export").status_code == 200
    assert export_api.get("/api/contacts/export").status_code == 429


def aged(filename: str, hours: int) -> Path:
    path = exports_folder() / filename
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))
    return path


def test_past_the_storage_cap_the_oldest_exports_are_removed_first(export_api, contacts, settings):
    """EXPORT_STORAGE_MAX_BYTES: a new export removes the oldest files until all fit; their links answer 404."""
    oldest, older = (export(export_api)[1]["data"] for _ in range(2))
    size = aged(oldest["filename"], 3).stat().st_size
    aged(older["filename"], 2)
    (exports_folder() / "notes.txt").write_bytes(b"x" * 10 * size)
    settings.EXPORT_STORAGE_MAX_BYTES = 2 * size + size // 2
    newest = export(export_api)[1]["data"]

    assert folder_names() == sorted([older["filename"], newest["filename"], "notes.txt"])
    assert ContactExport.objects.get(filename=oldest["filename"]).purged_at is not None
    assert ContactExport.objects.filter(purged_at__isnull=False).count() == 1
    assert export_api.get(oldest["download_url"]).status_code == 404
    assert export_api.get(newest["download_url"]).status_code == 200


def test_the_new_export_stands_even_alone_over_the_storage_cap(export_api, contacts, settings):
    """A cap smaller than one file keeps the newest file only, never none."""
    settings.EXPORT_STORAGE_MAX_BYTES = 1
    first = export(export_api)[1]["data"]["filename"]
    aged(first, 1)
    second = export(export_api)[1]["data"]["filename"]
    assert folder_names() == [second]


@pytest.mark.slow
def test_concurrent_exports_under_gunicorn_each_write_their_own_complete_file(tmp_path):
    """Two exports sent at once to the served service run side by side and give two complete files."""
    with suite_database(tmp_path, "export_concurrent") as url:
        env = service_env(url, tmp_path, WEB_CONCURRENCY="3", EXPORT_SYNC_MAX_RUNNING="2")
        prepare_database(env, contacts=20_000)
        with served(env, tmp_path / "logs") as server:
            token = login(server.port)
            start = threading.Barrier(2)
            replies = []

            def run() -> None:
                start.wait()
                replies.append(call(server.port, "GET", "/api/contacts/export", token=token, timeout=300))

            threads = [threading.Thread(target=run) for _ in range(2)]
            began = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(300)
            both_took = time.monotonic() - began
        assert [reply.status for reply in replies] == [200, 200], [reply.body for reply in replies]
        names = sorted(reply.json()["data"]["filename"] for reply in replies)
        folder = tmp_path / "media" / "exports"
        assert sorted(path.name for path in folder.iterdir()) == names
        for name in names:
            assert len(data_rows(workbook(folder / name)["联系记录"])) == 20_000
        code = (
            "from contacts.models import ContactExport\n"
            "print(sum(ContactExport.objects.values_list('duration_ms', flat=True)))"
        )
        one_after_the_other = int(manage(env, "shell", "-c", code).strip().splitlines()[-1]) / 1000
        assert both_took < one_after_the_other, "the two exports did not run side by side"


def test_past_the_machines_exports_at_once_an_export_is_a_429_naming_the_job_api(export_api, contacts, settings):
    """EXPORT_SYNC_MAX_RUNNING exports made at once per machine: past it a retryable 429 pointing to the job API;
    nothing is recorded, and once the running one ends the next export runs."""
    settings.EXPORT_SYNC_MAX_RUNNING = 1
    with services._machine_slot():
        busy = export_api.get("/api/contacts/export")
    assert busy.status_code == 429
    assert busy["Retry-After"] == "30"
    assert busy.json() == {
        "code": 429,
        "msg": "服务器正在进行的同步导出已达上限(1 个),请稍后重试,或改用导出任务:POST /api/contacts/exports,完成后下载",
        "data": None,
    }
    assert not ContactExport.objects.exists()
    assert export_api.get("/api/contacts/export").status_code == 200
