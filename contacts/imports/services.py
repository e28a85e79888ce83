"""The import: every row read and checked, and written in one transaction committed only when every row has
passed. A row without an ID is checked as soon as it is read, the others once the contacts of their IDs are
read; on PostgreSQL writing.py sends the rows that passed while the next are read and checked.

A row with an `ID` changes the columns the file has of that contact; a row without one creates a contact.
Values are checked by the same fields as `POST`/`PATCH /api/contacts` (ContactSerializer). A row whose
values equal the stored ones is unchanged and not written; a time equals a stored one when they agree to
the second (the export writes times to the second), and then the stored time is kept as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from rest_framework.exceptions import ValidationError
from rest_framework.fields import Field

from contacts.api.serializers import ContactSerializer
from contacts.exports.workbook import excel_text
from contacts.maintenance import contacts_statistics_refresh
from contacts.models import Contact
from contacts.scoping import contact_accounts_of, contacts_scoped

from .columns import (
    HEADER_BY_FIELD,
    KIND_BY_FIELD,
    NO_HEADER_MSG,
    CellError,
    Layout,
    cell_read,
    cell_reader,
    header_read,
)
from .reading import Table, import_table_open
from .writing import ContactWrites, contact_writes_open

ERRORS_SHOWN = 100
# Existing contacts read per statement, rows per step of the progress.
BATCH_SIZE = 1000
# How many checked values _Validator keeps (a few per field repeat; a file of unique names fills it).
CHECKED_KEPT = 100_000
# An import that writes this many rows leaves the planner's statistics stale enough to refresh them.
STATISTICS_REFRESH_ROWS = 10_000
REQUIRED_TO_CREATE = ("name", "account_id")

NOT_FOUND_MSG = "ID 不存在"
REPEATED_ID_MSG = "ID 重复:第 {row} 行已有这个 ID"
REQUIRED_MSG = "新建记录(没有 ID)时必填"
OUT_OF_SCOPE_MSG = "无权操作这个账号的联系记录"

Progress = Callable[[str, int, int | None], None]


@dataclass
class ImportReport:
    """What an import did, or would do: rows created, updated and unchanged, and the errors that stopped it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    written: bool = False
    statistics_refreshed: str = ""

    def error(self, row: int, column: str, msg: str) -> None:
        self.error_count += 1
        self.errors.append({"row": row, "column": column, "msg": msg})

    def as_dict(self) -> dict[str, Any]:
        """The answer: the first ERRORS_SHOWN errors by row (a row's own in the order they were found)."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "error_count": self.error_count,
            "errors": sorted(self.errors, key=lambda error: error["row"])[:ERRORS_SHOWN],
        }


@dataclass
class _Row:
    number: int
    id: int | None
    values: dict[str, Any]
    # A cell could not be read, or the ID is repeated: the row is reported and not checked further.
    failed: bool = False
    checked: bool = False


def contacts_import(
    *, file: IO[bytes], user: AbstractBaseUser | None, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Import the contacts in `file` (xlsx or csv, laid out as the export writes it) as `user` may; `user`
    None is the terminal's operator (manage.py import_contacts), who may write every account.

    Raises ImportFileRefused when the file cannot be read safely. Otherwise returns the report; with any
    error in it nothing was written. `dry_run` reads and checks only: no write, no signal, no on-commit work.
    """
    report = ImportReport()
    with import_table_open(file=file) as table:
        layout, problems = header_read(table.header)
        for problem in problems:
            report.error(1, problem.column, problem.msg)
        if problems:
            return report
        names = [name for name in layout.fields if name and name != "id"]
        scope = None if user is None else contact_accounts_of(user=user)
        if dry_run:
            checks = _Checks(scope=scope, report=report, writes=None)
            rows = _rows_read(table, layout, report, progress, new_row=checks.row_new)
            existing = _existing(_ids(rows), names=names, user=user, lock=False)
            _rows_check(rows, existing, checks, progress)
            return report
        with transaction.atomic():
            with contact_writes_open(progress=progress) as writes:
                checks = _Checks(scope=scope, report=report, writes=writes)
                rows = _rows_read(table, layout, report, progress, new_row=checks.row_new)
                existing = _existing(_ids(rows), names=names, user=user, lock=True)
                _rows_check(rows, existing, checks, progress)
            if report.error_count:
                transaction.set_rollback(True)  # with what was written before the failing row
                return report
    report.written = True
    if report.created + report.updated >= STATISTICS_REFRESH_ROWS:
        report.statistics_refreshed = contacts_statistics_refresh()
    return report


def _column_name(layout: Layout, index: int) -> str:
    field_name = layout.fields[index] if index < len(layout.fields) else None
    return HEADER_BY_FIELD[field_name] if field_name else f"第 {index + 1} 列"


def _rows_read(
    table: Table, layout: Layout, report: ImportReport, progress: Progress | None, new_row: Callable[[_Row], None]
) -> list[_Row]:
    """Every row's cells read into values; a cell that cannot be read is an error of its row. Each row is
    given to `new_row` as soon as it is read."""
    rows = []
    first_row_of_id: dict[int, int] = {}
    fields = layout.fields
    readers = [field_name and cell_reader(field_name, from_csv=table.from_csv) for field_name in fields]
    for number, cells in table.rows:
        values: dict[str, Any] = {}
        contact_id = None
        errors_before = report.error_count
        for index, raw in enumerate(cells):
            field_name = fields[index] if index < len(fields) else None
            if field_name is None:
                if raw is not None and str(raw).strip():
                    report.error(number, _column_name(layout, index), NO_HEADER_MSG)
                continue
            try:
                value = readers[index](raw)
            except CellError as error:
                report.error(number, HEADER_BY_FIELD[field_name], error.message)
                continue
            if field_name == "id":
                contact_id = value
            else:
                values[field_name] = value
        for field_name in fields[len(cells) :]:  # a short CSV line: its missing cells are empty
            if field_name and field_name != "id":
                values[field_name] = cell_read(field_name, None, from_csv=table.from_csv)
        if contact_id is not None:
            if contact_id in first_row_of_id:
                report.error(number, "ID", REPEATED_ID_MSG.format(row=first_row_of_id[contact_id]))
            else:
                first_row_of_id[contact_id] = number
        row = _Row(number, contact_id, values, failed=report.error_count > errors_before)
        rows.append(row)
        new_row(row)
        if progress and len(rows) % BATCH_SIZE == 0:
            progress("read", len(rows), None)
    if progress:
        progress("read", len(rows), len(rows))
    return rows


def _batches(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(ids: list[int], *, names: Sequence[str], user: AbstractBaseUser | None, lock: bool) -> dict[int, Contact]:
    """The contacts of `ids` that `user` sees, with the fields `names` only (the file's: those compared and
    written), read a batch at a time; locked for the write when `lock`."""
    found: dict[int, Contact] = {}
    for batch in _batches(ids):
        contacts = Contact.objects.filter(pk__in=_ids_in(batch)).only(*names).order_by()
        if user is not None:
            contacts = contacts_scoped(queryset=contacts, user=user)
        if lock:
            contacts = contacts.select_for_update()
        found.update((contact.pk, contact) for contact in contacts)
    return found


def _ids_in(batch: Sequence[int]) -> Sequence[int] | RawSQL:
    """What `pk__in` takes for a batch of IDs: on PostgreSQL one array parameter rather than one parameter per
    ID, so that a batch is not a statement of 1,000 parameters that psycopg and the server parse anew."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (list(batch),))
    return batch


def _same(value: Any, stored: Any) -> bool:
    """Whether an imported value is what is stored, or what the export wrote of it: a time to the second
    equals the stored time cut there; text equals stored text as a workbook cell holds it (text stored before
    today's rules may hold characters XML cannot carry, or more than a cell's 32,767 characters)."""
    if value == stored:
        return True
    if isinstance(value, dt.datetime) and isinstance(stored, dt.datetime) and not value.microsecond:
        return value == stored.replace(microsecond=0)
    if isinstance(value, str) and isinstance(stored, str):
        return value == excel_text(stored)
    return False


def _validated(fields: dict[str, Field], name: str, value: Any) -> Any:
    """`value` as the API's field for `name` takes it; CellError with the API's message if it refuses."""
    try:
        return fields[name].run_validation(value)
    except ValidationError as error:
        detail = error.detail
        while isinstance(detail, list | dict) and detail:
            detail = detail[0] if isinstance(detail, list) else next(iter(detail.values()))
        raise CellError(str(detail)) from None


class _Validator:
    """_validated with the API's fields, each value of a field checked once per import.

    A field's check depends on the value alone (no database, no request), and a file repeats most of its
    values (statuses, accounts, workers, positions). A fast path: without it the import bench's creates were
    5 to 8% slower (bench/README.md, Import). Times are checked every time: they are seldom repeated, and two
    equal times may differ in `fold`, which their zone reads.
    """

    def __init__(self) -> None:
        self.fields = ContactSerializer().fields
        self.checked: dict[tuple[str, type, Any], tuple[bool, Any]] = {}

    def __call__(self, name: str, value: Any) -> Any:
        if KIND_BY_FIELD[name] == "datetime":
            return _validated(self.fields, name, value)
        key = (name, type(value), value)  # by type too: 1 == True == 1.0
        checked = self.checked.get(key)
        if checked is None:
            try:
                checked = (True, _validated(self.fields, name, value))
            except CellError as error:
                checked = (False, error.message)
            if len(self.checked) < CHECKED_KEPT:
                self.checked[key] = checked
        valid, result = checked
        if not valid:
            raise CellError(result)
        return result


class _Checks:
    """The rows' checks by the API's rules: what passes is counted in `report` and handed to `writes`
    while no row has failed."""

    def __init__(self, *, scope: frozenset[int] | None, report: ImportReport, writes: ContactWrites | None) -> None:
        self.validated = _Validator()
        self.scope = scope
        self.report = report
        self.writes = writes

    def row_new(self, row: _Row) -> None:
        """A row just read: one without an ID needs no stored contact, so it is checked (and written) now,
        while the rest of the file is read."""
        if row.id is None:
            self.row(row, None)

    def row(self, row: _Row, contact: Contact | None) -> None:
        """Check `row` against the stored `contact` of its ID."""
        report = self.report
        writes = self.writes
        errors_before = report.error_count
        row.checked = True
        if row.failed:
            pass
        elif row.id is None:
            created = _row_create(row, self.validated, self.scope, report)
            if created is not None and report.error_count == errors_before:
                report.created += 1
                if writes and not report.error_count:
                    writes.create(created)
        else:
            changed = _row_update(row, contact, self.validated, self.scope, report)
            if report.error_count == errors_before:
                if changed:
                    report.updated += 1
                    if writes and not report.error_count:
                        writes.update(contact, changed)
                else:
                    report.unchanged += 1
        if writes and report.error_count and not writes.abandoned:
            writes.abandon()


def _ids(rows: list[_Row]) -> list[int]:
    return [row.id for row in rows if row.id is not None]


def _rows_check(rows: list[_Row], existing: dict[int, Contact], checks: _Checks, progress: Progress | None) -> None:
    """Check every row not checked yet against the `existing` contacts of its ID."""
    if checks.writes and checks.report.error_count and not checks.writes.abandoned:
        checks.writes.abandon()
    for done, row in enumerate(rows, 1):
        if not row.checked:
            checks.row(row, existing.get(row.id))
        if progress and done % BATCH_SIZE == 0:
            progress("check", done, len(rows))
    if progress:
        progress("check", len(rows), len(rows))


def _in_scope(account_id: int, scope: frozenset[int] | None) -> bool:
    return scope is None or account_id in scope


def _row_create(row: _Row, validated: _Validator, scope: frozenset[int] | None, report: ImportReport) -> Contact | None:
    # An empty cell of a new contact leaves the field at its default, as a field left out of a POST does.
    given = {name: value for name, value in row.values.items() if value is not None and value != ""}
    values = {}
    for name in REQUIRED_TO_CREATE:
        if name not in given:
            report.error(row.number, HEADER_BY_FIELD[name], REQUIRED_MSG)
    for name, value in given.items():
        try:
            values[name] = validated(name, value)
        except CellError as error:
            report.error(row.number, HEADER_BY_FIELD[name], error.message)
    account_id = values.get("account_id")
    if account_id is not None and not _in_scope(account_id, scope):
        report.error(row.number, HEADER_BY_FIELD["account_id"], OUT_OF_SCOPE_MSG)
        return None
    if len(values) < len(given) or any(name not in values for name in REQUIRED_TO_CREATE):
        return None
    return Contact(**values)


def _row_update(
    row: _Row, contact: Contact | None, validated: _Validator, scope: frozenset[int] | None, report: ImportReport
) -> set[str]:
    """Apply the row's changed values to `contact` (only if the whole row is valid); the fields changed."""
    if contact is None:
        report.error(row.number, "ID", NOT_FOUND_MSG)
        return set()
    changes = {}
    valid = True
    for name, value in row.values.items():
        stored = getattr(contact, name)
        # Text and numbers are compared as read, so a stored value the API would refuse today (notes kept
        # from before their bound) is still unchanged; a time is compared once it has its zone.
        if KIND_BY_FIELD[name] != "datetime" and _same(value, stored):
            continue
        try:
            value = validated(name, value)
        except CellError as error:
            report.error(row.number, HEADER_BY_FIELD[name], error.message)
            valid = False
            continue
        if not _same(value, stored):
            changes[name] = value
    account_id = changes.get("account_id")
    if account_id is not None and not _in_scope(account_id, scope):
        report.error(row.number, HEADER_BY_FIELD["account_id"], OUT_OF_SCOPE_MSG)
        valid = False
    if not valid:
        return set()
    for name, value in changes.items():
        setattr(contact, name, value)
    return set(changes)
