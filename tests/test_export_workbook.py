"""The workbook itself, written by `contacts_workbook_write` and read back with openpyxl."""

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from export_support import assert_no_formula_element, data_rows, sheet_xml, workbook
from openpyxl.worksheet._writer import ALL_TEMP_FILES

from contacts.exports import workbook as workbook_module
from contacts.exports.errors import ExportTooLarge
from contacts.exports.workbook import (
    CELL_MAX_CHARS,
    HEADER,
    ExportInfo,
    column_widths,
    contacts_workbook_write,
    excel_text,
    text_display_width,
)

UTC = dt.UTC
SCRATCH_NAME = "contacts_export_20240304_153045_a1b2c3d4.xlsx"
INFO = ExportInfo(
    username="boss",
    generated_at=dt.datetime(2024, 3, 4, 15, 30, 45),
    source="接口",
    filters=[("搜索关键词", "产品经理"), ("回复状态", "已回复")],
    ordering="-created_at",
)


def contact_row(pk: int = 1, **values) -> tuple:
    row = {
        "id": pk,
        "name": "张三",
        "position": "产品经理",
        "contact": "13800138000",
        "reply_status": "已回复",
        "wechat_exchanged": True,
        "worker_id": "worker-001",
        "notes": "沟通顺畅,有意向",
        "contacted_at": dt.datetime(2024, 3, 1, 2, 30, tzinfo=UTC),
        "created_at": dt.datetime(2024, 3, 1, 2, 0, tzinfo=UTC),
    }
    row.update(values)
    return tuple(row[name] for name in workbook_module.FIELDS)


def write(tmp_path: Path, rows, **options) -> Path:
    target = tmp_path / "out.xlsx"
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    with open(target, "wb") as handle:
        contacts_workbook_write(
            target=handle, rows=rows, info=INFO, scratch_dir=scratch, scratch_name=SCRATCH_NAME, **options
        )
    return target


def only_cell(tmp_path: Path, column: str, value):
    """The data cell of `column` in a one-row workbook whose row has `value` there."""
    path = write(tmp_path, [contact_row(**{column: value})])
    sheet = workbook(path)["联系记录"]
    return sheet.cell(row=2, column=workbook_module.FIELDS.index(column) + 1), path


def test_header_row_is_the_documented_titles_in_bold_white_on_solid_blue(tmp_path):
    """The header has the ten titles of the original document, styled as it says."""
    sheet = workbook(write(tmp_path, [contact_row()]))["联系记录"]
    header = sheet[1]
    assert tuple(cell.value for cell in header) == (
        "ID", "姓名", "岗位", "联系方式", "回复状态", "是否交换微信", "Worker ID", "备注", "联系时间", "创建时间",
    )  # fmt: skip
    for cell in header:
        assert cell.font.b is True
        assert cell.font.color.rgb == "00FFFFFF"
        assert cell.fill.fill_type == "solid"
        assert cell.fill.fgColor.rgb == "004472C4"


def test_header_is_frozen_and_the_autofilter_covers_the_data(tmp_path):
    """Scrolling keeps the header in view; the filter spans the header and every data row."""
    sheet = workbook(write(tmp_path, [contact_row(1), contact_row(2), contact_row(3)]))["联系记录"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:J4"


def test_sheets_are_the_data_then_the_export_information_then_the_statistics(tmp_path):
    """The first sheet holds the contacts, the second describes the export, the third counts its funnel."""
    assert workbook(write(tmp_path, [contact_row()])).sheetnames == ["联系记录", "导出信息", "统计"]


def test_every_kind_of_value_is_written_as_its_cell_type(tmp_path):
    """ID is a number, texts are the stored text, 是/否 for the WeChat flag, times are date-times."""
    sheet = workbook(write(tmp_path, [contact_row(7), contact_row(8, wechat_exchanged=False)]))["联系记录"]
    assert data_rows(sheet) == [
        (7, "张三", "产品经理", "13800138000", "已回复", "是", "worker-001", "沟通顺畅,有意向",
         dt.datetime(2024, 3, 1, 10, 30), dt.datetime(2024, 3, 1, 10, 0)),
        (8, "张三", "产品经理", "13800138000", "已回复", "否", "worker-001", "沟通顺畅,有意向",
         dt.datetime(2024, 3, 1, 10, 30), dt.datetime(2024, 3, 1, 10, 0)),
    ]  # fmt: skip
    assert sheet["A2"].data_type == "n"
    assert sheet["B2"].data_type == "s"


def test_date_times_are_excel_date_times_in_the_configured_zone_to_the_second(tmp_path):
    """Both times are real date cells in DJANGO_TIME_ZONE shown as yyyy-mm-dd hh:mm:ss."""
    moment = dt.datetime(2024, 3, 1, 1, 2, 3, 987654, tzinfo=UTC)
    sheet = workbook(write(tmp_path, [contact_row(contacted_at=moment, created_at=moment)]))["联系记录"]
    for cell in (sheet["I2"], sheet["J2"]):
        assert cell.is_date
        assert cell.number_format == "yyyy-mm-dd hh:mm:ss"
        assert cell.value == dt.datetime(2024, 3, 1, 9, 2, 3)


def test_date_times_follow_daylight_saving_of_the_configured_zone(tmp_path, settings):
    """In a zone with summer time, winter and summer rows get their own offsets."""
    settings.TIME_ZONE = "America/New_York"
    winter = dt.datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    summer = dt.datetime(2024, 7, 15, 12, 0, tzinfo=UTC)
    sheet = workbook(write(tmp_path, [contact_row(created_at=winter, contacted_at=summer)]))["联系记录"]
    assert sheet["J2"].value == dt.datetime(2024, 1, 15, 7, 0)
    assert sheet["I2"].value == dt.datetime(2024, 7, 15, 8, 0)


def test_date_times_before_march_1900_keep_their_day(tmp_path, settings):
    """Excel's phantom 29 February 1900 does not shift the earliest storable dates."""
    settings.TIME_ZONE = "UTC"
    early = dt.datetime(1900, 1, 1, 12, 0, tzinfo=UTC)
    later = dt.datetime(1900, 3, 1, 12, 0, tzinfo=UTC)
    sheet = workbook(write(tmp_path, [contact_row(contacted_at=early, created_at=later)]))["联系记录"]
    assert sheet["I2"].value == dt.datetime(1900, 1, 1, 12, 0)
    assert sheet["J2"].value == dt.datetime(1900, 3, 1, 12, 0)


def test_an_empty_contact_time_is_an_empty_cell(tmp_path):
    """No contact time leaves 联系时间 empty instead of writing a zero date."""
    cell, path = only_cell(tmp_path, "contacted_at", None)
    assert cell.value is None
    assert b'r="I2"' not in sheet_xml(path)["xl/worksheets/sheet1.xml"]


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        '=HYPERLINK("http://evil.example","点我")',
        "=cmd|' /C calc'!A0",
        "+86 138 0013 8000",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        "＝1+1",
        "#N/A",
        "#div/0!",
        "=",
    ],
)
def test_formula_like_text_stays_literal_text_that_no_spreadsheet_evaluates(tmp_path, text):
    """Text that a spreadsheet would evaluate is a string cell with the quote prefix, shown unchanged."""
    cell, path = only_cell(tmp_path, "name", text)
    assert cell.value == text
    assert cell.data_type == "s"
    assert cell.quotePrefix is True
    assert_no_formula_element(path)


@pytest.mark.parametrize("column", ["position", "contact", "notes", "worker_id"])
def test_every_text_column_is_kept_literal(tmp_path, column):
    """Not only names: position, contact, notes and worker id get the same treatment."""
    cell, path = only_cell(tmp_path, column, "=SUM(1,2)")
    assert (cell.value, cell.data_type, cell.quotePrefix) == ("=SUM(1,2)", "s", True)
    assert_no_formula_element(path)


@pytest.mark.parametrize("text", ["张三", "13800138000", "a=b", "#话题", "wechat:abc123", " =1"])
def test_ordinary_text_has_no_quote_prefix(tmp_path, text):
    """Only text a spreadsheet would evaluate is marked: the rest stays a plain string."""
    cell, _ = only_cell(tmp_path, "name", text)
    assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", False)


def test_a_phone_number_with_a_plus_keeps_its_visible_text(tmp_path):
    """The quote prefix is a style: the cell holds `+86 138…` with no added apostrophe."""
    _, path = only_cell(tmp_path, "contact", "+86 13800138000")
    xml = sheet_xml(path)["xl/worksheets/sheet1.xml"]
    assert b"<t>+86 13800138000</t>" in xml
    assert b"'+86" not in xml


def test_characters_that_xml_forbids_are_dropped_and_the_file_opens(tmp_path):
    """Control characters, U+FFFE, U+FFFF and lone surrogates go; tab, newline and CR stay."""
    cell, _ = only_cell(tmp_path, "notes", "a\x00b\x08c\x0bd\x1fe\ufffef\uffffg\ud800h\tI\nJ\rK")
    assert cell.value == "abcdefgh\tI\nJ\rK"


def test_text_made_only_of_forbidden_characters_is_an_empty_cell(tmp_path):
    """Nothing left after dropping is written as no cell at all."""
    cell, _ = only_cell(tmp_path, "notes", "\x01\x02")
    assert cell.value is None


def test_text_past_excels_cell_limit_is_cut_there(tmp_path):
    """A cell holds at most 32,767 characters: longer notes are cut, not refused."""
    cell, _ = only_cell(tmp_path, "notes", "备" * 40_000)
    assert cell.value == "备" * CELL_MAX_CHARS


def test_the_cell_limit_counts_characters_outside_the_bmp_as_two():
    """Excel counts UTF-16 units, so 20,000 emoji are cut to 16,383 (32,766 units)."""
    assert excel_text("😀" * 20_000) == "😀" * 16_383
    assert excel_text("a" * CELL_MAX_CHARS) == "a" * CELL_MAX_CHARS


def test_display_width_counts_chinese_and_full_width_characters_as_two():
    """张三 takes four columns, `ab` two, a full-width ＡＢ four."""
    assert [text_display_width(text) for text in ("张三", "ab", "ＡＢ", "")] == [4, 2, 4, 0]


def test_column_widths_fit_chinese_content_as_two_columns_a_character():
    """A 10-character Chinese name gets twice the width of a 10-letter worker id."""
    chinese, latin = "欧" * 10, "w" * 10
    summary = {
        "max_id": 12345,
        "width_name": len(chinese) + len(chinese.encode()),
        "width_worker_id": len(latin) + len(latin.encode()),
    }
    widths = dict(zip(HEADER, column_widths(summary), strict=True))
    assert widths["姓名"] == 22
    assert widths["Worker ID"] == 12
    assert widths["ID"] == 7
    assert widths["联系时间"] == widths["创建时间"] == 21
    assert widths["是否交换微信"] == 14


def test_the_widths_are_written_to_the_sheet(tmp_path):
    """The widths given are the sheet's column widths."""
    widths = [float(n) for n in range(11, 21)]
    sheet = workbook(write(tmp_path, [contact_row()], widths=widths))["联系记录"]
    assert [sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJ"] == widths


def test_an_export_with_no_rows_is_the_header_alone(tmp_path):
    """No matching contact still gives a workbook: the header, frozen and filtered."""
    sheet = workbook(write(tmp_path, []))["联系记录"]
    assert list(sheet.iter_rows(values_only=True)) == [HEADER]
    assert sheet.auto_filter.ref == "A1:J1"


def test_the_information_sheet_says_who_when_what_and_how_many(tmp_path):
    """导出信息 lists the exporter, time, zone, source, row count, ordering and each filter."""
    book = workbook(write(tmp_path, [contact_row(1), contact_row(2)]))
    assert list(book["导出信息"].iter_rows(values_only=True)) == [
        ("项目", "内容"),
        ("导出人", "boss"),
        ("导出时间", "2024-03-04 15:30:45"),
        ("时区", "Asia/Shanghai"),
        ("来源", "接口"),
        ("导出行数", 2),
        ("排序", "-created_at"),
        ("筛选:搜索关键词", "产品经理"),
        ("筛选:回复状态", "已回复"),
    ]


def test_filter_values_on_the_information_sheet_are_literal_too(tmp_path):
    """A search term that looks like a formula is kept as text there as well."""
    target = tmp_path / "info.xlsx"
    info = ExportInfo(username="=cmd", generated_at=INFO.generated_at, source="接口", filters=[("搜索关键词", "=1+1")])
    with open(target, "wb") as handle:
        contacts_workbook_write(target=handle, rows=[], info=info, scratch_dir=tmp_path, scratch_name=SCRATCH_NAME)
    sheet = workbook(target)["导出信息"]
    values = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert (values["导出人"].value, values["导出人"].quotePrefix) == ("=cmd", True)
    assert (values["筛选:搜索关键词"].value, values["筛选:搜索关键词"].quotePrefix) == ("=1+1", True)
    assert_no_formula_element(target)


def test_rows_past_one_sheets_limit_continue_on_further_sheets_with_the_header(tmp_path, monkeypatch):
    """With a sheet limit of 3 rows, 7 rows fill 联系记录, 联系记录 (2) and 联系记录 (3), in order."""
    monkeypatch.setattr(workbook_module, "SHEET_MAX_DATA_ROWS", 3)
    book = workbook(write(tmp_path, [contact_row(pk) for pk in range(1, 8)]))
    assert book.sheetnames == ["联系记录", "联系记录 (2)", "联系记录 (3)", "导出信息", "统计"]
    sheets = [book[name] for name in book.sheetnames[:3]]
    assert [[row[0] for row in data_rows(sheet)] for sheet in sheets] == [[1, 2, 3], [4, 5, 6], [7]]
    assert [sheet.auto_filter.ref for sheet in sheets] == ["A1:J4", "A1:J4", "A1:J2"]
    assert all(sheet.freeze_panes == "A2" for sheet in sheets)
    info = dict(book["导出信息"].iter_rows(values_only=True))
    assert info["导出行数"] == 7
    assert info["数据工作表"].startswith("3 张")


def test_more_rows_than_the_limit_stop_the_write_and_leave_no_scratch(tmp_path, settings):
    """Rows beyond EXPORT_MAX_ROWS raise ExportTooLarge mid-stream; every scratch file is removed."""
    settings.EXPORT_MAX_ROWS = 2
    with pytest.raises(ExportTooLarge) as raised:
        write(tmp_path, [contact_row(pk) for pk in range(1, 4)])
    assert (raised.value.rows, raised.value.limit) == (3, 2)
    assert list((tmp_path / "scratch").iterdir()) == []


def test_scratch_files_live_beside_the_export_not_in_the_system_temp_folder(tmp_path):
    """While rows stream, the sheet's scratch XML is a dot-file named after the export, next to it."""
    seen = []
    before = set(os.listdir(tempfile.gettempdir()))

    def rows():
        yield contact_row(1)
        seen.extend(os.listdir(tmp_path / "scratch"))
        yield contact_row(2)

    write(tmp_path, rows())
    assert len(seen) == 1
    assert workbook_module.SCRATCH_RE.fullmatch(seen[0]).group(1) == SCRATCH_NAME
    assert not {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("openpyxl")} - before
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_writer_failing_half_way_removes_every_scratch_file(tmp_path):
    """A failure after 50 rows propagates and leaves no scratch file, here or in openpyxl's list."""
    temp_files_before = list(ALL_TEMP_FILES)

    def rows():
        for pk in range(1, 51):
            yield contact_row(pk)
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        write(tmp_path, rows())
    assert list((tmp_path / "scratch").iterdir()) == []
    assert list(ALL_TEMP_FILES) == temp_files_before
