"""The import benchmark of issue 12: `contacts_import`, the service POST /api/contacts/import calls, on N rows.

Three imports of the same N rows, each timed from the file's bytes to the committed transaction (the
statistics refresh after a large import is timed apart):

- create: an xlsx of N new contacts (every export column but ID and 创建时间, and 账号 ID);
- update: the same contacts by ID, with 回复状态 and 备注 changed in every row;
- unchanged: the update file again: every row read, checked and found equal, nothing written.

Then the kept tallies are compared with a real count (they must be exact). The file is built with openpyxl's
write-only mode before the timing; a CSV of the same rows is timed too (create only).

    .venv/bin/python bench/import_bench.py --database-url postgres://postgres@127.0.0.1:5432/boss_dp_bench_import
    .venv/bin/python bench/import_bench.py --rows 10000        # a quick try on SQLite in the temp folder

The database is created and migrated as needed and its contacts are deleted first: give one outside the
repository. Results go to stdout as Markdown, and with --json to a file.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import import_markdown, result_path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{Path(tempfile.gettempdir()) / 'bench_import.sqlite3'}"
HEADER = ["姓名", "账号 ID", "岗位", "联系方式", "回复状态", "是否交换微信", "Worker ID", "备注", "联系时间"]


def _django(database_url: str) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boss_dp.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ["IMPORT_MAX_ROWS"] = os.environ.get("IMPORT_MAX_ROWS") or "10000000"
    os.environ["IMPORT_MAX_BYTES"] = os.environ.get("IMPORT_MAX_BYTES") or str(2 * 1024**3)
    import django

    django.setup()


def _rows(count: int) -> list[list]:
    rng = random.Random(12)
    start = dt.datetime(2024, 3, 1, 9, 0, 0)
    return [
        [
            f"候选人{n}",
            1 + n % 5,
            "产品经理",
            f"138{rng.randrange(10**8):08d}",
            "未回复",
            "否",
            f"worker-{n % 8:03d}",
            "沟通顺畅,有意向" if n % 3 else "",
            (start + dt.timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S"),
        ]
        for n in range(count)
    ]


def _xlsx(header: list[str], rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("联系记录")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _timed_import(name: str, content: bytes, *, expect: dict) -> dict:
    from contacts.imports import services

    refreshes: list[float] = []
    original_refresh = services.contacts_statistics_refresh

    def timed_refresh() -> str:
        started = time.perf_counter()
        statement = original_refresh()
        refreshes.append(time.perf_counter() - started)
        return statement

    services.contacts_statistics_refresh = timed_refresh
    phases: dict[str, float] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        if total is not None and done == total:
            phases[stage] = time.perf_counter() - started

    try:
        started = time.perf_counter()
        report = services.contacts_import(file=io.BytesIO(content), user=None, progress=progress)
        seconds = time.perf_counter() - started - sum(refreshes)
    finally:
        services.contacts_statistics_refresh = original_refresh
    found = {key: getattr(report, key) for key in ("created", "updated", "unchanged", "error_count")}
    assert found == expect, (name, found, report.errors[:5])
    rows = sum(expect.values())
    return {
        "import": name,
        "rows": rows,
        "file_bytes": len(content),
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds),
        "statistics_refresh_seconds": round(sum(refreshes), 3),
        # Seconds from the start to the end of reading the file, of checking the rows, of the last write.
        "phases_done_at": {stage: round(at, 3) for stage, at in phases.items()},
    }


def _timed_insert(rows: list[list]) -> dict:
    """The floor of a create: the same contacts, already built, inserted by bulk_create in the import's
    batches in one transaction (the table's indexes and tally triggers included), nothing read or checked."""
    from django.db import transaction
    from django.utils import timezone

    from contacts.imports.services import BATCH_SIZE
    from contacts.models import Contact

    contacts = [
        Contact(
            name=row[0],
            account_id=row[1],
            position=row[2],
            contact=row[3],
            reply_status=row[4],
            wechat_exchanged=False,
            worker_id=row[6],
            notes=row[7],
            contacted_at=timezone.make_aware(dt.datetime.strptime(row[8], "%Y-%m-%d %H:%M:%S")),
        )
        for row in rows
    ]
    started = time.perf_counter()
    with transaction.atomic():
        for start in range(0, len(contacts), BATCH_SIZE):
            Contact.objects.bulk_create(contacts[start : start + BATCH_SIZE])
    seconds = time.perf_counter() - started
    return {
        "import": "floor: bulk_create alone",
        "rows": len(rows),
        "file_bytes": 0,
        "seconds": round(seconds, 3),
        "rows_per_second": round(len(rows) / seconds),
        "statistics_refresh_seconds": 0,
        "phases_done_at": {"write": round(seconds, 3)},
    }


def _tallies_exact() -> bool:
    from django.db.models import Count

    from contacts.models import Contact, ContactTally

    kept = {
        (row.account_id, row.reply_status, row.wechat_exchanged): row.total
        for row in ContactTally.objects.all()
        if row.total
    }
    groups = Contact.objects.order_by().values_list("account_id", "reply_status", "wechat_exchanged")
    real = {key[:3]: key[3] for key in groups.annotate(n=Count("id"))}
    return kept == real


def run(database_url: str, count: int) -> dict:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": database_url, "DJANGO_DEBUG": "1"},
        check=True,
    )
    _django(database_url)
    from django.db import connection

    from contacts.models import Contact

    Contact.objects.all().delete()
    rows = _rows(count)
    results = [_timed_import("create (xlsx)", _xlsx(HEADER, rows), expect=_counts(created=count))]
    ids = list(Contact.objects.order_by("id").values_list("id", flat=True))
    pairs = enumerate(zip(ids, rows, strict=True))
    changed = [[contact_id, row[0], row[1], "已回复", f"第二轮 {n}"] for n, (contact_id, row) in pairs]
    update_file = _xlsx(["ID", "姓名", "账号 ID", "回复状态", "备注"], changed)
    results.append(_timed_import("update (xlsx)", update_file, expect=_counts(updated=count)))
    results.append(_timed_import("unchanged (xlsx)", update_file, expect=_counts(unchanged=count)))
    exact = _tallies_exact()
    Contact.objects.all().delete()
    results.append(_timed_import("create (csv)", _csv(HEADER, rows), expect=_counts(created=count)))
    exact = exact and _tallies_exact()
    Contact.objects.all().delete()
    results.append(_timed_insert(rows))
    exact = exact and _tallies_exact()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {
        "kind": "import",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit.stdout.strip(),
        "dirty": bool(dirty),
        "settings": {"rows": count, "quick": False},
        "database": connection.vendor,
        "rows": count,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "note": "a machine shared with other sessions: figures are a floor, not a ceiling",
        "tallies_exact": exact,
        "results": results,
    }


def _counts(**given: int) -> dict:
    return {"created": 0, "updated": 0, "unchanged": 0, "error_count": 0, **given}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="write the results to this file (default: bench/results/)")
    args = parser.parse_args()
    report = run(args.database_url, args.rows)
    print(import_markdown(report))
    path = args.json or result_path(report)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(path)


if __name__ == "__main__":
    main()
