"""manage.py seed_bench [--scale N]: the benchmark season (eventplanner/benchmark/seed.py)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, transaction

from eventplanner.benchmark.seed import analyze_seeded_tables, bench_shape, seed_season


class Command(BaseCommand):
    help = "Fill an empty database with the benchmark season (see README, Performance)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Multiply runs, assignments and recipients (1 or 10; fractions for tests).",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, scale: float, database: str, **options) -> None:
        started = time.perf_counter()
        try:
            shape = bench_shape(scale)
            with transaction.atomic(using=database):
                counts = seed_season(shape, alias=database)
        except ValueError as error:
            raise CommandError(str(error)) from error
        analyze_seeded_tables(database)
        elapsed = time.perf_counter() - started
        summary = ", ".join(f"{count:,} {name}" for name, count in counts.items())
        self.stdout.write(f"Benchmark season at scale {scale:g}: {summary}.")
        self.stdout.write(self.style.SUCCESS(f"Seeded in {elapsed:.1f} s."))
