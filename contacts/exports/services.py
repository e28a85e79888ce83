"""Exports as the service does them: make one at once, or accept one as a job that a Celery worker runs
(with its history record and its user's quota), cancel a job, purge old files, and hold the exports
storage to its size cap. The one entry point of the API, the admin action, the workers' tasks, the purge
command and the benchmark.

An export streams the rows of a bound, valid ContactFilterSet through a chunked database cursor into a
workbook or a CSV file (of its chosen columns, the default ones unless named) on this machine's disk,
recording its progress as it goes, then publishes it to the exports storage. A job's state lives in its
history record, not in Celery: the task only carries its id.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import math
import os
import secrets
import time
import traceback
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from contacts.filters import ContactFilterSet
from contacts.models import Contact, ContactExport
from contacts.scoping import contacts_scoped

from . import csvfile, storage, workbook
from .columns import COLUMN_BY_FIELD, export_columns
from .errors import (
    EXPORT_FAILED_MSG,
    ExportBusy,
    ExportCancelled,
    ExportFailed,
    ExportJobBusy,
    ExportJobFinished,
    ExportQueueUnavailable,
    ExportQuotaExceeded,
    ExportTooLarge,
)

logger = logging.getLogger("contacts.exports")

FETCH_CHUNK_ROWS = 5000
SCRATCH_MAX_AGE = dt.timedelta(days=1)
# The daily limit counts the exports of the last 24 hours. A request refused for the exports it has running
# is told to retry after RUNNING_RETRY_SECONDS: when they will end is not known.
QUOTA_WINDOW = dt.timedelta(hours=24)
RUNNING_RETRY_SECONDS = 30
SELECTION_LABEL = "后台选择"
# The workers' task (contacts/exports/tasks.py), sent by name: this module does not import the workers' code.
JOB_TASK = "contacts.exports.tasks.export_job_run"
QUEUE_UNAVAILABLE_MSG = "导出任务队列暂时不可用,请稍后重试"
BUSY_MSG = (
    "服务器正在进行的同步导出已达上限({limit} 个),请稍后重试,或改用导出任务:POST /api/contacts/exports,完成后下载"
)
BUSY_RETRY_SECONDS = 30
INTERRUPTED_MSG = "导出中断:执行它的进程已停止,请重新导出"
USER_CANNOT_EXPORT_MSG = "导出人已停用或已无导出权限"
FILTERS_INVALID_MSG = "筛选条件已不再有效"
# An export records its progress (and sees a cancellation) every PROGRESS_ROWS rows or PROGRESS_SECONDS,
# looking at the clock every PROGRESS_CHECK_ROWS rows.
PROGRESS_ROWS = 5000
PROGRESS_SECONDS = 1.0
PROGRESS_CHECK_ROWS = 250


@dataclass(frozen=True)
class PurgedFile:
    name: str
    size: int
    scratch: bool


def export_filename_new(*, at: dt.datetime, file_format: str = ContactExport.FileFormat.XLSX) -> str:
    return f"contacts_export_{timezone.localtime(at):%Y%m%d_%H%M%S}_{secrets.token_hex(4)}.{file_format}"


# Creating an export at once ----------------------------------------------------------------------


def contact_export_create(
    *,
    filterset: ContactFilterSet,
    user: AbstractBaseUser | AnonymousUser | None,
    source: str = ContactExport.Source.API,
    selection: str = "",
    file_format: str = ContactExport.FileFormat.XLSX,
    columns: Sequence[str] = (),
) -> ContactExport:
    """Export the contacts of a bound, valid `filterset`, in its order, to a workbook or CSV file
    (`file_format`) of `columns` (field names, the default columns when none) in the exports storage.

    `selection` says which rows the FilterSet started from when not all of them (the admin's selection).
    Returns the finished history row. Raises ExportQuotaExceeded (nothing recorded) past the user's
    quota, ExportTooLarge (recorded, no file written) when more than EXPORT_MAX_ROWS rows match,
    ExportCancelled when its cancellation was asked for meanwhile, and ExportFailed (recorded) for any
    other failure, after removing every scratch file. A finished export holds the exports storage to
    EXPORT_STORAGE_MAX_BYTES, oldest files first.
    """
    now = _now()
    asked = {"selection": selection, **filterset.parameters()} if selection else filterset.parameters()
    with _machine_slot():
        export = _export_record_start(
            user=user,
            source=source,
            filters=asked,
            at=now,
            status=ContactExport.Status.RUNNING,
            filename=export_filename_new(at=now, file_format=file_format),
            file_format=file_format,
            columns=columns,
        )
        _export_write(export, filterset, selection=selection)
    return export


@contextmanager
def _machine_slot() -> Iterator[None]:
    """One of this machine's EXPORT_SYNC_MAX_RUNNING slots for an export made at once, held while it runs:
    a web worker busy with an export is one the list cannot use. ExportBusy when all are taken.

    A slot is a lock on a file in <MEDIA_ROOT>/export-slots; the system releases it when its process dies.
    """
    folder = storage.scratch_dir().with_name("export-slots")
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(settings.EXPORT_SYNC_MAX_RUNNING):
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(folder / f"slot-{number}.lock", flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield
        finally:
            os.close(fd)
        return
    raise ExportBusy(BUSY_MSG.format(limit=settings.EXPORT_SYNC_MAX_RUNNING), retry_after=BUSY_RETRY_SECONDS)


# Jobs ---------------------------------------------------------------------------------------------


def export_job_create(
    *,
    filterset: ContactFilterSet,
    user: AbstractBaseUser,
    file_format: str = ContactExport.FileFormat.XLSX,
    columns: Sequence[str] = (),
) -> ContactExport:
    """Accept an export of a bound, valid `filterset` as a job for the workers, and queue it.

    The job keeps the filters as asked, its format and columns (as contact_export_create takes them) and
    its user; a worker evaluates the filters when it runs the job.
    Raises ExportTooLarge (nothing recorded) past EXPORT_MAX_ROWS, ExportQuotaExceeded (nothing
    recorded) past the user's quota, and ExportQueueUnavailable (recorded as failed) when the queue
    cannot take it.
    """
    total = filterset.qs.tallied_count()
    workbook.row_limit_check(rows=total)
    export = _export_record_start(
        user=user,
        source=ContactExport.Source.JOB,
        filters=filterset.parameters(),
        at=_now(),
        status=ContactExport.Status.QUEUED,
        total_records=total,
        file_format=file_format,
        columns=columns,
    )
    try:
        current_app.send_task(JOB_TASK, args=[export.pk])
    except (KombuOperationalError, OSError) as exc:
        logger.error("export job %s: the queue refused it: %s", export.pk, type(exc).__name__)
        _export_record_finish(export, status=ContactExport.Status.FAILED, error=QUEUE_UNAVAILABLE_MSG)
        raise ExportQueueUnavailable(QUEUE_UNAVAILABLE_MSG) from exc
    return export


def export_job_run(*, export_id: int) -> ContactExport | None:
    """Run the job `export_id` (the workers' task); it is idempotent, as a task may be delivered twice.

    A queued job, or a running one whose worker went silent (no heartbeat for EXPORT_JOB_STALE_SECONDS),
    is claimed and run from the start, at most EXPORT_JOB_MAX_ATTEMPTS times in all; anything else is
    left alone and None returned. Raises ExportJobBusy while another worker's heartbeat is fresh.
    """
    export = _job_claim(export_id)
    if export is None:
        return None
    if not _may_export(export.user):
        _export_record_finish(export, status=ContactExport.Status.FAILED, error=USER_CANNOT_EXPORT_MSG)
        return export
    # The user's accounts as they are now, not when the job was accepted.
    contacts = contacts_scoped(queryset=Contact.objects.all(), user=export.user)
    filterset = ContactFilterSet(export.filters, queryset=contacts)
    if not filterset.is_valid():
        _export_record_finish(export, status=ContactExport.Status.FAILED, error=FILTERS_INVALID_MSG)
        return export
    with suppress(ExportTooLarge, ExportCancelled, ExportFailed):  # each recorded by the writer
        _export_write(export, filterset)
    return export


def export_job_cancel(*, export: ContactExport) -> ContactExport:
    """Cancel a job: a queued one is cancelled at once, a running one within seconds (its writer checks
    between chunks) and leaves no file. Raises ExportJobFinished for a finished one."""
    jobs = ContactExport.objects.filter(pk=export.pk)
    cancelled_at_once = jobs.filter(status=ContactExport.Status.QUEUED).update(
        status=ContactExport.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    if not cancelled_at_once and not jobs.filter(status=ContactExport.Status.RUNNING).update(cancel_requested=True):
        export.refresh_from_db()
        raise ExportJobFinished(f"导出任务已{export.get_status_display()},不能取消")
    export.refresh_from_db()
    return export


def export_jobs_reap(*, now: dt.datetime | None = None) -> list[int]:
    """Jobs whose worker died while running them (no heartbeat for EXPORT_JOB_STALE_SECONDS): queued for
    a worker to run again from the start while they have attempts left, else recorded as failed; an
    export made at once whose web worker died, failed. Jobs queued for that long are sent again: their
    message may have been lost with the broker's data, and a duplicate does nothing. Returns their ids.
    Scheduled every minute."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.EXPORT_JOB_STALE_SECONDS)
    reaped = []
    waiting = ContactExport.objects.filter(
        status=ContactExport.Status.QUEUED, source=ContactExport.Source.JOB, heartbeat_at__lt=stale
    )
    for export_id in waiting.values_list("pk", flat=True):
        if waiting.filter(pk=export_id).update(heartbeat_at=now):
            current_app.send_task(JOB_TASK, args=[export_id])
            reaped.append(export_id)
    for export in ContactExport.objects.filter(status=ContactExport.Status.RUNNING, heartbeat_at__lt=stale):
        may_run_again = export.source == ContactExport.Source.JOB and not export.cancel_requested
        if may_run_again and export.attempts < settings.EXPORT_JOB_MAX_ATTEMPTS:
            current_app.send_task(JOB_TASK, args=[export.pk])
        else:
            _dead_job_finish(export)
        reaped.append(export.pk)
    return reaped


def export_failure_message(export: ContactExport) -> str:
    """What its user is told of a failed export: the service's own words where it chose them, which quote
    no row value, else that it failed (the history keeps the exception for the operator)."""
    own = (QUEUE_UNAVAILABLE_MSG, INTERRUPTED_MSG, USER_CANNOT_EXPORT_MSG, FILTERS_INVALID_MSG)
    if export.error in own or export.error.startswith(ExportTooLarge.PREFIX):
        return export.error
    return EXPORT_FAILED_MSG


def _now() -> dt.datetime:
    return timezone.localtime(timezone.now()).replace(microsecond=0)


def _may_export(user: AbstractBaseUser | None) -> bool:
    return (
        user is not None
        and user.is_active
        and user.has_perm("contacts.view_contact")
        and user.has_perm("contacts.export_contact")
    )


def _job_claim(export_id: int) -> ContactExport | None:
    """The job, claimed for this worker under a new file name, when it is queued or its worker went silent.

    None when there is nothing to run (finished, cancelled, out of attempts: then recorded as failed).
    """
    now = _now()
    stale = now - dt.timedelta(seconds=settings.EXPORT_JOB_STALE_SECONDS)
    # The new file name ends in the job's format, which the claiming UPDATE below cannot read.
    file_format = ContactExport.objects.filter(pk=export_id).values_list("file_format", flat=True).first()
    claimable = ContactExport.objects.filter(
        Q(status=ContactExport.Status.QUEUED) | Q(status=ContactExport.Status.RUNNING, heartbeat_at__lt=stale),
        pk=export_id,
        cancel_requested=False,
        attempts__lt=settings.EXPORT_JOB_MAX_ATTEMPTS,
    )
    for _ in range(5):
        try:
            claimed = claimable.update(
                status=ContactExport.Status.RUNNING,
                filename=export_filename_new(at=now, file_format=file_format or ContactExport.FileFormat.XLSX),
                started_at=now,
                heartbeat_at=now,
                attempts=F("attempts") + 1,
                row_count=0,
                error="",
            )
            break
        except IntegrityError:
            continue
    else:
        raise IntegrityError("no free export file name")
    export = ContactExport.objects.select_related("user").filter(pk=export_id).first()
    if claimed:
        return export
    if export is not None and export.status == ContactExport.Status.RUNNING:
        if export.heartbeat_at is None or export.heartbeat_at >= stale:
            raise ExportJobBusy(f"export job {export_id} runs elsewhere")
        _dead_job_finish(export)
    return None


def _dead_job_finish(export: ContactExport) -> None:
    """A running export whose process died and that will not run again: cancelled if that was asked."""
    if export.cancel_requested:
        _export_record_finish(export, status=ContactExport.Status.CANCELLED)
    else:
        _export_record_finish(export, status=ContactExport.Status.FAILED, error=INTERRUPTED_MSG)


# Writing an export --------------------------------------------------------------------------------


class _Progress:
    """Counts the rows on their way to the workbook. Every PROGRESS_ROWS rows or PROGRESS_SECONDS it
    records them with a heartbeat, and stops the export (ExportCancelled) once its cancellation was asked."""

    def __init__(self, export: ContactExport) -> None:
        self.records = ContactExport.objects.filter(pk=export.pk)
        self.reported_at = time.monotonic()

    def rows(self, rows: Iterator[tuple]) -> Iterator[tuple]:
        count = 0
        for count, row in enumerate(rows, 1):
            yield row
            if count % PROGRESS_CHECK_ROWS == 0 and (
                count % PROGRESS_ROWS == 0 or time.monotonic() - self.reported_at >= PROGRESS_SECONDS
            ):
                self.report(count)
        self.report(count)

    def report(self, count: int) -> None:
        self.reported_at = time.monotonic()
        self.records.update(row_count=count, heartbeat_at=timezone.now())
        if self.records.filter(cancel_requested=True).exists():
            raise ExportCancelled("cancelled")


def _export_write(export: ContactExport, filterset: ContactFilterSet, *, selection: str = "") -> None:
    """Write the running export's file from `filterset`, in its format and columns, publish it, and record
    how it ended.

    Raises ExportTooLarge, ExportCancelled or ExportFailed once recorded; removes every scratch file
    whatever happens.
    """
    started = time.monotonic()
    queryset = filterset.qs
    folder = storage.scratch_dir()
    folder.mkdir(parents=True, exist_ok=True)
    scratch = workbook.ScratchFiles(folder, export.filename)
    as_csv = export.file_format == ContactExport.FileFormat.CSV
    try:
        columns = export_columns(export.columns)
        fields = [column.field for column in columns] if as_csv else workbook.row_fields(columns)
        with _closed_at_exit(contact_rows(queryset, fields=fields)) as rows:
            for_widths = {} if as_csv else workbook.width_aggregates(columns)
            summary = queryset.order_by().aggregate(total=Count("id"), **for_widths)
            export.total_records = summary["total"]
            ContactExport.objects.filter(pk=export.pk).update(total_records=export.total_records)
            workbook.row_limit_check(rows=export.total_records)
            fd, scratch_path = scratch.new()
            with os.fdopen(fd, "wb") as target:
                if as_csv:
                    written = csvfile.contacts_csv_write(
                        target=target, rows=_Progress(export).rows(rows), columns=columns
                    )
                else:
                    written = workbook.contacts_workbook_write(
                        target=target,
                        rows=_Progress(export).rows(rows),
                        info=_export_info(export, filterset, selection=selection),
                        scratch_dir=folder,
                        scratch_name=export.filename,
                        widths=workbook.column_widths(summary, columns),
                        columns=columns,
                    )
            size = storage.export_file_publish(name=export.filename, path=Path(scratch_path))
    except ExportTooLarge as exc:
        scratch.remove_all()
        _export_record_finish(export, started, status=ContactExport.Status.FAILED, error=str(exc))
        raise
    except ExportCancelled:
        scratch.remove_all()
        _export_record_finish(export, started, status=ContactExport.Status.CANCELLED)
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


def _export_info(export: ContactExport, filterset: ContactFilterSet, *, selection: str) -> workbook.ExportInfo:
    """What the workbook's 导出信息 sheet says of `export`."""
    described = filterset.described()
    return workbook.ExportInfo(
        username=export.username,
        generated_at=timezone.localtime(export.started_at),
        source=ContactExport.Source(export.source).label,
        filters=[(SELECTION_LABEL, selection), *described] if selection else described,
        ordering=filterset.ordering_key,
        columns=[COLUMN_BY_FIELD[field].header for field in export.columns],
    )


def contact_rows(queryset: QuerySet, *, fields: Sequence[str] = workbook.FIELDS) -> Iterator[tuple]:
    """The queryset's contacts as tuples of `fields` (the workbook's default FIELDS), read in chunks by a
    server-side cursor: on PostgreSQL one WITH HOLD, outside a transaction, so that the progress written meanwhile
    is seen at once by whoever asks. SQLite has no such cursor: see contact_rows_by_id_chunks."""
    if connections[queryset.db].vendor == "sqlite":
        return contact_rows_by_id_chunks(queryset, fields=fields)
    return queryset.values_list(*fields).iterator(chunk_size=FETCH_CHUNK_ROWS)


def contact_rows_by_id_chunks(queryset: QuerySet, *, fields: Sequence[str] = workbook.FIELDS) -> Iterator[tuple]:
    """contact_rows on SQLite. A statement left open there holds its connection's snapshot: the progress
    written meanwhile would stay uncommitted, and fail as soon as anyone else wrote. So the matching ids
    are read first, in order (8 bytes a row), then each chunk of rows by its ids in a statement of its own;
    a row deleted meanwhile is left out."""
    ids = array("q", queryset.values_list("id", flat=True).iterator(chunk_size=FETCH_CHUNK_ROWS))
    contacts = queryset.model._base_manager.using(queryset.db)
    chunk_size = min(FETCH_CHUNK_ROWS, connections[queryset.db].features.max_query_params or FETCH_CHUNK_ROWS)
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        rows = {row[0]: row[1:] for row in contacts.filter(pk__in=chunk).values_list("id", *fields)}
        yield from (rows[pk] for pk in chunk if pk in rows)


@contextmanager
def _closed_at_exit(rows: Iterator[tuple]) -> Iterator[Iterator[tuple]]:
    """Close a half-read cursor now, not later in the garbage collector."""
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
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    source: str,
    filters: Mapping[str, str],
    at: dt.datetime,
    status: str,
    filename: str | None = None,
    total_records: int | None = None,
    file_format: str = ContactExport.FileFormat.XLSX,
    columns: Sequence[str] = (),
) -> ContactExport:
    """The history row, created first: a running export's reserves its file name, which no other can take.

    Raises ExportQuotaExceeded, recording nothing, past the user's limits.
    """
    username = user.get_username() if user is not None else ""
    running = status == ContactExport.Status.RUNNING
    for _ in range(5):
        try:
            with transaction.atomic():
                if user is not None and user.is_authenticated:
                    _export_quota_check(user=user, at=at)
                return ContactExport.objects.create(
                    user=user if user is not None and user.is_authenticated else None,
                    username=username,
                    source=source,
                    status=status,
                    filters=dict(filters),
                    file_format=file_format,
                    columns=list(columns),
                    filename=filename,
                    total_records=total_records,
                    created_at=at,
                    started_at=at if running else None,
                    heartbeat_at=at,  # a queued job's: when it was sent to the queue
                    attempts=1 if running else 0,
                )
        except IntegrityError:
            if filename is None:
                raise
            filename = export_filename_new(at=at, file_format=file_format)
    raise IntegrityError("no free export file name")


def _export_quota_check(*, user: AbstractBaseUser, at: dt.datetime) -> None:
    """Raise ExportQuotaExceeded when the user may not start another export now.

    Called in the transaction that records the new export, with the user's row locked (SQLite's
    transactions here take the write lock at their start), so that racing requests count each other.
    """
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    mine = ContactExport.objects.filter(user=user)
    # Queued jobs, and running exports whose process still beats: one silent for longer has died.
    alive_since = at - dt.timedelta(seconds=settings.EXPORT_JOB_STALE_SECONDS)
    running = mine.filter(
        Q(status=ContactExport.Status.QUEUED, created_at__gt=at - QUOTA_WINDOW)
        | Q(status=ContactExport.Status.RUNNING, heartbeat_at__gt=alive_since)
    ).count()
    limit = settings.EXPORT_CONCURRENT_PER_USER
    if running >= limit:
        raise ExportQuotaExceeded(
            f"已有 {running} 个导出正在进行,每人最多同时 {limit} 个,请稍后重试", retry_after=RUNNING_RETRY_SECONDS
        )
    window_start = at - QUOTA_WINDOW
    made = list(
        mine.filter(
            status__in=[ContactExport.Status.QUEUED, ContactExport.Status.RUNNING, ContactExport.Status.SUCCEEDED],
            created_at__gt=window_start,
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
    export: ContactExport,
    started: float | None = None,
    *,
    status: str,
    rows: int | None = None,
    size: int = 0,
    error: str = "",
) -> None:
    """Record how the export ended; `started` (time.monotonic) gives its duration, `rows` its file's rows."""
    export.status = status
    export.size_bytes = size
    export.error = error
    export.finished_at = timezone.now()
    fields = ["status", "size_bytes", "error", "finished_at"]
    if rows is not None:  # else the rows its progress recorded stand
        export.row_count = rows
        fields.append("row_count")
    if started is not None:
        export.duration_ms = round((time.monotonic() - started) * 1000)
        fields.append("duration_ms")
    try:
        export.save(update_fields=fields)
    except Exception as exc:  # the database may be what failed: the caller's answer matters more
        logger.error("export %s: recording its end failed: %s", export.pk, type(exc).__name__)


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
