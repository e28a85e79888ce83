"""The import's columns, named as the export names them, and how a cell becomes a value.

A cell's value is only read here (text, whole number, yes/no, time); whether it is allowed is the API's
rule, checked by ContactSerializer's fields in services.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from contacts.exports.columns import ALL_COLUMNS
from contacts.exports.csvfile import csv_text_unguard

FIELD_BY_HEADER: dict[str, str] = {column.header: column.field for column in ALL_COLUMNS}
HEADER_BY_FIELD: dict[str, str] = {column.field: column.header for column in ALL_COLUMNS}
KIND_BY_FIELD: dict[str, str] = {column.field: column.kind for column in ALL_COLUMNS}

DIGITS_RE = re.compile(r"[0-9]+")
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
EXPORTED_DATETIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
TRUE_TEXTS = frozenset({"是", "true", "1"})
FALSE_TEXTS = frozenset({"否", "false", "0"})

UNKNOWN_HEADER_MSG = "未知的列(列名应与导出文件一致)"
REPEATED_HEADER_MSG = "列重复"
NO_HEADER_MSG = "这一列有数据但没有列名"
WHOLE_NUMBER_MSG = "应为正整数"
YES_NO_MSG = "应为 是/否、true/false 或 1/0"
DATETIME_MSG = "应为时间 YYYY-MM-DD HH:MM:SS(或 YYYY-MM-DD HH:MM、YYYY-MM-DD,可用 / 分隔)"


class CellError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class HeaderProblem:
    column: str
    msg: str


@dataclass(frozen=True)
class Layout:
    """Which field each column holds, by position: None for a column without a name."""

    fields: tuple[str | None, ...]


def header_read(header: Sequence[Any]) -> tuple[Layout, list[HeaderProblem]]:
    """The layout of a header row, and its problems: unknown or repeated names."""
    fields: list[str | None] = []
    problems = []
    seen = set()
    for cell in header:
        title = "" if cell is None else str(cell).strip()
        if not title:
            fields.append(None)
            continue
        field = FIELD_BY_HEADER.get(title)
        if field is None:
            problems.append(HeaderProblem(title, UNKNOWN_HEADER_MSG))
        elif field in seen:
            problems.append(HeaderProblem(title, REPEATED_HEADER_MSG))
        else:
            seen.add(field)
            fields.append(field)
            continue
        fields.append(None)
    return Layout(tuple(fields)), problems


def cell_read(field: str, raw: Any, *, from_csv: bool) -> Any:
    """The value of a cell in `field`'s column: str for text, int or None for numbers, bool or None for
    yes/no, datetime (naive: local) or None for times. Raises CellError."""
    return cell_reader(field, from_csv=from_csv)(raw)


def cell_reader(field: str, *, from_csv: bool) -> Callable[[Any], Any]:
    """cell_read for one column, to call on each of its cells."""
    kind = KIND_BY_FIELD[field]
    if kind == "text":
        return _csv_text if from_csv else _sheet_text
    if kind == "number":
        return _whole_number
    if kind == "yes_no":
        return _yes_no
    return _datetime


def _number_text(value: int | float) -> str:
    """A number as its digits: a phone number Excel stored as 13800138000.0 is `13800138000`."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv_text(raw: Any) -> str:
    return _text(raw, from_csv=True)


def _sheet_text(raw: Any) -> str:
    return _text(raw, from_csv=False)


def _text(raw: Any, *, from_csv: bool) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, int | float):
        return _number_text(raw)
    if isinstance(raw, dt.datetime):
        return raw.strftime(DATETIME_FORMATS[0])
    if isinstance(raw, dt.date | dt.time | dt.timedelta):
        return str(raw)
    text = str(raw)
    return csv_text_unguard(text) if from_csv else text


def _whole_number(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise CellError(WHOLE_NUMBER_MSG)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise CellError(WHOLE_NUMBER_MSG)
    text = str(raw).strip()
    if not text:
        return None
    if not DIGITS_RE.fullmatch(text) or len(text) > 18:
        raise CellError(WHOLE_NUMBER_MSG)
    return int(text)


def _yes_no(raw: Any) -> bool | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    text = str(raw).strip().lower()
    if not text:
        return None
    if text in TRUE_TEXTS:
        return True
    if text in FALSE_TEXTS:
        return False
    raise CellError(YES_NO_MSG)


def _datetime(raw: Any) -> dt.datetime | None:
    if raw is None:
        return None
    if isinstance(raw, dt.datetime):
        # A date cell: openpyxl reads its serial to the millisecond, the export wrote it to the second.
        return (raw + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
    if isinstance(raw, dt.date):
        return dt.datetime(raw.year, raw.month, raw.day)
    if not isinstance(raw, str):
        raise CellError(DATETIME_MSG)
    text = raw.strip().replace("/", "-")
    if not text:
        return None
    if EXPORTED_DATETIME_RE.fullmatch(text):
        # What strptime reads of the export's own format, without its cost; a time it refuses (month 13,
        # second 60) fails here too and goes the long way.
        try:
            return dt.datetime(
                int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19])
            )
        except ValueError:
            pass
    for pattern in DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise CellError(DATETIME_MSG) from None
