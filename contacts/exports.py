"""Contact exports: the files, their safe publication, signed download links, history and purge.

The list API, the admin action and the benchmark all export through `contact_export_create`.
The workbook (contacts/workbook.py) is fed by a chunked database cursor, written under a scratch
name beside its final name and linked into place only when complete.
No cell value is ever logged: contacts are personal data.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import secrets
import stat
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Count, Func, IntegerField, Max, QuerySet
from django.db.models.functions import Length
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from .models import ContactExport
from .workbook import (
    COLUMNS,
    FIELDS,
    ExportError,
    ExportInfo,
    ExportTooLarge,
    ScratchFiles,
    column_widths,
    contacts_workbook_write,
)

logger = logging.getLogger("contacts.exports")

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORTS_FOLDER = "exports"
FILENAME_RE = re.compile(r"contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.xlsx")
# Every scratch file of an export (the zip and one per sheet) is `.<final name>.<random>.tmp`.
SCRATCH_RE = re.compile(r"\.(contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.xlsx)\.[0-9a-z_]{8}\.tmp")
SCRATCH_MAX_AGE = dt.timedelta(days=1)

FETCH_CHUNK_ROWS = 5000
# The daily limit counts the exports of the last 24 hours. A request refused for the exports it has running
# is told to retry after RUNNING_RETRY_SECONDS: when they will end is not known.
QUOTA_WINDOW = dt.timedelta(hours=24)
RUNNING_RETRY_SECONDS = 30
_LINK_SALT = "contacts.exports.download-link"


class ExportFailed(ExportError):
    """The export failed and was recorded as failed; nothing was left under a final name."""

    def __init__(self, export: ContactExport) -> None:
        super().__init__(f"export {export.filename} failed")
        self.export = export


class ExportQuotaExceeded(ExportError):
    """The user has as many exports running, or has made as many in 24 hours, as the settings allow."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExportLinkInvalid(ExportError):
    """A download signature that is missing, malformed or not ours."""


class ExportLinkExpired(ExportLinkInvalid):
    """A genuine download signature older than EXPORT_LINK_TTL_SECONDS."""


@dataclass(frozen=True)
class PurgedFile:
    name: str
    size: int
    scratch: bool


# Column widths ----------------------------------------------------------------------------------


class _OctetLength(Func):
    function = "OCTET_LENGTH"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))", **extra)


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

    Returns the finished history row. Raises ExportQuotaExceeded (nothing recorded) past the
    user's quota, ExportTooLarge (recorded, no file written) when more than EXPORT_MAX_ROWS rows
    match, and ExportFailed (recorded) for any other failure, after removing every scratch file.
    A finished export holds the exports folder to EXPORT_STORAGE_MAX_BYTES, oldest files first.
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
    scratch = ScratchFiles(folder, export.filename)
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
    _storage_cap_keep(newest=export.filename)
    return export


def _storage_cap_keep(*, newest: str) -> None:
    """Hold the exports folder to EXPORT_STORAGE_MAX_BYTES, oldest files first; the new export stands
    whatever happens here."""
    try:
        purged = exports_storage_trim(max_bytes=settings.EXPORT_STORAGE_MAX_BYTES, keep=newest)
    except (OSError, DatabaseError) as exc:
        logger.error("export %s: holding the exports folder to its cap failed: %s", newest, type(exc).__name__)
        return
    if purged:
        freed = sum(item.size for item in purged)
        logger.info("exports folder over its cap: removed the %d oldest exports, %d bytes", len(purged), freed)


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


@contextmanager
def _opened_folder(path: Path) -> Iterator[int]:
    folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield folder
    finally:
        os.close(folder)


def _export_files(folder: int) -> Iterator[tuple[str, os.stat_result, bool]]:
    """(name, stat, is scratch) of each regular file directly in `folder` named like an export or its
    scratch files, in name order: links and anything else are never touched or followed."""
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
        if stat.S_ISREG(info.st_mode):
            yield name, info, scratch


def _removed(folder: int, name: str) -> bool:
    """Remove `name`; False when it was already gone (another purge got there first)."""
    try:
        os.unlink(name, dir_fd=folder)
    except FileNotFoundError:
        return False
    return True


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
    with _opened_folder(folder_path) as folder:
        for name, info, scratch in _export_files(folder):
            if info.st_mtime >= (scratch_cutoff if scratch else export_cutoff):
                continue
            if dry_run or _removed(folder, name):
                purged.append(PurgedFile(name=name, size=info.st_size, scratch=scratch))
    if not dry_run:
        _purge_record(purged, now)
    return purged


def exports_storage_trim(*, max_bytes: int, keep: str = "") -> list[PurgedFile]:
    """Remove the oldest finished exports until all of them together take at most `max_bytes`.

    `keep` (the export just written) is never removed, even alone over the cap. History rows of
    removed exports are marked purged; their links answer 404. Returns what was removed.
    """
    purged: list[PurgedFile] = []
    with _opened_folder(exports_dir()) as folder:
        finished = sorted(
            (info.st_mtime, name, info.st_size) for name, info, scratch in _export_files(folder) if not scratch
        )
        total = sum(size for _, _, size in finished)
        for _, name, size in finished:
            if total <= max_bytes:
                break
            if name == keep:
                continue
            if _removed(folder, name):
                purged.append(PurgedFile(name=name, size=size, scratch=False))
            total -= size
    _purge_record(purged, timezone.now())
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
