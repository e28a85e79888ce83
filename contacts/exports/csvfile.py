"""The contacts as CSV, rows in and bytes out: the same headers and cell texts as the workbook.

UTF-8 with a byte order mark (so that Excel reads Chinese text as UTF-8), CRLF line ends and RFC 4180
quoting, written one row at a time. Text that a spreadsheet would take for a formula is prefixed with
a single quote (`csv_text_guard`); the import removes exactly that prefix again.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from django.conf import settings
from django.utils import timezone

from .columns import DEFAULT_COLUMNS, Column
from .errors import ExportTooLarge
from .workbook import excel_text

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# The import takes one leading quote off a text cell matching ^'+[=+\-@\t\r]: the two rules are each
# other's inverse, so values that themselves begin with quotes survive a round trip too.
_GUARDED = re.compile(r"'*[=+\-@\t\r]")


def csv_text_guard(text: str) -> str:
    """`text` with one more leading `'` when it matches `^'*[=+\\-@\\t\\r]`, else unchanged."""
    return "'" + text if _GUARDED.match(text) else text


def csv_text_unguard(text: str) -> str:
    """The inverse of csv_text_guard, which the import applies to a CSV's text: one leading `'` off text
    matching `^'+[=+\\-@\\t\\r]`, so that guarding then unguarding gives back any text."""
    return text[1:] if text.startswith("'") and _GUARDED.match(text) else text


class _Utf8Sink:
    """What csv.writer writes to: each row's text, encoded, into the binary target."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target

    def write(self, text: str) -> None:
        self.target.write(text.encode("utf-8"))


def _formatter(kind: str, zone: dt.tzinfo) -> Callable[[Any], str]:
    """The cell text of one column's values, None being the empty cell."""
    if kind == "text":
        return lambda value: "" if value is None else csv_text_guard(excel_text(value))
    if kind == "datetime":
        return lambda value: "" if value is None else value.astimezone(zone).strftime(DATETIME_FORMAT)
    if kind == "yes_no":
        return lambda value: "" if value is None else ("是" if value else "否")
    return lambda value: "" if value is None else str(value)


def contacts_csv_write(
    *, target: IO[bytes], rows: Iterable[Sequence[Any]], columns: Sequence[Column] = DEFAULT_COLUMNS
) -> int:
    """Stream `rows` (values of `columns`, in order) as CSV into `target`; return the rows written.

    More than EXPORT_MAX_ROWS rows raise ExportTooLarge, mid-stream.
    """
    zone = timezone.get_default_timezone()
    formatters = [_formatter(column.kind, zone) for column in columns]
    max_rows = settings.EXPORT_MAX_ROWS
    sink = _Utf8Sink(target)
    sink.write(BOM)
    writer = csv.writer(sink, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([column.header for column in columns])
    written = 0
    for values in rows:
        written += 1
        if written > max_rows:
            raise ExportTooLarge(rows=written, limit=max_rows)
        writer.writerow([format_value(value) for format_value, value in zip(formatters, values, strict=True)])
    return written
