"""`manage.py bench`: the performance benchmark (README, "Performance").

For the configured database vendor (SQLite by default; PostgreSQL when DATABASE_URL points at
one), for each scale: a fresh benchmark database next to the configured one, `migrate`,
`seed_bench --scale N`, then a measuring process on it (service calls beside their floors,
then the pages under gunicorn). Each database and scale runs in its own process, with
DEBUG off, as in production. The table goes to the terminal and, with the figures, to
var/bench/bench-<vendor>.json and .md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from eventplanner.benchmark import live, load, operations, report

DATABASE_PREFIX = "eventplanner_bench_scale"


class Command(BaseCommand):
    help = "Benchmark the services against the SQL floor, the pages under load, and growth."

    def add_arguments(self, parser):
        parser.add_argument("--scales", default="1,10", help="Comma-separated (default 1,10).")
        parser.add_argument("--seconds", type=int, default=10, help="Load per page (default 10).")
        parser.add_argument("--out", default=str(Path(settings.VAR_DIR) / "bench"))
        parser.add_argument("--no-http", action="store_true", help="Skip the pages.")
        parser.add_argument(
            "--reuse", action="store_true", help="Reuse benchmark databases already seeded."
        )
        parser.add_argument("--budget", type=float, default=1.0, help="Seconds per read.")
        parser.add_argument(
            "--only",
            default="",
            help="Comma-separated parts of operation or page names to measure, e.g. "
            "'dashboard,get_production_progress'; the rest is left out (for measuring one "
            "change; the README table comes from a full run).",
        )
        # Used by the command itself for each database and scale.
        parser.add_argument("--measure", type=float, help="(internal) measure scale N here")
        parser.add_argument("--json", help="(internal) where --measure writes its figures")

    def handle(self, *args, **options) -> None:
        if options["measure"] is not None:
            self._measure(options)
        else:
            self._run(options)

    # -----------------------------------------------------------------------------------
    # The measuring process: this database, one scale
    # -----------------------------------------------------------------------------------

    def _measure(self, options: dict[str, Any]) -> None:
        if settings.DEBUG:
            raise CommandError("Measure with DEBUG off (the query log would skew the figures).")
        scale = options["measure"]
        only = _only(options["only"])
        ctx = operations.make_context(connection)
        self.stderr.write(f"  scale {scale:g}: reads")
        results = operations.measure_reads(ctx, budget=options["budget"], only=only)
        if scale == 1:
            self.stderr.write("  scale 1: writes")
            writes = (
                ("set_production_target", operations.measure_set_production_target),
                ("update_fulfillment_status", operations.measure_update_fulfillment_status),
                ("bulk_update_fulfillment_status", operations.measure_bulk_update),
            )
            for name, measure in writes:
                if operations.selected(name, only):
                    measured = measure(ctx)
                    results += measured if isinstance(measured, list) else [measured]
        pages: list[load.PageResult] = []
        open_pages: list[dict[str, Any]] = []
        if not options["no_http"]:
            self.stderr.write(f"  scale {scale:g}: pages ({load.load_tool()})")
            cookie = load.session_cookie(connection)
            env = load.server_env(_current_database_url())
            pages = load.measure_pages(
                env, cookie, ctx.large, seconds=options["seconds"], only=only
            )
            self.stderr.write(f"  scale {scale:g}: live pages")
            conditional, open_pages = live.measure(
                env, cookie, ctx.large, seconds=options["seconds"], only=only
            )
            pages += conditional
        figures = {
            "operations": [r.as_dict() for r in results],
            "problems": operations.check_constant_statements(results),
            "pages": [p.as_dict() for p in pages],
            "open_pages": open_pages,
        }
        Path(options["json"]).write_text(json.dumps(figures, indent=2))

    # -----------------------------------------------------------------------------------
    # The driver: a database per scale, each measured in its own process
    # -----------------------------------------------------------------------------------

    def _run(self, options: dict[str, Any]) -> None:
        vendor = connection.vendor
        if vendor not in ("sqlite", "postgresql"):
            raise CommandError(f"No benchmark for {vendor}.")
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        scales = [_scale(value) for value in options["scales"].split(",")]
        self.stdout.write(f"Benchmark on {vendor}, scales {', '.join(scales)}")
        self._collectstatic()
        runs: dict[str, Any] = {}
        for scale in scales:
            url = self._prepare_database(vendor, scale, out, reuse=options["reuse"])
            env = load.server_env(url)
            seed_seconds = self._seed(env, scale, reuse=options["reuse"])
            figures_path = out / f"{vendor}-scale{scale}.json"
            self.stdout.write(f"Measuring scale {scale}")
            self._manage(
                env,
                "bench",
                f"--measure={scale}",
                f"--json={figures_path}",
                f"--seconds={options['seconds']}",
                f"--budget={options['budget']}",
                f"--only={options['only']}",
                *(["--no-http"] if options["no_http"] else []),
            )
            runs[scale] = {"seed_seconds": seed_seconds, **json.loads(figures_path.read_text())}

        result = {
            "vendor": vendor,
            "date": timezone.localdate().isoformat(),
            "machine": report.machine(connection),
            "load_tool": load.load_tool(),
            "seconds": options["seconds"],
            "scales": runs,
        }
        if len(scales) > 1:
            result["growth"] = report.growth(runs[scales[0]], runs[scales[-1]])
        result["missed"] = report.missed_targets(result)
        (out / f"bench-{vendor}.json").write_text(json.dumps(result, indent=2))
        table = report.render(result)
        (out / f"bench-{vendor}.md").write_text(table)
        self.stdout.write("")
        self.stdout.write(table)
        self.stdout.write(f"Written to {out / f'bench-{vendor}.json'} and .md")

    def _manage(self, env: dict[str, str], *arguments: str) -> None:
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *arguments]
        completed = subprocess.run(command, env=env, cwd=settings.BASE_DIR)
        if completed.returncode:
            raise CommandError(f"{' '.join(arguments[:1])} failed ({completed.returncode}).")

    def _collectstatic(self) -> None:
        # With DEBUG off the pages need the manifest of the collected static files.
        env = load.server_env(_current_database_url())
        self._manage(env, "collectstatic", "--noinput", "-v0")

    def _seed(self, env: dict[str, str], scale: str, *, reuse: bool) -> float:
        started = time.perf_counter()
        self._manage(env, "migrate", "--noinput", "-v0")
        if reuse and self._seeded(env):
            self.stdout.write(f"Reusing the seeded database for scale {scale}")
            return 0.0
        self._manage(env, "seed_bench", f"--scale={scale}")
        return time.perf_counter() - started

    def _seeded(self, env: dict[str, str]) -> bool:
        probe = "from planning.models import Event; print(Event.objects.exists())"
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "shell", "-v0", "-c"]
        output = subprocess.run(
            [*command, probe], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True
        )
        return output.stdout.strip() == "True"

    def _prepare_database(self, vendor: str, scale: str, out: Path, *, reuse: bool) -> str:
        if vendor == "sqlite":
            path = (out / f"sqlite-scale{scale}.sqlite3").resolve()
            if not reuse:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            return f"sqlite:///{path}"
        name = f"{DATABASE_PREFIX}{scale.replace('.', '_')}"
        if not reuse:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
                cursor.execute(f'CREATE DATABASE "{name}"')
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(_current_database_url())
        return urlunsplit(parts._replace(path=f"/{name}"))


def _only(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _scale(value: str) -> str:
    try:
        number = float(value)
    except ValueError as error:
        raise CommandError(f"Not a scale: {value!r}") from error
    return f"{number:g}"


def _current_database_url() -> str:
    import os

    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{Path(settings.DATABASES['default']['NAME']).resolve()}"
