"""An import file as a header and rows: an xlsx (a zip) or a csv, told apart by their first bytes.

Everything that could make reading a file cost more than its size is bounded before it is read: the
file's bytes (IMPORT_MAX_BYTES), an xlsx's members once uncompressed, counted from the zip directory
before anything is decompressed (IMPORT_MAX_UNCOMPRESSED_BYTES), its rows (IMPORT_MAX_ROWS), and the XML
openpyxl would hold at once (a row's cells, a list of styles: an expat pass that keeps no tree, _XmlGuard).
XML entities are refused there and by defusedxml, which openpyxl uses when it is installed (requirements.txt
pins it). Formulas are never evaluated: a formula cell reads as its formula's text.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from xml.parsers import expat

from defusedxml.common import DefusedXmlException
from django.conf import settings
from lxml.etree import XMLSyntaxError
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.excel import ExcelReader
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG, WorkSheetParser
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.xml.functions import iterparse

from .errors import ImportFileRefused
from .sheet_rows import SheetRefused, SheetUnusual, sheet_rows_fast

ZIP_MAGIC = b"PK\x03\x04"
# Compound File Binary: what Excel writes for a password-protected xlsx (and for the old .xls).
CFB_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
ZIP_MAX_MEMBERS = 10_000
# Excel's last row: a sheet claiming rows past it is not one Excel wrote.
SHEET_MAX_ROW = 1_048_576
DATA_SHEET_TITLE = "联系记录"
MORE_DATA_SHEETS_RE = re.compile(rf"{DATA_SHEET_TITLE} \([0-9]+\)")

NOT_A_SPREADSHEET_MSG = "不是 xlsx 或 csv 文件"
ENCRYPTED_MSG = "文件受密码保护(或是旧版 xls):请在 Excel 中取消密码并另存为 xlsx 或 csv 后再导入"
CORRUPT_MSG = "xlsx 文件已损坏,无法读取"
ENTITIES_MSG = "xlsx 文件含有 XML 实体或文档类型声明,已拒绝"
ENCODING_MSG = "不是 xlsx 或 csv 文件:CSV 的编码应为 UTF-8(可带 BOM)或 GB18030"
EMPTY_MSG = "文件是空的:第 1 行应为表头"
MANY_SHEETS_MSG = "工作簿有多张联系记录数据表:请分成每个文件一张表再导入"
TOO_COMPLEX_MSG = "xlsx 文件的结构超出导入的上限(元素过多或嵌套过深),已拒绝"

# What openpyxl is let parse, in XML elements: an export's row takes about 30 (a cell, its inline string and
# text), an Excel-saved one fewer plus its shared strings; the rest of a workbook a few thousand.
XML_ELEMENTS_PER_ROW = 100
XML_ELEMENTS_BASE = 1_000_000
XML_CELLS_PER_ROW = 16_384  # Excel's last column
XML_STRINGS_PER_ROW = 16
XML_MAX_CHILDREN = 65_536  # above Excel's 64,000 cell formats, far above any other list of a workbook
XML_MAX_DEPTH = 64
XML_CHUNK_BYTES = 1024 * 1024


def too_large_msg() -> str:
    return f"文件超过 {settings.IMPORT_MAX_BYTES} 字节"


def too_many_rows_msg() -> str:
    return f"数据超过 {settings.IMPORT_MAX_ROWS} 行"


@dataclass
class Table:
    """The header's cells, and the rows below it that hold anything, each with its number as a spreadsheet
    shows it (the header is row 1). `from_csv`: cells are text as a CSV holds them."""

    header: Sequence[Any]
    rows: Iterator[tuple[int, Sequence[Any]]]
    from_csv: bool


@contextmanager
def import_table_open(*, file: IO[bytes]) -> Iterator[Table]:
    """The table in `file` (positioned anywhere); ImportFileRefused when it cannot be read safely."""
    file.seek(0, io.SEEK_END)
    if file.tell() > settings.IMPORT_MAX_BYTES:
        raise ImportFileRefused(too_large_msg())
    file.seek(0)
    magic = file.read(8)
    file.seek(0)
    if magic.startswith(ZIP_MAGIC):
        with _xlsx_table(file) as table:
            yield table
    elif magic == CFB_MAGIC:
        raise ImportFileRefused(ENCRYPTED_MSG)
    else:
        yield _csv_table(file.read())


def _is_empty(values: Sequence[Any]) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in values)


def _data_rows(numbered: Iterator[tuple[int, Sequence[Any]]]) -> Iterator[tuple[int, Sequence[Any]]]:
    """The rows that hold anything, at most IMPORT_MAX_ROWS of them; empty rows anywhere are skipped."""
    limit = settings.IMPORT_MAX_ROWS
    count = 0
    for number, values in numbered:
        if number > SHEET_MAX_ROW:
            raise ImportFileRefused(too_many_rows_msg())
        if _is_empty(values):
            continue
        count += 1
        if count > limit:
            raise ImportFileRefused(too_many_rows_msg())
        yield number, values


# xlsx -------------------------------------------------------------------------------------------


class _XmlGuard:
    """An expat pass over one XML part that keeps no tree: refuses a DTD or entity declaration, nesting deeper
    than XML_MAX_DEPTH, an element with more children than its bound (a row's cells, a style list's entries:
    openpyxl holds them all at once), and more elements than the import's budget in all parts."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def declaration(self, *args: Any) -> None:
        raise ImportFileRefused(ENTITIES_MSG)

    def check(self, stream: IO[bytes]) -> None:
        parser = expat.ParserCreate()
        parser.StartElementHandler, parser.EndElementHandler, remaining = self._handlers()
        parser.StartDoctypeDeclHandler = self.declaration
        parser.EntityDeclHandler = self.declaration
        parser.ExternalEntityRefHandler = self.declaration
        try:
            while chunk := stream.read(XML_CHUNK_BYTES):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except expat.ExpatError:
            raise ImportFileRefused(CORRUPT_MSG) from None
        self.budget = remaining()

    def _handlers(self) -> tuple[Any, Any, Any]:
        """expat's start and end handlers, their state in their closure (they run for every element), and
        what is left of the budget."""
        allowed_by_tag = {
            "sheetData": SHEET_MAX_ROW,
            "row": XML_CELLS_PER_ROW,
            # the shared strings: at most one per cell of the 11 columns an import reads
            "sst": XML_STRINGS_PER_ROW * settings.IMPORT_MAX_ROWS + XML_MAX_CHILDREN,
        }
        # Per open element, by depth (1 is the root): its children so far, and how many it may have.
        children = [0] * (XML_MAX_DEPTH + 1)
        allowed = [0] * (XML_MAX_DEPTH + 1)
        depth = 0
        budget = self.budget

        def start(name: str, attrs: Any) -> None:
            nonlocal depth, budget
            budget -= 1
            if budget < 0 or depth >= XML_MAX_DEPTH:
                raise ImportFileRefused(TOO_COMPLEX_MSG)
            if depth:
                count = children[depth] + 1
                if count > allowed[depth]:
                    raise ImportFileRefused(TOO_COMPLEX_MSG)
                children[depth] = count
            depth += 1
            children[depth] = 0
            allowed[depth] = allowed_by_tag.get(name.rpartition(":")[2] if ":" in name else name, XML_MAX_CHILDREN)

        def end(name: str) -> None:
            nonlocal depth
            depth -= 1

        return start, end, lambda: budget


def _xml_check(file: IO[bytes], members: list[zipfile.ZipInfo]) -> None:
    """Every XML part openpyxl may read, through _XmlGuard, before openpyxl reads any."""
    guard = _XmlGuard(XML_ELEMENTS_PER_ROW * settings.IMPORT_MAX_ROWS + XML_ELEMENTS_BASE)
    with zipfile.ZipFile(file) as archive:
        for member in members:
            if member.filename.endswith((".xml", ".rels")):
                try:
                    with archive.open(member) as stream:
                        guard.check(stream)
                except (zipfile.BadZipFile, ValueError, EOFError, OSError):
                    raise ImportFileRefused(CORRUPT_MSG) from None
    file.seek(0)


def _zip_check(file: IO[bytes]) -> None:
    """Refuse a zip that would unpack to more than IMPORT_MAX_UNCOMPRESSED_BYTES, by its directory.

    Python's zipfile stops each member at the size its directory entry declares (a member that inflates
    further fails its CRC), so the sum of the declared sizes bounds what openpyxl can read.
    """
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise ImportFileRefused(CORRUPT_MSG) from None
    if len(members) > ZIP_MAX_MEMBERS:
        raise ImportFileRefused(CORRUPT_MSG)
    if any(member.flag_bits & 0x1 for member in members):
        raise ImportFileRefused(ENCRYPTED_MSG)
    limit = settings.IMPORT_MAX_UNCOMPRESSED_BYTES
    if sum(member.file_size for member in members) > limit:
        raise ImportFileRefused(f"xlsx 文件解压后超过 {limit} 字节,已拒绝")
    file.seek(0)
    _xml_check(file, members)


@contextmanager
def _xlsx_table(file: IO[bytes]) -> Iterator[Table]:
    _zip_check(file)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns of styles and extensions it leaves out
            reader = _WorkbookReader(file, read_only=True, data_only=False, keep_links=False, rich_text=False)
            reader.read()
            workbook = reader.wb
    except Exception as error:  # openpyxl fails on broken parts with many kinds of error: all are the file's
        raise _refusal(error) from None
    try:
        sheet = _data_sheet(workbook)
        # A sheet's declared dimensions are not trusted: openpyxl would pad every row to them.
        sheet.reset_dimensions()
        header = _xlsx_read(lambda: next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ()))
        if _is_empty(header):
            raise ImportFileRefused(EMPTY_MSG)
        yield Table(header=header, rows=_data_rows(_sheet_rows(sheet, len(header))), from_csv=False)
    finally:
        workbook.close()


class _Sheet(ReadOnlyWorksheet):
    """openpyxl's read-only sheet, sized from the XML before its rows only.

    openpyxl reads a sheet to the end of its rows when no `dimension` comes before them (as in the files it
    writes itself): a whole pass over the rows for nothing, since the size is reset before any row is read.
    A `dimension` before the rows is still read, so that a broken one is refused as openpyxl refuses it.
    """

    def _get_size(self) -> None:
        with self._get_source() as source:
            for event, element in iterparse(source, events=("start", "end")):
                if event == "start":
                    if element.tag == DATA_TAG:
                        return
                elif element.tag == DIMENSION_TAG:
                    boundaries = SheetDimension.from_tree(element).boundaries
                    self._min_column, self._min_row, self._max_column, self._max_row = boundaries
                    return
                else:
                    element.clear()


class _WorkbookReader(ExcelReader):
    """openpyxl's reader of a read-only workbook (`load_workbook`), its sheets made as _Sheet."""

    def read_worksheets(self) -> None:
        # ExcelReader.read_worksheets as it reads a read-only workbook.
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files:
                continue
            if "chartsheet" in rel.Type:
                self.read_chartsheet(sheet, rel)
                continue
            rels_path = get_rels_path(rel.target)
            if rels_path in self.valid_files:
                get_dependents(self.archive, rels_path)
            worksheet = _Sheet(self.wb, sheet.name, rel.target, self.shared_strings)
            worksheet.sheet_state = sheet.state
            self.wb._sheets.append(worksheet)


def _sheet_rows(sheet: _Sheet, width: int) -> Iterator[tuple[int, Sequence[Any]]]:
    """The rows below the header, `width` cells each, numbered: read by sheet_rows_fast, a fast path that
    answers what openpyxl's `iter_rows` answers (bench/README.md, Import), and by openpyxl from a row it
    leaves to it."""
    workbook = sheet.parent
    reader = WorkSheetParser(
        None,
        sheet._shared_strings,
        data_only=workbook.data_only,
        epoch=workbook.epoch,
        date_formats=workbook._date_formats,
        timedelta_formats=workbook._timedelta_formats,
    )
    last = 1
    try:
        for number, values in sheet_rows_fast(sheet._get_source, reader=reader, width=width):
            last = number
            yield number, values
        return
    except SheetUnusual:
        pass
    except SheetRefused:
        raise ImportFileRefused(ENTITIES_MSG) from None
    except Exception as error:
        raise _refusal(error) from None
    # openpyxl reads a sheet's size to the end of its rows (the rows may hold a `dimension` it refuses).
    _xlsx_read(lambda: ReadOnlyWorksheet._get_size(sheet))
    sheet.reset_dimensions()
    cells = sheet.iter_rows(min_row=2, max_col=width, values_only=True)
    for number, values in _xlsx_rows(cells):
        if number > last:
            yield number, values


def _data_sheet(workbook: Any) -> Any:
    """The sheet named 联系记录 (an export's), else the first; an export split over several sheets is refused."""
    sheets = workbook.worksheets
    if not sheets:
        raise ImportFileRefused(CORRUPT_MSG)
    if any(MORE_DATA_SHEETS_RE.fullmatch(sheet.title) for sheet in sheets):
        raise ImportFileRefused(MANY_SHEETS_MSG)
    named = [sheet for sheet in sheets if sheet.title == DATA_SHEET_TITLE]
    return named[0] if named else sheets[0]


def _xlsx_read(read: Any) -> Any:
    try:
        return read()
    except ImportFileRefused:
        raise
    except Exception as error:
        raise _refusal(error) from None


def _refusal(error: BaseException | None) -> ImportFileRefused:
    """What openpyxl's failure says of the file: entities (defusedxml's refusal, or lxml's amplification
    limit, often wrapped in openpyxl's own ValueError), else a corrupt file."""
    while error is not None:
        if isinstance(error, DefusedXmlException):
            return ImportFileRefused(ENTITIES_MSG)
        if isinstance(error, XMLSyntaxError) and "entit" in str(error).lower():
            return ImportFileRefused(ENTITIES_MSG)
        error = error.__cause__ or error.__context__
    return ImportFileRefused(CORRUPT_MSG)


def _xlsx_rows(cells: Iterator[Sequence[Any]]) -> Iterator[tuple[int, Sequence[Any]]]:
    number = 1
    while True:
        row = _xlsx_read(lambda: next(cells, None))
        if row is None:
            return
        number += 1
        yield number, row


# csv --------------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a BOM), else GB18030 (Chinese Excel's default), both strictly."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileRefused(ENCODING_MSG)


def _csv_table(data: bytes) -> Table:
    text = _decode(data)
    if "\x00" in text:
        raise ImportFileRefused(NOT_A_SPREADSHEET_MSG)
    records = csv.reader(io.StringIO(text, newline=""))
    header = _csv_next(records)
    if header is None or _is_empty(header):
        raise ImportFileRefused(EMPTY_MSG)
    return Table(header=header, rows=_data_rows(_csv_rows(records)), from_csv=True)


def _csv_next(records: Iterator[list[str]]) -> list[str] | None:
    try:
        return next(records, None)
    except csv.Error as error:
        raise ImportFileRefused(f"CSV 格式错误:{error}") from None


def _csv_rows(records: Iterator[list[str]]) -> Iterator[tuple[int, Sequence[Any]]]:
    number = 1
    while (row := _csv_next(records)) is not None:
        number += 1
        yield number, row
