"""Reading exported workbooks back, for the export tests: values, styles and the raw sheet XML."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from django.conf import settings
from django.utils import timezone

from contacts.exports.workbook import HEADER
from contacts.models import Contact

FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[\s/>]")


def workbook(source: Path | bytes) -> openpyxl.Workbook:
    """The workbook read in openpyxl's normal mode, so that styles, panes and filters are visible."""
    return openpyxl.load_workbook(io.BytesIO(source) if isinstance(source, bytes) else source)


def sheet_xml(source: Path | bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.startswith("xl/worksheets/")}


def assert_no_formula_element(source: Path | bytes) -> None:
    """No sheet of the file holds a formula: nothing in it is ever evaluated."""
    for name, xml in sheet_xml(source).items():
        assert not FORMULA_ELEMENT.search(xml), f"{name} holds a formula element"


def data_rows(sheet: Any) -> list[tuple]:
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADER
    return rows[1:]


def exports_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports"


def folder_names() -> list[str]:
    folder = exports_folder()
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def local(moment: dt.datetime | None) -> dt.datetime | None:
    """`moment` as the workbook shows it: local wall time of DJANGO_TIME_ZONE, to the second."""
    if moment is None:
        return None
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


def expected_row(contact: Contact) -> tuple:
    """The workbook row of a stored contact: an empty text is an empty cell."""
    return (
        contact.pk,
        contact.name or None,
        contact.position or None,
        contact.contact or None,
        contact.reply_status or None,
        "是" if contact.wechat_exchanged else "否",
        contact.worker_id or None,
        contact.notes or None,
        local(contact.contacted_at),
        local(contact.created_at),
    )


def row_from_list_api(item: dict) -> tuple:
    """The workbook row the list API's item `item` must appear as."""

    def moment(text: str | None) -> dt.datetime | None:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S") if text else None

    return (
        item["id"],
        item["name"] or None,
        item["position"] or None,
        item["contact"] or None,
        item["reply_status"] or None,
        "是" if item["wechat_exchanged"] else "否",
        item["worker_id"] or None,
        item["notes"] or None,
        moment(item["contacted_at"]),
        moment(item["created_at"]),
    )
