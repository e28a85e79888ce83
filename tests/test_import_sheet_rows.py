"""The import's fast sheet reader (contacts/imports/sheet_rows.py) reads every workbook as openpyxl reads it.

Each workbook is read twice: by the import as it is, and as the import read it before the fast path
(openpyxl's `load_workbook(read_only=True)` and `iter_rows`). Header, rows, their numbers, each value and its
type, or the refusal, must be the same. The workbooks are openpyxl's (both modes) and sheets written by hand
for what other programs write and what they may get wrong.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from typing import Any

import openpyxl
import pytest
from import_support import saved_by_libreoffice, soffice_problem, xlsx, zip_members, zip_with
from openpyxl import load_workbook
from services import require_service

from contacts.imports import reading, sheet_rows
from contacts.imports.errors import ImportFileRefused
from contacts.imports.sheet_rows import SheetUnusual, sheet_rows_fast

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
HEAD = f'<worksheet xmlns="{MAIN}"><dimension ref="A1:C3"/><sheetData>'
TAIL = '</sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>'
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>甲</t></is></c><c r="B1" t="inlineStr"><is><t>乙</t></is></c>'
    '<c r="C1" t="inlineStr"><is><t>丙</t></is></c></row>'
)
# The styles of the base workbook: 1 a date and time, 2 a date, 3 a time, 4 a duration ([hh]:mm:ss).
DATETIME, DATE, TIME, DURATION = "1", "2", "3", "4"


EVERY_KIND = [
    ["姓名", "账号 ID", "联系方式", "联系时间", "是否交换微信", "备注", "数"],
    ["张三", 1, 13800138000, dt.datetime(2024, 3, 1, 10, 15, 30), True, "=1+1", 2.5],
    ["", None, "13800138000", dt.date(2024, 3, 1), False, "多行\n文字 ", -7],
    [None, None, None, None, None, None, None],
    ["李四", 2, "+86 138", dt.time(9, 30), "是", " 两边有空格 ", 1e20],
    ["王五", 3, "=A2&B2", dt.timedelta(hours=5), 1, "x005F_x000D_", 0.1],
    ["赵六", 4, "'0123", dt.datetime(1900, 1, 1), "FALSE", "=SUM(B2:B3)", 123456789.123],
]


@pytest.fixture
def calc() -> None:
    require_service("LibreOffice", soffice_problem)


def base_members() -> dict[str, bytes]:
    """A workbook whose styles hold the four date styles, and shared strings ['共享', '第二个 x005F_x000D_']."""
    book = openpyxl.Workbook()
    book.active.append([dt.datetime(2024, 1, 2, 3, 4, 5), dt.date(2024, 1, 2), dt.time(3, 4, 5), dt.timedelta(1)])
    out = io.BytesIO()
    book.save(out)
    members = zip_members(out.getvalue())
    members["xl/sharedStrings.xml"] = (
        f'<sst xmlns="{MAIN}" count="2" uniqueCount="2"><si><t>共享</t></si>'
        "<si><r><t>第二个 </t></r><r><rPr><b/></rPr><t>x005F_x000D_</t></r></si></sst>"
    ).encode()
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    return members


BASE = base_members()


def workbook(rows: str, *, head: str = HEAD, tail: str = TAIL, encoding: str = "utf-8", **parts: bytes) -> bytes:
    """The base workbook with a sheet of the header row (甲, 乙, 丙) and `rows`, as XML."""
    members = {**BASE, **parts}
    members[SHEET] = (head + HEADER_ROW + rows + tail).encode(encoding)
    return zip_with(members)


def typed(values: Any) -> tuple:
    """Values with their types: 1, 1.0 and True differ; other objects (an array formula) by their attributes."""
    plain = (str, int, float, bool, dt.datetime, dt.date, dt.time, dt.timedelta, type(None))
    return tuple(
        (type(value).__name__, value if isinstance(value, plain) else sorted(vars(value).items())) for value in values
    )


def openpyxl_table(content: bytes) -> Any:
    """The header and rows as the import read them before the fast path, or its refusal."""
    file = io.BytesIO(content)
    try:
        reading._zip_check(file)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                book = load_workbook(file, read_only=True, data_only=False, keep_links=False, rich_text=False)
        except Exception as error:
            raise reading._refusal(error) from None
        sheet = reading._data_sheet(book)
        sheet.reset_dimensions()
        header = reading._xlsx_read(lambda: next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ()))
        if reading._is_empty(header):
            raise ImportFileRefused(reading.EMPTY_MSG)
        cells = sheet.iter_rows(min_row=2, max_col=len(header), values_only=True)
        return typed(header), [
            (number, typed(values)) for number, values in reading._data_rows(reading._xlsx_rows(cells))
        ]
    except ImportFileRefused as refusal:
        return refusal.message


def import_table(content: bytes) -> Any:
    """The header and rows as the import reads them now, or its refusal."""
    try:
        with reading.import_table_open(file=io.BytesIO(content)) as table:
            return typed(table.header), [(number, typed(values)) for number, values in table.rows]
    except ImportFileRefused as refusal:
        return refusal.message


def fast_rows(content: bytes) -> list[tuple[int, tuple]]:
    """The rows below the header straight from sheet_rows_fast (SheetUnusual if it leaves them to openpyxl)."""
    file = io.BytesIO(content)
    reader = reading._WorkbookReader(file, read_only=True, data_only=False, keep_links=False, rich_text=False)
    reader.read()
    sheet = reading._data_sheet(reader.wb)
    header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True))
    parser = openpyxl.worksheet._reader.WorkSheetParser(
        None,
        reader.shared_strings,
        epoch=reader.wb.epoch,
        date_formats=reader.wb._date_formats,
        timedelta_formats=reader.wb._timedelta_formats,
    )
    return list(sheet_rows_fast(sheet._get_source, reader=parser, width=len(header)))


def c(ref: str | None, value: str = "", **attrs: str) -> str:
    """A cell: `value` is its inner XML; `ref` None leaves out its coordinate."""
    attributes = "".join(f' {name}="{text}"' for name, text in {"r": ref, **attrs}.items() if text is not None)
    return f"<c{attributes}>{value}</c>"


def row(number: str | None, *cells: str, attrs: str = "") -> str:
    numbered = "" if number is None else f' r="{number}"'
    return f"<row{numbered}{attrs}>" + "".join(cells) + "</row>"


def v(text: str) -> str:
    return f"<v>{text}</v>"


def inline(text: str) -> str:
    return f"<is><t>{text}</t></is>"


def strings(*runs: str) -> str:
    return "<is>" + "".join(runs) + "</is>"


S = "inlineStr"
PREFIXED_HEAD = f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData>'
PREFIXED_HEADER = (
    '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>乙</x:t></x:is></x:c></x:row>'
)
PREFIXED_ROW = (
    '<x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>前缀</x:t></x:is></x:c><x:c r="B2"><x:v>2</x:v></x:c></x:row>'
)

# Sheets the fast reader reads itself, each named for what it tests.
FAST: dict[str, bytes] = {
    "numbers, in every form a value takes": workbook(
        row("2", c("A2", v("13800138000")), c("B2", v("2.5"), t="n"), c("C2", v("1E3")))
        + row("3", c("A3", v("-0")), c("B3", v(" 12 ")), c("C3", v("1e-7")))
        + row("4", c("A4", v("123456789012345678901234567890")), c("B4", v("0.1")), c("C4", v("7"), s="0"))
    ),
    "shared strings, booleans, errors, str, ISO dates": workbook(
        row("2", c("A2", v("0"), t="s"), c("B2", v("1"), t="s"), c("C2", v("-1"), t="s"))
        + row("3", c("A3", v("1"), t="b"), c("B3", v("0"), t="b"), c("C3", v("#N/A"), t="e"))
        + row(
            "4",
            c("A4", v("公式的文字"), t="str"),
            c("B4", v("2024-03-01T10:15:30"), t="d"),
            c("C4", v("2024-03-01"), t="d"),
        )
        + row("5", c("A5", v("x"), t="unknown"), c("B5", v(" 1 "), t="s"), c("C5", v("12:30:00"), t="d"))
    ),
    "dates by style, in both date systems": workbook(
        row("2", c("A2", v("45352.42743055556"), s=DATETIME), c("B2", v("45352"), s=DATE), c("C2", v("0.5"), s=TIME))
        + row("3", c("A3", v("1.25"), s=DURATION), c("B3", v("59"), s=DATE), c("C3", v("60"), s=DATE))
        + row(
            "4", c("A4", v("0"), s=DATETIME), c("B4", v("45352.999999999"), s=DATETIME), c("C4", v("1"), s=DATE, t="s")
        )
    ),
    "a 1904 workbook's dates": workbook(
        row("2", c("A2", v("43890.5"), s=DATETIME), c("B2", v("1"), s=DATE), c("C2", v("0.25"), s=TIME)),
        **{"xl/workbook.xml": BASE["xl/workbook.xml"].replace(b"<workbookPr/>", b'<workbookPr date1904="1"/>')},
    ),
    "a workbook whose default style is a date": workbook(
        row("2", c("A2", v("45352")), c("B2", v("45352"), s=""), c("C2", v("45352"), s="0")),
        **{
            "xl/styles.xml": BASE["xl/styles.xml"].replace(
                b'<cellXfs count="5"><xf numFmtId="0"', b'<cellXfs count="5"><xf numFmtId="14"'
            )
        },
    ),
    "inline strings: empty, spaces, entities, CDATA, comments": workbook(
        row("2", c("A2", "<is><t/></is>", t=S), c("B2", "<is></is>", t=S), c("C2", "", t=S))
        + row("3", c("A3", "<is><t/></is>", t=S), c("B3", v("1")), c("C3", "<is></is>", t=S))
        + row(
            "4",
            c("A4", '<is><t xml:space="preserve">  两 边 </t></is>', t=S),
            c("B4", inline("a&amp;b&#10;c&lt;&#x1F600;"), t=S),
            c("C4", inline("前<![CDATA[<中>]]>后<!-- 注 -->尾"), t=S),
        )
        + row("5", c("A5", v("1"), t=S), c("B5", inline("文")), c("C5", inline("x005F_x000D_"), t=S))
        + row("6", c("A6", "<v></v>"), c("B6", "<v/>", t="s"), c("C6", v("<![CDATA[4]]>2")))
    ),
    "cells without coordinates, out of order, repeated, past the header": workbook(
        row("2", c(None, v("1")), c(None, v("2")), c(None, v("3")), c(None, v("4")))
        + row("3", c("C3", v("3")), c("A3", v("1")), c(None, v("2")), c("A3", v("9")))
        + row("4", c("D4", v("1"), t="s"), c("b4", v("2")), c("XFD4", v("5")), c("A٤", v("1")))
        + row("5", c("AB5", v("0"), t="s"), c("A5 ", v("1")), c("A0", v("0")), c("a05", v("5")))
    ),
    "rows without numbers, out of order, repeated, far apart, empty": workbook(
        row(None, c("A2", v("2")))
        + row("4.0", c("A4", v("4")))
        + row("3", c("A3", v("3")))
        + row("4", c("A4", v("44")))
        + row("6")
        + row("7", c("A7", inline(" "), t=S))
        + row("+9", c("A9", v("9")))
        + row(None, c("A10", v("10")))
        + row("1e2", c("A1", v("100")))
        + row("1048576", c("A1", v("1")))
    ),
    "formulas: plain, shared, array, data table, with cached values": workbook(
        row("2", c("A2", "<f>1+1</f><v>2</v>"), c("B2", "<v>3</v><f>A2+1</f>", t="n"), c("C2", "<f/>"))
        + row(
            "3",
            c("A3", '<f t="shared" ref="A3:A5" si="0">B3*2</f><v>6</v>'),
            c("B3", '<f t="array" ref="B3:B4">SUM(A1:A2)</f><v>1</v>'),
            c("C3", '<f t="dataTable" ref="C3:C4" dt2D="0" dtr="0" r1="A1"/>'),
        )
        + row(
            "4",
            c("A4", '<f t="shared" si="0"/><v>8</v>'),
            c("B4", "<f>A2&amp;&quot;文&quot;</f>", t="str"),
            c("C4", "<f>=1</f>", t=S),
        )
        + row("5", c("A5", '<f t="shared" si="0"/>'), c("B5", "<f>NOW()</f><v>45352.5</v>", s=DATETIME))
    ),
    "rich text, phonetic runs and other shapes left to openpyxl's cell parser": workbook(
        row(
            "2",
            c("A2", strings("<r><t>富</t></r>", '<r><rPr><b/><sz val="11"/></rPr><t>文本</t></r>'), t=S),
            c("B2", strings("<t>一</t>", "<t>二</t>"), t=S),
            c("C2", strings("<t>汉字</t>", '<rPh sb="0" eb="2"><t>かんじ</t></rPh>', '<phoneticPr fontId="1"/>'), t=S),
        )
        + row("3", c("A3", "<v>1</v><v>2</v>"), c("B3", "<foo/><v>7</v>"), c("C3", "<v>5<b/>6</v>"))
        + row(
            "4",
            c("A4", inline("前<b/>后"), t=S),
            c("B4", strings("<r><t>r</t></r>", "<t>t</t>"), t=S),
            c("C4", inline("s") + v("1"), t=S),
        )
        + row(
            "5",
            '<d r="A5"><v>1</v></d>',
            c("B5", '<x:v xmlns:x="urn:other">1</x:v>'),
            c("C5", f'<x:v xmlns:x="{MAIN}">3</x:v>'),
        )
        + row("6", c("A6", '<is><x:t xmlns:x="urn:other">外</x:t></is>', t=S))
        + row("7", c("B7", v("2")), c(None, "<f>A7</f>"))
    ),
    "a sheet whose namespace has a prefix": zip_with(
        {**BASE, SHEET: (PREFIXED_HEAD + PREFIXED_HEADER + PREFIXED_ROW + "</x:sheetData></x:worksheet>").encode()}
    ),
    "a sheet in UTF-16": workbook(
        row("2", c("A2", inline("十六位"), t=S), c("B2", v("2"))),
        head=f'<?xml version="1.0" encoding="UTF-16"?>{HEAD}',
        encoding="utf-16",
    ),
    "attributes in other namespaces": workbook(
        row(
            "2",
            c("A2", inline("甲"), t=S, **{"xmlns:y": "urn:y", "y:t": "s"}),
            c("B2", '<is y:a="1" xmlns:y="urn:y"><t>乙</t></is>', t=S),
            attrs=' spans="1:3" xmlns:x14ac="urn:x14ac" x14ac:dyDescent="0.25"',
        )
    ),
    "nothing below the header": workbook(""),
}

# Sheets the fast reader leaves to openpyxl from some row on.
LEFT_TO_OPENPYXL: dict[str, bytes] = {
    "an extension inside a row": workbook(
        row("2", c("A2", v("1"))) + row("3", c("A3", v("3")), "<extLst/>", c("C3", v("5"))) + row("4", c("A4", v("4")))
    ),
    "a row inside a cell": workbook(row("2", c("A2", v("1")), c("B2", row("7", c(None, v("8")))))),
    "a column list among the rows": workbook(row("2", c("A2", v("1"))) + '<cols><col min="1" max="2"/></cols>'),
    "a row after the sheet's data": workbook(
        row("2", c("A2", v("1"))), tail="</sheetData>" + row("5", c("A5", v("5"))) + "</worksheet>"
    ),
    "a broken dimension inside the rows": workbook(
        row("2", c("A2", v("1")), '<dimension ref="A1:"/>'), head=f'<worksheet xmlns="{MAIN}"><sheetData>'
    ),
}
# Sheets refused as corrupt, by both.
REFUSED: dict[str, bytes] = {
    "a shared string past the table": workbook(row("2", c("A2", v("0"), t="s")) + row("3", c("A3", v("2"), t="s"))),
    "a number that is not one": workbook(row("2", c("A2", v("1"))) + row("3", c("A3", v("1,5")))),
    "a style that is not a number": workbook(row("2", c("A2", v("1"), s="x"))),
    "a broken coordinate": workbook(row("2", c("A2", v("1")), c("$B$2", v("2")))),
    "a coordinate past ZZZ": workbook(row("2", c("AAAA2", v("2")))),
    "a broken row number": workbook(row("2.5", c("A2", v("1")))),
    "a broken cell past the header's columns": workbook(row("2", c("A2", v("1")), c("Z2", v("x"), t="b"))),
    "an inline string with an attribute": workbook(row("2", c("A2", '<is a="1"><t>属性</t></is>', t=S))),
    "an unbound prefix in a row": workbook(row("2", c("A2", v("1")), '<q:c r="B2"/>')),
    "a broken margin after the rows": workbook(
        row("2", c("A2", v("1"))), tail='</sheetData><pageMargins left="wide"/></worksheet>'
    ),
    "a broken dimension before the rows": workbook(
        row("2", c("A2", v("1"))), head=f'<worksheet xmlns="{MAIN}"><dimension ref="A1:"/><sheetData>'
    ),
}


@pytest.mark.parametrize("name", FAST)
def test_the_fast_reader_reads_these_sheets_itself(name):
    """No XML here is left to openpyxl: the fast reader reads every row of these sheets."""
    fast_rows(FAST[name])


@pytest.mark.parametrize("name", LEFT_TO_OPENPYXL)
def test_the_fast_reader_leaves_to_openpyxl_what_openpyxl_treats_specially(name):
    """Sheet properties or rows among the rows are left to openpyxl, which acts on them wherever they are."""
    with pytest.raises(SheetUnusual):
        fast_rows(LEFT_TO_OPENPYXL[name])


@pytest.mark.parametrize("chunk", [sheet_rows.CHUNK_BYTES, 7], ids=["1 MiB", "7 bytes"])
@pytest.mark.parametrize("name", [*FAST, *LEFT_TO_OPENPYXL, *REFUSED])
def test_the_import_reads_every_sheet_as_openpyxl_reads_it(name, chunk, monkeypatch):
    """Header, row numbers, values and their types, or the refusal: the same as openpyxl's read-only sheet,
    whatever the pieces the XML is parsed in."""
    monkeypatch.setattr(sheet_rows, "CHUNK_BYTES", chunk)
    content = {**FAST, **LEFT_TO_OPENPYXL, **REFUSED}[name]
    before = openpyxl_table(content)
    assert import_table(content) == before
    if name in REFUSED:
        assert before == reading.CORRUPT_MSG


def test_the_rows_fill_the_header_as_openpyxl_fills_them():
    """A sample of the values above, spelled out: what both readers give."""
    header, rows = import_table(FAST["dates by style, in both date systems"])
    assert header == typed(("甲", "乙", "丙"))
    assert rows[:2] == [
        (2, typed((dt.datetime(2024, 3, 1, 10, 15, 30), dt.datetime(2024, 3, 1), dt.time(12)))),
        (3, typed((dt.timedelta(days=1, hours=6), dt.datetime(1900, 2, 28), dt.datetime(1900, 2, 28)))),
    ]


def test_openpyxl_written_workbooks_of_every_kind_of_value_read_alike():
    """Workbooks openpyxl writes, in its normal and its write-only mode, with every kind of value."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("联系记录")
    for values in EVERY_KIND:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    for content in (xlsx(EVERY_KIND), out.getvalue()):
        fast_rows(content)
        assert import_table(content) == openpyxl_table(content)


@pytest.mark.slow
def test_a_workbook_saved_by_libreoffice_reads_alike(calc, tmp_path):
    """LibreOffice's own xlsx (shared strings, a dimension, its styles, dates as numbers in a date style,
    formulas with their results) is read by the fast reader itself, as openpyxl reads it."""
    content = saved_by_libreoffice(xlsx(EVERY_KIND), tmp_path)
    assert b"</f>" in zip_members(content)[SHEET]
    fast_rows(content)
    assert import_table(content) == openpyxl_table(content)


def test_a_sheet_of_many_pieces_reads_every_row(monkeypatch):
    """Rows completed in every piece of the XML are given, in order (a piece of 1 KiB holds a few rows)."""
    monkeypatch.setattr(sheet_rows, "CHUNK_BYTES", 1024)
    rows = [["姓名", "账号 ID", "备注"], *[[f"候选人{n}", n % 5, "备注" * (n % 7)] for n in range(3000)]]
    content = xlsx(rows)
    header, read = import_table(content)
    assert len(read) == 3000
    assert read[-1] == (3001, typed(("候选人2999", 4, "备注" * 3)))
    assert (header, read) == openpyxl_table(content)
