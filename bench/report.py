"""Benchmark results: one JSON per run in bench/results/<date>_<commit>.json, rendered in Markdown on demand.

    python bench/report.py bench/results/RUN.json                          # the run in Markdown, on stdout
    python bench/report.py bench/results/RUN.json --output RUN.md          # the same, into a file
    python bench/report.py bench/results/RUN.json --readme-section latest  # into bench/README.md's markers
    python bench/report.py AFTER.json --compare-with BEFORE.json           # the README's before/after table
    python bench/report.py bench/results/DATE_ab_COMMIT.json               # an A/B run of bench/ab.py
    python bench/report.py bench/results/DATE_jobs_COMMIT.json             # a run of bench/jobs_bench.py
    python bench/report.py bench/results/DATE_import_COMMIT.json           # a run of bench/import_bench.py

Only the JSON is kept (bench/run.py writes it); the Markdown is not committed.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"
BACKEND_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _pct(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2%}" if ratio < 0.01 else f"{ratio:.1%}"


def cases_table(report: dict) -> str:
    backends = list(report["backends"])
    header = ["case", "matched rows"]
    for backend in backends:
        title = BACKEND_TITLES.get(backend, backend)
        header += [f"{title} rps (% of ceiling)", f"{title} p50 / p99 ms", f"{title} non-2xx", f"{title} single p50 ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    by_backend = {
        backend: {case["name"]: case for case in report["backends"][backend]["cases"]} for backend in backends
    }
    first = report["backends"][backends[0]]["cases"]
    for case in first:
        matched = case.get("matched")
        row = [case["label"], "-" if matched is None else f"{matched:,}"]
        for backend in backends:
            outcome = by_backend[backend].get(case["name"])
            if outcome is None:
                row += ["-"] * 4
                continue
            errors = outcome["non2xx"] + outcome.get("socket_errors", 0)
            row += [
                f"{_num(outcome['rps'])} ({_pct(outcome['ratio'])})",
                f"{_num(outcome['p50_ms'])} / {_num(outcome['p99_ms'])}",
                str(errors),
                _num(outcome["single_p50_ms"]),
            ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cpu_table(report: dict) -> str:
    """CPU milliseconds a request cost under load, where the run measured them (runs since 2026-11-28)."""
    backends = [name for name, outcome in report["backends"].items() if "service_cpu_ms" in outcome["cases"][0]]
    if not backends:
        return ""
    header = ["case"] + [f"{BACKEND_TITLES.get(name, name)} service / database CPU ms" for name in backends]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    by_backend = {name: {case["name"]: case for case in report["backends"][name]["cases"]} for name in backends}
    for case in report["backends"][backends[0]]["cases"]:
        row = [case["label"]]
        for name in backends:
            outcome = by_backend[name].get(case["name"], {})
            database = outcome.get("database_cpu_ms")
            row.append(f"{_num(outcome.get('service_cpu_ms'), 2)} / {'-' if database is None else _num(database, 2)}")
        lines.append("| " + " | ".join(row) + " |")
    intro = (
        "CPU a request cost under load (wrk's run of each case): the service's gunicorn processes, and PostgreSQL's"
        " server processes (SQLite works inside the service). Both share the 2 cores with wrk."
    )
    return f"\n\n{intro}\n\n" + "\n".join(lines)


def summary(report: dict) -> str:
    settings = report["settings"]
    dirty = " (with uncommitted changes)" if report.get("dirty") else ""
    seeds = ", ".join(
        f"{BACKEND_TITLES.get(name, name)} {outcome['seed_seconds']:,.1f} s (server {outcome['server_version']})"
        for name, outcome in report["backends"].items()
    )
    return (
        f"Commit `{report['commit']}`{dirty} ({report['subject']}), measured {report['date']} on "
        f"{report['machine']['cpus']} cores; {settings['rows']:,} contacts (seed {settings['seed']}, "
        f"{settings.get('days', 90)} days); "
        f"wrk {settings['connections']} connections, {settings['wrk_threads']} threads, {settings['duration_s']} s "
        f"a case; single = p50 of {settings['samples']} sequential requests; login throttle raised to "
        f"{settings['login_rate']} (LOGIN_RATE_PER_ADDRESS / LOGIN_RATE_PER_USERNAME). "
        f"Seeding (`seed_contacts --count {settings['rows']} --days {settings.get('days', 90)}`): {seeds}. "
        f"Whole run {report['elapsed_s']:,} s."
    )


def export_section(report: dict) -> str:
    export = report.get("export")
    if not export:
        return ""
    table = export.get("stdout", "").strip()
    if export["returncode"] != 0 or not table:
        figures = json.dumps(export.get("figures"), ensure_ascii=False, indent=1)
        table = f"```\n{table or figures}\n```"
    return f"\n\nExport benchmark (`{export['command']}`, exit {export['returncode']}), in the same run:\n\n{table}"


def markdown(report: dict) -> str:
    failed = [
        f"- {backend}/{case['name']}: {case['label_check']}"
        for backend, outcome in report["backends"].items()
        for case in outcome["cases"]
        if case.get("label_check", "ok") != "ok"
    ]
    checks = "\n\nLabel checks failed:\n" + "\n".join(failed) if failed else ""
    return f"{summary(report)}\n\n{cases_table(report)}{checks}{cpu_table(report)}{export_section(report)}\n"


def explain_markdown(report: dict) -> str:
    parts = [f"Plans of commit `{report['commit']}` ({report['settings']['rows']:,} rows)."]
    for backend, outcome in report["backends"].items():
        explained = outcome.get("explain") or {}
        title = BACKEND_TITLES.get(backend, backend)
        how = "EXPLAIN ANALYZE" if explained.get("vendor") == "postgresql" else "EXPLAIN QUERY PLAN"
        parts.append(f"\n#### {title} ({how})\n")
        for case in explained.get("cases", []):
            parts.append(f"**{case['name']}**\n")
            for query in case["queries"]:
                sql = query["sql"] if len(query["sql"]) <= 600 else query["sql"][:600] + " …"
                parts.append(f"```sql\n{sql}\n```\n```\n{query['plan']}\n```\n")
    return "\n".join(parts)


def replace_section(text: str, name: str, content: str) -> str:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"README has no {start} ... {end} markers")
    return pattern.sub(lambda _: f"{start}\n{content.strip()}\n{end}", text)


def result_path(report: dict) -> Path:
    """Where a run's JSON is kept:
    bench/results/<date>_[ab_|jobs_|bulk_|import_]<commit>[-dirty][-quick][-<days>d].json, the days when the rows
    were seeded over other than the usual 90."""
    kind = f"{report['kind']}_" if report.get("kind") in ("ab", "jobs", "bulk", "import") else ""
    dirty = "-dirty" if report.get("dirty") else ""
    quick = "-quick" if report["settings"].get("quick") else ""
    days = report["settings"].get("days", 90)
    span = f"-{days}d" if days != 90 else ""
    return RESULTS_DIR / f"{report['date'][:10]}_{kind}{report['commit']}{dirty}{quick}{span}.json"


def write_result(report: dict) -> Path:
    """Keep a run: its JSON in bench/results/."""
    path = result_path(report)
    RESULTS_DIR.mkdir(exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def ab_markdown(report: dict) -> str:
    """An A/B run (bench/ab.py): each variant's share of the ceiling per case, its rounds and their median,
    and the median's change against the first variant."""
    settings = report["settings"]
    baseline = report["variants"][0]
    cases = list(baseline["median_ratio"])
    lines = [
        f"A/B of `{report['commit']}` ({report['subject']}), measured {report['date']} on PostgreSQL, "
        f"{settings['rows']:,} contacts ({settings.get('days', 90)} days); {settings['rounds']} rounds, each variant "
        "in turn; wrk "
        f"{settings['connections']} connections, {settings['duration_s']} s a case. Figures: requests/s as a "
        "share of the ceiling measured in the same round; the change is the median's, against the first variant.",
        "",
        "| variant | tree | env | "
        + " | ".join(
            "ceiling (hello), rounds" if case == "hello" else f"{case}: rounds → median (change)" for case in cases
        )
        + " |",
        "|" + " --- |" * (3 + len(cases)),
    ]
    for variant in report["variants"]:
        env = ", ".join(f"`{key}={value}`" for key, value in variant["env"].items()) or "-"
        cells = []
        for case in cases:
            outcomes = [next(o for o in round_ if o["name"] == case) for round_ in variant["rounds"]]
            if case == "hello":  # the ceiling itself: its requests/s
                rates = [outcome["rps"] for outcome in outcomes]
                cells.append(f"{' '.join(_num(rate, 0) for rate in rates)} rps")
                continue
            median, base = variant["median_ratio"][case], baseline["median_ratio"][case]
            change = f"{median / base - 1:+.1%}" if base else "-"
            cells.append(f"{' '.join(_pct(o['ratio']) for o in outcomes)} → {_pct(median)} ({change})")
        lines.append(f"| {variant['name']} | `{variant['commit']}` | {env} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _met(met: bool) -> str:
    return "met" if met else "missed"


def jobs_markdown(report: dict) -> str:
    """A run of bench/jobs_bench.py: the list idle and under export jobs, and a job of every row on a worker
    against the bare write-only loop."""
    settings = report["settings"]
    dirty = " (with uncommitted changes)" if report.get("dirty") else ""
    seeded = report["database"]
    seeding = f", seeded in {seeded['seed_seconds']:,.1f} s" if seeded.get("seeded_now") else ", seeded before"
    lines = [
        f"Export jobs of `{report['commit']}`{dirty} ({report['subject']}), measured {report['date']} on "
        f"{report['machine']['cpus']} cores; PostgreSQL {seeded['server_version']}, {settings['rows']:,} contacts "
        f"(seed {settings['seed']}, {settings['days']} days{seeding}); gunicorn as deployed "
        f"({settings.get('web_workers', '-')} workers: {settings['web_concurrency']}), a Celery worker on Redis at "
        f"nice 10; wrk {settings['connections']} connections, {settings['wrk_threads']} threads, "
        f"{settings['duration_s']} s a window on `{settings['list_path']}`. Whole run {report['elapsed_s']:,} s.",
    ]
    part = report.get("list_under_exports")
    if part:
        windows = [("idle", part["idle"]), ("under the exports", part["under_exports"])]
        windows.append(("idle again, after them", part["idle_after"]))
        lines += [
            "",
            f"The list while {len(part['jobs'])} export jobs run at once (worker concurrency "
            f"{part['worker']['concurrency']}); CPU seconds in each window: the service's gunicorn, PostgreSQL "
            "(the bench database's processes), the worker, wrk, and the rest of the machine (other sessions).",
            "",
            "| window | rps | p50 / p90 / p99 ms | non-2xx, socket errors | CPU s: service / database / worker / wrk "
            "/ other | machine busy |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, window in windows:
            lines.append(
                f"| {name} | {_num(window['rps'])} | {_num(window['p50_ms'])} / {_num(window['p90_ms'])} / "
                f"{_num(window['p99_ms'])} | {window['non2xx']}, {window['socket_errors']} | "
                f"{window['service_cpu_s']} / {window['database_cpu_s']} / {window['worker_cpu_s']} / "
                f"{window['wrk_cpu_s']} / {window['other_cpu_s']} | {window['machine_busy_share']:.0%} |"
            )
        throughout = "yes" if part["jobs_running_throughout_window"] else "no: one ended before the window did"
        lines += [
            "",
            f"Under the exports: {part['throughput_ratio']:.2f}x the idle requests/s (target ≥ 0.5x: "
            f"{_met(part['throughput_ratio'] >= 0.5)}), p50 {part['p50_ratio']:.2f}x the idle p50 (target < 2x: "
            f"{_met(part['p50_ratio'] < 2)}); against the idle window after them: "
            f"{part['under_exports']['rps'] / part['idle_after']['rps']:.2f}x the requests/s, p50 "
            f"{part['under_exports']['p50_ms'] / part['idle_after']['p50_ms']:.2f}x. Every job still running when "
            f"the window ended: {throughout}. The "
            f"{len(part['jobs'])} jobs, from the first POST to the last one finished: "
            f"{part['jobs_first_post_to_last_finished_s']:,.1f} s; all succeeded: "
            f"{'yes' if part['jobs_all_succeeded'] else 'no'}.",
            "",
            "| job | filters | status | rows | from its POST to finished, s | worker's duration, s |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for job in part["jobs"]:
            filters = ", ".join(f"{key}={value}" for key, value in job["filters"].items())
            lines.append(
                f"| {job['id']} | {filters} | {job['status']} | {job['rows_written']:,} | "
                f"{_num(job['post_to_finished_s'])} | {_num(job['duration_ms'] / 1000)} |"
            )
    million = report.get("million")
    if million:
        job, bare = million["job"], million["bare"]
        peak = million["pool_process_peak_rss_mib"]
        lines += [
            "",
            f"One export job of every row ({job['rows_written']:,}) on a fresh worker of concurrency 1, against "
            f"`{bare['command']}` on the same database:",
            "",
            "| measure | seconds | vs bare | peak RSS MiB |",
            "| --- | --- | --- | --- |",
            f"| the job, from its POST to its record finished (status {job['status']}) | "
            f"{_num(job['post_to_finished_s'])} | {million['post_to_finished_vs_bare']:.2f}x | "
            f"{_num(peak, 0)} (its pool process) |",
            f"| the job, the worker's own duration (started_at → finished_at: "
            f"{_num(job['record_started_to_finished_s'])} s) | {_num(job['duration_ms'] / 1000)} | "
            f"{million['worker_duration_vs_bare']:.2f}x | - |",
            f"| the bare write-only loop (rows read beforehand, not timed) | {_num(bare['seconds'])} | 1.00x | "
            f"{_num(bare['peak_rss_mib'], 0)} |",
            "",
            f"Targets: ≤ 1.3x the bare loop: {_met(million['post_to_finished_vs_bare'] <= 1.3)} from the POST, "
            f"{_met(million['worker_duration_vs_bare'] <= 1.3)} on the worker's duration; the pool process under "
            f"150 MiB: {_met(peak < 150)} ({_num(peak, 0)} MiB at its peak, "
            f"{_num(million.get('pool_process_rss_before_mib'), 0)} MiB before the job; the worker's main process "
            f"{_num(million['worker_main_process_peak_rss_mib'], 0)} MiB).",
        ]
    return "\n".join(lines) + "\n"


def bulk_markdown(report: dict) -> str:
    """A run of bench/bulk_bench.py: single and bulk creates from concurrent clients, and the checks after."""
    settings = report["settings"]
    dirty = " (with uncommitted changes)" if report.get("dirty") else ""
    lines = [
        f"Creates of `{report['commit']}`{dirty} ({report['subject']}), measured {report['date']} on "
        f"{report['machine']['cpus']} cores; PostgreSQL {report['database']['server_version']}, "
        f"{settings['rows']:,} contacts seeded first; gunicorn as deployed ({settings.get('web_workers', '-')} "
        f"workers); {settings['clients']} client threads, {settings['duration_s']} s a size, a bot of "
        f"{settings['accounts']} accounts. Command: `{report['command']}`. Whole run {report['elapsed_s']:,} s.",
        "",
        "| contacts a request | requests/s | contacts/s | p50 / p90 / p99 ms | non-201, socket errors | deadlocks "
        "| rows created = 201s x size | tally = COUNT | CPU s: service / PostgreSQL / clients / other | "
        "machine busy |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size in report["sizes"]:
        cpu = size["cpu_s"]
        created = "yes" if size["rows_created"] == size["rows_expected"] else "NO"
        tally = f"yes ({size['tally_groups']} groups)" if not size["tally_mismatches"] else "NO"
        lines.append(
            f"| {size['size']:,} | {_num(size['requests'] / size['seconds'])} | {_num(size['contacts_per_s'])} | "
            f"{_num(size['p50_ms'])} / {_num(size['p90_ms'])} / {_num(size['p99_ms'])} | {size['non_201']}, "
            f"{size['socket_errors']} | {size['deadlocks']} | {created} ({size['rows_created']:,}) | {tally} | "
            f"{cpu['service']} / {cpu['database']} / {cpu['clients']} / {cpu['other']} | "
            f"{size['machine_busy_share']:.0%} |"
        )
    lines += ["", f"Every check held: {'yes' if report['all_exact'] else 'NO'}."]
    return "\n".join(lines) + "\n"


def import_markdown(report: dict) -> str:
    """A run of bench/import_bench.py: each import's time, rate and phases."""
    lines = [
        f"Import of {report['rows']:,} rows on {report['database']}, commit `{report['commit']}`"
        f"{' (with uncommitted changes)' if report.get('dirty') else ''}, {report['date']}",
        f"({report['machine']}; {report['note']}). Tallies exact afterwards: {report['tallies_exact']}.",
        "",
        "| import | rows | file MB | seconds | rows/s | read / check / write s | statistics refresh s |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for result in report["results"]:
        done_at = result["phases_done_at"]
        read, check = done_at.get("read", 0), done_at.get("check", 0)
        write = done_at.get("write", check)
        phases = f"{read:.1f} / {check - read:.1f} / {write - check:.1f}"
        lines.append(
            f"| {result['import']} | {result['rows']:,} | {result['file_bytes'] / 1024**2:.1f} | {result['seconds']} "
            f"| {result['rows_per_second']:,} | {phases} | {result['statistics_refresh_seconds']} |"
        )
    return "\n".join(lines)


def full_markdown(report: dict) -> str:
    """The whole run: its summary and tables, then the query plans (an A/B run: its one table; a jobs run
    of bench/jobs_bench.py: its tables)."""
    title = result_path(report).stem
    if report.get("kind") == "ab":
        return f"# Benchmark {title}\n\n{ab_markdown(report)}"
    if report.get("kind") == "jobs":
        return f"# Benchmark {title}\n\n{jobs_markdown(report)}"
    if report.get("kind") == "bulk":
        return f"# Benchmark {title}\n\n{bulk_markdown(report)}"
    if report.get("kind") == "import":
        return f"# Benchmark {title}\n\n{import_markdown(report)}\n"
    return f"# Benchmark {title}\n\n{markdown(report)}\n## Query plans\n\n{explain_markdown(report)}\n"


def fill_readme(report: dict, section: str) -> Path:
    """Put the run's tables (and plans, where the README has their markers) into bench/README.md's `section`."""
    source = result_path(report).relative_to(BENCH_DIR.parent)
    text = README.read_text(encoding="utf-8")
    intro = f"Source: `{source}` (`python bench/report.py {source}` renders all of it)."
    text = replace_section(text, section, f"{intro}\n\n{markdown(report)}")
    if f"<!-- bench:{section}-explain:start -->" in text:
        text = replace_section(text, f"{section}-explain", explain_markdown(report))
    README.write_text(text, encoding="utf-8")
    return README


def compare_markdown(before: dict, after: dict) -> str:
    """Before and after side by side: single-request p50 and the share of the ceiling under load."""
    lines = [
        f"Before: `{before['commit']}` ({before['date'][:10]}); after: `{after['commit']}` ({after['date'][:10]}); "
        f"{after['settings']['rows']:,} contacts, same harness. Under load: requests/s as a share of the ceiling "
        "measured in the same run; single: p50 of sequential requests.",
        "",
    ]
    backends = [backend for backend in after["backends"] if backend in before["backends"]]
    header = ["case"]
    for backend in backends:
        title = BACKEND_TITLES.get(backend, backend)
        header += [f"{title} single ms before → after", f"{title} % of ceiling before → after"]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for case in after["backends"][backends[0]]["cases"]:
        row = [case["label"]]
        for backend in backends:
            old = next((c for c in before["backends"][backend]["cases"] if c["name"] == case["name"]), None)
            new = next((c for c in after["backends"][backend]["cases"] if c["name"] == case["name"]), None)
            if old is None or new is None:
                row += ["-", "-"]
                continue
            row += [
                f"{_num(old['single_p50_ms'])} → {_num(new['single_p50_ms'])}",
                f"{_pct(old['ratio'])} → {_pct(new['ratio'])}",
            ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", type=Path, help="a run's JSON, e.g. bench/results/2026-11-28_72118fe.json")
    parser.add_argument("--output", type=Path, help="write the Markdown to this file instead of stdout")
    parser.add_argument("--readme-section", help="fill these markers of bench/README.md instead (latest, before)")
    parser.add_argument("--compare-with", type=Path, help="a 'before' result: fill the README's compare section")
    options = parser.parse_args(argv)
    report = json.loads(options.result.read_text(encoding="utf-8"))
    if options.compare_with:
        before = json.loads(options.compare_with.read_text(encoding="utf-8"))
        README.write_text(
            replace_section(README.read_text(encoding="utf-8"), "compare", compare_markdown(before, report)),
            encoding="utf-8",
        )
        print(README)
    elif options.readme_section:
        print(fill_readme(report, options.readme_section))
    elif options.output:
        options.output.write_text(full_markdown(report), encoding="utf-8")
        print(options.output)
    else:
        print(full_markdown(report), end="")


if __name__ == "__main__":
    main()
