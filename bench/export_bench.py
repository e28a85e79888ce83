"""The export benchmark of issues 3 and 4: the export path against bare openpyxl loops, side by side.

For each row count, on a database seeded with `seed_contacts` to exactly that many contacts:

- export: `contact_export_create`, the service GET /api/contacts/export calls, on the list's
  default FilterSet queryset (streaming query, literal text, styled write-only workbook, atomic
  publication, history row);
- bare: openpyxl's write-only mode appending the same rows (already converted, from a Python
  list built beforehand and not timed) and saving;
- normal: openpyxl's normal mode doing the same, as common export libraries do.

Each variant runs in its own process: its time covers the export or the loop and the save, and
its peak memory is the process's peak resident set size (getrusage), Python and Django included.
The bare and normal variants also hold the whole row list in memory; their peak says so.

    .venv/bin/python bench/export_bench.py                  # 100,000 and 1,000,000 rows, SQLite in the temp folder
    .venv/bin/python bench/export_bench.py --database-url postgres://postgres@127.0.0.1:5432/boss_dp_bench_export
    .venv/bin/python bench/export_bench.py --rows 2000 10000                   # a quick try

The database is created, migrated and seeded as needed (and re-seeded when it holds another number
of contacts): give one outside the repository. Results go to stdout as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# A SQLite file in the system's temporary folder unless --database-url says otherwise.
DEFAULT_DATABASE_URL = f"sqlite:///{Path(tempfile.gettempdir()) / 'bench_export.sqlite3'}"
VARIANTS = ("export", "bare", "normal")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# The child: one variant, timed ----------------------------------------------------------------


def _django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boss_dp.settings")
    import django

    django.setup()


def _converted_rows() -> list[tuple]:
    """The rows as the workbook shows them: local naive times, 是/否, read before timing."""
    from django.utils import timezone

    from contacts.exports.workbook import FIELDS
    from contacts.filters import ContactFilterSet
    from contacts.models import Contact

    zone = timezone.get_default_timezone()

    def local(moment):
        return None if moment is None else moment.astimezone(zone).replace(tzinfo=None, microsecond=0)

    queryset = ContactFilterSet(data={}, queryset=Contact.objects.all()).qs
    return [
        (pk, name, position, contact, status, "是" if wechat else "否", worker, notes, local(contacted), local(created))
        for pk, name, position, contact, status, wechat, worker, notes, contacted, created in queryset.values_list(
            *FIELDS
        ).iterator(chunk_size=5000)
    ]


def run_child(variant: str, out_dir: Path) -> dict:
    _django()
    baseline = peak_rss_mib()
    if variant == "export":
        from django.contrib.auth.models import User

        from contacts.exports.services import contact_export_create
        from contacts.filters import ContactFilterSet
        from contacts.models import Contact

        user, _ = User.objects.get_or_create(username="bench-export")
        started = time.perf_counter()
        export = contact_export_create(filterset=ContactFilterSet(data={}, queryset=Contact.objects.all()), user=user)
        seconds = time.perf_counter() - started
        rows, size = export.row_count, export.size_bytes
    else:
        from openpyxl import Workbook

        from contacts.exports.workbook import HEADER

        data = _converted_rows()
        baseline = peak_rss_mib()
        target = out_dir / f"{variant}.xlsx"
        started = time.perf_counter()
        workbook = Workbook(write_only=variant == "bare")
        sheet = workbook.create_sheet("联系记录") if variant == "bare" else workbook.active
        sheet.append(HEADER)
        for row in data:
            sheet.append(row)
        workbook.save(target)
        seconds = time.perf_counter() - started
        rows, size = len(data), target.stat().st_size
    return {
        "variant": variant,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds) if seconds else None,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_before_mib": round(baseline, 1),
        "file_bytes": size,
    }


# The parent: databases, children, report ------------------------------------------------------


def _env(database_url: str, media_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "boss_dp.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": env.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
            "DJANGO_MEDIA_ROOT": str(media_root),
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def _ensure_postgres_database(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        return
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def contacts_count(env: dict[str, str]) -> int:
    code = "from contacts.models import Contact; print(Contact.objects.count())"
    return int(_manage(env, "shell", "-c", code).split()[-1])


def seed_exactly(env: dict[str, str], rows: int) -> None:
    """Leave exactly `rows` contacts in the database, adding to what is there when it is fewer."""
    count = contacts_count(env)
    if count > rows:
        _manage(env, "shell", "-c", "from contacts.models import Contact; Contact.objects.all()._raw_delete('default')")
        count = 0
    if count < rows:
        started = time.monotonic()
        _manage(env, "seed_contacts", "--count", str(rows - count), "--seed", str(rows))
        print(f"  seeded {rows - count} contacts in {time.monotonic() - started:.0f} s", file=sys.stderr)


def run_variant(env: dict[str, str], variant: str, out_dir: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--out-dir", str(out_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"{variant} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return f"{model}, {os.cpu_count()} CPUs, {memory_kib / 1024 / 1024:.1f} GiB RAM, Python {platform.python_version()}"


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    dirty = git("status", "--porcelain", "--", "contacts", "boss_dp", "bench/export_bench.py")
    return git("rev-parse", "--short", "HEAD") + (" (+ uncommitted changes)" if dirty else "")


def report(database_url: str, results: list[dict]) -> str:
    engine = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    lines = [
        f"Export benchmark on {engine}, commit {commit()}, {time.strftime('%Y-%m-%d')}",
        f"Machine: {machine()}",
        "",
        "| rows | variant | seconds | rows/s | peak RSS (MiB) | RSS before the timed part (MiB) | vs bare |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    bare = {result["rows"]: result["seconds"] for result in results if result["variant"] == "bare"}
    for result in results:
        ratio = f"{result['seconds'] / bare[result['rows']]:.2f}x" if bare.get(result["rows"]) else "—"
        lines.append(
            f"| {result['rows']:,} | {result['variant']} | {result['seconds']:.1f} | {result['rows_per_second']:,} "
            f"| {result['peak_rss_mib']:.0f} | {result['rss_before_mib']:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_EXPORT_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.out_dir)))
        return

    work = Path(tempfile.mkdtemp(prefix="bench_export_"))
    env = _env(args.database_url, work / "media")
    _ensure_postgres_database(args.database_url)
    _manage(env, "migrate", "--noinput", "-v", "0")
    results = []
    # A database that already holds one of the counts (bench/run.py's million) is measured first,
    # before seeding changes it.
    present = contacts_count(env)
    try:
        for rows in sorted(args.rows, key=lambda count: (count != present, count)):
            print(f"{rows:,} rows:", file=sys.stderr)
            seed_exactly(env, rows)
            for variant in args.variants:
                out_dir = work / variant
                out_dir.mkdir(parents=True, exist_ok=True)
                result = run_variant(env, variant, out_dir)
                print(f"  {variant}: {result}", file=sys.stderr)
                results.append(result)
                shutil.rmtree(out_dir)
                shutil.rmtree(work / "media", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report(args.database_url, results))
    if args.json:
        args.json.write_text(json.dumps({"database": args.database_url.split("@")[-1], "results": results}, indent=2))


if __name__ == "__main__":
    main()
