"""The contacts workbook, rows in and xlsx out: its columns and their widths, cell cleaning, the row limit.

Its sheets: 联系记录 (the rows, continued on 联系记录 (2)… past one sheet's limit), 导出信息 (what was
exported, by whom) and 统计 (the rows' funnel per worker, counted as they stream: funnel.py).

openpyxl's write-only mode writes one row at a time, so a million rows never sit in memory.
Every text cell is a string cell (a quote-prefixed one where a spreadsheet would otherwise
evaluate it), XML-illegal characters are dropped and over-long text is cut at Excel's limit.
Its scratch files (the sheets' XML, and the archive itself while it is written) are named
`.<final name>.<random>.tmp`, so that a purge recognises what a killed worker left.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZipFile

from django.conf import settings
from django.db.models import Aggregate, Func, IntegerField, Max
from django.db.models.functions import Length
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import ALL_TEMP_FILES, WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

from .columns import DEFAULT_COLUMNS, Column
from .errors import ExportTooLarge
from .funnel import FUNNEL_FIELDS, FunnelLine, FunnelTally

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Every scratch file of an export (the archive and one per sheet) is `.<final name>.<random>.tmp`.
SCRATCH_RE = re.compile(r"\.(contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.(?:xlsx|csv))\.[0-9a-z_]{8}\.tmp")

DATA_SHEET_TITLE = "联系记录"
INFO_SHEET_TITLE = "导出信息"
STATS_SHEET_TITLE = "统计"
STATS_HEADER = ("Worker ID", "联系人数", "已回复", "回复率", "已交换微信", "微信交换率")
STATS_RATE_COLUMNS = (4, 6)
# The default columns (header, values_list field, kind) in order; an export may choose others (columns.py).
COLUMNS: tuple[Column, ...] = DEFAULT_COLUMNS
HEADER = tuple(column[0] for column in COLUMNS)
FIELDS = tuple(column[1] for column in COLUMNS)

# One sheet holds 1,048,576 rows: the header and 1,048,575 contacts.
SHEET_MAX_DATA_ROWS = 1_048_575
CELL_MAX_CHARS = 32_767
DATETIME_NUMBER_FORMAT = "yyyy-mm-dd hh:mm:ss"
RATE_NUMBER_FORMAT = "0.00%"
MAX_COLUMN_WIDTH = 60

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill(fill_type="solid", start_color="4472C4", end_color="4472C4")
HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center")

# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates, U+FFFE and U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A spreadsheet turns text that begins with these into a formula when the cell is edited.
_FORMULA_TRIGGERS = frozenset("=+-@\t\r＝＋－＠")
_ERROR_VALUES = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!",
     "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#EXTERNAL!", "#PYTHON!"}
)  # fmt: skip
# Below this length even text made only of astral characters fits Excel's 32,767 UTF-16 units.
_CUT_CHECK_LENGTH = CELL_MAX_CHARS // 2
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ExportInfo:
    """What the `导出信息` sheet says about an export, besides its row count.

    `filters` are (label, value) lines, as the FilterSet describes what was asked; `columns` the headers
    of the columns chosen, empty for the default ones.
    """

    username: str
    generated_at: dt.datetime
    source: str
    filters: Sequence[tuple[str, str]] = field(default_factory=tuple)
    ordering: str = ""
    columns: Sequence[str] = field(default_factory=tuple)


# The row limit ------------------------------------------------------------------------------------


def row_limit_check(*, rows: int) -> None:
    """Raise ExportTooLarge when `rows` is more than one export may hold (EXPORT_MAX_ROWS)."""
    if rows > settings.EXPORT_MAX_ROWS:
        raise ExportTooLarge(rows=rows, limit=settings.EXPORT_MAX_ROWS)


def row_fields(columns: Sequence[Column] = COLUMNS) -> tuple[str, ...]:
    """The fields of the rows the workbook takes for `columns`: theirs, in order, then those of the
    统计 sheet's funnel that they leave out."""
    fields = tuple(column.field for column in columns)
    return fields + tuple(name for name in FUNNEL_FIELDS if name not in fields)


# Text -------------------------------------------------------------------------------------------


def excel_text(value: str) -> str:
    """`value` as a cell can hold it: XML-illegal characters dropped, cut at Excel's cell limit."""
    if not value.isprintable():
        value = _XML_ILLEGAL.sub("", value)
    if len(value) > _CUT_CHECK_LENGTH:
        value = _cut_to_cell_limit(value)
    return value


def _cut_to_cell_limit(value: str) -> str:
    """Excel counts UTF-16 units: a character outside the BMP takes two of the 32,767."""
    units = 0
    for index, char in enumerate(value):
        units += 2 if char > "\uffff" else 1
        if units > CELL_MAX_CHARS:
            return value[:index]
    return value


def text_needs_quote_prefix(text: str) -> bool:
    """Whether a spreadsheet would evaluate `text` once a user edits its cell."""
    first = text[:1]
    return first in _FORMULA_TRIGGERS or (first == "#" and text.strip().upper() in _ERROR_VALUES)


def text_display_width(text: str) -> int:
    """Columns `text` takes on screen: East Asian wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def excel_serial(moment: dt.datetime, zone: dt.tzinfo) -> float:
    """`moment` as an Excel date-time serial in `zone`, to the second as the list API shows it."""
    local = moment.astimezone(zone).replace(tzinfo=None, microsecond=0)
    serial = (local - _EXCEL_EPOCH) / _ONE_DAY
    # Excel counts a 29 February 1900 that never was: days before March 1900 are one lower.
    return serial - 1 if serial < 61 else serial


# Workbook ---------------------------------------------------------------------------------------


class _StreamedSheet(WriteOnlyWorksheet):
    """A write-only sheet that takes rows of ready cells and keeps its scratch XML beside the export.

    openpyxl would put the scratch file in the system temp folder, where a killed worker leaves
    it for good; here the purge command finds it by name. Rows arrive as lists of cells that the
    writer reuses from row to row, so no value goes through openpyxl's type guessing (which would
    turn `=…` into a formula) and the per-cell cost stays in openpyxl's XML writer.
    """

    def __init__(self, parent: Workbook, title: str, *, scratch_path: str) -> None:
        super().__init__(parent, title)
        self._scratch_path = scratch_path

    def _get_writer(self) -> None:
        if self._writer is None:
            ALL_TEMP_FILES.append(self._scratch_path)  # openpyxl's cleanup() removes it from there
            self._writer = WorksheetWriter(self, out=self._scratch_path)
            self._writer.write_top()

    def _values_to_row(self, values: Sequence[Cell], row_idx: int) -> Iterator[Cell]:
        for cell in values:
            cell.row = row_idx
            yield cell


class ScratchFiles:
    """The scratch files of one export, removed together whatever happens."""

    def __init__(self, directory: Path, final_name: str) -> None:
        self.directory = directory
        self.prefix = f".{final_name}."
        self.paths: list[str] = []

    def new(self) -> tuple[int, str]:
        fd, path = tempfile.mkstemp(suffix=".tmp", prefix=self.prefix, dir=self.directory)
        self.paths.append(path)
        return fd, path

    def new_path(self) -> str:
        fd, path = self.new()
        os.close(fd)
        return path

    def remove_all(self) -> None:
        for path in self.paths:
            with suppress(FileNotFoundError):
                os.remove(path)
            with suppress(ValueError):
                ALL_TEMP_FILES.remove(path)


@dataclass(frozen=True)
class ScratchFile:
    name: str
    size: int
    modified: float


def scratch_files_left(directory: Path) -> list[ScratchFile]:
    """The regular files directly in `directory` named like an export's scratch files, by name: those of
    exports being written, and those killed workers left. Links and anything else are left out."""
    try:
        with os.scandir(directory) as entries:
            found = [
                ScratchFile(entry.name, info.st_size, info.st_mtime)
                for entry in entries
                if SCRATCH_RE.fullmatch(entry.name)
                and entry.is_file(follow_symlinks=False)
                and (info := entry.stat(follow_symlinks=False))
            ]
    except FileNotFoundError:
        return []
    return sorted(found, key=lambda scratch: scratch.name)


def _styled_cell(sheet: WriteOnlyWorksheet, column: int, *, data_type: str = "s", **style: Any) -> Cell:
    cell = Cell(sheet, row=1, column=column)
    for name, value in style.items():
        setattr(cell, name, value)
    cell.data_type = data_type
    return cell


def _text_cell(sheet: WriteOnlyWorksheet, column: int, text: str) -> Cell:
    cell = _styled_cell(sheet, column, quotePrefix=True) if text_needs_quote_prefix(text) else Cell(sheet, 1, column)
    cell.data_type = "s"
    cell._value = text
    return cell


class _DataSheetWriter:
    """Turns contact rows into the cells of the data sheets, starting a new sheet when one is full, and
    counts them into the funnel of the 统计 sheet."""

    def __init__(
        self,
        workbook: Workbook,
        scratch: ScratchFiles,
        columns: Sequence[Column],
        widths: Sequence[float],
        zone: dt.tzinfo,
    ) -> None:
        self.workbook = workbook
        self.columns = columns
        self.headers = [column.header for column in columns]
        self.scratch = scratch
        self.widths = widths
        self.zone = zone
        self.sheets: list[_StreamedSheet] = []
        self.funnel = FunnelTally()

    def open_sheet(self) -> _StreamedSheet:
        number = len(self.sheets) + 1
        title = DATA_SHEET_TITLE if number == 1 else f"{DATA_SHEET_TITLE} ({number})"
        sheet = _StreamedSheet(self.workbook, title, scratch_path=self.scratch.new_path())
        self.workbook._add_sheet(sheet)
        sheet.freeze_panes = "A2"
        for column, width in enumerate(self.widths, 1):
            sheet.column_dimensions[get_column_letter(column)].width = width
        header = [
            _styled_cell(sheet, column, font=HEADER_FONT, fill=HEADER_FILL, alignment=HEADER_ALIGNMENT)
            for column in range(1, len(self.headers) + 1)
        ]
        for cell, title_text in zip(header, self.headers, strict=True):
            cell._value = title_text
        sheet.append(header)
        self.sheets.append(sheet)
        return sheet

    def close_sheet(self, sheet: _StreamedSheet, data_rows: int) -> None:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(self.headers))}{data_rows + 1}"

    def write(self, rows: Iterable[Sequence[Any]], *, max_rows: int) -> int:
        """Write every row (values of `row_fields(columns)`); more than `max_rows` rows raise ExportTooLarge.
        Returns the rows written."""
        written = 0
        sheet = self.open_sheet()
        in_sheet = 0
        cells = self._row_cells(sheet)
        zone = self.zone
        fields = row_fields(self.columns)
        funnel_key = itemgetter(*(fields.index(name) for name in FUNNEL_FIELDS))
        count = self.funnel.add
        # Only a choice of columns leaving out a funnel field has values past its own, to leave out here.
        shown = len(self.columns) if len(fields) > len(self.columns) else None
        for values in rows:
            if in_sheet == SHEET_MAX_DATA_ROWS:
                self.close_sheet(sheet, in_sheet)
                sheet = self.open_sheet()
                in_sheet = 0
                cells = self._row_cells(sheet)
            written += 1
            if written > max_rows:
                raise ExportTooLarge(rows=written, limit=max_rows)
            count(funnel_key(values))
            sheet.append(_fill_row(cells, values if shown is None else values[:shown], zone))
            in_sheet += 1
        self.close_sheet(sheet, in_sheet)
        return written

    def _row_cells(self, sheet: _StreamedSheet) -> list[tuple[str, Cell, Cell | None]]:
        """Per column: its kind, the cell reused for every row, and a quote-prefixed twin for text."""
        cells = []
        for column, (_, _, kind) in enumerate(self.columns, 1):
            if kind == "datetime":
                cells.append(
                    (kind, _styled_cell(sheet, column, data_type="n", number_format=DATETIME_NUMBER_FORMAT), None)
                )
            elif kind == "number":
                cells.append((kind, _styled_cell(sheet, column, data_type="n"), None))
            else:
                cells.append((kind, _styled_cell(sheet, column), _styled_cell(sheet, column, quotePrefix=True)))
        return cells


def _fill_row(cells: list[tuple[str, Cell, Cell | None]], values: Sequence[Any], zone: dt.tzinfo) -> list[Cell]:
    """The cells of one row, empty values left out: the hot loop of an export."""
    row = []
    for (kind, cell, literal), value in zip(cells, values, strict=True):
        if value is None:
            continue
        if kind == "text":
            value = excel_text(value)
            if not value:
                continue
            if text_needs_quote_prefix(value):
                cell = literal
        elif kind == "datetime":
            value = excel_serial(value, zone)
        elif kind == "yes_no":
            value = "是" if value else "否"
        cell._value = value
        row.append(cell)
    return row


def _write_info_sheet(workbook: Workbook, scratch: ScratchFiles, info: ExportInfo, *, rows: int, sheets: int) -> None:
    sheet = _StreamedSheet(workbook, INFO_SHEET_TITLE, scratch_path=scratch.new_path())
    workbook._add_sheet(sheet)
    lines: list[tuple[str, str | int]] = [
        ("导出人", info.username),
        ("导出时间", info.generated_at.strftime("%Y-%m-%d %H:%M:%S")),
        ("时区", str(timezone.get_default_timezone())),
        ("来源", info.source),
        ("导出行数", rows),
    ]
    if sheets > 1:
        lines.append(("数据工作表", f"{sheets} 张({DATA_SHEET_TITLE} 起,每张至多 {SHEET_MAX_DATA_ROWS} 行)"))
    lines.append(("排序", info.ordering or "—"))
    if info.columns:
        lines.append(("导出列", ", ".join(info.columns)))
    if info.filters:
        lines += [(f"筛选:{label}", value) for label, value in info.filters]
    else:
        lines.append(("筛选条件", "无(全部记录)"))
    sheet.column_dimensions["A"].width = max(text_display_width(label) for label, _ in lines) + 2
    sheet.column_dimensions["B"].width = MAX_COLUMN_WIDTH
    header = [
        _styled_cell(sheet, column, font=HEADER_FONT, fill=HEADER_FILL, alignment=HEADER_ALIGNMENT) for column in (1, 2)
    ]
    header[0]._value, header[1]._value = "项目", "内容"
    sheet.append(header)
    label_font = Font(bold=True)
    for label, value in lines:
        label_cell = _styled_cell(sheet, 1, font=label_font)
        label_cell._value = label
        if isinstance(value, int):
            value_cell = _styled_cell(sheet, 2, data_type="n")
            value_cell._value = value
            sheet.append([label_cell, value_cell])
        elif text := excel_text(value):
            sheet.append([label_cell, _text_cell(sheet, 2, text)])
        else:
            sheet.append([label_cell])


def _write_stats_sheet(workbook: Workbook, scratch: ScratchFiles, funnel: FunnelTally) -> None:
    """The 统计 sheet: per worker of the rows, by worker id, contacts, replied, WeChat exchanged and their
    rates; then their 合计 (with only that line when there were too many workers to list)."""
    sheet = _StreamedSheet(workbook, STATS_SHEET_TITLE, scratch_path=scratch.new_path())
    workbook._add_sheet(sheet)
    sheet.freeze_panes = "A2"
    workers = funnel.by_worker
    total = funnel.total
    keys = [excel_text(line.key) for line in workers or ()]
    key_width = max(text_display_width(text) for text in [total.key, *keys])
    for column, title in enumerate(STATS_HEADER, 1):
        if column == 1:
            content = key_width
        else:
            content = len("100.00%") if column in STATS_RATE_COLUMNS else len(str(total.contacts))
        width = max(text_display_width(title), content) + 2
        sheet.column_dimensions[get_column_letter(column)].width = min(width, MAX_COLUMN_WIDTH)
    header = [
        _styled_cell(sheet, column, font=HEADER_FONT, fill=HEADER_FILL, alignment=HEADER_ALIGNMENT)
        for column in range(1, len(STATS_HEADER) + 1)
    ]
    for cell, title in zip(header, STATS_HEADER, strict=True):
        cell._value = title
    sheet.append(header)
    for line, key in zip(workers or (), keys, strict=True):
        sheet.append(_stats_row(sheet, line, key))
    sheet.append(_stats_row(sheet, total, total.key, bold=True))
    if workers is None:
        sheet.append([])
        sheet.append([_text_cell(sheet, 1, f"Worker 超过 {funnel.max_workers:,} 个,只列合计")])


def _stats_row(sheet: WriteOnlyWorksheet, line: FunnelLine, key: str, *, bold: bool = False) -> list[Cell]:
    """A funnel line's cells: its key as text (an empty key an empty cell), counts, rates as percentages."""
    row = [_text_cell(sheet, 1, key)] if key else []
    numbers = (line.contacts, line.replied, line.reply_rate, line.wechat_exchanged, line.wechat_rate)
    for column, value in enumerate(numbers, 2):
        cell = _styled_cell(sheet, column, data_type="n")
        if column in STATS_RATE_COLUMNS:
            cell.number_format = RATE_NUMBER_FORMAT
        cell._value = value
        row.append(cell)
    if bold:
        for cell in row:
            cell.font = Font(bold=True)
    return row


def contacts_workbook_write(
    *,
    target: IO[bytes],
    rows: Iterable[Sequence[Any]],
    info: ExportInfo,
    scratch_dir: Path,
    scratch_name: str,
    widths: Sequence[float] | None = None,
    columns: Sequence[Column] = COLUMNS,
) -> int:
    """Stream `rows` into a workbook written to `target`; return the rows. A row holds the values of
    `row_fields(columns)`: those of `columns` (the default ones unless given), in order, then the funnel's
    fields that they leave out, which only the 统计 sheet shows.

    More than EXPORT_MAX_ROWS rows raise ExportTooLarge, mid-stream. The sheets' scratch files go to
    `scratch_dir` as `.<scratch_name>.<random>.tmp` and are removed whether the write succeeds or fails.
    """
    scratch = ScratchFiles(scratch_dir, scratch_name)
    workbook = Workbook(write_only=True)
    zone = timezone.get_default_timezone()
    try:
        data = _DataSheetWriter(workbook, scratch, columns, widths or column_widths(columns=columns), zone)
        written = data.write(rows, max_rows=settings.EXPORT_MAX_ROWS)
        _write_info_sheet(workbook, scratch, info, rows=written, sheets=len(data.sheets))
        _write_stats_sheet(workbook, scratch, data.funnel)
        _workbook_save(workbook, target)
    except BaseException:
        _workbook_abandon(workbook)
        raise
    finally:
        scratch.remove_all()
    return written


def _workbook_save(workbook: Workbook, target: IO[bytes]) -> None:
    """openpyxl's save, except that a failed archive is dropped instead of being closed later,
    when the garbage collector would write its directory into a file that is gone."""
    archive = ZipFile(target, "w", ZIP_DEFLATED, allowZip64=True)
    workbook.properties.modified = dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)
    try:
        ExcelWriter(workbook, archive).save()
    except BaseException:
        archive.fp = None
        raise


def _workbook_abandon(workbook: Workbook) -> None:
    """Close what openpyxl left open so that its scratch files can go and no handle leaks."""
    for sheet in workbook.worksheets:
        with suppress(Exception):
            if sheet._rows is not None:
                sheet._rows.close()
        with suppress(Exception):
            if sheet._writer is not None:
                sheet._writer.close()


# Column widths ------------------------------------------------------------------------------------


class _OctetLength(Func):
    function = "OCTET_LENGTH"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))", **extra)


def width_aggregates(columns: Sequence[Column] = COLUMNS) -> dict[str, Aggregate]:
    """What `column_widths` reads, as aggregates of the exported rows: per number column its largest
    value, and per text column its longest value in characters plus UTF-8 bytes, computed by the database."""
    aggregates: dict[str, Aggregate] = {}
    for _, name, kind in columns:
        if kind == "number":
            aggregates[f"max_{name}"] = Max(name)
        elif kind == "text":
            aggregates[f"width_{name}"] = Max(Length(name) + _OctetLength(name))
    return aggregates


def column_widths(summary: Mapping[str, Any] | None = None, columns: Sequence[Column] = COLUMNS) -> list[float]:
    """Widths that fit the header and the longest value of each column, as `width_aggregates` gives them.

    Characters plus UTF-8 bytes, halved, counts a Chinese character (3 bytes) as two columns and
    a Latin one as one, without reading every value into Python.
    """
    summary = summary or {}
    widths = []
    for title, name, kind in columns:
        if kind == "number":
            content = len(str(summary.get(f"max_{name}") or 0))
        elif kind == "datetime":
            content = len("2024-01-01 00:00:00")
        elif kind == "yes_no":
            content = 2
        else:
            content = -(-(summary.get(f"width_{name}") or 0) // 2)
        widths.append(min(max(text_display_width(title), content) + 2, MAX_COLUMN_WIDTH))
    return widths
