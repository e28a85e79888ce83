"""The columns an export may hold, read by the workbook and the CSV writer alike.

A column is its header, the Contact field it shows and the kind of value it holds (how each writer
formats it). An export names its columns by field, in order; none named means the default ten,
in the order the exports have always had. `account_id` is exported only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Column(NamedTuple):
    header: str
    field: str
    kind: str  # "number", "text", "yes_no" or "datetime"


ALL_COLUMNS: tuple[Column, ...] = (
    Column("ID", "id", "number"),
    Column("姓名", "name", "text"),
    Column("岗位", "position", "text"),
    Column("联系方式", "contact", "text"),
    Column("回复状态", "reply_status", "text"),
    Column("是否交换微信", "wechat_exchanged", "yes_no"),
    Column("Worker ID", "worker_id", "text"),
    Column("备注", "notes", "text"),
    Column("联系时间", "contacted_at", "datetime"),
    Column("创建时间", "created_at", "datetime"),
    Column("账号 ID", "account_id", "number"),
)
COLUMN_BY_FIELD = {column.field: column for column in ALL_COLUMNS}
DEFAULT_COLUMNS: tuple[Column, ...] = tuple(column for column in ALL_COLUMNS if column.field != "account_id")


def export_columns(fields: Sequence[str] = ()) -> tuple[Column, ...]:
    """The columns named by `fields`, in that order; the default columns when none is named.

    KeyError for a name that is no column (the API refuses those before an export starts).
    """
    if not fields:
        return DEFAULT_COLUMNS
    return tuple(COLUMN_BY_FIELD[field] for field in fields)
