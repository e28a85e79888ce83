"""Issue 12's benchmark: bot workers reporting contacts one at a time and in bulk, 16 at once, on PostgreSQL.

On a fresh PostgreSQL database (`--pg-url`, dropped and created anew; `seed_contacts --count ROWS --seed 1
--days 90`, then `VACUUM (ANALYZE)`), with the service as `make bench` serves it (gunicorn with
gunicorn.conf.py, `DJANGO_DEBUG=0`, through the `harness` package), `--clients` client threads each POST
/api/contacts for `--duration` seconds, once per batch size of `--sizes` (1 = the single create, a JSON
object; more = a JSON list of that many). The bench user is a bot of `--accounts` accounts
(`assign_accounts`, so every item's account is checked against its scope), and every body mixes those
accounts in its own shuffled order with both reply states and both WeChat states: the tally rows are
upserted by every transaction in every order the clients can make.

Measured for each size: requests and contacts a second, latencies, the CPU seconds of the service, of
PostgreSQL's processes of the bench database, of the clients and of the rest of the machine. Checked after
each size: every request answered 201 (anything else is counted, and the first few answers kept), the
database's deadlock count (pg_stat_database) did not move, the rows created equal the 201s times the size,
and each kept tally equals a real COUNT of its groups: (account_id, reply_status, wechat_exchanged), and
(local day, account_id, worker_id, reply_status, wechat_exchanged) for the per-day tally.

    .venv/bin/python bench/bulk_bench.py --pg-url postgres://postgres@127.0.0.1:5432/boss_dp_bench_bulk
    .venv/bin/python bench/bulk_bench.py --rows 20000 --duration 3 --json bench/data/bulk-small.json   # a try

The result goes to bench/results/<date>_bulk_<commit>[-dirty].json unless `--json` says otherwise;
`python bench/report.py` renders it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import run
from cases import SEED, SEED_DAYS
from jobs_bench import _stat_cpu

from harness.client import call
from harness.postgres import recreate_database

USERNAME = "bench-bulk"
PATH = "/api/contacts"
BODIES_PER_CLIENT = 8
KEPT_FAILURES = 5

SETUP_CODE = """
from django.contrib.auth.models import Permission, User
user, _ = User.objects.get_or_create(username={username!r})
user.set_password({password!r})
user.save()
user.user_permissions.set(Permission.objects.filter(
    content_type__app_label="contacts", codename__in=["view_contact", "add_contact"]))
"""

# Each kept tally beside a real count of the same groups: per account, and per local day (in the zone the
# per-day tally records) of each account, worker and state.
COUNTS_SQL = {
    "tally": "SELECT account_id, reply_status, wechat_exchanged, total FROM contacts_contacttally WHERE total <> 0",
    "real": (
        "SELECT account_id, reply_status, wechat_exchanged, count(*) FROM contacts_contact "
        "GROUP BY account_id, reply_status, wechat_exchanged"
    ),
    "day_tally": (
        "SELECT day, account_id, worker_id, reply_status, wechat_exchanged, total FROM contacts_contactdaytally "
        "WHERE total <> 0"
    ),
    "day_real": (
        "SELECT (created_at AT TIME ZONE (SELECT zone FROM contacts_daytallyzone WHERE id = 1))::date, "
        "account_id, worker_id, reply_status, wechat_exchanged, count(*) FROM contacts_contact GROUP BY 1, 2, 3, 4, 5"
    ),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="contacts seeded first (default 100,000)")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per batch size (default 20)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--sizes", default="1,100,1000", help="contacts a request, comma-separated (1: single)")
    parser.add_argument("--accounts", type=int, default=8, help="accounts the bot reports for (default 8)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/boss_dp_bench_bulk")
    parser.add_argument("--app-dir", type=Path, default=run.REPO, help="the service tree to measure")
    parser.add_argument("--data-dir", type=Path, default=run.BENCH_DIR / "data", help="logs (git-ignored)")
    parser.add_argument("--json", type=Path, help="write the result here instead of bench/results/")
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(",")]
    args.app_dir = args.app_dir.resolve()
    args.data_dir = args.data_dir.resolve()
    return args


def log(message: str) -> None:
    run.log(message)


def body(rng: random.Random, size: int, accounts: int, client: int) -> bytes:
    """One request's JSON: a contact, or a list of `size` of them over the accounts in a shuffled order."""
    items = [
        {
            "name": f"候选人{client}-{n}",
            "position": "产品经理",
            "contact": f"138{rng.randrange(10**8):08d}",
            "account_id": 1 + (n + rng.randrange(accounts)) % accounts,
            "reply_status": rng.choice(["未回复", "已回复"]),
            "wechat_exchanged": rng.random() < 0.3,
            "worker_id": f"worker-{client:03d}",
        }
        for n in range(size)
    ]
    rng.shuffle(items)
    return json.dumps(items[0] if size == 1 else items, ensure_ascii=False).encode()


class Load:
    """`clients` threads POSTing their bodies in turn until the deadline; every answer's status and time."""

    def __init__(self, port: int, token: str, bodies: list[list[bytes]], seconds: float) -> None:
        self.port, self.token, self.bodies, self.seconds = port, token, bodies, seconds
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.failures: list[str] = []
        self.socket_errors = 0
        self.lock = threading.Lock()

    def client(self, own: list[bytes], deadline: float) -> None:
        turn = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                reply = call(self.port, "POST", PATH, token=self.token, body=own[turn % len(own)], timeout=120)
            except OSError as exc:
                with self.lock:
                    self.socket_errors += 1
                    if len(self.failures) < KEPT_FAILURES:
                        self.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = (time.perf_counter() - started) * 1000
            turn += 1
            with self.lock:
                self.latencies.append(elapsed)
                self.statuses[reply.status] = self.statuses.get(reply.status, 0) + 1
                if reply.status != 201 and len(self.failures) < KEPT_FAILURES:
                    self.failures.append(f"{reply.status}: {reply.body[:300].decode(errors='replace')}")

    def run(self) -> float:
        deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self.client, args=(own, deadline)) for own in self.bodies]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started


def database_counts(url: str) -> dict:
    """The kept tallies and real counts of the same groups (COUNTS_SQL), the rows, and the database's deadlocks."""
    import psycopg

    with psycopg.connect(url) as connection:
        counts = {
            name: {tuple(row[:-1]): int(row[-1]) for row in connection.execute(sql)} for name, sql in COUNTS_SQL.items()
        }
        rows = connection.execute("SELECT count(*) FROM contacts_contact").fetchone()[0]
        deadlocks = connection.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()[0]
    return {**counts, "rows": rows, "deadlocks": deadlocks}


def measure_size(args: argparse.Namespace, service: run.Service, token: str, size: int, database: str) -> dict:
    rng = random.Random(size)
    bodies = [
        [body(rng, size, args.accounts, client) for _ in range(BODIES_PER_CLIENT)] for client in range(args.clients)
    ]
    before = database_counts(args.pg_url)
    meter = run.CpuMeter(service.gunicorn.process.pid, database)
    load = Load(service.port, token, bodies, args.duration)
    meter.start()
    machine_before = _stat_cpu()
    clients_before = resource.getrusage(resource.RUSAGE_SELF)
    seconds = load.run()
    clients_after = resource.getrusage(resource.RUSAGE_SELF)
    busy1, total1 = _stat_cpu()
    cpu = meter.stop()
    after = database_counts(args.pg_url)
    created = load.statuses.get(201, 0)
    requests = sum(load.statuses.values())
    clients_cpu = sum(getattr(clients_after, f) - getattr(clients_before, f) for f in ("ru_utime", "ru_stime"))
    busy = (busy1 - machine_before[0]) / run.CLOCK_TICKS
    counted = cpu["service_cpu_s"] + cpu["database_cpu_s"] + clients_cpu
    mismatched = {
        "/".join(map(str, key)): [after[tally].get(key, 0), after[real].get(key, 0)]
        for tally, real in (("tally", "real"), ("day_tally", "day_real"))
        for key in set(after[tally]) | set(after[real])
        if after[tally].get(key, 0) != after[real].get(key, 0)
    }
    latencies = sorted(load.latencies) or [0.0]
    outcome = {
        "size": size,
        "seconds": round(seconds, 2),
        "requests": requests,
        "rps": round(requests / seconds, 1),
        "contacts_per_s": round(created * size / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p90_ms": round(latencies[int(len(latencies) * 0.9)], 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 1),
        "max_ms": round(latencies[-1], 1),
        "statuses": {str(status): count for status, count in sorted(load.statuses.items())},
        "non_201": requests - created,
        "socket_errors": load.socket_errors,
        "failures": load.failures,
        "deadlocks": after["deadlocks"] - before["deadlocks"],
        "rows_created": after["rows"] - before["rows"],
        "rows_expected": created * size,
        "tally_groups": len(after["real"]),
        "day_tally_groups": len(after["day_real"]),
        "tally_mismatches": mismatched,
        "cpu_s": {
            "service": round(cpu["service_cpu_s"], 1),
            "database": round(cpu["database_cpu_s"], 1),
            "clients": round(clients_cpu, 1),
            "other": round(max(busy - counted, 0.0), 1),
        },
        "machine_busy_share": round((busy1 - machine_before[0]) / max(total1 - machine_before[1], 1), 3),
    }
    outcome["exact"] = (
        outcome["non_201"] == 0
        and outcome["socket_errors"] == 0
        and outcome["deadlocks"] == 0
        and outcome["rows_created"] == outcome["rows_expected"]
        and not mismatched
    )
    return outcome


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    info = run.commit_info(args.app_dir)
    started = dt.datetime.now().astimezone()
    database = urlsplit(args.pg_url).path.lstrip("/")
    service = run.Service(args, args.pg_url, "postgres")
    log(f"postgres: recreating {database}")
    recreate_database(args.pg_url)
    service.manage("migrate", "--noinput", "-v", "0")
    seeding = time.monotonic()
    if args.rows:
        service.manage("seed_contacts", "--count", str(args.rows), "--seed", str(SEED), "--days", str(SEED_DAYS))
    server = run.analyze("postgres", args.pg_url, Path())
    log(f"seeded {args.rows:,} contacts in {time.monotonic() - seeding:.1f} s")
    password = secrets.token_urlsafe(16)
    service.shell(SETUP_CODE.format(username=USERNAME, password=password))
    assigned = service.manage("assign_accounts", "--user", USERNAME, *map(str, range(1, args.accounts + 1)))
    log(assigned.strip())
    report: dict = {
        "kind": "bulk",
        **info,
        "date": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count()},
        "database": {"server_version": server},
        "settings": {
            "rows": args.rows,
            "seed": SEED,
            "days": SEED_DAYS,
            "duration_s": args.duration,
            "clients": args.clients,
            "accounts": args.accounts,
            "sizes": args.sizes,
        },
        "command": " ".join(["bench/bulk_bench.py", *argv]),
        "sizes": [],
    }
    try:
        service.gunicorn.start(timeout=90)
        report["settings"]["web_workers"] = len(service.gunicorn.worker_pids())
        reply = call(service.port, "POST", "/api/auth/token", payload={"username": USERNAME, "password": password})
        if reply.status != 200:
            raise RuntimeError(f"login failed: {reply.status} {reply.body[:200]!r}")
        token = reply.json()["data"]["access"]
        for _ in range(20):  # every gunicorn worker connected and warm
            call(service.port, "GET", "/api/contacts?page_size=1", token=token, timeout=120)
        for size in args.sizes:
            log(f"size {size}: {args.clients} clients for {args.duration} s")
            outcome = measure_size(args, service, token, size, database)
            report["sizes"].append(outcome)
            log(
                f"  {outcome['rps']:,.1f} requests/s, {outcome['contacts_per_s']:,.1f} contacts/s, p50 "
                f"{outcome['p50_ms']} ms, non-201 {outcome['non_201']}, deadlocks {outcome['deadlocks']}, "
                f"tally exact {not outcome['tally_mismatches']}"
            )
    finally:
        service.gunicorn.stop()
    report["all_exact"] = all(outcome["exact"] for outcome in report["sizes"])
    report["elapsed_s"] = round((dt.datetime.now().astimezone() - started).total_seconds())
    from report import bulk_markdown, write_result

    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    else:
        log(f"wrote {write_result(report)}")
    print(bulk_markdown(report))
    return 0 if report["all_exact"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
