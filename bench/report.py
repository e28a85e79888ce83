"""Turn one benchmark run into bench/results/<date>_<commit>.json and .md, and README sections.

`python bench/report.py RESULT.json [--readme-section NAME]` re-renders a stored result;
`python bench/report.py AFTER.json --compare-with BEFORE.json` fills the README's before/after table.
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
        f"{report['machine']['cpus']} cores; {settings['rows']:,} contacts (seed {settings['seed']}); "
        f"wrk {settings['connections']} connections, {settings['wrk_threads']} threads, {settings['duration_s']} s "
        f"a case; single = p50 of {settings['samples']} sequential requests; login throttle raised to "
        f"{settings['login_rate']} (LOGIN_RATE_PER_ADDRESS / LOGIN_RATE_PER_USERNAME). "
        f"Seeding (`seed_contacts --count {settings['rows']}`): {seeds}. Whole run {report['elapsed_s']:,} s."
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


def write_reports(report: dict, *, readme_section: str) -> list[Path]:
    RESULTS_DIR.mkdir(exist_ok=True)
    day = report["date"][:10]
    dirty = "-dirty" if report.get("dirty") else ""
    quick = "-quick" if report["settings"]["quick"] else ""
    stem = f"{day}_{report['commit']}{dirty}{quick}"
    json_path = RESULTS_DIR / f"{stem}.json"
    md_path = RESULTS_DIR / f"{stem}.md"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(f"# Benchmark {stem}\n\n{markdown(report)}\n## Query plans\n\n{explain_markdown(report)}\n")
    paths = [json_path, md_path]
    if readme_section != "none" and README.exists():
        text = README.read_text(encoding="utf-8")
        text = replace_section(text, readme_section, f"Source: `bench/results/{md_path.name}`.\n\n{markdown(report)}")
        if f"<!-- bench:{readme_section}-explain:start -->" in text:
            text = replace_section(text, f"{readme_section}-explain", explain_markdown(report))
        README.write_text(text, encoding="utf-8")
        paths.append(README)
    return paths


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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("result", type=Path)
    parser.add_argument("--readme-section", default="latest")
    parser.add_argument("--compare-with", type=Path, help="a 'before' result: fill the README's compare section")
    options = parser.parse_args()
    if options.compare_with:
        before = json.loads(options.compare_with.read_text(encoding="utf-8"))
        after = json.loads(options.result.read_text(encoding="utf-8"))
        README.write_text(
            replace_section(README.read_text(encoding="utf-8"), "compare", compare_markdown(before, after))
        )
        print(README)
        raise SystemExit(0)
    for written in write_reports(
        json.loads(options.result.read_text(encoding="utf-8")), readme_section=options.readme_section
    ):
        print(written)
