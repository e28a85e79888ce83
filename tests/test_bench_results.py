"""The benchmark keeps one JSON per run that bench/README.md cites, and renders its Markdown on demand."""

import json
import re
import subprocess

import pytest
from repository import REPO, tracked_files
from served import PYTHON

RESULTS = REPO / "bench" / "results"
README = REPO / "bench" / "README.md"
CITED = sorted(set(re.findall(r"bench/results/([\w.-]+)", README.read_text(encoding="utf-8"))))


def test_the_tracked_results_are_the_json_of_the_runs_the_bench_readme_cites():
    """A run's JSON is committed when bench/README.md cites it; nothing else under bench/results/ is."""
    tracked = [path.relative_to(RESULTS) for path in tracked_files() if path.is_relative_to(RESULTS)]
    assert CITED, "bench/README.md cites no run"
    assert all(name.endswith(".json") for name in CITED), CITED
    assert sorted(str(path) for path in tracked) == CITED


@pytest.mark.parametrize("name", CITED)
def test_report_renders_a_cited_run_in_markdown(name: str):
    """`python bench/report.py RUN.json` prints the run's summary, its tables and its query plans; an A/B run
    (bench/ab.py), its table of variants; a jobs run (bench/jobs_bench.py), its windows and its jobs; a bulk
    run (bench/bulk_bench.py), its table of batch sizes; an import run (bench/import_bench.py), its imports."""
    result = RESULTS / name
    run = json.loads(result.read_text(encoding="utf-8"))
    printed = subprocess.run(
        [PYTHON, "bench/report.py", str(result.relative_to(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    if run.get("kind") == "ab":
        assert printed.startswith(f"# Benchmark {result.stem}\n\nA/B of `{run['commit']}` ({run['subject']})")
        for variant in run["variants"]:
            assert f"| {variant['name']} | `{variant['commit']}` |" in printed
        return
    if run.get("kind") == "bulk":
        assert printed.startswith(f"# Benchmark {result.stem}\n\nCreates of `{run['commit']}`")
        assert "| contacts a request | requests/s | contacts/s |" in printed
        return
    if run.get("kind") == "jobs":
        assert printed.startswith(f"# Benchmark {result.stem}\n\nExport jobs of `{run['commit']}`")
        assert "| window | rps | p50 / p90 / p99 ms |" in printed
        assert "| job | filters | status | rows |" in printed
        return
    if run.get("kind") == "import":
        assert printed.startswith(f"# Benchmark {result.stem}\n\nImport of {run['rows']:,} rows on {run['database']}")
        assert "| import | rows | file MB | seconds | rows/s | read / check / write s |" in printed
        return
    assert printed.startswith(f"# Benchmark {result.stem}\n\nCommit `{run['commit']}` ({run['subject']})")
    first_backend = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[next(iter(run["backends"]))]
    assert f"| case | matched rows | {first_backend} rps (% of ceiling) |" in printed
    assert f"## Query plans\n\nPlans of commit `{run['commit']}`" in printed
