"""Exports as the service does them: create one (with its history record and its user's quota), purge old
ones, and hold the exports storage to its size cap. The one entry point of the API, the admin action, the
purge command and the benchmark.

An export streams the rows of a bound, valid ContactFilterSet through a chunked database cursor into a
workbook on this machine's disk, then publishes it to the exports storage.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import secrets
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from contacts.filters import ContactFilterSet
from contacts.models import ContactExport

from . import storage, workbook
from .errors import ExportFailed, ExportQuotaExceeded, ExportTooLarge

logger = logging.getLogger("contacts.exports")

FETCH_CHUNK_ROWS = 5000
SCRATCH_MAX_AGE = dt.timedelta(days=1)
# The daily limit counts the exports of the last 24 hours. A request refused for the exports it has running
# is told to retry after RUNNING_RETRY_SECONDS: when they will end is not known.
QUOTA_WINDOW = dt.timedelta(hours=24)
RUNNING_RETRY_SECONDS = 30
SELECTION_LABEL = "后台选择"


@dataclass(frozen=True)
class PurgedFile:
    name: str
    size: int
    scratch: bool


def export_filename_new(*, at: dt.datetime) -> str:
    return f"contacts_export_{timezone.localtime(at):%Y%m%d_%H%M%S}_{secrets.token_hex(4)}.xlsx"


# Creating an export -------------------------------------------------------------------------------


def contact_export_create(
    *,
    filterset: ContactFilterSet,
    user: AbstractBaseUser | AnonymousUser | None,
    source: str = ContactExport.Source.API,
    selection: str = "",
) -> ContactExport:
    """Export the contacts of a bound, valid `filterset`, in its order, to a workbook in the exports storage.

    `selection` says which rows the FilterSet started from when not all of them (the admin's selection).
    Returns the finished history row. Raises ExportQuotaExceeded (nothing recorded) past the user's
    quota, ExportTooLarge (recorded, no file written) when more than EXPORT_MAX_ROWS rows match, and
    ExportFailed (recorded) for any other failure, after removing every scratch file. A finished export
    holds the exports storage to EXPORT_STORAGE_MAX_BYTES, oldest files first.
    """
    started = time.monotonic()
    now = timezone.localtime(timezone.now()).replace(microsecond=0)
    asked = {"selection": selection, **filterset.parameters()} if selection else filterset.parameters()
    export = _export_record_start(user=user, source=source, filters=asked, at=now)
    described = filterset.described()
    info = workbook.ExportInfo(
        username=export.username,
        generated_at=now,
        source=ContactExport.Source(source).label,
        filters=[(SELECTION_LABEL, selection), *described] if selection else described,
        ordering=filterset.ordering_key,
    )
    queryset = filterset.qs
    folder = storage.scratch_dir()
    folder.mkdir(parents=True, exist_ok=True)
    scratch = workbook.ScratchFiles(folder, export.filename)
    try:
        with _read_snapshot(queryset), _closed_at_exit(contact_rows(queryset)) as rows:
            summary = queryset.order_by().aggregate(total=Count("id"), **workbook.width_aggregates())
            workbook.row_limit_check(rows=summary["total"])
            fd, scratch_path = scratch.new()
            with os.fdopen(fd, "wb") as target:
                written = workbook.contacts_workbook_write(
                    target=target,
                    rows=rows,
                    info=info,
                    scratch_dir=folder,
                    scratch_name=export.filename,
                    widths=workbook.column_widths(summary),
                )
            size = storage.export_file_publish(name=export.filename, path=Path(scratch_path))
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
    scratch.remove_all()
    _export_record_finish(export, started, status=ContactExport.Status.SUCCEEDED, rows=written, size=size)
    logger.info("export %s: %d rows, %d bytes, %d ms", export.filename, written, size, export.duration_ms)
    _storage_cap_keep(newest=export.filename)
    return export


def contact_rows(queryset: QuerySet) -> Iterator[tuple]:
    """The queryset's contacts as tuples in the workbook's FIELDS order, read in chunks by a server-side cursor."""
    return queryset.values_list(*workbook.FIELDS).iterator(chunk_size=FETCH_CHUNK_ROWS)


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


def _failure_text(exc: BaseException) -> str:
    """The failure without any value from the data: the exception's type, where, and an OS reason."""
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    text = type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text += f" ({exc.strerror})"
    if where:
        text += f" at {Path(where[0].filename).name}:{where[0].lineno}"
    return text


# The history record and the quota -----------------------------------------------------------------


def _export_record_start(
    *, user: AbstractBaseUser | AnonymousUser | None, source: str, filters: Mapping[str, str], at: dt.datetime
) -> ContactExport:
    """The history row, created first: it reserves a file name no other export can take.

    Raises ExportQuotaExceeded, recording nothing, past the user's limits.
    """
    username = user.get_username() if user is not None else ""
    for _ in range(5):
        try:
            with transaction.atomic():
                if user is not None and user.is_authenticated:
                    _export_quota_check(user=user, at=at)
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


def _export_quota_check(*, user: AbstractBaseUser, at: dt.datetime) -> None:
    """Raise ExportQuotaExceeded when the user may not start another export now.

    Called in the transaction that records the new export, with the user's row locked (SQLite's
    transactions here take the write lock at their start), so that racing requests count each other.
    """
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    mine = ContactExport.objects.filter(user=user)
    # A worker is killed after GUNICORN_TIMEOUT: an export "running" longer than that was a dead one's.
    alive_since = at - dt.timedelta(seconds=settings.REQUEST_TIMEOUT_SECONDS)
    running = mine.filter(status=ContactExport.Status.RUNNING, created_at__gt=alive_since).count()
    limit = settings.EXPORT_CONCURRENT_PER_USER
    if running >= limit:
        raise ExportQuotaExceeded(
            f"已有 {running} 个导出正在进行,每人最多同时 {limit} 个,请稍后重试", retry_after=RUNNING_RETRY_SECONDS
        )
    window_start = at - QUOTA_WINDOW
    made = list(
        mine.filter(
            status__in=[ContactExport.Status.RUNNING, ContactExport.Status.SUCCEEDED], created_at__gt=window_start
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    limit = settings.EXPORT_DAILY_PER_USER
    if len(made) >= limit:
        # One more is allowed once this many of the oldest have left the window.
        wait = max(1, math.ceil((made[len(made) - limit] - window_start).total_seconds()))
        raise ExportQuotaExceeded(f"24 小时内每人最多导出 {limit} 次,请 {wait} 秒后重试", retry_after=wait)


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


# Purging ------------------------------------------------------------------------------------------


def exports_purge(*, days: int, dry_run: bool = False, now: dt.datetime | None = None) -> list[PurgedFile]:
    """Remove exports older than `days` days and scratch files older than a day; return them.

    Only files named like an export (in the exports storage) or like its scratch files (directly in
    the scratch folder) are considered; on this machine's disk, links and anything but regular files are
    never touched or followed. History rows of removed exports are marked purged; an export whose
    scratch files are removed is recorded as interrupted. With `dry_run`, the same list is returned and
    nothing changes.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    now = now or timezone.now()
    folder = storage.scratch_dir()
    scratch_cutoff = (now - SCRATCH_MAX_AGE).timestamp()
    purged = [
        PurgedFile(name=left.name, size=left.size, scratch=True)
        for left in workbook.scratch_files_left(folder)
        if left.modified < scratch_cutoff
    ]
    purged += [
        PurgedFile(name=stored.name, size=stored.size, scratch=False)
        for stored in storage.export_files()
        if stored.modified < now - dt.timedelta(days=days)
    ]
    if dry_run:
        return purged
    for item in purged:
        if item.scratch:
            with suppress(FileNotFoundError):
                os.unlink(folder / item.name)
        else:
            storage.export_file_delete(name=item.name)
    _purge_record(purged, now)
    return purged


def exports_storage_trim(*, max_bytes: int, keep: str = "") -> list[PurgedFile]:
    """Remove the oldest finished exports until all of them together take at most `max_bytes`.

    `keep` (the export just written) is never removed, even alone over the cap. History rows of
    removed exports are marked purged; their links answer 404. Returns what was removed.
    """
    finished = sorted(storage.export_files(), key=lambda stored: (stored.modified, stored.name))
    total = sum(stored.size for stored in finished)
    purged: list[PurgedFile] = []
    for stored in finished:
        if total <= max_bytes:
            break
        if stored.name == keep:
            continue
        storage.export_file_delete(name=stored.name)
        purged.append(PurgedFile(name=stored.name, size=stored.size, scratch=False))
        total -= stored.size
    _purge_record(purged, timezone.now())
    return purged


def _storage_cap_keep(*, newest: str) -> None:
    """Hold the exports storage to EXPORT_STORAGE_MAX_BYTES, oldest files first; the new export stands
    whatever happens here."""
    try:
        purged = exports_storage_trim(max_bytes=settings.EXPORT_STORAGE_MAX_BYTES, keep=newest)
    except (OSError, DatabaseError) as exc:
        logger.error("export %s: holding the exports storage to its cap failed: %s", newest, type(exc).__name__)
        return
    if purged:
        freed = sum(item.size for item in purged)
        logger.info("exports storage over its cap: removed the %d oldest exports, %d bytes", len(purged), freed)


def _purge_record(purged: list[PurgedFile], now: dt.datetime) -> None:
    finished = [item.name for item in purged if not item.scratch]
    interrupted = {workbook.SCRATCH_RE.fullmatch(item.name).group(1) for item in purged if item.scratch}
    for start in range(0, len(finished), 500):
        ContactExport.objects.filter(filename__in=finished[start : start + 500], purged_at__isnull=True).update(
            purged_at=now
        )
    names = sorted(interrupted)
    for start in range(0, len(names), 500):
        ContactExport.objects.filter(
            filename__in=names[start : start + 500], status=ContactExport.Status.RUNNING
        ).update(status=ContactExport.Status.FAILED, error="导出中断:临时文件已由清理命令删除", purged_at=now)
