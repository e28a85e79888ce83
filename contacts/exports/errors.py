"""What can go wrong with an export; the API's exception handler and the admin answer each."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contacts.models import ContactExport


class ExportError(Exception):
    """Base of the export failures that callers answer."""


class ExportTooLarge(ExportError):
    """More rows match than one export may hold (EXPORT_MAX_ROWS); nothing was written."""

    def __init__(self, *, rows: int, limit: int) -> None:
        super().__init__(f"{rows} rows exceed the export limit of {limit}")
        self.rows = rows
        self.limit = limit


class ExportQuotaExceeded(ExportError):
    """The user has as many exports running, or has made as many in 24 hours, as the settings allow."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExportFailed(ExportError):
    """The export failed and was recorded as failed; nothing was left under a final name."""

    def __init__(self, export: ContactExport) -> None:
        super().__init__(f"export {export.filename} failed")
        self.export = export


class ExportLinkInvalid(ExportError):
    """A download signature that is missing, malformed or not ours."""


class ExportLinkExpired(ExportLinkInvalid):
    """A genuine download signature older than EXPORT_LINK_TTL_SECONDS."""
