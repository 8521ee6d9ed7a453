"""manage.py export_event <id> [--output FILE]: one event and everything it needs, as JSON."""

import json

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from planning.transfer import export_event


class Command(BaseCommand):
    help = (
        "Export an event with its targets, runs, assignments and status history, and the "
        "recipes, finished goods, packages and recipients they use, as JSON (stdout or a file)."
    )

    def add_arguments(self, parser):
        parser.add_argument("event_id", type=int)
        parser.add_argument("--output", "-o", help="write to this file instead of stdout")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, event_id: int, output: str | None, database: str, **options):
        try:
            # One transaction: a consistent snapshot even while the app keeps writing.
            with transaction.atomic(using=database):
                data = export_event(event_id, connection=connections[database])
        except ObjectDoesNotExist as error:
            raise CommandError(f"Event {event_id} does not exist.") from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text)
            self.stderr.write(f"Exported {data['event']['name']} to {output}.")
        else:
            self.stdout.write(text, ending="")
