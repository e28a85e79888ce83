"""What can go wrong with an export; the API's exception handler and the admin answer each."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contacts.models import ContactExport


# What a client is told of a failed export whose cause quotes data or code (the history keeps the cause).
EXPORT_FAILED_MSG = "导出失败,请稍后重试"


class ExportError(Exception):
    """Base of the export failures that callers answer."""


class ExportTooLarge(ExportError):
    """More rows match than one export may hold (EXPORT_MAX_ROWS); nothing was written."""

    PREFIX = "符合条件的记录有"

    def __init__(self, *, rows: int, limit: int) -> None:
        super().__init__(f"{self.PREFIX} {rows} 条,超过单次导出上限 {limit} 条,请缩小日期范围后重试")
        self.rows = rows
        self.limit = limit


class ExportQuotaExceeded(ExportError):
    """The user has as many exports running, or has made as many in 24 hours, as the settings allow."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExportBusy(ExportQuotaExceeded):
    """This machine already runs as many exports at once as it may (EXPORT_SYNC_MAX_RUNNING)."""


class ExportFailed(ExportError):
    """The export failed and was recorded as failed; nothing was left under a final name."""

    def __init__(self, export: ContactExport) -> None:
        super().__init__(f"export {export.filename} failed")
        self.export = export


class ExportLinkInvalid(ExportError):
    """A download signature that is missing, malformed or not ours."""


class ExportLinkExpired(ExportLinkInvalid):
    """A genuine download signature older than EXPORT_LINK_TTL_SECONDS."""


class ExportCancelled(ExportError):
    """The export was cancelled while it ran; it was recorded as cancelled and left no file."""


class ExportJobFinished(ExportError):
    """A finished job (succeeded, failed or cancelled) cannot be cancelled any more."""


class ExportJobBusy(ExportError):
    """Another worker runs the job and its heartbeat is fresh: try again once it may have died."""


class ExportQueueUnavailable(ExportError):
    """The job could not be handed to the workers' queue (the broker is down); it was recorded as failed."""
