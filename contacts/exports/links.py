"""Signed download links: the signature is the whole of the access check of a download.

The signature covers the file name and the time of signing; the view that answers the export builds
the absolute URL from the request, the view that serves the download verifies it.
"""

from django.conf import settings
from django.core import signing

from .errors import ExportLinkExpired, ExportLinkInvalid

_SALT = "contacts.exports.download-link"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT, sep=".")


def export_link_sign(*, filename: str) -> str:
    """A signature for `filename`, valid for EXPORT_LINK_TTL_SECONDS."""
    return _signer().sign(filename)[len(filename) + 1 :]


def export_link_verify(*, filename: str, signature: str | None) -> None:
    """Raise ExportLinkExpired or ExportLinkInvalid unless `signature` is ours for `filename` and fresh."""
    if not signature:
        raise ExportLinkInvalid("missing signature")
    try:
        _signer().unsign(f"{filename}.{signature}", max_age=settings.EXPORT_LINK_TTL_SECONDS)
    except signing.SignatureExpired as exc:
        raise ExportLinkExpired("expired signature") from exc
    except (signing.BadSignature, ValueError) as exc:
        raise ExportLinkInvalid("bad signature") from exc
