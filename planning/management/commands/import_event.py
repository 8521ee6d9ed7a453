"""manage.py import_event FILE: recreate an exported event (all or nothing)."""

import json
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from planning.transfer import ImportResult, import_event


class Command(BaseCommand):
    help = (
        "Import an event exported with export_event into this database. Identical recipes, "
        "finished goods, packages and recipients are reused; any conflict (the event exists, "
        "a same-named item differs) refuses the whole import and lists the reasons."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON file, or - for stdin")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, file: str, database: str, **options):
        data = _read(file)
        try:
            with transaction.atomic(using=database):
                result = import_event(data, connection=connections[database])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write("\n".join(_report(result)))


def _read(file: str) -> Any:
    try:
        if file == "-":
            return json.load(sys.stdin)
        with open(file, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError, RecursionError) as error:
        # ValueError: not JSON, not UTF-8, or a number with more digits than Python reads;
        # RecursionError: thousands of nested brackets.
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise CommandError(f"Cannot read {file}: {reason}") from error


def _report(result: ImportResult) -> list[str]:
    if result.event is None:  # an event export creates its event or is refused
        raise CommandError("The file created no event.")
    created = ", ".join(f"{n} {kind}" for kind, n in result.created.items() if n)
    reused = ", ".join(f"{n} {kind}" for kind, n in result.reused.items() if n)
    lines = [f"Imported {result.event} as event {result.event.pk}: {created or 'nothing'}."]
    if reused:
        lines.append(f"Reused existing: {reused}.")
    if result.placeholder_users:
        users = ", ".join(result.placeholder_users)
        lines.append(f"Created inactive users without a password for the history: {users}.")
    return lines
