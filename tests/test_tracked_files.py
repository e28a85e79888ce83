"""No tracked file holds an absolute path of the machine it was written on: paths are relative to the repository."""

import os
import re
from pathlib import Path

import pytest
from repository import REPO, tracked_files

# Where machines keep checkouts, homes and scratch files; not system paths like /usr/bin or /proc, nor URL paths.
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|tmp|mnt|home/[\w.-]+|Users/[\w.-]+)(?=/|\b)")
# Spelled with ROOT so that this file passes its own check.
ROOT = "/"


def text_of(path: Path) -> str | None:
    """The file's text (a symbolic link's target), or None for a binary or missing file."""
    if path.is_symlink():
        return os.readlink(path)
    if not path.is_file():
        return None
    data = path.read_bytes()
    return None if b"\0" in data[:8192] else data.decode("utf-8", errors="replace")


@pytest.mark.parametrize(
    "text",
    [
        f"cd {ROOT}work/main && make test",
        f"--database-url sqlite:///{ROOT}tmp/bench_export.sqlite3",
        f'"app_dir": "{ROOT}work/bench-before"',
        f"{ROOT}home/alice/boss_dp/bench/data",
        f"{ROOT}root/.cache/ms-playwright",
        f"TMPDIR={ROOT}tmp",
        f"open {ROOT}Users/alice/boss_dp",
    ],
)
def test_the_pattern_finds_a_machine_path(text):
    """Checkouts, homes and scratch folders are found wherever they stand in a line."""
    assert MACHINE_PATH.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "GET /api/contacts/500001",
        "bench/data/tmp/export.sqlite3",
        "git worktree add ../bench-before 66a8ea1",
        "/usr/bin/chromium and /usr/lib/postgresql/15/bin",
        "17 3 * * * cd /srv/boss_dp && .venv/bin/python manage.py purge_exports",
        "notes/work/today and /workers/3",
        "/media/exports/contacts_export_20240301_103000_0a1b2c3d.xlsx",
    ],
)
def test_the_pattern_leaves_other_paths_alone(text):
    """URL paths, relative paths and the system's own folders are not a machine's paths."""
    assert not MACHINE_PATH.search(text)


def test_no_tracked_file_holds_an_absolute_path_of_a_machine():
    """Every tracked text file, bench results included, names files relative to the repository."""
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()[:160]}"
        for path in tracked_files()
        if (text := text_of(path)) is not None
        for number, line in enumerate(text.splitlines(), start=1)
        if MACHINE_PATH.search(line)
    ]
    assert found == [], "absolute paths in tracked files:\n" + "\n".join(found)
