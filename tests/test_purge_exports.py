"""`manage.py purge_exports [--days N] [--dry-run]`: old exports and scratch leftovers go, nothing else."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from export_support import exports_folder, folder_names

from contacts.models import ContactExport

DAY = 86400
OLD = "contacts_export_20240101_090000_0000000a.xlsx"
OLDER = "contacts_export_20231201_090000_0000000b.xlsx"
RECENT = "contacts_export_20240301_090000_0000000c.xlsx"
STALE_SCRATCH = f".{OLD.replace('0a.', '0d.')}.abcd_123.tmp"
FRESH_SCRATCH = f".{OLD.replace('0a.', '0e.')}.k9x8y7z6.tmp"
REPO = Path(__file__).resolve().parent.parent


def place(name: str, *, age_days: float, size: int = 100) -> Path:
    path = exports_folder() / name
    path.write_bytes(b"x" * size)
    moment = time.time() - age_days * DAY
    os.utime(path, (moment, moment))
    return path


@pytest.fixture
def folder(db, tmp_path) -> Path:
    """An exports folder with old and recent exports, scratch leftovers, and files that are not ours."""
    exports_folder().mkdir(parents=True)
    place(OLD, age_days=8, size=1000)
    place(OLDER, age_days=30, size=2000)
    place(RECENT, age_days=2, size=3000)
    place(STALE_SCRATCH, age_days=1.5, size=400)
    place(FRESH_SCRATCH, age_days=0.1, size=500)
    for other in ("notes.txt", "contacts_export_old.xlsx", "contacts_export_20240101_090000_0000000a.xlsx.bak"):
        place(other, age_days=90)
    (exports_folder() / "contacts_export_20240101_090000_0000000f.xlsx").mkdir()
    nested = exports_folder() / "archive"
    nested.mkdir()
    (nested / "contacts_export_20230101_090000_00000001.xlsx").write_bytes(b"kept")
    os.utime(nested / "contacts_export_20230101_090000_00000001.xlsx", (0, 0))
    outside = tmp_path / "outside.xlsx"
    outside.write_bytes(b"outside")
    os.utime(outside, (0, 0))
    os.symlink(outside, exports_folder() / "contacts_export_20220101_090000_00000002.xlsx")
    for name, status in ((OLD, "succeeded"), (OLDER, "succeeded"), (RECENT, "succeeded")):
        ContactExport.objects.create(username="boss", filename=name, status=status)
    ContactExport.objects.create(username="boss", filename=STALE_SCRATCH[1:].split(".xlsx")[0] + ".xlsx")
    ContactExport.objects.create(username="boss", filename=FRESH_SCRATCH[1:].split(".xlsx")[0] + ".xlsx")
    return exports_folder()


def purge(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_exports", *args, stdout=out)
    return out.getvalue()


UNTOUCHED = sorted(
    [
        RECENT,
        FRESH_SCRATCH,
        "notes.txt",
        "contacts_export_old.xlsx",
        "contacts_export_20240101_090000_0000000a.xlsx.bak",
        "contacts_export_20240101_090000_0000000f.xlsx",
        "archive",
        "contacts_export_20220101_090000_00000002.xlsx",
    ]
)


def test_old_exports_and_stale_scratch_files_are_removed_and_reported(folder, tmp_path):
    """Exports past 7 days and scratch files past a day go; each is printed with the bytes freed."""
    output = purge()
    assert output.splitlines() == [
        f"removed {STALE_SCRATCH} (scratch file of an interrupted export): 400 bytes",
        f"removed {OLDER}: 2000 bytes",
        f"removed {OLD}: 1000 bytes",
        "Removed 3 files, freed 3400 bytes.",
    ]
    assert folder_names() == UNTOUCHED
    assert (tmp_path / "outside.xlsx").read_bytes() == b"outside"
    assert (folder / "archive" / "contacts_export_20230101_090000_00000001.xlsx").exists()


def test_history_rows_of_removed_files_are_marked(folder):
    """Purged exports get purged_at; an export whose scratch file was left is recorded as interrupted."""
    before = timezone.now()
    purge()
    records = {record.filename: record for record in ContactExport.objects.all()}
    assert records[OLD].purged_at >= before
    assert records[OLDER].purged_at >= before
    assert records[RECENT].purged_at is None
    interrupted = records[STALE_SCRATCH[1:].split(".xlsx")[0] + ".xlsx"]
    assert (interrupted.status, interrupted.error) == ("failed", "导出中断:临时文件已由清理命令删除")
    assert interrupted.purged_at >= before
    running = records[FRESH_SCRATCH[1:].split(".xlsx")[0] + ".xlsx"]
    assert (running.status, running.purged_at) == ("running", None)


def test_a_dry_run_prints_the_same_and_changes_nothing(folder):
    """--dry-run lists what would go and the bytes, and leaves every file and history row alone."""
    names_before = folder_names()
    output = purge("--dry-run")
    assert output.splitlines() == [
        f"would remove {STALE_SCRATCH} (scratch file of an interrupted export): 400 bytes",
        f"would remove {OLDER}: 2000 bytes",
        f"would remove {OLD}: 1000 bytes",
        "Dry run: 3 files would be removed, freeing 3400 bytes.",
    ]
    assert folder_names() == names_before
    assert not ContactExport.objects.filter(purged_at__isnull=False).exists()
    assert not ContactExport.objects.filter(status="failed").exists()


def test_days_sets_the_age_of_exports_to_remove(folder):
    """--days 10 keeps the 8-day-old export and removes the 30-day-old one."""
    purge("--days", "10")
    assert OLD in folder_names()
    assert OLDER not in folder_names()


def test_days_zero_removes_every_export_but_not_a_running_exports_scratch(folder):
    """Even --days 0 leaves scratch files younger than a day: an export may be writing them now."""
    purge("--days", "0")
    assert RECENT not in folder_names()
    assert FRESH_SCRATCH in folder_names()


def test_the_default_age_is_export_retention_days(folder, settings):
    """Without --days, EXPORT_RETENTION_DAYS decides."""
    settings.EXPORT_RETENTION_DAYS = 1
    purge()
    assert RECENT not in folder_names()


def test_no_exports_folder_is_nothing_to_do(db):
    """Before the first export the command succeeds and removes nothing."""
    assert purge() == "Removed 0 files, freed 0 bytes.\n"


@pytest.mark.parametrize("days", ["-1", "abc", "1.5", "", " ", "1e3", "9999999"])
def test_a_bad_days_is_a_clear_error(db, days):
    """--days must be a non-negative whole number: anything else stops with a message."""
    with pytest.raises(CommandError, match="--days: must be a non-negative whole number of days"):
        purge("--days", days)


@pytest.mark.parametrize("media_root", ["", "relative/media"])
def test_a_media_root_that_is_not_set_is_a_clear_error(db, settings, media_root):
    """Without an absolute MEDIA_ROOT the command refuses instead of purging somewhere else."""
    settings.MEDIA_ROOT = media_root
    with pytest.raises(CommandError, match="MEDIA_ROOT"):
        purge()


def test_a_negative_retention_setting_is_a_clear_error(db, settings):
    """EXPORT_RETENTION_DAYS=-1 is refused like --days -1."""
    settings.EXPORT_RETENTION_DAYS = -1
    with pytest.raises(CommandError, match="EXPORT_RETENTION_DAYS"):
        purge()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--days", "-3"], {}, "must be a non-negative whole number of days"),
        (["--days", "week"], {}, "week"),
        ([], {"EXPORT_RETENTION_DAYS": "-1"}, "EXPORT_RETENTION_DAYS"),
    ],
    ids=["negative-days", "words-for-days", "negative-retention"],
)
def test_errors_exit_non_zero_from_the_command_line(tmp_path, args, env, message):
    """Run as cron runs it: an error is on stderr and the exit status is not 0."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "boss_dp.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "purge_exports", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert message in result.stderr
