"""Chosen columns and formats: their validation on both export endpoints, and the columns in xlsx and CSV."""

from urllib.parse import urlencode

import pytest
from celery import current_app
from django.test import Client
from export_support import exports_folder, workbook
from factories import local_time, make_contact, make_user
from openpyxl.utils import get_column_letter

from contacts.exports.columns import ALL_COLUMNS, DEFAULT_COLUMNS
from contacts.exports.workbook import FIELDS, HEADER
from contacts.models import Contact, ContactExport

EXPORT = "/api/contacts/export"
JOBS = "/api/contacts/exports"
NAMES = (
    "id, name, position, contact, reply_status, wechat_exchanged, worker_id, notes, contacted_at, created_at, "
    "account_id"
)


@pytest.fixture
def contacts(db) -> list[Contact]:
    return [
        make_contact(name="欧阳娜娜", account_id=123456, created_at=local_time("2024-03-01 09:00:00")),
        make_contact(name="=cmd", account_id=7, wechat_exchanged=True, created_at=local_time("2024-03-02 09:00:00")),
    ]


@pytest.fixture
def sent(monkeypatch) -> list:
    messages: list = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: messages.append((name, args)))
    return messages


def refused(field: str, message: str) -> dict:
    return {"code": 400, "msg": f"{field}: {message}", "data": {field: [message]}}


BAD_OPTIONS = [
    ({"format": "pdf"}, refused("format", '只能是 xlsx 或 csv,不能是 "pdf"')),
    ({"format": "CSV"}, refused("format", '只能是 xlsx 或 csv,不能是 "CSV"')),
    ({"format": ""}, refused("format", '只能是 xlsx 或 csv,不能是 ""')),
    ({"columns": "id,phone"}, refused("columns", f'没有 "phone" 这一列,可选:{NAMES}')),
    ({"columns": "id, name"}, refused("columns", f'没有 " name" 这一列,可选:{NAMES}')),
    ({"columns": "name,id,name"}, refused("columns", '列 "name" 重复')),
    ({"columns": ""}, refused("columns", f"至少要有一列,可选:{NAMES}")),
    ({"columns": "id,,name"}, refused("columns", '列名不能为空(在 "id,,name" 中)')),
    ({"columns": "name,"}, refused("columns", '列名不能为空(在 "name," 中)')),
    (
        {"reply_status": "maybe", "format": "pdf"},
        {
            "code": 400,
            "msg": 'reply_status: 只能是 未回复 或 已回复; format: 只能是 xlsx 或 csv,不能是 "pdf"',
            "data": {"reply_status": ["只能是 未回复 或 已回复"], "format": ['只能是 xlsx 或 csv,不能是 "pdf"']},
        },
    ),
]
BAD_IDS = [
    "pdf",
    "upper-case",
    "empty-format",
    "unknown",
    "space",
    "repeated",
    "empty",
    "empty-item",
    "trailing",
    "both",
]


@pytest.mark.parametrize(("params", "answer"), BAD_OPTIONS, ids=BAD_IDS)
def test_a_bad_format_or_columns_is_a_400_naming_it_on_the_synchronous_export(export_api, contacts, params, answer):
    """The envelope names the parameter and the value; nothing is recorded or written."""
    response = export_api.get(EXPORT, params)
    assert (response.status_code, response.json()) == (400, answer)
    assert not ContactExport.objects.exists()
    assert not exports_folder().exists() or not any(exports_folder().iterdir())


@pytest.mark.parametrize(("params", "answer"), BAD_OPTIONS, ids=BAD_IDS)
@pytest.mark.parametrize("where", ["body", "query"])
def test_a_bad_format_or_columns_is_the_same_400_on_the_job_api(export_api, contacts, sent, params, answer, where):
    """In a JSON body or the query string alike: the same 400, no job recorded, nothing queued."""
    if where == "body":
        response = export_api.post(JOBS, params, format="json")
    else:
        response = export_api.post(f"{JOBS}?{urlencode(params)}")
    assert (response.status_code, response.json()) == (400, answer)
    assert not ContactExport.objects.exists()
    assert sent == []


@pytest.mark.parametrize("path", [EXPORT, JOBS])
def test_format_or_columns_given_twice_in_the_query_string_is_a_400(export_api, contacts, sent, path):
    """`format=pdf&format=xlsx` is refused, not read as its last value; nothing is recorded."""
    send = export_api.get if path == EXPORT else export_api.post
    response = send(f"{path}?format=pdf&format=xlsx&columns=id&columns=id,name")
    assert response.json() == {
        "code": 400,
        "msg": "format: 只能给出一次; columns: 只能给出一次",
        "data": {"format": ["只能给出一次"], "columns": ["只能给出一次"]},
    }
    assert not ContactExport.objects.exists()


def test_a_json_null_format_is_refused_not_taken_for_the_default(export_api, contacts, sent):
    """`"format": null` is an empty value, which these two parameters refuse."""
    response = export_api.post(JOBS, {"format": None}, format="json")
    assert response.json() == refused("format", '只能是 xlsx 或 csv,不能是 ""')


def test_format_and_columns_are_not_filters_and_are_recorded_apart(export_api, contacts, sent):
    """The FilterSet ignores them (all rows match); the job records them in their own fields."""
    response = export_api.post(JOBS, {"format": "csv", "columns": "account_id,name"}, format="json")
    record = ContactExport.objects.get(pk=response.json()["data"]["id"])
    assert (record.filters, record.file_format, record.columns) == (
        {"ordering": "-created_at"},
        "csv",
        ["account_id", "name"],
    )
    assert record.total_records == 2


def test_a_job_without_format_or_columns_shows_the_defaults(export_api, contacts, sent):
    """Nothing asked: xlsx and the ten default columns, recorded as no choice (an empty list)."""
    job_id = export_api.post(JOBS).json()["data"]["id"]
    data = export_api.get(f"{JOBS}/{job_id}").json()["data"]
    assert (data["format"], data["columns"]) == ("xlsx", list(FIELDS))
    assert ContactExport.objects.get(pk=job_id).columns == []


def test_the_default_columns_are_the_ten_of_old_and_account_id_is_the_extra_one():
    """Defaults: today's ten in today's order; every column is named once; 账号 ID is not a default."""
    assert HEADER == (
        "ID",
        "姓名",
        "岗位",
        "联系方式",
        "回复状态",
        "是否交换微信",
        "Worker ID",
        "备注",
        "联系时间",
        "创建时间",
    )
    assert [column for column in ALL_COLUMNS if column not in DEFAULT_COLUMNS] == [("账号 ID", "account_id", "number")]


def test_chosen_columns_shape_the_workbook_headers_widths_filter_and_information(export_api, contacts):
    """Only the chosen columns, in their order: header, widths, autofilter, cell types, and 导出列 on 导出信息."""
    response = export_api.get(EXPORT, {"columns": "account_id,name,wechat_exchanged", "ordering": "created_at"})
    assert response.status_code == 200, response.content
    book = workbook(exports_folder() / response.json()["data"]["filename"])
    sheet = book["联系记录"]
    assert list(sheet.iter_rows(values_only=True)) == [
        ("账号 ID", "姓名", "是否交换微信"),
        (123456, "欧阳娜娜", "否"),
        (7, "=cmd", "是"),
    ]
    assert sheet["B3"].quotePrefix is True
    widths = {letter: dimension.width for letter, dimension in sheet.column_dimensions.items() if dimension.width}
    assert widths == {"A": 9, "B": 10, "C": 14}
    assert sheet.auto_filter.ref == "A1:C3"
    info = dict(book["导出信息"].iter_rows(values_only=True))
    assert info["导出列"] == "账号 ID, 姓名, 是否交换微信"


def test_the_default_workbook_keeps_its_ten_columns_and_says_nothing_of_columns(export_api, contacts):
    """No `columns`: the ten headers of old, ten widths, and no 导出列 line."""
    response = export_api.get(EXPORT)
    book = workbook(exports_folder() / response.json()["data"]["filename"])
    sheet = book["联系记录"]
    assert next(sheet.iter_rows(values_only=True)) == HEADER
    assert sorted(sheet.column_dimensions) == [get_column_letter(n) for n in range(1, 11)]
    assert sheet.auto_filter.ref == "A1:J3"
    assert "导出列" not in dict(book["导出信息"].iter_rows(values_only=True))


def test_every_column_can_be_exported_in_any_order_as_csv(export_api, contacts):
    """All eleven, reversed: the CSV has those headers and values in that order."""
    fields = [column.field for column in reversed(ALL_COLUMNS)]
    response = export_api.get(EXPORT, {"format": "csv", "columns": ",".join(fields), "ordering": "created_at"})
    body = (exports_folder() / response.json()["data"]["filename"]).read_bytes().decode("utf-8-sig")
    first, second = contacts
    assert body.split("\r\n") == [
        "账号 ID,创建时间,联系时间,备注,Worker ID,是否交换微信,回复状态,联系方式,岗位,姓名,ID",
        f"123456,2024-03-01 09:00:00,,,worker-001,否,未回复,13800138000,产品经理,欧阳娜娜,{first.pk}",
        f"7,2024-03-02 09:00:00,,,worker-001,是,未回复,13800138000,产品经理,'=cmd,{second.pk}",
        "",
    ]


def test_the_admin_action_exports_xlsx_of_the_default_columns(db, contacts):
    """The admin's export stays a workbook of the ten columns, recorded as such."""
    user = make_user(
        "staff", "contacts.view_contact", "contacts.view_all_contacts", "contacts.export_contact", is_staff=True
    )
    client = Client()
    client.force_login(user)
    client.post(
        "/admin/contacts/contact/",
        {"action": "export_selected", "_selected_action": [contacts[0].pk], "select_across": "0", "index": "0"},
    )
    record = ContactExport.objects.get()
    assert (record.file_format, record.columns, record.filename.endswith(".xlsx")) == ("xlsx", [], True)
    sheet = workbook(exports_folder() / record.filename)["联系记录"]
    assert next(sheet.iter_rows(values_only=True)) == HEADER


def test_the_export_history_shows_each_exports_format(admin_user, db):
    """The admin's history lists the format of every export, and filters by it."""
    ContactExport.objects.create(username="boss", status="succeeded", file_format="csv", filename="a.csv")
    ContactExport.objects.create(username="boss", status="succeeded", file_format="xlsx", filename="b.xlsx")
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/contacts/contactexport/").content.decode()
    assert page.count('<td class="field-file_format">CSV</td>') == 1
    assert page.count('<td class="field-file_format">Excel (xlsx)</td>') == 1
    only_csv = client.get("/admin/contacts/contactexport/", {"file_format__exact": "csv"}).content.decode()
    assert "a.csv" in only_csv and "b.xlsx" not in only_csv
