"""Contact exports: the workbook, its safe publication, signed download links, history and purge.

The list API, the admin action and the benchmark all export through `contact_export_create`.
A workbook is streamed row by row (openpyxl's write-only mode, fed by a chunked database cursor),
written under a scratch name beside its final name and linked into place only when complete.
No cell value is ever logged: contacts are personal data.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import stat
import tempfile
import time
import traceback
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZipFile

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Count, Func, IntegerField, Max, QuerySet
from django.db.models.functions import Length
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import ALL_TEMP_FILES, WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

from .models import ContactExport

logger = logging.getLogger("contacts.exports")

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORTS_FOLDER = "exports"
FILENAME_RE = re.compile(r"contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.xlsx")
# Every scratch file of an export (the zip and one per sheet) is `.<final name>.<random>.tmp`.
SCRATCH_RE = re.compile(r"\.(contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.xlsx)\.[0-9a-z_]{8}\.tmp")
SCRATCH_MAX_AGE = dt.timedelta(days=1)

DATA_SHEET_TITLE = "联系记录"
INFO_SHEET_TITLE = "导出信息"
# (header, values_list field, kind): the data sheet's columns in order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("ID", "id", "number"),
    ("姓名", "name", "text"),
    ("岗位", "position", "text"),
    ("联系方式", "contact", "text"),
    ("回复状态", "reply_status", "text"),
    ("是否交换微信", "wechat_exchanged", "yes_no"),
    ("Worker ID", "worker_id", "text"),
    ("备注", "notes", "text"),
    ("联系时间", "contacted_at", "datetime"),
    ("创建时间", "created_at", "datetime"),
)
HEADER = tuple(column[0] for column in COLUMNS)
FIELDS = tuple(column[1] for column in COLUMNS)
FILTER_LABELS = {
    "search": "搜索关键词",
    "reply_status": "回复状态",
    "wechat_exchanged": "是否交换微信",
    "start_date": "开始日期",
    "end_date": "结束日期",
    "worker_id": "Worker ID",
    "account_id": "账号 ID",
    "selection": "后台选择",
}

# One sheet holds 1,048,576 rows: the header and 1,048,575 contacts.
SHEET_MAX_DATA_ROWS = 1_048_575
CELL_MAX_CHARS = 32_767
DATETIME_NUMBER_FORMAT = "yyyy-mm-dd hh:mm:ss"
MAX_COLUMN_WIDTH = 60
FETCH_CHUNK_ROWS = 5000

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
_LINK_SALT = "contacts.exports.download-link"


class ExportError(Exception):
    """Base of the export failures that callers answer."""


class ExportTooLarge(ExportError):
    def __init__(self, *, rows: int, limit: int) -> None:
        super().__init__(f"{rows} rows exceed the export limit of {limit}")
        self.rows = rows
        self.limit = limit


class ExportFailed(ExportError):
    """The export failed and was recorded as failed; nothing was left under a final name."""

    def __init__(self, export: ContactExport) -> None:
        super().__init__(f"export {export.filename} failed")
        self.export = export


class ExportLinkInvalid(ExportError):
    """A download signature that is missing, malformed or not ours."""


class ExportLinkExpired(ExportLinkInvalid):
    """A genuine download signature older than EXPORT_LINK_TTL_SECONDS."""


@dataclass(frozen=True)
class ExportInfo:
    """What the `导出信息` sheet says about an export, besides its row count."""

    username: str
    generated_at: dt.datetime
    source: str
    filters: Mapping[str, str] = field(default_factory=dict)
    ordering: str = ""


@dataclass(frozen=True)
class PurgedFile:
    name: str
    size: int
    scratch: bool


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


class _Scratch:
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
    """Turns contact rows into the cells of the data sheets, starting a new sheet when one is full."""

    def __init__(self, workbook: Workbook, scratch: _Scratch, widths: Sequence[float], zone: dt.tzinfo) -> None:
        self.workbook = workbook
        self.scratch = scratch
        self.widths = widths
        self.zone = zone
        self.sheets: list[_StreamedSheet] = []

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
            for column in range(1, len(HEADER) + 1)
        ]
        for cell, title_text in zip(header, HEADER, strict=True):
            cell._value = title_text
        sheet.append(header)
        self.sheets.append(sheet)
        return sheet

    def close_sheet(self, sheet: _StreamedSheet, data_rows: int) -> None:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(HEADER))}{data_rows + 1}"

    def write(self, rows: Iterable[Sequence[Any]], *, max_rows: int) -> int:
        """Write every row; more than `max_rows` rows raise ExportTooLarge. Returns the rows written."""
        written = 0
        sheet = self.open_sheet()
        in_sheet = 0
        cells = self._row_cells(sheet)
        zone = self.zone
        for values in rows:
            if in_sheet == SHEET_MAX_DATA_ROWS:
                self.close_sheet(sheet, in_sheet)
                sheet = self.open_sheet()
                in_sheet = 0
                cells = self._row_cells(sheet)
            written += 1
            if written > max_rows:
                raise ExportTooLarge(rows=written, limit=max_rows)
            sheet.append(_fill_row(cells, values, zone))
            in_sheet += 1
        self.close_sheet(sheet, in_sheet)
        return written

    def _row_cells(self, sheet: _StreamedSheet) -> list[tuple[str, Cell, Cell | None]]:
        """Per column: its kind, the cell reused for every row, and a quote-prefixed twin for text."""
        cells = []
        for column, (_, _, kind) in enumerate(COLUMNS, 1):
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


def _write_info_sheet(workbook: Workbook, scratch: _Scratch, info: ExportInfo, *, rows: int, sheets: int) -> None:
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
    if info.filters:
        lines += [(f"筛选:{FILTER_LABELS.get(name, name)}", value) for name, value in info.filters.items()]
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


def contacts_workbook_write(
    *,
    target: IO[bytes],
    rows: Iterable[Sequence[Any]],
    info: ExportInfo,
    scratch_dir: Path,
    scratch_name: str,
    widths: Sequence[float] | None = None,
    max_rows: int | None = None,
) -> int:
    """Stream `rows` (values in `FIELDS` order) into a workbook written to `target`; return the rows.

    The sheets' scratch files go to `scratch_dir` as `.<scratch_name>.<random>.tmp` and are
    removed whether the write succeeds or fails.
    """
    scratch = _Scratch(scratch_dir, scratch_name)
    workbook = Workbook(write_only=True)
    zone = timezone.get_default_timezone()
    limit = settings.EXPORT_MAX_ROWS if max_rows is None else max_rows
    try:
        data = _DataSheetWriter(workbook, scratch, widths or column_widths(), zone)
        written = data.write(rows, max_rows=limit)
        _write_info_sheet(workbook, scratch, info, rows=written, sheets=len(data.sheets))
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


# Column widths ----------------------------------------------------------------------------------


class _OctetLength(Func):
    function = "OCTET_LENGTH"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))", **extra)


def column_widths(summary: Mapping[str, Any] | None = None) -> list[float]:
    """Widths that fit the header and the longest value of each column, as the summary gives them.

    Characters plus UTF-8 bytes, halved, counts a Chinese character (3 bytes) as two columns and
    a Latin one as one, without reading every value into Python.
    """
    summary = summary or {}
    widths = []
    for title, name, kind in COLUMNS:
        if kind == "number":
            content = len(str(summary.get("max_id") or 0))
        elif kind == "datetime":
            content = len("2024-01-01 00:00:00")
        elif kind == "yes_no":
            content = 2
        else:
            content = -(-(summary.get(f"width_{name}") or 0) // 2)
        widths.append(min(max(text_display_width(title), content) + 2, MAX_COLUMN_WIDTH))
    return widths


def _contacts_summary(queryset: QuerySet) -> dict[str, Any]:
    text_fields = [name for _, name, kind in COLUMNS if kind == "text"]
    return queryset.order_by().aggregate(
        total=Count("id"),
        max_id=Max("id"),
        **{f"width_{name}": Max(Length(name) + _OctetLength(name)) for name in text_fields},
    )


# Files ------------------------------------------------------------------------------------------


def exports_dir() -> Path:
    """`<media root>/exports`; a media root that is not an absolute path is a configuration error."""
    root = str(settings.MEDIA_ROOT or "")
    if not root or not os.path.isabs(root):
        raise ImproperlyConfigured("MEDIA_ROOT (DJANGO_MEDIA_ROOT) must be set to an absolute path for exports.")
    return Path(root) / EXPORTS_FOLDER


def export_filename_new(*, at: dt.datetime) -> str:
    return f"contacts_export_{timezone.localtime(at):%Y%m%d_%H%M%S}_{secrets.token_hex(4)}.xlsx"


def _publish(scratch_path: str, final_path: Path) -> None:
    """Give the finished file its final name, never replacing a file already there."""
    try:
        os.link(scratch_path, final_path)
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: the check and the rename are two steps there, but
        # the final name was reserved by the export's history row, so nothing else writes it.
        if os.path.lexists(final_path):
            raise FileExistsError(final_path) from None
        os.rename(scratch_path, final_path)
        return
    os.remove(scratch_path)


def export_file_open(*, filename: str) -> IO[bytes]:
    """The finished export `filename` opened for reading; FileNotFoundError for anything else.

    Only names of exports are looked up, only inside the exports folder, and a symbolic link or
    anything but a regular file is treated as absent.
    """
    if not FILENAME_RE.fullmatch(filename):
        raise FileNotFoundError(filename)
    folder = os.open(exports_dir(), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = os.open(filename, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        except OSError as exc:  # ELOOP for a symbolic link
            raise FileNotFoundError(filename) from exc
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError(filename)
    return os.fdopen(fd, "rb")


# Signed links -----------------------------------------------------------------------------------


def _link_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_LINK_SALT, sep=".")


def export_link_sign(*, filename: str) -> str:
    """The download path of `filename` (site-relative) with a signature valid for the link TTL."""
    signature = _link_signer().sign(filename)[len(filename) + 1 :]
    path = reverse("contact-export-download", kwargs={"filename": filename})
    return f"{path}?{urlencode({'signature': signature})}"


def export_link_verify(*, filename: str, signature: str | None) -> None:
    """Raise ExportLinkExpired or ExportLinkInvalid unless `signature` is ours for `filename` and fresh."""
    if not signature:
        raise ExportLinkInvalid("missing signature")
    try:
        _link_signer().unsign(f"{filename}.{signature}", max_age=settings.EXPORT_LINK_TTL_SECONDS)
    except signing.SignatureExpired as exc:
        raise ExportLinkExpired("expired signature") from exc
    except (signing.BadSignature, ValueError) as exc:
        raise ExportLinkInvalid("bad signature") from exc


# The export -------------------------------------------------------------------------------------


def _failure_text(exc: BaseException) -> str:
    """The failure without any value from the data: the exception's type, where, and an OS reason."""
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    text = type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text += f" ({exc.strerror})"
    if where:
        text += f" at {Path(where[0].filename).name}:{where[0].lineno}"
    return text


def _export_record_start(
    *, user: AbstractBaseUser | AnonymousUser | None, source: str, filters: Mapping[str, str], at: dt.datetime
) -> ContactExport:
    """The history row, created first: it reserves a file name no other export can take."""
    username = user.get_username() if user is not None else ""
    for _ in range(5):
        try:
            with transaction.atomic():
                return ContactExport.objects.create(
                    user=user if user is not None and user.is_authenticated else None,
                    username=username,
                    source=source,
                    filters=dict(filters),
                    filename=export_filename_new(at=at),
                    created_at=at,
                )
        except IntegrityError:
            continue
    raise IntegrityError("no free export file name")


def _read_snapshot(queryset: QuerySet) -> Any:
    """A transaction for PostgreSQL's server-side cursor, which otherwise copies the whole result
    server-side before the first row (a WITH HOLD cursor). SQLite's transactions here take the
    write lock (BEGIN IMMEDIATE), so its cursor reads outside one."""
    if connections[queryset.db].vendor == "postgresql":
        return transaction.atomic(using=queryset.db)
    return nullcontext()


@contextmanager
def _closed_at_exit(rows: Iterator[tuple]) -> Iterator[Iterator[tuple]]:
    """Close a half-read cursor inside the transaction that holds it, not later in the garbage
    collector, when its CLOSE would fail and abort the transaction around it."""
    try:
        yield rows
    finally:
        with suppress(DatabaseError):
            getattr(rows, "close", lambda: None)()


def contact_rows(queryset: QuerySet) -> Iterator[tuple]:
    """The queryset's contacts as tuples in `FIELDS` order, read in chunks by a server-side cursor."""
    return queryset.values_list(*FIELDS).iterator(chunk_size=FETCH_CHUNK_ROWS)


def contact_export_create(
    *,
    queryset: QuerySet,
    user: AbstractBaseUser | AnonymousUser | None,
    filters: Mapping[str, str],
    ordering: str,
    source: str = ContactExport.Source.API,
) -> ContactExport:
    """Export the contacts of `queryset`, in its order, to `<media root>/exports/<filename>`.

    Returns the finished history row. Raises ExportTooLarge (recorded, no file written) when
    more than EXPORT_MAX_ROWS rows match, and ExportFailed (recorded) for any other failure,
    after removing every scratch file.
    """
    started = time.monotonic()
    now = timezone.localtime(timezone.now()).replace(microsecond=0)
    folder = exports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    export = _export_record_start(user=user, source=source, filters={**filters, "ordering": ordering}, at=now)
    info = ExportInfo(
        username=export.username,
        generated_at=now,
        source=ContactExport.Source(source).label,
        filters=filters,
        ordering=ordering,
    )
    limit = settings.EXPORT_MAX_ROWS
    scratch = _Scratch(folder, export.filename)
    try:
        with _read_snapshot(queryset), _closed_at_exit(contact_rows(queryset)) as source:
            summary = _contacts_summary(queryset)
            if summary["total"] > limit:
                raise ExportTooLarge(rows=summary["total"], limit=limit)
            fd, scratch_path = scratch.new()
            with os.fdopen(fd, "wb") as target:
                rows = contacts_workbook_write(
                    target=target,
                    rows=source,
                    info=info,
                    scratch_dir=folder,
                    scratch_name=export.filename,
                    widths=column_widths(summary),
                    max_rows=limit,
                )
                target.flush()
                os.fsync(target.fileno())
            size = os.stat(scratch_path).st_size
            _publish(scratch_path, folder / export.filename)
    except ExportTooLarge as exc:
        scratch.remove_all()
        _export_record_finish(export, started, status=ContactExport.Status.FAILED, error=f"超过导出上限:{exc}")
        raise
    except Exception as exc:
        scratch.remove_all()
        error = _failure_text(exc)
        logger.error("export %s failed: %s", export.filename, error)
        _export_record_finish(export, started, status=ContactExport.Status.FAILED, error=error)
        raise ExportFailed(export) from exc
    except BaseException:  # a worker being stopped: leave no scratch file behind either
        scratch.remove_all()
        _export_record_finish(export, started, status=ContactExport.Status.FAILED, error="interrupted")
        raise
    _export_record_finish(export, started, status=ContactExport.Status.SUCCEEDED, rows=rows, size=size)
    logger.info("export %s: %d rows, %d bytes, %d ms", export.filename, rows, size, export.duration_ms)
    return export


def _export_record_finish(
    export: ContactExport, started: float, *, status: str, rows: int = 0, size: int = 0, error: str = ""
) -> None:
    export.status = status
    export.row_count = rows
    export.size_bytes = size
    export.error = error
    export.duration_ms = round((time.monotonic() - started) * 1000)
    try:
        export.save(update_fields=["status", "row_count", "size_bytes", "error", "duration_ms"])
    except Exception as exc:  # the database may be what failed: the caller's answer matters more
        logger.error("export %s: recording its end failed: %s", export.filename, type(exc).__name__)


# Purge ------------------------------------------------------------------------------------------


def exports_purge(*, days: int, dry_run: bool = False, now: dt.datetime | None = None) -> list[PurgedFile]:
    """Remove exports older than `days` days and scratch files older than a day; return them.

    Only regular files named like an export or its scratch files, directly in the exports
    folder, are considered: links and anything else are never touched or followed. History rows
    of removed exports are marked purged; an export whose scratch files are removed is recorded
    as interrupted. With `dry_run`, the same list is returned and nothing changes.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    now = now or timezone.now()
    folder_path = exports_dir()
    if not folder_path.is_dir():
        return []
    export_cutoff = now.timestamp() - days * 86400
    scratch_cutoff = now.timestamp() - SCRATCH_MAX_AGE.total_seconds()
    purged: list[PurgedFile] = []
    folder = os.open(folder_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with os.scandir(folder) as entries:
            names = sorted(entry.name for entry in entries)
        for name in names:
            scratch = SCRATCH_RE.fullmatch(name) is not None
            if not scratch and not FILENAME_RE.fullmatch(name):
                continue
            try:
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
            except FileNotFoundError:
                continue
            cutoff = scratch_cutoff if scratch else export_cutoff
            if not stat.S_ISREG(info.st_mode) or info.st_mtime >= cutoff:
                continue
            if not dry_run:
                try:
                    os.unlink(name, dir_fd=folder)
                except FileNotFoundError:
                    continue
            purged.append(PurgedFile(name=name, size=info.st_size, scratch=scratch))
    finally:
        os.close(folder)
    if not dry_run:
        _purge_record(purged, now)
    return purged


def _purge_record(purged: list[PurgedFile], now: dt.datetime) -> None:
    finished = [item.name for item in purged if not item.scratch]
    interrupted = {SCRATCH_RE.fullmatch(item.name).group(1) for item in purged if item.scratch}
    for start in range(0, len(finished), 500):
        ContactExport.objects.filter(filename__in=finished[start : start + 500], purged_at__isnull=True).update(
            purged_at=now
        )
    names = sorted(interrupted)
    for start in range(0, len(names), 500):
        ContactExport.objects.filter(
            filename__in=names[start : start + 500], status=ContactExport.Status.RUNNING
        ).update(status=ContactExport.Status.FAILED, error="导出中断:临时文件已由清理命令删除", purged_at=now)
