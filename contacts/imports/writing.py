"""The import's writes: its new contacts and changed fields, in batches, inside the import's transaction.

On PostgreSQL a batch goes to the server as soon as its rows are checked, in psycopg's pipeline mode (a
statement is sent without waiting for its result), so that the server writes a batch while the rows
after it are read and checked in Python: the writes, the table's indexes above all, are most of a large
import's time. A fast path: without it the import bench's creates were 38% slower (bench/README.md,
Import). The caller checks every row before it commits and rolls the transaction back, with the batches
already sent, when a row fails or the file is refused; once a row has failed nothing more is sent. On
SQLite the batches are written by bulk_create and bulk_update when every row has been checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.utils import timezone

from contacts.models import Contact

# Rows created or updated per statement (Django bounds a batch by SQLite's bound parameters on its side).
BATCH_SIZE = 1000
# Rows updated per statement by bulk_update (SQLite): its CASE WHEN id = … walks the batch's ids for each row.
UPDATE_BATCH_SIZE = 200

Progress = Callable[[str, int, int | None], None]


class ContactWrites:
    """Where the checked rows go: `create` a new contact, `update` a contact's changed fields, `abandon` when
    a row fails. Made by `contact_writes_open`."""

    def __init__(self, *, cursor: Any = None) -> None:
        self.cursor = cursor  # psycopg's, in pipeline mode (PostgreSQL); None: write at the end (SQLite)
        self.pipelined = cursor is not None
        self.creates: list[Contact] = []
        self.updates: list[tuple[Contact, set[str]]] = []
        self.written = 0
        self.abandoned = False
        # Every contact the import changes gets the same time (bulk_update leaves auto_now alone).
        self.now = timezone.now()

    def create(self, contact: Contact) -> None:
        self.creates.append(contact)
        if self.pipelined and len(self.creates) == BATCH_SIZE:
            self._write_creates()

    def update(self, contact: Contact, names: set[str]) -> None:
        contact.updated_at = self.now
        self.updates.append((contact, names))
        if self.pipelined and len(self.updates) == BATCH_SIZE:
            self._write_updates()

    def abandon(self) -> None:
        """Write nothing more: a row failed, and the import rolls back what was written."""
        self.abandoned = True
        self.creates.clear()
        self.updates.clear()

    def flush(self) -> None:
        if self.abandoned:
            return
        if self.pipelined:
            self._write_creates()
            self._write_updates()
            return
        for start in range(0, len(self.creates), BATCH_SIZE):
            Contact.objects.bulk_create(self.creates[start : start + BATCH_SIZE])
        for start in range(0, len(self.updates), UPDATE_BATCH_SIZE):
            batch = self.updates[start : start + UPDATE_BATCH_SIZE]
            Contact.objects.bulk_update([contact for contact, _ in batch], _names(batch))
        self.written += len(self.creates) + len(self.updates)

    def _write_creates(self) -> None:
        if self.creates:
            _insert_from_arrays(self.cursor, self.creates)
            self.written += len(self.creates)
            self.creates = []

    def _write_updates(self) -> None:
        if self.updates:
            _update_from_arrays(self.cursor, [contact for contact, _ in self.updates], _names(self.updates))
            self.written += len(self.updates)
            self.updates = []


@contextmanager
def contact_writes_open(*, progress: Progress | None = None) -> Iterator[ContactWrites]:
    """The writes of one import, inside its transaction; every write is done when the block ends."""
    if connection.vendor != "postgresql":
        writes = ContactWrites()
        yield writes
        writes.flush()
    else:
        connection.ensure_connection()
        # psycopg's own cursor: in pipeline mode `execute` returns once the statement is sent, and leaving
        # the pipeline waits for every statement's result.
        with connection.connection.cursor() as cursor, connection.connection.pipeline():
            writes = ContactWrites(cursor=cursor)
            yield writes
            writes.flush()
    if progress and writes.written and not writes.abandoned:  # what an abandoned import sent is rolled back
        progress("write", writes.written, writes.written)


def _names(batch: Sequence[tuple[Contact, set[str]]]) -> list[str]:
    """The fields a batch of updates writes: those changed in any of its rows, and the time of the change."""
    changed: set[str] = set()
    for _, names in batch:
        changed |= names
    return [*sorted(changed), "updated_at"]


def _insert_from_arrays(cursor: Any, contacts: Sequence[Contact]) -> None:
    """PostgreSQL: the batch's new contacts in one `INSERT … SELECT … FROM unnest(…)`, each column's values
    one array parameter, each value prepared as bulk_create prepares it (defaults and `auto_now` included).
    The triggers fire as for any INSERT."""
    fields = [field for field in Contact._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    # The model's own quoted names and casts; every value is in a bound array.
    sql = f"INSERT INTO {quote(Contact._meta.db_table)} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
    params = [
        [field.get_db_prep_save(field.pre_save(contact, True), connection) for contact in contacts] for field in fields
    ]
    cursor.execute(sql, params)


def _update_from_arrays(cursor: Any, contacts: Sequence[Contact], names: list[str]) -> None:
    """PostgreSQL: one `UPDATE … FROM unnest(…)` for the batch, each column's values one array parameter.
    bulk_update's CASE WHEN took 2 to 3 times as long for 20,000 rows; a `VALUES` list of one parameter per
    value made every statement one of 4,000 parameters, parsed anew on both sides (bench/README.md, Import)."""
    fields = [Contact._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    pk = quote(Contact._meta.pk.column)
    columns = [pk, *(quote(field.column) for field in fields)]
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{field.db_type(connection)}[]" for field in fields)])
    assignments = ", ".join(f"{column} = v.{column}" for column in columns[1:])
    # The model's own quoted names and casts; every value is in a bound array.
    table = quote(Contact._meta.db_table)
    values = f"unnest({arrays}) AS v({', '.join(columns)})"
    sql = f"UPDATE {table} AS t SET {assignments} FROM {values} WHERE t.{pk} = v.{pk}"  # noqa: S608
    params: list[list[Any]] = [[contact.pk for contact in contacts]]
    params.extend(
        [field.get_db_prep_save(getattr(contact, field.attname), connection) for contact in contacts]
        for field in fields
    )
    cursor.execute(sql, params)
