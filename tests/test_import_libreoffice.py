"""An export opened, edited and saved by LibreOffice Calc, then imported: exactly the edited cells change.

LibreOffice writes an xlsx its own way (shared strings, its own styles, dates as serial numbers with a date
format, a quote-prefixed text as a plain string); `soffice --convert-to xlsx` loads a file and saves it as
Calc does. The edits are typed into the export with openpyxl first, so that the file LibreOffice saves
holds them.
"""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from export_support import exports_folder
from factories import client_for, local_time, make_user
from import_support import round_trip_contacts, saved_by_libreoffice, soffice_problem
from services import require_service

from contacts.models import Contact, ReplyStatus

pytestmark = pytest.mark.slow


@pytest.fixture
def calc() -> None:
    require_service("LibreOffice", soffice_problem)


@pytest.fixture
def office_api(db):
    user = make_user(
        "office",
        "contacts.view_contact",
        "contacts.view_all_contacts",
        "contacts.add_contact",
        "contacts.change_contact",
        "contacts.export_contact",
    )
    return client_for(user)


@pytest.fixture
def contacts(db) -> list[Contact]:
    return round_trip_contacts()


def export_bytes(client) -> bytes:
    payload = client.get(
        "/api/contacts/export",
        {
            "columns": "id,name,position,contact,reply_status,"
            "wechat_exchanged,worker_id,notes,contacted_at,created_at,account_id"
        },
    ).json()
    return (exports_folder() / payload["data"]["filename"]).read_bytes()


def imported(client, content: bytes) -> tuple[int, dict]:
    response = client.post("/api/contacts/import", {"file": SimpleUploadedFile("c.xlsx", content)}, format="multipart")
    return response.status_code, response.json()


def snapshot() -> dict[int, dict]:
    return {row["id"]: row for row in Contact.objects.values()}


def test_an_export_saved_by_libreoffice_untouched_changes_nothing(calc, office_api, contacts, tmp_path):
    """Every row of the LibreOffice-saved export is unchanged and nothing is written, microseconds included."""
    before = snapshot()
    status, payload = imported(office_api, saved_by_libreoffice(export_bytes(office_api), tmp_path))
    assert (status, payload["data"]) == (
        200,
        {"created": 0, "updated": 0, "unchanged": 3, "error_count": 0, "errors": []},
    )
    assert snapshot() == before


def test_an_export_edited_and_saved_by_libreoffice_changes_exactly_the_edited_cells(
    calc, office_api, contacts, tmp_path
):
    """A phone typed as a number, a date typed as a date, a status typed as text and a note typed as a
    formula (read as its text, never evaluated): those fields of those contacts change, and nothing else."""
    before = snapshot()
    book = openpyxl.load_workbook(io.BytesIO(export_bytes(office_api)))
    sheet = book["联系记录"]
    header = [cell.value for cell in sheet[1]]
    rows = {sheet.cell(row, 1).value: row for row in range(2, sheet.max_row + 1)}
    first, second, third = contacts
    sheet.cell(rows[first.pk], header.index("联系方式") + 1).value = 13912345678
    sheet.cell(rows[second.pk], header.index("联系时间") + 1).value = dt.datetime(2024, 5, 6, 7, 8, 9)
    sheet.cell(rows[third.pk], header.index("回复状态") + 1).value = "已回复"
    sheet.cell(rows[third.pk], header.index("备注") + 1).value = "=A1 不算公式"
    out = io.BytesIO()
    book.save(out)
    status, payload = imported(office_api, saved_by_libreoffice(out.getvalue(), tmp_path))
    assert (status, payload["data"]) == (
        200,
        {"created": 0, "updated": 3, "unchanged": 0, "error_count": 0, "errors": []},
    )
    after = snapshot()

    def changed(pk: int) -> dict:
        return {name: value for name, value in after[pk].items() if before[pk][name] != value and name != "updated_at"}

    assert changed(first.pk) == {"contact": "13912345678"}
    assert changed(second.pk) == {"contacted_at": local_time("2024-05-06 07:08:09")}
    assert changed(third.pk) == {"reply_status": ReplyStatus.REPLIED, "notes": "=A1 不算公式"}
