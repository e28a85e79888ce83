from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from contacts.imports.errors import ImportFileRefused
from contacts.imports.services import ImportReport, contacts_import

BAR_WIDTH = 30
STAGES = {"read": "读取", "check": "校验", "write": "写入"}


class ProgressBar:
    """One line redrawn in place on a terminal: the stage, a bar and the rows done of the rows in all."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.shown = ""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        label = STAGES.get(stage, stage)
        if total:
            filled = BAR_WIDTH * done // total
            line = f"{label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done * 100 // total:3d}% {done}/{total}"
        else:
            line = f"{label} {done} 行"
        if line != self.shown:
            self.out.write(f"\r{line}", ending="")
            self.out.flush()
            self.shown = line

    def close(self) -> None:
        if self.shown:
            self.out.write("", ending="\n")
            self.out.flush()


class Command(BaseCommand):
    help = (
        "Import contacts from an xlsx or csv laid out as the export writes it: rows with an ID update that "
        "contact, rows without one create a contact; every row or none is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the xlsx or csv file")
        parser.add_argument("--dry-run", action="store_true", help="check and report only: write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (on standard error)")

    def handle(self, *args, file: Path, dry_run: bool, no_progress: bool, **options) -> None:
        bar = None if no_progress else ProgressBar(self.stderr)
        try:
            with file.open("rb") as handle:
                report = contacts_import(file=handle, user=None, dry_run=dry_run, progress=bar)
        except OSError as error:
            raise CommandError(f"无法读取 {file}:{error.strerror}") from None
        except ImportFileRefused as refused:
            raise CommandError(refused.message) from None
        finally:
            if bar:
                bar.close()
        self.stdout.write(summary(report, dry_run=dry_run))
        if report.error_count:
            for error in report.as_dict()["errors"]:
                self.stdout.write(f"第 {error['row']} 行 {error['column']}:{error['msg']}")
            if report.error_count > len(report.as_dict()["errors"]):
                self.stdout.write(f"……共 {report.error_count} 处错误")
            raise CommandError(f"导入未执行:{report.error_count} 处错误,没有写入任何记录")


def summary(report: ImportReport, *, dry_run: bool) -> str:
    counts = f"新建 {report.created},更新 {report.updated},未变 {report.unchanged},错误 {report.error_count}"
    if report.error_count:
        return counts
    if dry_run:
        return f"试运行(没有写入):{counts}"
    refreshed = f";随后执行了 {report.statistics_refreshed}" if report.statistics_refreshed else ""
    return f"已导入:{counts}{refreshed}"
