import argparse
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.exports.services import exports_purge


def _days(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,6}", text.strip()):
        raise argparse.ArgumentTypeError(f"must be a non-negative whole number of days (at most 999999), not {text!r}")
    return int(text)


class Command(BaseCommand):
    help = (
        "Remove contact exports older than --days days (default EXPORT_RETENTION_DAYS) and scratch "
        "files of interrupted exports older than a day, from <media root>/exports only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=_days, default=None, help="keep exports younger than N days")
        parser.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")

    def handle(self, *args, days: int | None, dry_run: bool, **options) -> None:
        if days is None:
            days = settings.EXPORT_RETENTION_DAYS
            if days < 0:
                raise CommandError(f"EXPORT_RETENTION_DAYS must be a non-negative number of days, not {days}")
        try:
            purged = exports_purge(days=days, dry_run=dry_run)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        verb = "would remove" if dry_run else "removed"
        for item in purged:
            kind = " (scratch file of an interrupted export)" if item.scratch else ""
            self.stdout.write(f"{verb} {item.name}{kind}: {item.size} bytes")
        freed = sum(item.size for item in purged)
        if dry_run:
            self.stdout.write(f"Dry run: {len(purged)} files would be removed, freeing {freed} bytes.")
        else:
            self.stdout.write(f"Removed {len(purged)} files, freed {freed} bytes.")
