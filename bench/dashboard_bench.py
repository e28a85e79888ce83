"""Issue 13's dashboard, timed in Chromium at a million contacts on PostgreSQL: how long until it has drawn.

On a PostgreSQL database (`--pg-url`, dropped and created anew unless `--reuse` finds it seeded: `seed_contacts
--count ROWS --seed 1 --days 90`, then `VACUUM (ANALYZE)`), with the service as `make bench` serves it
(gunicorn with gunicorn.conf.py, `DJANGO_DEBUG=0`, the collected static files), Debian's Chromium logs in to
the admin as a staff user with `view_contact` and `view_all_contacts`, then opens /admin/contacts/dashboard/
for each view below: once in a fresh browser profile (nothing cached: Chart.js is fetched too), then
`--samples` times more in the same profile (the hashed static files cached, as a returning user has them).

Measured for each opening: the milliseconds from the navigation's start to the page's `dashboard-ready`
performance mark (every chart, total, table row and trend line drawn), and the stats API requests the page
made (Resource Timing: how many, the slowest). The views: the default (the last 30 days by day, every
worker with its trend line), one worker, the seeded 90 days, a year by day.

    .venv/bin/python bench/dashboard_bench.py                  # 1,000,000 rows: seeding takes ~5 min
    .venv/bin/python bench/dashboard_bench.py --reuse          # the same database again, without seeding
    .venv/bin/python bench/dashboard_bench.py --rows 20000 --pg-url postgres://postgres@127.0.0.1:5432/boss_dp_bench_dashboard_small

It prints a table and writes the figures to bench/data/dashboard.json (git-ignored; `--json` for another file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import sys
from pathlib import Path
from urllib.parse import urlencode

import run
from cases import SEED, SEED_DAYS

from harness.postgres import recreate_database

USERNAME = "bench-dashboard"
DASHBOARD = "/admin/contacts/dashboard/"
CHROMIUM = os.environ.get("TEST_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
READY_TIMEOUT_MS = 30_000

SETUP_CODE = """
import json
from django.contrib.auth.models import Permission, User
from django.db.models import Max
from django.utils import timezone
from contacts.models import Contact
user, _ = User.objects.get_or_create(username={username!r})
user.set_password({password!r})
user.is_staff = True
user.save()
user.user_permissions.set(Permission.objects.filter(content_type__app_label="contacts",
    codename__in=["view_contact", "view_all_contacts"]))
newest = Contact.objects.aggregate(newest=Max("created_at"))["newest"]
print("FACTS", json.dumps({{"rows": Contact.objects.count(),
    "workers": sorted(set(Contact.objects.values_list("worker_id", flat=True).distinct()[:1000])),
    "today": timezone.localdate().isoformat(),
    "last_day": timezone.localtime(newest).date().isoformat() if newest else None}}))
"""

# What the page reports once drawn: the time of its mark and the stats requests it made.
MEASURED = """() => ({
  ready: performance.getEntriesByName("dashboard-ready").map((mark) => mark.startTime)[0] ?? null,
  stats: performance.getEntriesByType("resource")
    .filter((entry) => entry.name.includes("/api/contacts/stats"))
    .map((entry) => entry.duration),
  static: performance.getEntriesByType("resource")
    .filter((entry) => entry.name.includes("/static/") && entry.transferSize > 0).length,
  state: document.getElementById("dashboard").dataset.state,
})"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="contacts to seed (default 1,000,000)")
    parser.add_argument("--samples", type=int, default=5, help="openings of each view with the cache (default 5)")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/boss_dp_bench_dashboard")
    parser.add_argument("--reuse", action="store_true", help="keep the database if it already holds --rows")
    parser.add_argument("--app-dir", type=Path, default=run.REPO, help="the service tree to measure")
    parser.add_argument("--data-dir", type=Path, default=run.BENCH_DIR / "data", help="logs (git-ignored)")
    parser.add_argument("--json", type=Path, default=run.BENCH_DIR / "data" / "dashboard.json")
    args = parser.parse_args(argv)
    args.app_dir = args.app_dir.resolve()
    args.data_dir = args.data_dir.resolve()
    return args


def seeded_rows(url: str) -> int:
    """The contacts the database holds, 0 when it is missing or not migrated."""
    import psycopg

    try:
        with psycopg.connect(url) as connection:
            return connection.execute("SELECT count(*) FROM contacts_contact").fetchone()[0]
    except psycopg.Error:
        return 0


def views(facts: dict) -> dict[str, dict[str, str]]:
    """The openings measured: each one's query string."""
    today = dt.date.fromisoformat(facts["today"])
    worker = next(key for key in facts["workers"] if key)
    return {
        "the last 30 days (the default)": {},
        f"one worker ({worker}), 30 days": {"worker_id": worker},
        f"the seeded {SEED_DAYS} days": {
            "start_date": str(today - dt.timedelta(days=SEED_DAYS - 1)),
            "end_date": str(today),
        },
        "a year by day": {"start_date": str(today - dt.timedelta(days=364)), "end_date": str(today)},
    }


def open_view(page, url: str) -> dict:
    page.goto(url)
    page.wait_for_selector("#dashboard[data-state=ready], #dashboard[data-state=error]", timeout=READY_TIMEOUT_MS)
    measured = page.evaluate(MEASURED)
    if measured["state"] != "ready":
        raise RuntimeError(f"{url}: {page.text_content('#dashboard-error')}")
    return measured


def measure(args: argparse.Namespace, port: int, password: str, facts: dict) -> dict:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    outcome = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for name, params in views(facts).items():
            # A new profile logs in (landing on the admin's index), then opens the dashboard with nothing of
            # it cached, then again with its hashed static files cached.
            context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            page = context.new_page()
            login(page, base, password)
            url = f"{base}{DASHBOARD}?{urlencode(params)}"
            cold = open_view(page, url)
            warm = [open_view(page, url) for _ in range(args.samples)]
            context.close()
            readies = [opening["ready"] for opening in warm]
            outcome[name] = {
                "params": params,
                "stats_requests": len(cold["stats"]),
                "cold_ready_ms": round(cold["ready"]),
                "cold_static_files": cold["static"],
                "warm_ready_ms": [round(ready) for ready in readies],
                "warm_ready_p50_ms": round(statistics.median(readies)),
                "slowest_stats_request_ms": [round(max(opening["stats"])) for opening in warm],
            }
            run.log(f"{name}: {outcome[name]}")
        browser.close()
    return outcome


def login(page, base: str, password: str) -> None:
    """A session in this profile, through the admin's login form (it lands on the admin's index)."""
    page.goto(f"{base}/admin/login/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    info = run.commit_info(args.app_dir)
    service = run.Service(args, args.pg_url, "postgres-dashboard")
    reused = args.reuse and seeded_rows(args.pg_url) == args.rows
    if reused:
        run.log(f"reusing the {args.rows:,} contacts of {args.pg_url.rsplit('/', 1)[-1]}")
        service.manage("migrate", "--noinput", "-v", "0")
    else:
        recreate_database(args.pg_url)
        service.manage("migrate", "--noinput", "-v", "0")
        run.log(f"seeding {args.rows:,} contacts")
        service.manage("seed_contacts", "--count", str(args.rows), "--seed", str(SEED), "--days", str(SEED_DAYS))
        run.analyze("postgres", args.pg_url, Path())
    service.manage("collectstatic", "--noinput", "-v", "0")
    password = secrets.token_urlsafe(16)
    facts_line = next(
        line
        for line in service.shell(SETUP_CODE.format(username=USERNAME, password=password)).splitlines()
        if line.startswith("FACTS ")
    )
    facts = json.loads(facts_line.removeprefix("FACTS "))
    service.gunicorn.start()
    load_before = os.getloadavg()[0]
    try:
        outcome = measure(args, service.port, password, facts)
    finally:
        service.gunicorn.stop()
    # Other work on the machine slows every figure: the one-minute load average says how busy it was.
    load_after = os.getloadavg()[0]
    report = {
        **info,
        "kind": "dashboard",
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_1min": [round(load_before, 2), round(load_after, 2)]},
        "settings": {"rows": facts["rows"], "seed": SEED, "days": SEED_DAYS, "samples": args.samples},
        "reused_database": reused,
        "views": outcome,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print()
    print(
        f"The dashboard of `{info['commit']}`{' (dirty)' if info['dirty'] else ''}, {facts['rows']:,} contacts, "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before and {load_after:.1f} after:"
    )
    print()
    print(
        "| view | stats requests | cold: drawn after ms | warm: drawn after ms, p50 (max) | slowest request ms, p50 |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, view in outcome.items():
        print(
            f"| {name} | {view['stats_requests']} | {view['cold_ready_ms']:,} | {view['warm_ready_p50_ms']:,} "
            f"({max(view['warm_ready_ms']):,}) | {round(statistics.median(view['slowest_stats_request_ms'])):,} |"
        )
    print()
    run.log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
