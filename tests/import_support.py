"""Files for the import tests, built in the tests: workbooks and CSVs as users make them, and hostile ones."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
from factories import local_time, make_contact

from contacts.imports.reading import CFB_MAGIC
from contacts.models import Contact, ReplyStatus

SOFFICE = os.environ.get("TEST_SOFFICE") or "soffice"
HEADER = ["ID", "姓名", "岗位", "联系方式", "回复状态", "是否交换微信", "Worker ID", "备注", "联系时间", "创建时间"]
BILLION_LAUGHS_DTD = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10))
    + "]>"
)


def xlsx(rows: Sequence[Sequence[Any]], *, title: str = "联系记录", extra_sheets: Sequence[str] = ()) -> bytes:
    """A workbook whose sheet `title` holds `rows` (the first is the header), as openpyxl writes values:
    text starting with `=` becomes a formula, numbers and datetimes real number and date cells."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for name in extra_sheets:
        book.create_sheet(name)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def zip_with(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_bomb(uncompressed_bytes: int) -> bytes:
    """A valid small workbook whose sheet is padded to `uncompressed_bytes` of XML whitespace, compressed
    to a few kilobytes."""
    members = zip_members(xlsx([["姓名", "账号 ID"], ["张三", 1]]))
    sheet = members["xl/worksheets/sheet1.xml"]
    head, tail = sheet.split(b"<sheetData>", 1)
    members["xl/worksheets/sheet1.xml"] = head + b"<sheetData>" + b" " * uncompressed_bytes + tail
    return zip_with(members)


def billion_laughs(part: str) -> bytes:
    """A workbook whose `part` ("sheet", "strings" or "workbook") declares the billion laughs entities and
    uses the last one."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["姓名", "账号 ID"])
    sheet.append(["张三", 1])
    out = io.BytesIO()
    book.save(out)
    members = zip_members(out.getvalue())
    name = {
        "sheet": "xl/worksheets/sheet1.xml",
        "strings": "xl/sharedStrings.xml",
        "workbook": "xl/workbook.xml",
    }[part]
    if part == "strings":
        members["xl/sharedStrings.xml"] = (
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
            b"<si><t>&lol9;</t></si></sst>"
        )
        members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" '
            b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
    xml = members[name]
    declaration, rest = xml.split(b"?>", 1) if xml.startswith(b"<?xml") else (b"", xml)
    if part == "sheet":
        rest = rest.replace(b"<t>&#24352;&#19977;</t>", b"<t>&lol9;</t>")
    elif part == "strings":
        sheet = members["xl/worksheets/sheet1.xml"]
        members["xl/worksheets/sheet1.xml"] = sheet.replace(
            b'<c r="A2" t="inlineStr"><is><t>&#24352;&#19977;</t></is></c>', b'<c r="A2" t="s"><v>0</v></c>'
        )
    else:
        rest = rest.replace(b'name="Sheet"', b'name="&lol9;"')
    prefix = declaration + b"?>" if declaration else b""
    members[name] = prefix + BILLION_LAUGHS_DTD.encode() + rest
    return zip_with(members)


def encrypted_xlsx() -> bytes:
    """What Excel writes for a password-protected workbook: a Compound File Binary, not a zip."""
    return CFB_MAGIC + bytes(504) + b"EncryptionInfo" + bytes(1024)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(13) + b"IHDR" + bytes(64)


def zip_lying_about(data: bytes, member: str, declared_size: int) -> bytes:
    """`data` (a zip) with `member`'s central directory entry declaring `declared_size` uncompressed bytes."""
    out = bytearray(data)
    name = member.encode()
    at = out.find(b"PK\x01\x02")
    while at != -1:
        name_length = int.from_bytes(out[at + 28 : at + 30], "little")
        if out[at + 46 : at + 46 + name_length] == name:
            out[at + 24 : at + 28] = declared_size.to_bytes(4, "little")
            return bytes(out)
        at = out.find(b"PK\x01\x02", at + 46)
    raise KeyError(member)


def workbook_with(part: str, find: bytes, replace: bytes) -> bytes:
    """A small valid workbook (姓名, 账号 ID; 张三, 1) with `find` replaced by `replace` in `part`."""
    members = zip_members(xlsx([["姓名", "账号 ID"], ["张三", 1]]))
    assert find in members[part], (part, find)
    members[part] = members[part].replace(find, replace, 1)
    return zip_with(members)


def cell_flood(cells: int) -> bytes:
    """A memory bomb for a parser that holds a row at once: row 2 (张三, 1) padded with empty cells to `cells`
    cells, a few KB zipped."""
    padding = b"<c/>" * (cells - 2)
    return workbook_with("xl/worksheets/sheet1.xml", b"</row></sheetData>", padding + b"</row></sheetData>")


def style_flood(formats: int) -> bytes:
    """`formats` cell formats in styles.xml in all, where openpyxl builds an object for each."""
    return workbook_with("xl/styles.xml", b"</cellXfs>", b'<xf numFmtId="0"/>' * (formats - 1) + b"</cellXfs>")


def deep_nesting(depth: int) -> bytes:
    """The sheet's XML nested `depth` elements deep (the worksheet element is the first)."""
    levels = depth - 1
    return workbook_with(
        "xl/worksheets/sheet1.xml", b"</sheetData>", b"</sheetData>" + b"<x>" * levels + b"</x>" * levels
    )


def round_trip_contacts() -> list[Contact]:
    """Contacts for the export-and-import round trips: times to the microsecond, an empty contact time,
    formula-like text, a phone number and a newline, both statuses, two accounts."""
    return [
        make_contact(
            name="张三",
            contact="13800138000",
            notes="沟通顺畅",
            contacted_at=local_time("2024-03-01 10:15:30.123456"),
            created_at=local_time("2024-03-01 09:00:00.999999"),
        ),
        make_contact(
            name="李四",
            position="",
            contact="=1+1",
            notes="@张三 跟进\n第二行",
            reply_status=ReplyStatus.REPLIED,
            wechat_exchanged=True,
            account_id=2,
            created_at=local_time("2024-03-02 09:00:00.5"),
        ),
        make_contact(
            name="王五", worker_id="", notes="-5 分", contacted_at=None, created_at=local_time("2024-03-03 09:00:00")
        ),
    ]


def soffice_problem() -> str | None:
    return None if shutil.which(SOFFICE) else f"no `{SOFFICE}` program on PATH (TEST_SOFFICE)"


def saved_by_libreoffice(content: bytes, tmp_path: Path) -> bytes:
    """`content` (an xlsx) loaded and saved again by LibreOffice Calc."""
    source = tmp_path / "in" / "contacts.xlsx"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(content)
    out = tmp_path / "out"
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "xlsx",
         "--outdir", str(out), str(source)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    return (out / "contacts.xlsx").read_bytes()
