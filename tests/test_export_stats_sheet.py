"""The workbook's 统计 sheet: the exported rows' funnel per worker, from the writer, the API's export and a job."""

import datetime as dt
from pathlib import Path

import pytest
from celery import current_app
from export_support import assert_no_formula_element, exports_folder, workbook
from factories import make_contact

from contacts.exports import funnel, services
from contacts.exports.funnel import FunnelTally
from contacts.exports.workbook import FIELDS, ExportInfo, contacts_workbook_write
from contacts.models import ContactExport, ReplyStatus
from contacts.stats import funnel_rate

EXPORT = "/api/contacts/export"
JOBS = "/api/contacts/exports"
SCRATCH_NAME = "contacts_export_20240304_153045_a1b2c3d4.xlsx"
INFO = ExportInfo(username="boss", generated_at=dt.datetime(2024, 3, 4, 15, 30, 45), source="接口")
HEADER = ("Worker ID", "联系人数", "已回复", "回复率", "已交换微信", "微信交换率")
REPLIED, PENDING = ReplyStatus.REPLIED, ReplyStatus.PENDING

# (worker_id, reply_status, wechat_exchanged, how many), interleaved below so that no worker's rows are together.
KNOWN = [
    ("", REPLIED, True, 1),
    ("worker-a", REPLIED, True, 1),
    ("worker-a", PENDING, False, 6),
    ("worker-b", REPLIED, True, 1),
    ("worker-b", PENDING, True, 1),
    ("worker-b", PENDING, False, 1),
    ("worker-c", PENDING, False, 2),
]
KNOWN_SHEET = [
    HEADER,
    (None, 1, 1, 1, 1, 1),
    ("worker-a", 7, 1, 0.1429, 1, 0.1429),
    ("worker-b", 3, 1, 0.3333, 2, 0.6667),
    ("worker-c", 2, 0, 0, 0, 0),
    ("合计", 13, 3, 0.2308, 4, 0.3077),
]


def known_funnel() -> list[tuple[str, str, bool]]:
    expanded = [(worker, status, wechat) for worker, status, wechat, count in KNOWN for _ in range(count)]
    return expanded[::2] + expanded[1::2]


def row_of(pk: int, worker_id: str, reply_status: str, wechat_exchanged: bool) -> tuple:
    """A row of the default columns with that funnel."""
    values = {
        "id": pk,
        "name": f"联系人{pk}",
        "position": "产品经理",
        "contact": "13800138000",
        "reply_status": reply_status,
        "wechat_exchanged": wechat_exchanged,
        "worker_id": worker_id,
        "notes": "",
        "contacted_at": None,
        "created_at": dt.datetime(2024, 3, 1, 2, 0, tzinfo=dt.UTC),
    }
    return tuple(values[name] for name in FIELDS)


def write(tmp_path: Path, rows) -> Path:
    target = tmp_path / "out.xlsx"
    with open(target, "wb") as handle:
        contacts_workbook_write(target=handle, rows=rows, info=INFO, scratch_dir=tmp_path, scratch_name=SCRATCH_NAME)
    return target


def stats_rows(path: Path) -> list[tuple]:
    return list(workbook(path)["统计"].iter_rows(values_only=True))


@pytest.fixture
def contacts(db) -> None:
    for worker, status, wechat in known_funnel():
        make_contact(worker_id=worker, reply_status=status, wechat_exchanged=wechat)


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, list]]:
    """The tasks sent to the workers' queue, instead of a broker."""
    messages: list[tuple[str, list]] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: messages.append((name, args)))
    return messages


@pytest.mark.parametrize(
    ("part", "whole", "rate"), [(1, 3, 0.3333), (2, 3, 0.6667), (1, 8, 0.125), (5, 5, 1), (0, 4, 0), (0, 0, 0)]
)
def test_a_rate_is_the_fraction_rounded_to_four_places_and_zero_without_contacts(part, whole, rate):
    """The stats API's rule: part / whole to 4 places, 0 of 0 is 0."""
    assert funnel_rate(part, whole) == rate


def test_the_sheet_has_a_line_per_worker_by_id_then_the_total(tmp_path):
    """Four workers (one without an id, an empty cell) in id order, counts and rounded rates, then 合计."""
    rows = [row_of(pk, *funnel) for pk, funnel in enumerate(known_funnel(), 1)]
    assert stats_rows(write(tmp_path, rows)) == KNOWN_SHEET


def test_the_sheet_is_styled_like_the_others(tmp_path):
    """Styled frozen header, widths that fit, rates as 0.00% percentages, a bold 合计, literal worker ids."""
    rows = [
        row_of(1, "=cmd", REPLIED, False),
        row_of(2, "worker-0001", PENDING, True),
        row_of(3, "=cmd", PENDING, True),
    ]
    path = write(tmp_path, rows)
    sheet = workbook(path)["统计"]
    assert list(sheet.iter_rows(values_only=True)) == [
        HEADER,
        ("=cmd", 2, 1, 0.5, 1, 0.5),
        ("worker-0001", 1, 0, 0, 1, 1),
        ("合计", 3, 1, 0.3333, 2, 0.6667),
    ]
    assert sheet.freeze_panes == "A2"
    for cell in sheet[1]:
        assert (cell.font.b, cell.font.color.rgb, cell.fill.fill_type, cell.fill.fgColor.rgb) == (
            True,
            "00FFFFFF",
            "solid",
            "004472C4",
        )
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEF"}
    assert widths == {"A": 13, "B": 10, "C": 8, "D": 9, "E": 12, "F": 12}
    assert [[cell.number_format for cell in row] for row in sheet.iter_rows(min_row=2)] == [
        ["General", "General", "General", "0.00%", "General", "0.00%"]
    ] * 3
    assert [cell.font.b for cell in sheet[4]] == [True] * 6
    assert [cell.font.b for cell in sheet[2]] == [False] * 6
    assert sheet["A2"].quotePrefix is True
    assert_no_formula_element(path)


def test_an_empty_export_has_the_header_and_a_total_of_zeros(tmp_path):
    """No rows: the header and 合计 with every count and rate 0."""
    assert stats_rows(write(tmp_path, [])) == [HEADER, ("合计", 0, 0, 0, 0, 0)]


def test_past_the_workers_limit_only_the_total_is_listed_and_it_stays_exact(tmp_path, monkeypatch):
    """With a limit of 2 workers, a third folds every count into 合计, rows before and after it alike."""
    monkeypatch.setattr(funnel, "FUNNEL_MAX_WORKERS", 2)
    rows = [
        row_of(1, "w1", REPLIED, True),
        row_of(2, "w2", PENDING, False),
        row_of(3, "w3", REPLIED, False),
        row_of(4, "w1", PENDING, True),
        row_of(5, "w4", PENDING, False),
    ]
    assert stats_rows(write(tmp_path, rows)) == [
        HEADER,
        ("合计", 5, 2, 0.4, 2, 0.4),
        (None,) * 6,
        ("Worker 超过 2 个,只列合计", None, None, None, None, None),
    ]


def test_the_tally_keeps_its_workers_until_the_limit():
    """At the limit exactly, every worker keeps its line."""
    tally = FunnelTally(max_workers=2)
    for key in [("b", REPLIED, True), ("a", PENDING, False), ("b", PENDING, False)]:
        tally.add(key)
    assert [(line.key, line.contacts, line.replied, line.wechat_exchanged) for line in tally.by_worker] == [
        ("a", 1, 0, 0),
        ("b", 2, 1, 1),
    ]
    assert (tally.total.contacts, tally.total.replied, tally.total.wechat_exchanged) == (3, 1, 1)


def test_the_apis_export_has_the_funnel_of_the_known_contacts(export_api, contacts):
    """GET /api/contacts/export: sheets in order, and 统计 as the contacts make it."""
    response = export_api.get(EXPORT)
    assert response.status_code == 200, response.content
    book = workbook(exports_folder() / response.json()["data"]["filename"])
    assert book.sheetnames == ["联系记录", "导出信息", "统计"]
    assert list(book["统计"].iter_rows(values_only=True)) == KNOWN_SHEET


def test_an_export_of_names_alone_still_counts_every_workers_funnel(export_api, contacts):
    """`columns=name`: the data sheet holds names only, 统计 is the same as with every column."""
    response = export_api.get(EXPORT, {"columns": "name"})
    assert response.status_code == 200, response.content
    book = workbook(exports_folder() / response.json()["data"]["filename"])
    data = list(book["联系记录"].iter_rows(values_only=True))
    assert data[0] == ("姓名",)
    assert {len(row) for row in data} == {1}
    assert len(data) == 14
    assert list(book["统计"].iter_rows(values_only=True)) == KNOWN_SHEET


def test_a_filtered_job_counts_the_rows_it_exported(export_api, contacts, sent):
    """A job of the pending contacts, columns id and name: 统计 counts those ten rows only."""
    accepted = export_api.post(JOBS, {"reply_status": "未回复", "columns": "id,name"}, format="json")
    assert accepted.status_code == 202, accepted.content
    services.export_job_run(export_id=accepted.json()["data"]["id"])
    record = ContactExport.objects.get(pk=accepted.json()["data"]["id"])
    assert (record.status, record.row_count) == ("succeeded", 10)
    assert stats_rows(exports_folder() / record.filename) == [
        HEADER,
        ("worker-a", 6, 0, 0, 0, 0),
        ("worker-b", 2, 0, 0, 1, 0.5),
        ("worker-c", 2, 0, 0, 0, 0),
        ("合计", 10, 0, 0, 1, 0.1),
    ]
