"""POST /api/contacts/import: spreadsheets in, every row or none written, the report out; hostile files refused."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from export_support import exports_folder
from factories import client_for, local_time, make_contact, make_user
from import_support import (
    BILLION_LAUGHS_DTD,
    PNG,
    billion_laughs,
    cell_flood,
    csv_bytes,
    deep_nesting,
    encrypted_xlsx,
    round_trip_contacts,
    style_flood,
    xlsx,
    zip_bomb,
    zip_lying_about,
    zip_members,
    zip_with,
)

from contacts.imports import reading, services, writing
from contacts.models import Contact, ContactTally, GroupAccount, ReplyStatus, UserAccount

pytestmark = pytest.mark.django_db

PATH = "/api/contacts/import"
IMPORT_PERMS = ("contacts.view_contact", "contacts.add_contact", "contacts.change_contact")
CORRUPT = "xlsx 文件已损坏,无法读取"
ENTITIES = "xlsx 文件含有 XML 实体或文档类型声明,已拒绝"
TOO_COMPLEX = "xlsx 文件的结构超出导入的上限(元素过多或嵌套过深),已拒绝"
ENCRYPTED = "文件受密码保护(或是旧版 xls):请在 Excel 中取消密码并另存为 xlsx 或 csv 后再导入"


@pytest.fixture
def importer(db) -> User:
    return make_user("importer", *IMPORT_PERMS, "contacts.export_contact", "contacts.view_all_contacts")


@pytest.fixture
def import_api(importer):
    return client_for(importer)


def upload(client, content: bytes, name: str = "contacts.xlsx", **fields: str):
    response = client.post(PATH, {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")
    return response, response.json()


def report(created=0, updated=0, unchanged=0, errors=(), error_count=None) -> dict:
    errors = [{"row": row, "column": column, "msg": msg} for row, column, msg in errors]
    return {
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "error_count": len(errors) if error_count is None else error_count,
        "errors": errors,
    }


def ok(data: dict) -> dict:
    return {"code": 200, "msg": "success", "data": data}


def failed(data: dict) -> dict:
    return {"code": 400, "msg": f"导入未执行:{data['error_count']} 处错误,没有写入任何记录", "data": data}


def refused(msg: str) -> dict:
    return {"code": 400, "msg": f"file: {msg}", "data": {"file": [msg]}}


def snapshot() -> list[tuple]:
    """Every stored field of every contact, updated_at included, in id order."""
    return list(Contact.objects.order_by("id").values_list())


def tallies() -> dict[tuple, int]:
    return {
        (row.account_id, row.reply_status, row.wechat_exchanged): row.total
        for row in ContactTally.objects.all()
        if row.total
    }


def real_tallies() -> dict[tuple, int]:
    groups = Contact.objects.values_list("account_id", "reply_status", "wechat_exchanged").annotate(n=Count("id"))
    return {(account, status, wechat): n for account, status, wechat, n in groups.order_by()}


# Creating and updating ----------------------------------------------------------------------------


def test_a_csv_without_ids_creates_every_row(import_api):
    """Rows without ID are new contacts with the given columns and the defaults of the others."""
    content = csv_bytes(
        [
            ["姓名", "账号 ID", "岗位", "联系方式", "回复状态", "是否交换微信", "Worker ID", "备注", "联系时间"],
            ["张三", "3", "产品经理", "13800138000", "已回复", "是", "worker-001", "多行\n备注", "2024-03-01 10:15:30"],
            ["李四", "4", "", "", "", "", "", "", ""],
        ]
    )
    before = timezone.now()
    response, payload = upload(import_api, content, "contacts.csv")
    assert (response.status_code, payload) == (200, ok(report(created=2)))
    first, second = Contact.objects.order_by("id")
    assert (first.name, first.account_id, first.position, first.contact, first.reply_status) == (
        "张三", 3, "产品经理", "13800138000", ReplyStatus.REPLIED,
    )  # fmt: skip
    assert (first.wechat_exchanged, first.worker_id, first.notes) == (True, "worker-001", "多行\n备注")
    assert first.contacted_at == local_time("2024-03-01 10:15:30")
    assert before <= first.created_at <= timezone.now()
    assert (second.name, second.account_id, second.reply_status, second.wechat_exchanged, second.contacted_at) == (
        "李四", 4, ReplyStatus.PENDING, False, None,
    )  # fmt: skip


def test_a_row_with_an_id_changes_only_its_given_columns(import_api):
    """Columns the file lacks keep their values; the changed contact's updated_at moves, the others' not."""
    changed = make_contact(name="张三", notes="旧备注", reply_status=ReplyStatus.PENDING)
    untouched = make_contact(name="李四")
    before = snapshot()
    content = xlsx([["备注", "ID", "回复状态"], ["新备注", changed.pk, "已回复"], [None, untouched.pk, "未回复"]])
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (200, ok(report(updated=1, unchanged=1)))
    changed.refresh_from_db()
    assert (changed.notes, changed.reply_status, changed.name) == ("新备注", ReplyStatus.REPLIED, "张三")
    after = snapshot()
    assert after[1] == before[1]
    assert changed.updated_at > before[0][-1]


def test_values_equal_to_the_stored_ones_are_unchanged_and_keep_the_stored_microseconds(import_api):
    """A time equal to the stored one cut to the second is unchanged: nothing is written, microseconds stay."""
    contact = make_contact(contacted_at=local_time("2024-03-01 10:15:30.654321"))
    before = snapshot()
    content = xlsx([["ID", "联系时间", "姓名"], [contact.pk, "2024-03-01 10:15:30", contact.name]])
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (200, ok(report(unchanged=1)))
    assert snapshot() == before


def test_a_time_different_to_the_second_is_written(import_api):
    """One second later is a change, stored to the second."""
    contact = make_contact(contacted_at=local_time("2024-03-01 10:15:30.654321"))
    response, payload = upload(import_api, xlsx([["ID", "联系时间"], [contact.pk, "2024-03-01 10:15:31"]]))
    assert (response.status_code, payload) == (200, ok(report(updated=1)))
    contact.refresh_from_db()
    assert contact.contacted_at == local_time("2024-03-01 10:15:31")


def test_headers_may_come_in_any_order_and_any_subset(import_api):
    """Columns are found by their exported names; 账号 ID is the account."""
    response, payload = upload(import_api, xlsx([["Worker ID", "账号 ID", "姓名"], ["w-9", 7, "王五"]]))
    assert (response.status_code, payload) == (200, ok(report(created=1)))
    assert Contact.objects.values_list("name", "account_id", "worker_id").get() == ("王五", 7, "w-9")


# Values as users' files hold them ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("是", True), ("否", False), ("TRUE", True), ("False", False), ("tRuE", True), ("1", True), ("0", False),
     (1, True), (0, False), (True, True), (False, False)],
)  # fmt: skip
def test_yes_no_takes_chinese_english_and_digits_in_any_case(import_api, cell, expected):
    """是/否, true/false and 1/0, as text of any case, numbers or boolean cells."""
    response, _ = upload(import_api, xlsx([["姓名", "账号 ID", "是否交换微信"], ["张三", 1, cell]]))
    assert response.status_code == 200
    assert Contact.objects.get().wechat_exchanged is expected


@pytest.mark.parametrize(
    "cell",
    ["2024-03-01 10:15:30", "2024/03/01 10:15:30", "2024-3-1 10:15:30", dt.datetime(2024, 3, 1, 10, 15, 30)],
)
def test_times_as_text_in_the_service_zone_or_as_date_cells(import_api, cell):
    """Text with - or / separators and real date cells are local times of the service's zone."""
    response, _ = upload(import_api, xlsx([["姓名", "账号 ID", "联系时间"], ["张三", 1, cell]]))
    assert response.status_code == 200
    assert Contact.objects.get().contacted_at == local_time("2024-03-01 10:15:30")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("2024-03-01 10:15", "2024-03-01 10:15:00"), ("2024/03/01", "2024-03-01 00:00:00"),
     (dt.date(2024, 3, 1), "2024-03-01 00:00:00")],
)  # fmt: skip
def test_times_without_seconds_or_without_a_time_are_read(import_api, cell, expected):
    """YYYY-MM-DD HH:MM and a bare date (midnight) are accepted."""
    response, _ = upload(import_api, csv_bytes([["姓名", "账号 ID", "创建时间"], ["张三", "1", str(cell)]]), "a.csv")
    assert response.status_code == 200
    assert Contact.objects.get().created_at == local_time(expected)


def test_number_cells_in_text_columns_import_as_their_digits(import_api):
    """A phone number Excel turned into a number, int or float, imports as digits; Worker ID too."""
    content = xlsx(
        [["姓名", "账号 ID", "联系方式", "Worker ID", "岗位"], ["张三", 1.0, 13800138000, 13800138000.0, 2.5]]
    )
    response, _ = upload(import_api, content)
    assert response.status_code == 200
    assert Contact.objects.values_list("contact", "worker_id", "position", "account_id").get() == (
        "13800138000", "13800138000", "2.5", 1,
    )  # fmt: skip


def test_a_formula_cell_is_read_as_its_text_never_evaluated(import_api):
    """=1+1 imports as the text `=1+1`, not 2."""
    response, _ = upload(import_api, xlsx([["姓名", "账号 ID", "备注"], ["张三", 1, "=1+1"]]))
    assert response.status_code == 200
    assert Contact.objects.get().notes == "=1+1"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("'=1+1", "=1+1"), ("''=1+1", "'=1+1"), ("'-5", "-5"), ("'@张三", "@张三"), ("'\t缩进", "缩进"),
     ("'abc", "'abc"), ("'", "'"), ("=1+1", "=1+1")],
)  # fmt: skip
def test_csv_text_loses_exactly_the_quote_the_csv_export_adds(import_api, cell, expected):
    """One leading ' comes off text matching ^'+[=+\\-@\\t\\r]; any other text stays as it is (then, as in the
    API, leading and trailing whitespace is trimmed)."""
    response, _ = upload(import_api, csv_bytes([["姓名", "账号 ID", "备注"], ["张三", "1", cell]]), "a.csv")
    assert response.status_code == 200
    assert Contact.objects.get().notes == expected


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
def test_csv_in_utf8_with_or_without_bom_and_in_gb18030(import_api, encoding):
    """What Chinese Excel writes (GB18030) and UTF-8 with or without a BOM read the same."""
    content = csv_bytes([["姓名", "账号 ID", "岗位"], ["欧阳娜娜", "1", "产品经理"]], encoding=encoding)
    response, payload = upload(import_api, content, "a.csv")
    assert (response.status_code, payload) == (200, ok(report(created=1)))
    assert Contact.objects.values_list("name", "position").get() == ("欧阳娜娜", "产品经理")


def test_empty_rows_are_skipped_and_rows_keep_their_spreadsheet_numbers(import_api):
    """Empty rows inside and at the end are ignored; an error names the row as the spreadsheet shows it."""
    content = xlsx([["姓名", "账号 ID"], ["张三", 1], [None, None], ["", "  "], [None, "x"], [None, None]])
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (
        400,
        failed(report(created=1, errors=[(5, "账号 ID", "应为正整数")])),
    )
    good = xlsx([["姓名", "账号 ID"], ["张三", 1], [None, None], ["李四", 2], [None, None], [None, None]])
    response, payload = upload(import_api, good)
    assert (response.status_code, payload) == (200, ok(report(created=2)))


# Checks ----------------------------------------------------------------------------------------------


def test_every_value_is_checked_by_the_apis_rules(import_api):
    """Lengths, control characters, reply_status choices, the account range and the date range, as the API."""
    content = xlsx(
        [
            ["姓名", "账号 ID", "回复状态", "联系时间", "岗位"],
            ["张" * 65, 1, "已回复", None, None],
            ["张三\x7f", 1, None, None, None],
            ["张三", 2_147_483_648, None, None, None],
            ["张三", 0, None, None, None],
            ["张三", 1, "拒绝", None, None],
            ["张三", 1, None, "1800-01-01 00:00:00", None],
            ["张三", 1, None, None, "岗" * 129],
            ["张三", 1, None, "明天", None],
        ]
    )
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (
        400,
        failed(
            report(
                errors=[
                    (2, "姓名", "请确保这个字段不能超过 64 个字符。"),
                    (3, "姓名", "不能包含 NUL 等控制字符"),
                    (4, "账号 ID", "请确保该值小于或者等于 2147483647。"),
                    (5, "账号 ID", "请确保该值大于或者等于 1。"),
                    (6, "回复状态", "“拒绝” 不是合法选项。"),
                    (7, "联系时间", "时间应在 1900-01-01 与 9998-12-31 之间"),
                    (8, "岗位", "请确保这个字段不能超过 128 个字符。"),
                    (9, "联系时间", "应为时间 YYYY-MM-DD HH:MM:SS(或 YYYY-MM-DD HH:MM、YYYY-MM-DD,可用 / 分隔)"),
                ]
            )
        ),
    )
    assert not Contact.objects.exists()


def test_the_api_refuses_what_the_import_refuses(import_api):
    """The messages above are the API's own: the same values posted to /api/contacts fail alike."""
    answer = import_api.post("/api/contacts", {"name": "张" * 65, "account_id": 0}, format="json").json()
    assert answer["data"] == {
        "name": ["请确保这个字段不能超过 64 个字符。"],
        "account_id": ["请确保该值大于或者等于 1。"],
    }


def test_a_new_contact_needs_a_name_and_an_account(import_api):
    """Without ID, 姓名 and 账号 ID are required, whether the column is missing or the cell empty."""
    response, payload = upload(import_api, xlsx([["姓名", "岗位"], [None, "经理"], ["张三", None]]))
    assert (response.status_code, payload) == (
        400,
        failed(
            report(
                errors=[
                    (2, "姓名", "新建记录(没有 ID)时必填"),
                    (2, "账号 ID", "新建记录(没有 ID)时必填"),
                    (3, "账号 ID", "新建记录(没有 ID)时必填"),
                ]
            )
        ),
    )


def test_an_update_cannot_empty_a_required_field(import_api):
    """An empty 姓名 or 回复状态 of an existing contact is an error, not a silent skip."""
    contact = make_contact()
    response, payload = upload(import_api, xlsx([["ID", "姓名", "回复状态"], [contact.pk, "", ""]]))
    assert (response.status_code, payload) == (
        400,
        failed(report(errors=[(2, "姓名", "该字段不能为空。"), (2, "回复状态", "“” 不是合法选项。")])),
    )


def test_an_update_can_empty_an_optional_field_of_every_row(import_api):
    """Empty 联系时间 and 备注 cells empty those fields, in every row of a batch; the other fields stay."""
    first = make_contact(name="张三", notes="旧备注", contacted_at=local_time("2024-03-01 10:00:00"))
    second = make_contact(name="李四", notes="", contacted_at=local_time("2024-03-02 10:00:00"))
    content = xlsx([["ID", "联系时间", "备注"], [first.pk, None, None], [second.pk, None, ""]])
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (200, ok(report(updated=2)))
    stored = Contact.objects.order_by("id").values_list("name", "contacted_at", "notes")
    assert list(stored) == [("张三", None, ""), ("李四", None, "")]


def test_one_bad_row_writes_nothing_at_all(import_api):
    """All or nothing: the good rows' creates and updates are not written; the report counts them."""
    contact = make_contact(name="张三")
    before = snapshot()
    content = xlsx([["ID", "姓名", "账号 ID"], [contact.pk, "改名", 1], [None, "李四", 2], [None, "王五", "x"]])
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (
        400,
        failed(report(created=1, updated=1, errors=[(4, "账号 ID", "应为正整数")])),
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    ("last_row", "max_rows", "answer"),
    [
        (
            ["王五", 2, "不存在的状态"],
            7,
            failed(report(created=5, updated=1, errors=[(8, "回复状态", "“不存在的状态” 不是合法选项。")])),
        ),
        (["王五", "x", "已回复"], 7, failed(report(created=5, updated=1, errors=[(8, "账号 ID", "应为正整数")]))),
        (["王五", 2, "已回复"], 6, refused("数据超过 6 行")),
    ],
    ids=["a value the API refuses", "a cell that cannot be read", "a row past IMPORT_MAX_ROWS"],
)
def test_batches_written_before_a_failing_row_are_rolled_back_with_it(
    import_api, monkeypatch, settings, last_row, max_rows, answer
):
    """PostgreSQL writes new contacts as they are read and changes once checked, in batches (here of 2); a
    later failing row, or a refused file, takes them all back: nothing stays written, the tallies are as
    they were. SQLite writes nothing before the end."""
    settings.IMPORT_MAX_ROWS = max_rows
    monkeypatch.setattr(writing, "BATCH_SIZE", 2)
    batches = []
    write = writing._insert_from_arrays
    monkeypatch.setattr(writing, "_insert_from_arrays", lambda *args: batches.append(1) or write(*args))
    contact = make_contact(name="张三")
    before, tallies_before = snapshot(), tallies()
    content = xlsx(
        [["ID", "姓名", "账号 ID", "回复状态"], [contact.pk, "改名", 1, "已回复"]]
        + [[None, f"新{n}", 2, "已回复"] for n in range(5)]
        + [[None, *last_row]]
    )
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (400, answer)
    assert len(batches) == (2 if connection.vendor == "postgresql" else 0)
    assert (snapshot(), tallies()) == (before, tallies_before)


def test_at_most_the_first_100_errors_are_listed_but_all_are_counted(import_api):
    """150 bad rows: 150 counted, rows 2 to 101 listed."""
    content = xlsx([["姓名", "账号 ID"], *[["张三", "x"] for _ in range(150)]])
    response, payload = upload(import_api, content)
    assert response.status_code == 400
    assert payload["data"]["error_count"] == 150
    assert payload["data"]["errors"] == [{"row": n, "column": "账号 ID", "msg": "应为正整数"} for n in range(2, 102)]


def test_an_id_that_does_not_exist_and_a_repeated_id_are_errors(import_api):
    """A missing ID is 'ID 不存在'; the second row of the same ID names the first."""
    contact = make_contact()
    content = xlsx([["ID", "姓名"], [contact.pk, "甲"], [contact.pk + 1000, "乙"], [contact.pk, "丙"], ["abc", "丁"]])
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (
        400,
        failed(
            report(
                updated=1,
                errors=[(3, "ID", "ID 不存在"), (4, "ID", "ID 重复:第 2 行已有这个 ID"), (5, "ID", "应为正整数")],
            )
        ),
    )


@pytest.mark.parametrize(
    ("header", "column", "msg"),
    [(["姓名", "电话"], "电话", "未知的列(列名应与导出文件一致)"), (["姓名", "姓名"], "姓名", "列重复"),
     (["id", "姓名"], "id", "未知的列(列名应与导出文件一致)")],
)  # fmt: skip
def test_an_unknown_or_repeated_header_is_refused_before_any_row(import_api, header, column, msg):
    """The header must use the export's names, each once; its error is row 1."""
    response, payload = upload(import_api, xlsx([header, ["张三", "1"]]))
    assert (response.status_code, payload) == (400, failed(report(errors=[(1, column, msg)])))


def test_a_value_under_a_column_without_a_name_is_an_error(import_api):
    """A header cell left empty over data would silently drop it: refused."""
    response, payload = upload(import_api, csv_bytes([["姓名", "", "账号 ID"], ["张三", "多余", "1"]]), "a.csv")
    assert (response.status_code, payload) == (400, failed(report(errors=[(2, "第 2 列", "这一列有数据但没有列名")])))


# Scoping ------------------------------------------------------------------------------------------


@pytest.fixture
def scoped_api(db):
    """A user who may import and sees accounts 1 (their own) and 2 (their group's)."""
    user = make_user("scoped", *IMPORT_PERMS)
    UserAccount.objects.create(user=user, account_id=1)
    group = user.groups.create(name="team")
    GroupAccount.objects.create(group=group, account_id=2)
    return client_for(user)


def test_a_contact_of_another_account_is_an_id_that_does_not_exist(scoped_api):
    """An ID outside the caller's accounts reads 'ID 不存在', as a missing one: its existence is not confirmed."""
    foreign = make_contact(account_id=3)
    missing_id = foreign.pk + 1000
    before = snapshot()
    response, payload = upload(scoped_api, xlsx([["ID", "姓名"], [foreign.pk, "改"], [missing_id, "改"]]))
    assert (response.status_code, payload) == (
        400,
        failed(report(errors=[(2, "ID", "ID 不存在"), (3, "ID", "ID 不存在")])),
    )
    assert snapshot() == before


def test_creating_in_or_moving_to_another_account_is_an_error(scoped_api):
    """A new contact, or a change of 账号 ID, must stay within the caller's accounts."""
    own = make_contact(account_id=1)
    rows = [[None, "新", 3], [own.pk, "张三", 4], [None, "组的", 2], [own.pk + 1, "x", 1]]
    content = xlsx([["ID", "姓名", "账号 ID"], *rows])
    response, payload = upload(scoped_api, content)
    assert (response.status_code, payload) == (
        400,
        failed(
            report(
                created=1,
                errors=[
                    (2, "账号 ID", "无权操作这个账号的联系记录"),
                    (3, "账号 ID", "无权操作这个账号的联系记录"),
                    (5, "ID", "ID 不存在"),
                ],
            )
        ),
    )


def test_a_scoped_user_imports_within_their_accounts(scoped_api):
    """Creates and updates in the user's own and group's accounts go through."""
    own = make_contact(account_id=1)
    content = xlsx([["ID", "姓名", "账号 ID"], [None, "新", 2], [own.pk, "改名", 2]])
    response, payload = upload(scoped_api, content)
    assert (response.status_code, payload) == (200, ok(report(created=1, updated=1)))
    assert sorted(Contact.objects.values_list("name", "account_id")) == [("改名", 2), ("新", 2)]


# Permissions and the request ------------------------------------------------------------------------


@pytest.mark.parametrize("perms", [("contacts.add_contact",), ("contacts.change_contact",), ("contacts.view_contact",)])
def test_the_import_needs_add_and_change(db, perms):
    """Either permission alone is a 403."""
    client = client_for(make_user("partial", *perms))
    response, payload = upload(client, xlsx([["姓名", "账号 ID"], ["张三", 1]]))
    assert (response.status_code, payload["code"]) == (403, 403)
    assert not Contact.objects.exists()


def test_the_import_needs_a_login(anon):
    response, payload = upload(anon, xlsx([["姓名", "账号 ID"], ["张三", 1]]))
    assert (response.status_code, payload["code"]) == (401, 401)


def test_only_post_is_offered_and_the_trailing_slash_is_optional(import_api):
    """GET is a 405 in the envelope; /api/contacts/import/ works as the path without the slash."""
    answer = import_api.get(PATH)
    assert (answer.status_code, answer.json()["code"]) == (405, 405)
    content = csv_bytes([["姓名", "账号 ID"], ["张三", "1"]])
    response = import_api.post(PATH + "/", {"file": SimpleUploadedFile("a.csv", content)})
    assert (response.status_code, response.json()) == (200, ok(report(created=1)))


def test_without_a_file_the_answer_is_a_400_naming_the_field(import_api):
    response = import_api.post(PATH, {"dry_run": "true"}, format="multipart")
    msg = "请用 multipart/form-data 的 file 字段上传 xlsx 或 csv 文件"
    assert (response.status_code, response.json()) == (400, refused(msg))


def test_a_json_body_is_refused_as_an_unsupported_media_type(import_api):
    response = import_api.post(PATH, {"file": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (415, 415)


# The dry run --------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["form", "query"])
def test_a_dry_run_reports_and_writes_nothing(import_api, where, django_capture_on_commit_callbacks):
    """The same report as the real import; only reads run, no signal fires, no on-commit work is queued."""
    contact = make_contact(name="张三")
    before = snapshot()
    content = xlsx([["ID", "姓名", "账号 ID"], [contact.pk, "改名", 1], [None, "新", 2], [contact.pk + 9, "x", 1]])
    signals = []

    def record(sender, **kwargs):
        signals.append(sender)

    pre_save.connect(record, weak=False)
    post_save.connect(record, weak=False)
    try:
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
            if where == "form":
                response, payload = upload(import_api, content, dry_run="true")
            else:
                response = import_api.post(f"{PATH}?dry_run=1", {"file": SimpleUploadedFile("a.xlsx", content)})
                payload = response.json()
    finally:
        pre_save.disconnect(record)
        post_save.disconnect(record)
    assert (response.status_code, payload) == (
        400,
        failed(report(created=1, updated=1, errors=[(4, "ID", "ID 不存在")])),
    )
    assert snapshot() == before
    assert (signals, callbacks) == ([], [])
    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    assert set(statements) <= {"SELECT"}, statements
    good = xlsx([["ID", "姓名"], [contact.pk, "改名"]])
    response, payload = upload(import_api, good, dry_run="true")
    assert (response.status_code, payload) == (200, ok(report(updated=1)))
    assert snapshot() == before


def test_a_dry_run_flag_other_than_true_or_false_is_a_400(import_api):
    response, payload = upload(import_api, xlsx([["姓名", "账号 ID"], ["张三", 1]]), dry_run="maybe")
    expected = {"code": 400, "msg": "dry_run: 应为 true 或 false", "data": {"dry_run": ["应为 true 或 false"]}}
    assert (response.status_code, payload) == (400, expected)
    assert not Contact.objects.exists()


# Hostile files --------------------------------------------------------------------------------------


def hostile_files() -> list[tuple[str, bytes, str]]:
    header_only = xlsx([["姓名", "账号 ID"], ["张三", 1]])
    return [
        ("png", PNG, "不是 xlsx 或 csv 文件"),
        ("binary", bytes(range(256)) * 4, "不是 xlsx 或 csv 文件:CSV 的编码应为 UTF-8(可带 BOM)或 GB18030"),
        ("encrypted", encrypted_xlsx(), ENCRYPTED),
        ("truncated", header_only[: len(header_only) // 2], CORRUPT),
        ("not a workbook zip", zip_with({"hello.txt": b"hello"}), CORRUPT),
        (
            "broken sheet",
            zip_with({**zip_members(header_only), "xl/worksheets/sheet1.xml": b"<worksheet><row"}),
            CORRUPT,
        ),
        ("entities in the sheet", billion_laughs("sheet"), ENTITIES),
        ("entities in the shared strings", billion_laughs("strings"), ENTITIES),
        ("entities in the workbook", billion_laughs("workbook"), ENTITIES),
        ("empty", b"", "文件是空的:第 1 行应为表头"),
    ]


@pytest.mark.parametrize(("kind", "content", "msg"), hostile_files(), ids=[kind for kind, _, _ in hostile_files()])
def test_a_hostile_or_broken_file_is_a_400_and_writes_nothing(import_api, kind, content, msg):
    """Not a spreadsheet, password-protected, corrupt, XML entities, empty: 400 naming the problem."""
    before = snapshot()
    response, payload = upload(import_api, content, "contacts.xlsx")
    assert (response.status_code, payload) == (400, refused(msg))
    assert snapshot() == before


@pytest.mark.parametrize(
    ("part", "member", "text"),
    [
        ("sheet", "xl/worksheets/sheet1.xml", "张三"),
        ("strings", "xl/sharedStrings.xml", "张三"),
        ("workbook", "xl/workbook.xml", "Sheet"),
    ],
)
def test_the_billion_laughs_declaration_is_what_is_refused(import_api, part, member, text):
    """The entities test files are otherwise valid: without the DTD, and with text for the entity, the same
    workbook imports (its inline string, its shared string, its sheet name)."""
    members = zip_members(billion_laughs(part))
    members[member] = members[member].replace(BILLION_LAUGHS_DTD.encode(), b"").replace(b"&lol9;", text.encode())
    response, payload = upload(import_api, zip_with(members))
    assert (response.status_code, payload) == (200, ok(report(created=1)))
    assert Contact.objects.values_list("name", "account_id").get() == ("张三", 1)


def test_a_zip_bomb_is_refused_from_its_directory(import_api, settings):
    """A workbook that unpacks past IMPORT_MAX_UNCOMPRESSED_BYTES is refused before it is inflated."""
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 2_000_000
    bomb = zip_bomb(3_000_000)
    assert len(bomb) < 50_000
    response, payload = upload(import_api, bomb)
    assert (response.status_code, payload) == (400, refused("xlsx 文件解压后超过 2000000 字节,已拒绝"))
    response, payload = upload(import_api, zip_bomb(1_000_000))
    assert (response.status_code, payload) == (200, ok(report(created=1)))


def test_a_zip_whose_directory_understates_a_member_is_refused_as_corrupt(import_api, settings):
    """A member that inflates past the size its directory entry declares is cut there and fails its CRC:
    the directory's sizes bound what is read, whatever the member holds."""
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 2_000_000
    lying = zip_lying_about(zip_bomb(3_000_000), "xl/worksheets/sheet1.xml", 1000)
    response, payload = upload(import_api, lying)
    assert (response.status_code, payload) == (400, refused(CORRUPT))


@pytest.mark.parametrize(
    ("make", "bound"),
    [(cell_flood, 16_384), (style_flood, 65_536), (deep_nesting, 64)],
    ids=["cells of a row", "cell formats", "nesting"],
)
def test_xml_that_would_make_openpyxl_hold_too_much_is_refused_before_it_reads(import_api, make, bound):
    """A row of more cells than Excel's columns, more cell formats than Excel allows, nesting deeper than a
    workbook's: refused by an expat pass that keeps no tree; up to the bound the file imports."""
    response, payload = upload(import_api, make(bound))
    assert (response.status_code, payload["data"]) == (200, report(created=1)), payload
    response, payload = upload(import_api, make(bound + 1))
    assert (response.status_code, payload) == (400, refused(TOO_COMPLEX))


def test_xml_past_the_element_budget_of_import_max_rows_is_refused(import_api, settings, monkeypatch):
    """All parts together may hold 100 elements per IMPORT_MAX_ROWS row (and a fixed allowance)."""
    monkeypatch.setattr(reading, "XML_ELEMENTS_BASE", 0)
    settings.IMPORT_MAX_ROWS = 2
    response, payload = upload(import_api, xlsx([["姓名", "账号 ID"], ["张三", 1]]))
    assert (response.status_code, payload) == (400, refused(TOO_COMPLEX))
    settings.IMPORT_MAX_ROWS = 100
    response, payload = upload(import_api, xlsx([["姓名", "账号 ID"], ["张三", 1]]))
    assert response.status_code == 200


def test_a_file_over_import_max_bytes_is_refused(import_api, settings):
    """IMPORT_MAX_BYTES bounds the file itself."""
    content = csv_bytes([["姓名", "账号 ID"], *[["张三", "1"] for _ in range(100)]])
    settings.IMPORT_MAX_BYTES = len(content) - 1
    response, payload = upload(import_api, content, "a.csv")
    assert (response.status_code, payload) == (400, refused(f"文件超过 {len(content) - 1} 字节"))
    settings.IMPORT_MAX_BYTES = len(content)
    assert upload(import_api, content, "a.csv")[0].status_code == 200


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_more_rows_than_import_max_rows_are_refused(import_api, settings, kind):
    """IMPORT_MAX_ROWS data rows are taken, one more is a 400; empty rows do not count."""
    settings.IMPORT_MAX_ROWS = 3
    rows = [["姓名", "账号 ID"], ["甲", 1], [None, None], ["乙", 1], ["丙", 1]]
    make = (lambda rows: csv_bytes([["" if v is None else v for v in row] for row in rows])) if kind == "csv" else xlsx
    assert upload(import_api, make(rows), f"a.{kind}")[0].status_code == 200
    response, payload = upload(import_api, make([*rows, ["丁", 1]]), f"a.{kind}")
    assert (response.status_code, payload) == (400, refused("数据超过 3 行"))
    assert Contact.objects.count() == 3


def test_an_export_split_over_several_sheets_is_refused(import_api):
    """Only one data sheet is read: a workbook with 联系记录 (2) is refused rather than half imported."""
    response, payload = upload(import_api, xlsx([["姓名", "账号 ID"], ["张三", 1]], extra_sheets=["联系记录 (2)"]))
    assert (response.status_code, payload) == (400, refused("工作簿有多张联系记录数据表:请分成每个文件一张表再导入"))


def test_the_sheet_named_like_the_exports_is_read_and_the_info_sheet_ignored(import_api):
    """An export's 联系记录 sheet is read even when another sheet comes first; 导出信息 is never read."""
    book = openpyxl.Workbook()
    book.active.title = "导出信息"
    book.active.append(["项目", "内容"])
    data = book.create_sheet("联系记录")
    data.append(["姓名", "账号 ID"])
    data.append(["张三", 1])
    out = io.BytesIO()
    book.save(out)
    response, payload = upload(import_api, out.getvalue())
    assert (response.status_code, payload) == (200, ok(report(created=1)))


def test_a_sheet_claiming_huge_dimensions_is_read_by_its_real_cells(import_api):
    """A declared dimension of A1:XFD1048576 neither pads rows nor costs a million empty rows."""
    members = zip_members(xlsx([["姓名", "账号 ID"], ["张三", 1]]))
    sheet = members["xl/worksheets/sheet1.xml"]
    huge = b'<dimension ref="A1:XFD1048576"/>'
    members["xl/worksheets/sheet1.xml"] = sheet.replace(b'<dimension ref="A1:B2"/>', huge)
    response, payload = upload(import_api, zip_with(members))
    assert (response.status_code, payload) == (200, ok(report(created=1)))


# Bulk writes --------------------------------------------------------------------------------------


def import_queries(client, rows: int) -> int:
    Contact.objects.all().delete()
    existing = [make_contact(name=f"旧{n}") for n in range(rows)]
    content = xlsx(
        [["ID", "姓名", "账号 ID", "回复状态"]]
        + [[contact.pk, f"改{n}", 1, "已回复"] for n, contact in enumerate(existing)]
        + [[None, f"新{n}", 2, "未回复"] for n in range(rows)]
    )
    with CaptureQueriesContext(connection) as queries:
        response, payload = upload(client, content)
    assert (response.status_code, payload) == (200, ok(report(created=rows, updated=rows)))
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_rows(import_api):
    """Bulk reads and writes: 5 and 60 rows of creates and updates (one batch) take the same statements."""
    assert import_queries(import_api, 5) == import_queries(import_api, 60)


def test_batches_cover_every_row_beyond_one_batch(import_api, monkeypatch):
    """With batches of 7, 20 updates and 20 creates are all read and written."""
    monkeypatch.setattr(services, "BATCH_SIZE", 7)
    monkeypatch.setattr(writing, "BATCH_SIZE", 7)
    monkeypatch.setattr(writing, "UPDATE_BATCH_SIZE", 7)
    existing = [make_contact(name=f"旧{n}") for n in range(20)]
    content = xlsx(
        [["ID", "姓名", "账号 ID"]]
        + [[contact.pk, f"改{n}", 1] for n, contact in enumerate(existing)]
        + [[None, f"新{n}", 2] for n in range(20)]
    )
    response, payload = upload(import_api, content)
    assert (response.status_code, payload) == (200, ok(report(created=20, updated=20)))
    assert sorted(Contact.objects.values_list("name", flat=True)) == sorted(
        [f"改{n}" for n in range(20)] + [f"新{n}" for n in range(20)]
    )


def test_the_kept_tallies_stay_exact(import_api):
    """Creates, and updates that move status, wechat flag and account, keep every tally row exact."""
    contacts = [make_contact(account_id=1 + n % 2) for n in range(6)]
    content = xlsx(
        [["ID", "姓名", "账号 ID", "回复状态", "是否交换微信"]]
        + [[contact.pk, "改", 3, "已回复", "是"] for contact in contacts[:3]]
        + [[None, "新", 4, "已回复", "否"], [None, "新", 1, "未回复", "是"]]
    )
    response, _ = upload(import_api, content)
    assert response.status_code == 200
    assert tallies() == real_tallies()
    assert real_tallies()[(3, ReplyStatus.REPLIED, True)] == 3


def test_a_large_import_refreshes_the_planners_statistics(import_api, monkeypatch):
    """At STATISTICS_REFRESH_ROWS written rows the import refreshes the statistics; below it, not."""
    calls = []
    monkeypatch.setattr(services, "contacts_statistics_refresh", lambda: calls.append(1) or "ANALYZE")
    monkeypatch.setattr(services, "STATISTICS_REFRESH_ROWS", 3)
    upload(import_api, xlsx([["姓名", "账号 ID"], ["甲", 1], ["乙", 1]]))
    assert calls == []
    upload(import_api, xlsx([["姓名", "账号 ID"], ["甲", 1], ["乙", 1], ["丙", 1]]), dry_run="true")
    assert calls == []
    upload(import_api, xlsx([["姓名", "账号 ID"], ["甲", 1], ["乙", 1], ["丙", 1]]))
    assert calls == [1]


# The round trip ---------------------------------------------------------------------------------------


@pytest.fixture
def exported_contacts(db) -> list[Contact]:
    return round_trip_contacts()


def exported_workbook(client) -> openpyxl.Workbook:
    payload = client.get("/api/contacts/export").json()
    return openpyxl.load_workbook(exports_folder() / payload["data"]["filename"])


def saved(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_export_reimported_untouched_changes_nothing(import_api, exported_contacts):
    """Every row of an export is unchanged, and nothing is written: microseconds and updated_at stay."""
    before = snapshot()
    response, payload = upload(import_api, saved(exported_workbook(import_api)))
    assert (response.status_code, payload) == (200, ok(report(unchanged=3)))
    assert snapshot() == before


def test_text_stored_before_todays_rules_reimports_unchanged(import_api, exported_contacts):
    """Notes of 40,000 characters with a control character (stored before their bound, straight into the
    database) export cut to a cell and cleaned; re-imported untouched they are unchanged, and kept whole."""
    legacy = "旧" * 20_000 + "\x01" + "备" * 20_000
    Contact.objects.filter(pk=exported_contacts[0].pk).update(notes=legacy)
    before = snapshot()
    response, payload = upload(import_api, saved(exported_workbook(import_api)))
    assert (response.status_code, payload) == (200, ok(report(unchanged=3)))
    assert snapshot() == before


def test_an_edited_export_changes_exactly_the_edited_cells(import_api, exported_contacts):
    """A phone typed as a number, a date typed as a date cell and a status typed as text change those
    cells' fields of those contacts, and nothing else."""
    before = {row[0]: row for row in snapshot()}
    book = exported_workbook(import_api)
    sheet = book["联系记录"]
    header = [cell.value for cell in sheet[1]]
    rows = {sheet.cell(row, 1).value: row for row in range(2, sheet.max_row + 1)}
    first, second, third = exported_contacts
    sheet.cell(rows[first.pk], header.index("联系方式") + 1).value = 13912345678
    sheet.cell(rows[second.pk], header.index("联系时间") + 1).value = dt.datetime(2024, 5, 6, 7, 8, 9)
    sheet.cell(rows[third.pk], header.index("回复状态") + 1).value = "已回复"
    response, payload = upload(import_api, saved(book))
    assert (response.status_code, payload) == (200, ok(report(updated=3)))
    after = {row[0]: row for row in snapshot()}
    columns = [field.attname for field in Contact._meta.concrete_fields]

    def changes(pk: int) -> dict:
        return {name: after[pk][i] for i, name in enumerate(columns) if before[pk][i] != after[pk][i]}

    assert set(changes(first.pk)) == {"contact", "updated_at"} and changes(first.pk)["contact"] == "13912345678"
    assert set(changes(second.pk)) == {"contacted_at", "updated_at"}
    assert changes(second.pk)["contacted_at"] == local_time("2024-05-06 07:08:09")
    assert set(changes(third.pk)) == {"reply_status", "updated_at"}
    assert changes(third.pk)["reply_status"] == ReplyStatus.REPLIED


ALL_FIELDS = "id,name,position,contact,reply_status,wechat_exchanged,worker_id,notes,contacted_at,created_at,account_id"


def exported_csv(client) -> str:
    payload = client.get("/api/contacts/export", {"format": "csv", "columns": ALL_FIELDS}).json()
    return (exports_folder() / payload["data"]["filename"]).read_bytes().decode("utf-8")


def test_a_csv_export_of_every_column_reimported_untouched_changes_nothing(import_api, exported_contacts):
    """The CSV export's quote guard (`=1+1`, `@张三`, `-5 分`), BOM, CRLF and quoted newlines come back exactly."""
    before = snapshot()
    text = exported_csv(import_api)
    assert "'=1+1" in text and "'-5 分" in text
    response, payload = upload(import_api, text.encode("utf-8"), "contacts.csv")
    assert (response.status_code, payload) == (200, ok(report(unchanged=3)))
    assert snapshot() == before


def test_an_edited_csv_export_changes_exactly_the_edited_cells(import_api, exported_contacts):
    """A CSV export edited as text and saved in GB18030, as Chinese Excel does, changes only the edited cell."""
    before = {row[0]: row for row in snapshot()}
    rows = list(csv.reader(io.StringIO(exported_csv(import_api).removeprefix("\ufeff"), newline="")))
    header = rows[0]
    first = exported_contacts[0]
    edited = next(row for row in rows[1:] if row[0] == str(first.pk))
    edited[header.index("备注")] = "'=改过"  # guarded as the export guards it: the stored text is `=改过`
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    response, payload = upload(import_api, out.getvalue().encode("gb18030"), "contacts.csv")
    assert (response.status_code, payload) == (200, ok(report(updated=1, unchanged=2)))
    after = {row[0]: row for row in snapshot()}
    columns = [field.attname for field in Contact._meta.concrete_fields]
    changed = {name for i, name in enumerate(columns) if before[first.pk][i] != after[first.pk][i]}
    assert changed == {"notes", "updated_at"}
    assert Contact.objects.get(pk=first.pk).notes == "=改过"
    assert all(before[pk] == after[pk] for pk in before if pk != first.pk)


def test_a_contact_moved_out_of_scope_by_someone_else_is_not_found(scoped_api):
    """Scoping applies to the stored account: an ID the caller no longer sees is 'ID 不存在'."""
    contact = make_contact(account_id=1)
    Contact.objects.filter(pk=contact.pk).update(account_id=5)
    response, payload = upload(scoped_api, csv_bytes([["ID", "备注"], [str(contact.pk), "x"]]), "a.csv")
    assert (response.status_code, payload) == (400, failed(report(errors=[(2, "ID", "ID 不存在")])))


# The request body limit -------------------------------------------------------------------------------


def test_the_import_path_takes_bodies_up_to_import_max_bytes_and_no_further(import_api, settings):
    """A 2 MiB upload passes the 1 MiB body limit on the import path (and is judged as a file); a body past
    IMPORT_MAX_BYTES and the multipart overhead is a 413; other paths keep REQUEST_BODY_MAX_BYTES."""
    settings.REQUEST_BODY_MAX_BYTES = 1024 * 1024
    settings.IMPORT_MAX_BYTES = 3 * 1024 * 1024
    response, payload = upload(import_api, PNG + bytes(2 * 1024 * 1024))
    assert (response.status_code, payload) == (400, refused("不是 xlsx 或 csv 文件"))
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    response, payload = upload(import_api, PNG + bytes(1024 * 1024 + 64 * 1024))
    assert (response.status_code, payload) == (413, {"code": 413, "msg": "请求体过大,最多 1114112 字节", "data": None})
    answer = import_api.post("/api/contacts", {"name": "张三", "notes": "x" * (1024 * 1024)}, format="json")
    assert (answer.status_code, answer.json()["msg"]) == (413, "请求体过大,最多 1048576 字节")
