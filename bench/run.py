"""`make bench`: seed a million contacts, serve them with gunicorn, drive every case with wrk, write results.

For each backend (SQLite, then PostgreSQL) in one run: a fresh bench database, `seed_contacts` timed,
the query plans of every list case, the service under its real gunicorn configuration (DJANGO_DEBUG=0,
the login throttle raised so that the login case measures logins, not 429s), then for each case
sequential single requests (their p50) and `wrk` at 16 connections for a bounded time. The export
benchmark (bench/export_bench.py, when the measured tree has it) runs in the same run. The result goes
to bench/results/<date>_<commit>.json (bench/report.py renders it), and its tables into bench/README.md
between markers.
See bench/README.md for the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# Run as a script, this file has bench/ on its import path; the harness package, which starts gunicorn
# for the tests too, is at the repository's root.
sys.path.insert(0, str(REPO))

from cases import SCOPED_ACCOUNTS, SEED, SEED_DAYS, Case, build_cases  # noqa: E402

from harness.client import Reply, call  # noqa: E402
from harness.postgres import recreate_database  # noqa: E402
from harness.service import PYTHON, Gunicorn, manage  # noqa: E402

USERNAME = "bench"
SCOPED_USERNAME = "bench-scoped"
# High enough that no login of the run is throttled; the service's default is 10/min.
LOGIN_RATE = "1000000/min"
LOGIN_PAYLOAD_KEY = "BENCH_BODY"
WRK_TIMEOUT = "30s"


def log(message: str) -> None:
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 3 s a case: to try the harness")
    parser.add_argument("--rows", type=int, help="contacts to seed (default 1,000,000; quick 20,000)")
    parser.add_argument("--days", type=int, default=SEED_DAYS, help="days the rows span (default 90)")
    parser.add_argument("--duration", type=int, help="seconds of wrk per case (default 10; quick 3)")
    parser.add_argument("--samples", type=int, help="sequential requests per case (default 10; quick 5)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--app-dir", type=Path, default=REPO, help="the service tree to measure (a git worktree)")
    parser.add_argument("--sqlite-path", type=Path, default=BENCH_DIR / "data" / "bench.sqlite3")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/boss_dp_bench")
    parser.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data", help="logs, media (git-ignored)")
    parser.add_argument("--readme-section", default="latest", help="README markers to fill; 'none' to skip")
    parser.add_argument("--no-export", action="store_true", help="skip bench/export_bench.py")
    parser.add_argument("--only", help="comma-separated case names (default: all)")
    args = parser.parse_args(argv)
    args.rows = args.rows or (20_000 if args.quick else 1_000_000)
    args.duration = args.duration or (3 if args.quick else 10)
    args.samples = args.samples or (5 if args.quick else 10)
    args.app_dir = args.app_dir.resolve()
    args.data_dir = args.data_dir.resolve()
    args.sqlite_path = args.sqlite_path.resolve()
    return args


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing Debian's package")
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "wrk"]
    if os.geteuid() != 0:
        apt.insert(0, "sudo")
    if subprocess.run(apt, check=False).returncode != 0:
        subprocess.run([*apt[: apt.index("install")], "update", "-q"], check=True)
        subprocess.run(apt, check=True)
    return shutil.which("wrk") or "wrk"


def git(app_dir: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(app_dir), *args], capture_output=True, text=True, check=True).stdout.strip()


def commit_info(app_dir: Path) -> dict:
    dirty = bool(git(app_dir, "status", "--porcelain", "--untracked-files=no"))
    return {
        "commit": git(app_dir, "rev-parse", "--short", "HEAD"),
        "subject": git(app_dir, "log", "-1", "--format=%s"),
        "dirty": dirty,
    }


class Service:
    """The measured tree's manage.py and gunicorn, with the benchmark's environment."""

    def __init__(self, args: argparse.Namespace, database_url: str, backend: str) -> None:
        self.app_dir = args.app_dir
        self.data_dir = args.data_dir
        self.backend = backend
        self.env = {
            **os.environ,
            "PYTHONPATH": str(BENCH_DIR),
            "DJANGO_SETTINGS_MODULE": "benchsite.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "DJANGO_MEDIA_ROOT": str(self.data_dir / f"media-{backend}"),
            "LOGIN_RATE_PER_ADDRESS": LOGIN_RATE,
            "LOGIN_RATE_PER_USERNAME": LOGIN_RATE,
        }
        self.gunicorn = Gunicorn(self.env, self.data_dir / f"logs-{backend}", app_dir=self.app_dir)

    @property
    def port(self) -> int:
        return self.gunicorn.port

    def manage(self, *args: str) -> str:
        return manage(self.env, *args, timeout=None, app_dir=self.app_dir)

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)


def request(port: int, case: Case, token: str, login_body: str) -> Reply:
    """The case's request: with the token if it needs a login, with the login's JSON body if it is a POST."""
    return call(
        port,
        case.method,
        case.url_path,
        token=token if case.auth else "",
        body=login_body.encode() if case.method == "POST" else None,
        timeout=120,
    )


def analyze(backend: str, url: str, sqlite_path: Path) -> str:
    """Statistics for the planner after the bulk load, as autovacuum would leave them on a live server."""
    if backend == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")
            return connection.execute("SHOW server_version").fetchone()[0]
    with sqlite3.connect(sqlite_path) as connection:
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sqlite3.sqlite_version


FACTS_CODE = """
import json
from django.contrib.auth.models import Permission, User
from django.db.models import Max
from django.utils import timezone
from contacts.models import Contact, UserAccount
user, _ = User.objects.get_or_create(username={username!r})
user.set_password({password!r})
user.save()
user.user_permissions.set(Permission.objects.filter(content_type__app_label="contacts",
    codename__in=["view_contact", "add_contact", "export_contact", "view_all_contacts"]))
scoped, _ = User.objects.get_or_create(username={scoped_username!r})
scoped.set_password({password!r})
scoped.save()
scoped.user_permissions.set(Permission.objects.filter(content_type__app_label="contacts", codename="view_contact"))
UserAccount.objects.filter(user=scoped).delete()
UserAccount.objects.bulk_create([UserAccount(user=scoped, account_id=a) for a in {scoped_accounts!r}])
ids = Contact.objects.order_by("id").values_list("id", flat=True)
count = Contact.objects.count()
newest = Contact.objects.aggregate(newest=Max("created_at"))["newest"]
print("FACTS", json.dumps({{"rows": count, "detail_id": ids[count // 2],
    "last_day": timezone.localtime(newest).date().isoformat()}}))
"""


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_fields(pid: int) -> tuple[int, int, int] | None:
    """A process's group, its own CPU ticks, and the ticks of the children it reaped; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # from the state on: pgrp [2], utime, stime [11, 12], cutime, cstime
    return int(fields[2]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


class CpuMeter:
    """CPU seconds the service (gunicorn's master and workers) and the database server spend during a case.

    Workers that exit meanwhile are counted through their master's reaped-children total. PostgreSQL's
    server processes for the bench database are found by their process title; they live as long as the
    service's persistent connections, so none exits during a case.
    """

    def __init__(self, service_group: int, database: str | None) -> None:
        self.service_group = service_group
        self.database_title = f" {database} ".encode() if database else None

    def _snapshot(self) -> tuple[dict[int, int], int, dict[int, int]]:
        service, database, reaped = {}, {}, 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            fields = _cpu_fields(pid)
            if fields is None:
                continue
            group, ticks, children = fields
            if group == self.service_group:
                service[pid] = ticks
                reaped += children if pid == self.service_group else 0
            elif self.database_title:
                try:
                    title = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if title.startswith(b"postgres: ") and self.database_title in title:
                    database[pid] = ticks
        return service, reaped, database

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> dict[str, float]:
        (service0, reaped0, database0), (service1, reaped1, database1) = self._before, self._snapshot()
        exited = sum(ticks for pid, ticks in service0.items() if pid not in service1)
        service = sum(ticks - service0.get(pid, 0) for pid, ticks in service1.items()) + reaped1 - reaped0 - exited
        database = sum(ticks - database0.get(pid, 0) for pid, ticks in database1.items())
        return {"service_cpu_s": service / CLOCK_TICKS, "database_cpu_s": database / CLOCK_TICKS}


def wrk_case(
    args: argparse.Namespace, wrk: str, port: int, case: Case, token: str, login_body: str, meter: CpuMeter
) -> dict:
    env = {**os.environ, "BENCH_TOKEN": token if case.auth else "", LOGIN_PAYLOAD_KEY: ""}
    if case.method == "POST":
        env[LOGIN_PAYLOAD_KEY] = login_body
    command = [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        f"--timeout={WRK_TIMEOUT}",
        "--latency",
        "-s",
        str(BENCH_DIR / "wrk" / "request.lua"),
        f"http://127.0.0.1:{port}{case.url_path}",
    ]
    meter.start()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    cpu = meter.stop()
    figures, summary = wrk_figures(result.stdout)
    return {
        **summary,
        # CPU ms a request under load: the service's processes and PostgreSQL's (SQLite runs in the service)
        "service_cpu_ms": round(cpu["service_cpu_s"] * 1000 / max(figures["requests"], 1), 2),
        "database_cpu_ms": round(cpu["database_cpu_s"] * 1000 / max(figures["requests"], 1), 2)
        if meter.database_title
        else None,
    }


def single_requests(args: argparse.Namespace, port: int, case: Case, token: str, login_body: str) -> dict:
    """Sequential requests, one at a time: the latency a lone user sees (at least 3, at most ~15 s)."""
    timings: list[float] = []
    started = time.monotonic()
    while len(timings) < args.samples and (len(timings) < 3 or time.monotonic() - started < 15):
        begin = time.perf_counter()
        status = request(port, case, token, login_body).status
        timings.append((time.perf_counter() - begin) * 1000)
        if not 200 <= status < 300:
            raise RuntimeError(f"{case.name}: {status} on a single request")
    return {
        "single_p50_ms": round(statistics.median(timings), 2),
        "single_min_ms": round(min(timings), 2),
        "single_samples": len(timings),
    }


def check_case(args: argparse.Namespace, port: int, case: Case, token: str, login_body: str, rows: int) -> dict:
    """The first answer: a 2xx, and for lists the true match count, checked against the label."""
    reply = request(port, case, token, login_body)
    if not 200 <= reply.status < 300:
        raise RuntimeError(f"{case.name}: {reply.status} {reply.body[:300]!r}")
    outcome: dict = {"status": reply.status}
    if case.stats:
        return outcome | check_stats(port, case, reply, token)
    if case.expect_share is None:
        return outcome
    data = reply.json()["data"]
    total = data["total"]
    outcome["matched"] = total
    outcome["returned"] = len(data["results"])
    low, high = case.expect_share
    share = total / rows if rows else 0
    if rows >= 500_000 and not low <= share <= high:
        outcome["label_check"] = f"FAILED: {total} rows is {share:.4%}, the label promises {low:.2%}-{high:.2%}"
    elif case.name == "deep_page" and outcome["returned"] == 0:
        outcome["label_check"] = "FAILED: the deep page is empty"
    else:
        outcome["label_check"] = "ok"
    return outcome


def check_stats(port: int, case: Case, reply: Reply, token: str) -> dict:
    """A stats answer's figures: its totals equal the list's `total` for the same filters and the sum of its
    groups; a year by day has the year's 365 days."""
    data = reply.json()["data"]
    totals, groups = data["totals"], data["results"]
    filters = {name: value for name, value in case.params.items() if name != "group_by"}
    listed = call(port, "GET", f"/api/contacts?{urlencode({**filters, 'page': '1', 'page_size': '1'})}", token=token)
    list_total = listed.json()["data"]["total"]
    problems = []
    if totals["contacts"] != list_total:
        problems.append(f"totals.contacts {totals['contacts']} but the list's total {list_total}")
    for figure in ("contacts", "replied", "wechat_exchanged"):
        if sum(group[figure] for group in groups) != totals[figure]:
            problems.append(f"the groups' {figure} do not add up to the totals'")
    if case.params.get("group_by") == "day" and len(groups) != 365:
        problems.append(f"{len(groups)} days, not 365")
    return {
        "matched": totals["contacts"],
        "returned": len(groups),
        "list_total": list_total,
        "label_check": "FAILED: " + "; ".join(problems) if problems else "ok",
    }


def database_fresh(args: argparse.Namespace, backend: str) -> str:
    """An empty bench database for `backend`, created anew; its DATABASE_URL."""
    if backend == "postgres":
        log(f"postgres: recreating {urlsplit(args.pg_url).path.lstrip('/')}")
        recreate_database(args.pg_url)
        return args.pg_url
    args.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.sqlite_path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{args.sqlite_path.resolve()}"


def database_seed(args: argparse.Namespace, service: Service) -> tuple[float, str]:
    """Migrate, seed `args.rows` contacts and analyze: the seeding's seconds and the server's version."""
    service.manage("migrate", "--noinput", "-v", "0")
    log(f"{service.backend}: seeding {args.rows:,} contacts")
    started = time.monotonic()
    seed_output = service.manage(
        "seed_contacts", "--count", str(args.rows), "--seed", str(SEED), "--days", str(args.days)
    )
    seed_seconds = time.monotonic() - started
    log(f"{service.backend}: seeded in {seed_seconds:.1f} s ({seed_output.strip()})")
    return seed_seconds, analyze(service.backend, service.env["DATABASE_URL"], args.sqlite_path)


def bench_user_and_cases(args: argparse.Namespace, service: Service) -> tuple[dict, list[Case], str]:
    """The bench user (made anew with a fresh password), the database's facts, the cases to run, the login body."""
    password = secrets.token_urlsafe(16)
    facts_line = next(
        line
        for line in service.shell(
            FACTS_CODE.format(
                username=USERNAME, scoped_username=SCOPED_USERNAME, password=password, scoped_accounts=SCOPED_ACCOUNTS
            )
        ).splitlines()
        if line.startswith("FACTS ")
    )
    facts = json.loads(facts_line.removeprefix("FACTS "))
    cases = build_cases(
        rows=facts["rows"],
        last_day=dt.date.fromisoformat(facts["last_day"]),
        detail_id=facts["detail_id"],
        days=args.days,
    )
    if args.only:
        wanted = set(args.only.split(","))
        cases = [case for case in cases if case.name in wanted or case.ceiling]
    return facts, cases, json.dumps({"username": USERNAME, "password": password})


def cases_measure(
    args: argparse.Namespace, service: Service, cases: list[Case], facts: dict, login_body: str, wrk: str
) -> list[dict]:
    """Serve with gunicorn and drive every case: its check, its sequential singles, then wrk.

    Each outcome gets its ratio to the ceiling (the `hello` case) measured in the same run.
    """
    service.gunicorn.start(timeout=90)
    url = service.env["DATABASE_URL"]
    database = urlsplit(url).path.lstrip("/") if service.backend == "postgres" else None
    meter = CpuMeter(service.gunicorn.process.pid, database)
    results = []
    try:
        reply = call(service.port, "POST", "/api/auth/token", body=login_body.encode(), timeout=120)
        if reply.status != 200:
            raise RuntimeError(f"login failed: {reply.status} {reply.body[:200]!r}")
        token = reply.json()["data"]["access"]
        scoped_body = json.dumps({**json.loads(login_body), "username": SCOPED_USERNAME})
        reply = call(service.port, "POST", "/api/auth/token", body=scoped_body.encode(), timeout=120)
        if reply.status != 200:
            raise RuntimeError(f"the scoped user's login failed: {reply.status} {reply.body[:200]!r}")
        scoped_token = reply.json()["data"]["access"]
        # Every worker imports, connects and reads the schema before measuring: a worker's first list
        # on a SQLite file of a million rows took 250-330 ms, then 7 ms.
        for _ in range(50):
            call(service.port, "GET", "/bench/hello", timeout=120)
            call(service.port, "GET", "/api/health", timeout=120)
            call(service.port, "GET", "/api/contacts?page=1", token=token, timeout=120)
        for case in cases:
            case_token = scoped_token if case.scoped else token
            outcome = {"name": case.name, "label": case.label, "path": case.url_path}
            outcome |= check_case(args, service.port, case, case_token, login_body, facts["rows"])
            outcome |= single_requests(args, service.port, case, case_token, login_body)
            outcome |= wrk_case(args, wrk, service.port, case, case_token, login_body, meter)
            results.append(outcome)
            log(
                f"{service.backend} {case.name:20} {outcome['rps']:>9,.1f} rps  p50 {outcome['p50_ms']:>8.1f} ms"
                f"  p99 {outcome['p99_ms']:>8.1f} ms  single {outcome['single_p50_ms']:>8.1f} ms"
                f"  non-2xx {outcome['non2xx']}  matched {outcome.get('matched', '-')}"
            )
    finally:
        service.gunicorn.stop()
    ceiling = next((r["rps"] for r in results if r["name"] == "hello"), None)
    for outcome in results:
        outcome["ratio"] = round(outcome["rps"] / ceiling, 4) if ceiling else None
    return results


def run_backend(args: argparse.Namespace, backend: str, wrk: str) -> dict:
    service = Service(args, database_fresh(args, backend), backend)
    seed_seconds, server_version = database_seed(args, service)
    facts, cases, login_body = bench_user_and_cases(args, service)
    explained = explain_cases(service, cases)
    return {
        "server_version": server_version,
        "rows": facts["rows"],
        "seed_seconds": round(seed_seconds, 1),
        "cases": cases_measure(args, service, cases, facts, login_body, wrk),
        "explain": explained,
    }


def explain_cases(service: Service, cases: list[Case]) -> dict:
    data_dir = service.data_dir
    cases_file = data_dir / f"cases-{service.backend}.json"
    out_file = data_dir / f"explain-{service.backend}.json"
    payload = [
        {"name": case.name, "url_path": case.url_path, "username": SCOPED_USERNAME if case.scoped else USERNAME}
        for case in cases
        if case.explain
    ]
    cases_file.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    result = subprocess.run(
        [PYTHON, str(BENCH_DIR / "explain.py"), str(cases_file), str(out_file)],
        cwd=service.app_dir,
        env=service.env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"explain.py failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(out_file.read_text(encoding="utf-8"))


def run_export_bench(args: argparse.Namespace, database_url: str) -> dict | None:
    script = args.app_dir / "bench" / "export_bench.py"
    if args.no_export or not script.exists():
        return None
    out_file = args.data_dir / "export_bench.json"
    out_file.unlink(missing_ok=True)
    arguments = ["--database-url", database_url]
    if args.quick:
        arguments += ["--rows", "2000", "10000"]
    command = [sys.executable, str(script), *arguments, "--json", str(out_file)]
    log(f"export benchmark: {' '.join(command[1:])}")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    }
    env["DJANGO_MEDIA_ROOT"] = str(args.data_dir / "media-export")
    result = subprocess.run(command, cwd=args.app_dir, env=env, capture_output=True, text=True)
    print(result.stdout[-4000:], result.stderr[-4000:], sep="\n", flush=True)
    figures = json.loads(out_file.read_text(encoding="utf-8")) if out_file.exists() else None
    return {
        # as run from the measured tree, without this machine's paths
        "command": " ".join(["bench/export_bench.py", *arguments]),
        "returncode": result.returncode,
        "figures": figures,
        "stdout": result.stdout[-8000:],
    }


def wrk_figures(stdout: str) -> tuple[dict, dict]:
    """wrk's raw figures (request.lua's BENCH_JSON line) and their summary: rps, latencies in ms, errors."""
    line = next(line for line in stdout.splitlines() if line.startswith("BENCH_JSON "))
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = figures["duration_us"] / 1e6
    return figures, {
        "rps": round(figures["requests"] / seconds, 1),
        "requests": figures["requests"],
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p90_ms": round(figures["p90_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
        "max_ms": round(figures["max_us"] / 1000, 2),
        "non2xx": figures["non2xx"],
        "socket_errors": sum(figures[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts")),
    }


def report_header(args: argparse.Namespace, *, info: dict, started: dt.datetime, wrk: str) -> dict:
    """What every result of the bench opens with: the commit, the date, the machine and the load's settings."""
    return {
        **info,
        "date": started.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "wrk": subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split("\n")[0],
        },
        "settings": {
            "rows": args.rows,
            "seed": SEED,
            "days": args.days,
            "duration_s": args.duration,
            "connections": args.connections,
            "wrk_threads": args.threads,
        },
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    info = commit_info(args.app_dir)
    started = dt.datetime.now().astimezone()
    report: dict = {
        **report_header(args, info=info, started=started, wrk=wrk),
        "backends": {},
    }
    report["settings"].update({"samples": args.samples, "login_rate": LOGIN_RATE, "quick": args.quick})
    log(f"measuring {info['commit']}{' (dirty)' if info['dirty'] else ''} in {args.app_dir}")
    for backend in [name.strip() for name in args.backends.split(",") if name.strip()]:
        report["backends"][backend] = run_backend(args, backend, wrk)
    if "postgres" in report["backends"]:
        report["export"] = run_export_bench(args, args.pg_url)
    report["elapsed_s"] = round((dt.datetime.now().astimezone() - started).total_seconds())
    from report import fill_readme, write_result

    log(f"wrote {write_result(report)}")
    if args.readme_section != "none":
        log(f"wrote {fill_readme(report, args.readme_section)}")
    failed = [
        f"{backend}/{case['name']}: {case['label_check']}"
        for backend, outcome in report["backends"].items()
        for case in outcome["cases"]
        if case.get("label_check", "ok") != "ok"
    ]
    for line in failed:
        log(f"label check {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
