"""manage.py import_baketracker FILE [--dry-run] [--keep-both]: a season from a bake-tracker
export."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from planning.transfer import import_baketracker
from planning.transfer.baketracker import LIMITS, MAX_FILE_BYTES


class Command(BaseCommand):
    help = (
        "Import a bake-tracker full export (version 4.1): recipes, finished goods, packages, "
        "recipients, events with their targets, runs and assignments. All or nothing; "
        "identical items already here are reused, differing ones refuse the import (or, with "
        "--keep-both, are imported under a new name). "
        f"Limits: {LIMITS}."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the exported JSON file")
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be imported, write nothing"
        )
        parser.add_argument(
            "--keep-both",
            action="store_true",
            help="import a recipe, finished good or package that differs from the one here of "
            "the same name as a new one, named '<name> (from bake-tracker)'",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, file: str, dry_run: bool, keep_both: bool, database: str, **options):
        try:
            with open(file, "rb") as handle:
                # One byte more than the limit is enough to know the file is too large.
                content = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        try:
            with transaction.atomic(using=database):
                report = import_baketracker(
                    content,
                    write=not dry_run,
                    keep_both=keep_both,
                    connection=connections[database],
                )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write("\n".join(report.lines()))
        if report.conflicts:
            raise CommandError(f"{len(report.conflicts)} conflicts: nothing would be imported.")
