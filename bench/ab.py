"""`make bench-ab`: service trees measured against each other on one seeded PostgreSQL database.

Each variant is a tree of the service (a git worktree) and environment variables for it:

    .venv/bin/python bench/ab.py --variant "as is=." --variant "no CheapCopy=../ab-cheapcopy" \\
        --variant "no prepared statements=.:DB_PREPARED_STATEMENTS=0"

The database is seeded once (`--reuse` keeps one a previous run seeded), then in each of `--rounds`
rounds every variant in turn is served by gunicorn and its cases run as `make bench` runs them (the
ceiling `hello` and, by default, `list`). Rounds interleave the variants so that drift in the
machine's load falls on all of them. The result, each variant's share of the ceiling per case and
round, goes to bench/results/<date>_ab_<commit>.json; bench/report.py renders it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
from pathlib import Path

import run
from report import write_result


def variant(text: str) -> tuple[str, Path, dict[str, str]]:
    """`NAME=TREE[:VAR=VALUE,...]`, e.g. `no prepared statements=.:DB_PREPARED_STATEMENTS=0`."""
    name, _, rest = text.partition("=")
    tree, _, assignments = rest.partition(":")
    env = dict(item.split("=", 1) for item in assignments.split(",") if item)
    if not name or not tree:
        raise argparse.ArgumentTypeError(f"expected NAME=TREE[:VAR=VALUE,...], not {text!r}")
    return name, Path(tree).resolve(), env


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", type=variant, action="append", required=True, help="NAME=TREE[:VAR=VALUE,...]")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep the database a previous run seeded")
    parser.add_argument("--only", default="list", help="comma-separated cases besides the ceiling (default: list)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=run.SEED_DAYS, help="days the rows are seeded over")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per case")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/boss_dp_bench_ab")
    parser.add_argument("--data-dir", type=Path, default=run.BENCH_DIR / "data")
    args = parser.parse_args(argv)
    # Absolute: each variant's service runs in its own tree.
    args.data_dir = args.data_dir.resolve()
    args.sqlite_path = args.data_dir / "unused.sqlite3"
    return args


def service_for(args: argparse.Namespace, tree: Path, env: dict[str, str]) -> run.Service:
    args.app_dir = tree
    service = run.Service(args, args.pg_url, "postgres")
    service.env.update(env)
    return service


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    wrk = run.ensure_wrk()
    baseline_name, baseline_tree, baseline_env = args.variant[0]
    info = run.commit_info(baseline_tree)
    started = dt.datetime.now().astimezone()
    first = service_for(args, baseline_tree, baseline_env)
    if not args.reuse:
        run.database_fresh(argparse.Namespace(pg_url=args.pg_url), "postgres")
        run.database_seed(args, first)
    facts, cases, login_body = run.bench_user_and_cases(args, first)
    measured: dict[str, list[list[dict]]] = {name: [] for name, _, _ in args.variant}
    for round_number in range(1, args.rounds + 1):
        for name, tree, env in args.variant:
            run.log(f"round {round_number}: {name} ({run.commit_info(tree)['commit']}, {env or 'no extra env'})")
            measured[name].append(run.cases_measure(args, service_for(args, tree, env), cases, facts, login_body, wrk))
    report = {
        "kind": "ab",
        **info,
        "machine": {"cpus": os.cpu_count()},
        "date": started.isoformat(timespec="seconds"),
        "settings": {
            "rows": facts["rows"],
            "days": args.days,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "connections": args.connections,
            "wrk_threads": args.threads,
        },
        "variants": [
            {
                "name": name,
                "commit": run.commit_info(tree)["commit"],
                "env": env,
                "rounds": measured[name],
                "median_ratio": {
                    case.name: statistics.median(
                        next(outcome["ratio"] for outcome in outcomes if outcome["name"] == case.name)
                        for outcomes in measured[name]
                    )
                    for case in cases
                },
            }
            for name, tree, env in args.variant
        ],
        "baseline": baseline_name,
    }
    run.log(f"wrote {write_result(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
