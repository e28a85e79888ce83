"""Issue 11's benchmark: the list while export jobs run, and a million-row job on a worker.

On one seeded PostgreSQL database (`--pg-url`; seeded like `make bench` seeds its own when it does not hold
`--rows` contacts: `seed_contacts --count ROWS --seed 1 --days 90`, then `VACUUM (ANALYZE)`), with the
service as deployed (gunicorn with gunicorn.conf.py, its workers from the CPU count as `make bench` has them,
`DJANGO_DEBUG=0`) and a Celery worker as `make run` starts one (`nice -n 10`, prefork) on Redis:

A. the list (`GET /api/contacts?page=1&page_size=20`, a Bearer token, wrk as `make bench` drives it) while
   the worker (concurrency 4) idles, then while four export jobs (`POST /api/contacts/exports`, four users,
   four date ranges of about a quarter of the rows each) run at once, then idle again once they are done:
   requests/s and p50 of each window, side by side, and each job's times;
B. one export job of every row (no filter) on a fresh worker of concurrency 1: from its POST to its record
   reading succeeded, and the worker's own duration (the record's started_at/finished_at, duration_ms), the
   peak resident memory of the pool process that ran it (VmHWM), and `bench/export_bench.py --variants bare`
   (openpyxl's bare write-only loop) at the same rows on the same database, for the ratio.

    .venv/bin/python bench/jobs_bench.py                          # 1,000,000 rows (seeds them when needed)
    .venv/bin/python bench/jobs_bench.py --rows 40000 --duration 3 --json bench/data/jobs-small.json   # a try

The result goes to bench/results/<date>_jobs_<commit>[-dirty][-quick].json (`-quick` below 1,000,000 rows)
unless `--json` says otherwise; `python bench/report.py` renders it. The bench users' exports are deleted
before and after; the files go to a media folder under `--data-dir`, removed afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import run

from harness.client import call
from harness.service import Gunicorn
from harness.worker import CeleryWorker

USERS = [f"bench-jobs-{number}" for number in range(1, 5)]
LIST_PATH = "/api/contacts?" + urlencode({"page": 1, "page_size": 20})
WORKER_NICE = 10
FINISHED = ("succeeded", "failed", "cancelled")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="contacts in the database (default 1,000,000)")
    parser.add_argument("--duration", type=int, default=20, help="seconds of wrk per window (default 20)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--jobs", type=int, default=4, help="export jobs at once, and the worker's concurrency")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/boss_dp_bench_jobs")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the broker (REDIS_URL)")
    parser.add_argument("--data-dir", type=Path, default=run.BENCH_DIR / "data", help="logs, media (git-ignored)")
    parser.add_argument("--skip", choices=["list", "million"], action="append", default=[], help="a part to skip")
    parser.add_argument("--json", type=Path, help="write the result here instead of bench/results/")
    args = parser.parse_args(argv)
    args.app_dir = run.REPO
    args.days = run.SEED_DAYS
    args.data_dir = args.data_dir.resolve()
    args.sqlite_path = args.data_dir / "unused.sqlite3"
    return args


def log(message: str) -> None:
    print(f"[jobs {dt.datetime.now():%H:%M:%S}] {message}", flush=True)


# The database, the users ------------------------------------------------------------------------


def contacts_count(url: str) -> int | None:
    import psycopg

    try:
        with psycopg.connect(url) as connection:
            return connection.execute("SELECT count(*) FROM contacts_contact").fetchone()[0]
    except psycopg.Error:
        return None


def database_ready(args: argparse.Namespace, service: run.Service) -> dict:
    """The database with exactly `--rows` contacts: kept when it has them, else made anew and seeded."""
    present = contacts_count(args.pg_url)
    if present == args.rows:
        log(f"{urlsplit(args.pg_url).path.lstrip('/')} holds {present:,} contacts: kept")
        service.manage("migrate", "--noinput", "-v", "0")
        return {"seeded_now": False}
    run.database_fresh(argparse.Namespace(pg_url=args.pg_url), "postgres")
    seconds, _ = run.database_seed(args, service)
    return {"seeded_now": True, "seed_seconds": round(seconds, 1)}


SETUP_CODE = """
import json
from django.contrib.auth.models import Permission, User
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from contacts.models import Contact, ContactExport
permissions = Permission.objects.filter(
    content_type__app_label="contacts", codename__in=["view_contact", "export_contact", "view_all_contacts"])
for username in {users!r}:
    user, _ = User.objects.get_or_create(username=username)
    user.set_password({password!r})
    user.save()
    user.user_permissions.set(permissions)
ContactExport.objects.filter(username__in={users!r}).delete()
days = (Contact.objects.annotate(day=TruncDate("created_at", tzinfo=timezone.get_default_timezone()))
    .values("day").annotate(rows=Count("id")).order_by("day"))
from django.db import connection
print("FACTS", json.dumps({{"days": [[row["day"].isoformat(), row["rows"]] for row in days],
    "server": f"{{connection.pg_version // 10000}}.{{connection.pg_version % 10000}}"}}))
"""

CLEANUP_CODE = """
from contacts.models import ContactExport
ContactExport.objects.filter(username__in={users!r}).delete()
"""


def date_ranges(days: list[tuple[str, int]], parts: int) -> list[dict]:
    """`parts` contiguous ranges of whole days, each ending on the day whose running total of rows is nearest
    its share of all rows (`days`: each local day and its rows, in order)."""
    total, running = sum(rows for _, rows in days), []
    for _, rows in days:
        running.append((running[-1] if running else 0) + rows)
    ranges, first = [], 0
    for part in range(1, parts + 1):
        goal = total * part / parts
        candidates = range(first, len(days) - (parts - part))
        last = len(days) - 1 if part == parts else min(candidates, key=lambda day: abs(running[day] - goal))
        rows = running[last] - (running[first - 1] if first else 0)
        ranges.append({"start_date": days[first][0], "end_date": days[last][0], "rows": rows})
        first = last + 1
    return ranges


# Measuring ---------------------------------------------------------------------------------------


def _stat_cpu() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Window:
    """The CPU seconds spent during a window: the service, PostgreSQL's processes of the bench database, the
    worker (its whole process group), wrk, and everything else on the machine (other sessions, the OS)."""

    def __init__(self, service_pid: int, worker_pid: int | None, database: str) -> None:
        self.service = run.CpuMeter(service_pid, database)
        self.worker = run.CpuMeter(worker_pid, None) if worker_pid else None

    def start(self) -> None:
        self.service.start()
        if self.worker:
            self.worker.start()
        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.machine = _stat_cpu()
        self.loadavg = Path("/proc/loadavg").read_text().split()[:3]

    def stop(self) -> dict:
        ours = self.service.stop()
        worker = self.worker.stop()["service_cpu_s"] if self.worker else 0.0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk = (children.ru_utime - self.children.ru_utime) + (children.ru_stime - self.children.ru_stime)
        busy0, total0 = self.machine
        busy1, total1 = _stat_cpu()
        busy = (busy1 - busy0) / run.CLOCK_TICKS
        counted = ours["service_cpu_s"] + ours["database_cpu_s"] + worker + wrk
        return {
            "service_cpu_s": round(ours["service_cpu_s"], 1),
            "database_cpu_s": round(ours["database_cpu_s"], 1),
            "worker_cpu_s": round(worker, 1),
            "wrk_cpu_s": round(wrk, 1),
            "other_cpu_s": round(max(busy - counted, 0.0), 1),
            "machine_busy_share": round((busy1 - busy0) / max(total1 - total0, 1), 3),
            "loadavg_before": self.loadavg,
        }


def wrk_list(args: argparse.Namespace, wrk: str, port: int, token: str) -> dict:
    env = {**os.environ, "BENCH_TOKEN": token, run.LOGIN_PAYLOAD_KEY: ""}
    command = [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        f"--timeout={run.WRK_TIMEOUT}",
        "--latency",
        "-s",
        str(run.BENCH_DIR / "wrk" / "request.lua"),
        f"http://127.0.0.1:{port}{LIST_PATH}",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return run.wrk_figures(result.stdout)[1]


def measure_window(args: argparse.Namespace, wrk: str, port: int, token: str, window: Window) -> dict:
    started = time.time()
    window.start()
    outcome = wrk_list(args, wrk, port, token)
    outcome |= window.stop()
    outcome["started_at"] = started
    outcome["ended_at"] = time.time()
    return outcome


JOBS_SQL = (
    "SELECT id, status, total_records, row_count, size_bytes, duration_ms, error, started_at, finished_at, attempts"
    " FROM contacts_contactexport WHERE id = ANY(%s)"
)


def jobs_read(url: str, ids: list[int]) -> dict[int, dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as connection:
        rows = connection.execute(JOBS_SQL, [ids])
        return {row["id"]: row for row in rows}


def job_post(port: int, token: str, filters: dict) -> tuple[int, float]:
    posted = time.time()
    reply = call(port, "POST", "/api/contacts/exports", token=token, payload=filters, timeout=120)
    if reply.status != 202:
        raise RuntimeError(f"POST /api/contacts/exports answered {reply.status}: {reply.body[:300]!r}")
    return reply.json()["data"]["id"], posted


class Follower:
    """Each job's record read every `interval` seconds: when it was first seen running and seen finished."""

    def __init__(self, url: str, posted: dict[int, float], interval: float = 0.5) -> None:
        self.url, self.posted, self.interval = url, posted, interval
        self.seen_running: dict[int, float] = {}
        self.seen_finished: dict[int, float] = {}
        self.records: dict[int, dict] = {}

    def poll(self) -> None:
        now = time.time()
        self.records = jobs_read(self.url, list(self.posted))
        for job_id, record in self.records.items():
            if record["status"] != "queued":
                self.seen_running.setdefault(job_id, now)
            if record["status"] in FINISHED:
                self.seen_finished.setdefault(job_id, now)

    def all_started(self) -> bool:
        return len(self.seen_running) == len(self.posted)

    def all_finished(self) -> bool:
        return len(self.seen_finished) == len(self.posted)

    def wait(self, done, timeout: float, on_poll=None) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if on_poll:
                on_poll()
            if done():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"jobs not done after {timeout} s: {self.records}")
            time.sleep(self.interval)

    def outcome(self, job_id: int) -> dict:
        record = self.records[job_id]
        started, finished = record["started_at"], record["finished_at"]
        return {
            "id": job_id,
            "status": record["status"],
            "total_records": record["total_records"],
            "rows_written": record["row_count"],
            "size_bytes": record["size_bytes"],
            "attempts": record["attempts"],
            "error": record["error"],
            # The worker's own measure (time.monotonic around the export) and its record's timestamps
            # (started_at is kept to the second).
            "duration_ms": record["duration_ms"],
            "record_started_to_finished_s": round((finished - started).total_seconds(), 1)
            if started and finished
            else None,
            # As the caller sees it: from the POST to its record read finished (polled every interval).
            "post_to_finished_s": round(self.seen_finished[job_id] - self.posted[job_id], 1)
            if job_id in self.seen_finished
            else None,
            "finished_at_epoch": finished.timestamp() if finished else None,
        }


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of a process, in KiB ({} once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {line.split(":")[0]: int(line.split()[1]) for line in lines if line.startswith(("VmHWM", "VmRSS"))}


def process_cpu_ticks(pid: int) -> int:
    fields = run._cpu_fields(pid)
    return fields[1] if fields else 0


# The parts ---------------------------------------------------------------------------------------


def worker_started(env: dict[str, str], log_dir: Path, concurrency: int) -> CeleryWorker:
    """A Celery worker as `make run` starts it: the whole worker at nice 10 (its process group).

    The harness starts the worker and gunicorn each in a session of its own. Where the kernel groups
    sessions for scheduling (sched_autogroup_enabled), nice weighs only within a session's group, and the
    worker's group would get as much CPU as gunicorn's: its group is niced too, as `make run`, starting both
    from one shell, has them in one group.
    """
    worker = CeleryWorker(env, log_dir, concurrency=concurrency).start(timeout=120)
    os.setpriority(os.PRIO_PGRP, worker.pid, WORKER_NICE)
    autogroup = Path(f"/proc/{worker.pid}/autogroup")
    if autogroup.exists():
        autogroup.write_text(str(WORKER_NICE))
    return worker


def part_list(args, service, wrk, tokens, ranges, database) -> dict:
    """A: the list idle, under the jobs, idle again."""
    worker = worker_started(service.env, args.data_dir / "logs-jobs" / "worker-list", args.jobs)
    try:
        window = Window(service.gunicorn.process.pid, worker.pid, database)
        log(f"list idle: wrk {args.duration} s (worker {worker.pid}, concurrency {args.jobs}, nice {WORKER_NICE})")
        idle = measure_window(args, wrk, service.port, tokens[0], window)
        log(f"  idle: {idle['rps']:,.1f} rps, p50 {idle['p50_ms']} ms")
        posted: dict[int, float] = {}
        filters_of: dict[int, dict] = {}
        first_post = time.time()
        for token, asked in zip(tokens, ranges, strict=True):
            filters = {"start_date": asked["start_date"], "end_date": asked["end_date"]}
            job_id, at = job_post(service.port, token, filters)
            posted[job_id], filters_of[job_id] = at, filters
        follower = Follower(args.pg_url, posted)
        follower.wait(follower.all_started, timeout=120)
        log(f"  {len(posted)} jobs running (ids {sorted(posted)}): wrk {args.duration} s")
        busy = measure_window(args, wrk, service.port, tokens[0], window)
        follower.poll()
        log(f"  under exports: {busy['rps']:,.1f} rps, p50 {busy['p50_ms']} ms")
        follower.wait(follower.all_finished, timeout=3600)
        jobs = [follower.outcome(job_id) | {"filters": filters_of[job_id]} for job_id in sorted(posted)]
        last = max(follower.seen_finished.values())
        running_throughout = all(
            job["finished_at_epoch"] is not None and job["finished_at_epoch"] >= busy["ended_at"] for job in jobs
        )
        for job in jobs:
            log(
                f"  job {job['id']} {job['filters']}: {job['status']}, {job['rows_written']:,} rows, "
                f"{job['post_to_finished_s']} s from its POST, worker {job['duration_ms'] / 1000:.1f} s"
            )
        log(f"list idle again: wrk {args.duration} s")
        after = measure_window(args, wrk, service.port, tokens[0], window)
        log(f"  idle after: {after['rps']:,.1f} rps, p50 {after['p50_ms']} ms")
    finally:
        worker.stop(timeout=120)
    for outcome in (idle, busy, after):
        outcome.pop("started_at")
        outcome.pop("ended_at")
    return {
        "worker": {"concurrency": args.jobs, "nice": WORKER_NICE, "pool": "prefork"},
        "idle": idle,
        "under_exports": busy,
        "idle_after": after,
        "jobs": jobs,
        "jobs_all_succeeded": all(job["status"] == "succeeded" for job in jobs),
        "jobs_running_throughout_window": running_throughout,
        "jobs_first_post_to_last_finished_s": round(last - first_post, 1),
        "throughput_ratio": round(busy["rps"] / idle["rps"], 3),
        "p50_ratio": round(busy["p50_ms"] / idle["p50_ms"], 3),
    }


def part_million(args, service, token, database) -> dict:
    """B: one job of every row on a fresh worker of concurrency 1; its pool process's peak memory."""
    worker = worker_started(service.env, args.data_dir / "logs-jobs" / "worker-million", 1)
    try:
        children = worker.child_pids()
        before = {pid: proc_status(pid).get("VmRSS", 0) for pid in children}
        window = Window(service.gunicorn.process.pid, worker.pid, database)
        window.start()
        job_id, posted = job_post(service.port, token, {})
        log(f"one job of every row: id {job_id}, pool {sorted(children)}")
        follower = Follower(args.pg_url, {job_id: posted})
        peaks: dict[int, dict] = {}

        def sample() -> None:
            for pid in worker.child_pids() | children:
                status = proc_status(pid)
                if status:
                    peaks[pid] = status

        follower.wait(follower.all_finished, timeout=3600, on_poll=sample)
        sample()
        cpu = window.stop()
        pool = {pid: {"cpu_ticks": process_cpu_ticks(pid), **status} for pid, status in peaks.items()}
        ran = max(pool, key=lambda pid: pool[pid]["cpu_ticks"])
        main = proc_status(worker.pid)
        job = follower.outcome(job_id)
        reply = call(service.port, "GET", f"/api/contacts/exports/{job_id}", token=token, timeout=60).json()["data"]
    finally:
        worker.stop(timeout=120)
    log(
        f"  {job['status']}, {job['rows_written']:,} rows: {job['post_to_finished_s']} s from its POST, "
        f"worker {job['duration_ms'] / 1000:.1f} s; pool process peak {pool[ran]['VmHWM'] / 1024:.0f} MiB"
    )
    return {
        "worker": {"concurrency": 1, "nice": WORKER_NICE, "pool": "prefork", "fresh": True},
        "job": job,
        "api_status": reply["status"],
        "api_rows_written": reply["rows_written"],
        "pool_process_peak_rss_mib": round(pool[ran]["VmHWM"] / 1024, 1),
        "pool_process_rss_before_mib": round(before[ran] / 1024, 1) if ran in before else None,
        "worker_main_process_peak_rss_mib": round(main.get("VmHWM", 0) / 1024, 1),
        "pool_processes": len(pool),
        "cpu": cpu,
    }


def bare_loop(args: argparse.Namespace, rows: int) -> dict:
    """`bench/export_bench.py --variants bare` at `rows` rows on the same database."""
    out = args.data_dir / "jobs-bare.json"
    out.unlink(missing_ok=True)
    arguments = ["--variants", "bare", "--rows", str(rows), "--database-url", args.pg_url]
    log(f"bare loop: bench/export_bench.py {' '.join(arguments)}")
    result = subprocess.run(
        [sys.executable, str(run.BENCH_DIR / "export_bench.py"), *arguments, "--json", str(out)],
        cwd=run.REPO,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"export_bench.py failed:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(out.read_text(encoding="utf-8"))["results"][0]
    log(f"  bare: {figures['seconds']} s, peak {figures['peak_rss_mib']} MiB")
    return {"command": " ".join(["bench/export_bench.py", *arguments]), **figures}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    wrk = run.ensure_wrk()
    info = run.commit_info(args.app_dir)
    started = dt.datetime.now().astimezone()
    database = urlsplit(args.pg_url).path.lstrip("/")
    service = run.Service(args, args.pg_url, "postgres")
    service.env.update(
        {
            "REDIS_URL": args.redis_url,
            # A queue of this run's own: other sessions may share the Redis server.
            "CELERY_QUEUE": f"bench-jobs-{secrets.token_hex(4)}",
            "DJANGO_MEDIA_ROOT": str(args.data_dir / "media-jobs"),
        }
    )
    service.gunicorn = Gunicorn(service.env, args.data_dir / "logs-jobs", app_dir=args.app_dir)
    seeding = database_ready(args, service)
    password = secrets.token_urlsafe(16)
    facts_line = next(
        line
        for line in service.shell(SETUP_CODE.format(users=USERS, password=password)).splitlines()
        if line.startswith("FACTS ")
    )
    facts = json.loads(facts_line.removeprefix("FACTS "))
    ranges = date_ranges([(day, rows) for day, rows in facts["days"]], args.jobs)
    log(f"ranges: {ranges}")
    report: dict = {"kind": "jobs", **run.report_header(args, info=info, started=started, wrk=wrk)}
    report["settings"].update(
        {
            "jobs": args.jobs,
            "list_path": LIST_PATH,
            "web_concurrency": os.environ.get("WEB_CONCURRENCY", "gunicorn.conf.py's 2 x CPUs + 1"),
            "broker": "redis",
            "quick": args.rows < 1_000_000,
        }
    )
    report.update({"database": {"server_version": facts["server"], **seeding}, "ranges": ranges})
    media = args.data_dir / "media-jobs"
    shutil.rmtree(media, ignore_errors=True)
    try:
        service.gunicorn.start(timeout=90)
        report["settings"]["web_workers"] = len(service.gunicorn.worker_pids())
        tokens = []
        for username in USERS[: args.jobs]:
            body = {"username": username, "password": password}
            reply = call(service.port, "POST", "/api/auth/token", payload=body, timeout=120)
            if reply.status != 200:
                raise RuntimeError(f"login failed: {reply.status} {reply.body[:200]!r}")
            tokens.append(reply.json()["data"]["access"])
        for _ in range(50):  # every gunicorn worker connected and warm, as bench/run.py does
            call(service.port, "GET", LIST_PATH, token=tokens[0], timeout=120)
        if "list" not in args.skip:
            report["list_under_exports"] = part_list(args, service, wrk, tokens, ranges, database)
        if "million" not in args.skip:
            report["million"] = part_million(args, service, tokens[0], database)
    finally:
        service.gunicorn.stop()
        service.shell(CLEANUP_CODE.format(users=USERS))
        shutil.rmtree(media, ignore_errors=True)
    if "million" not in args.skip:
        bare = bare_loop(args, args.rows)
        job = report["million"]["job"]
        report["million"]["bare"] = bare
        report["million"]["post_to_finished_vs_bare"] = round(job["post_to_finished_s"] / bare["seconds"], 3)
        report["million"]["worker_duration_vs_bare"] = round(job["duration_ms"] / 1000 / bare["seconds"], 3)
    report["elapsed_s"] = round((dt.datetime.now().astimezone() - started).total_seconds())
    from report import jobs_markdown, write_result

    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    else:
        log(f"wrote {write_result(report)}")
    print(jobs_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
