"""Import a season from a bake-tracker full export, with a dry run and a report.

The file is read into the same `Document` an event export is (baketracker_reading.py),
then goes through the same plan and write steps; the report says, per entity, what was
found, created, reused, skipped and in conflict, and what is not carried over. Same
contract as the services: keyword-only `connection`, the caller owns the transaction, and
a refused import (a conflict, a malformed file) writes nothing.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from eventplanner.domain import require_atomic
from planning.transfer.baketracker_reading import read_season
from planning.transfer.baketracker_values import Season
from planning.transfer.importing import Plan, plan_import, refuse_conflicts, write_import
from planning.transfer.keeping import KEEP_BOTH_ADVICE, keep_both_versions, renamable
from planning.transfer.report import ImportReport, build_report

APPLICATION = "bake-tracker"
SUPPORTED_VERSIONS = ("4.1",)
MAX_FILE_BYTES = 5 * 1024 * 1024
LIMITS = (
    f"at most {MAX_FILE_BYTES // (1024 * 1024)} MB, 10,000 rows in any one list, "
    "10,000 characters in a note"
)
TOO_LARGE = "The file is {size:.1f} MB; at most {limit} MB is read (" + LIMITS + ")."
NOT_UTF8 = "The file is not UTF-8 text (byte {position})."
NOT_JSON = "The file is not valid JSON: {error}."
TOO_DEEP = "The file is nested too deeply to be a bake-tracker export."
NOT_AN_EXPORT = 'This is not a bake-tracker export (expected "application": "bake-tracker").'
UNSUPPORTED = (
    "version: bake-tracker export version {version!r} is not supported; this reads full "
    "exports of version " + ", ".join(SUPPORTED_VERSIONS) + "."
)


def read_file(content: bytes) -> dict[str, Any]:
    """The file's JSON object, once its size, encoding, syntax and header are right."""
    if len(content) > MAX_FILE_BYTES:
        size = len(content) / (1024 * 1024)
        raise ValidationError(
            TOO_LARGE.format(size=size, limit=MAX_FILE_BYTES // (1024 * 1024)), code="too_large"
        )
    try:
        data = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValidationError(NOT_UTF8.format(position=error.start), code="invalid") from error
    except json.JSONDecodeError as error:
        raise ValidationError(NOT_JSON.format(error=error), code="invalid") from error
    except (RecursionError, ValueError) as error:
        # RecursionError: thousands of nested brackets; ValueError: a number with more
        # digits than Python converts.
        message = TOO_DEEP if isinstance(error, RecursionError) else NOT_JSON.format(error=error)
        raise ValidationError(message, code="invalid") from error
    if not isinstance(data, dict) or data.get("application") != APPLICATION:
        raise ValidationError(NOT_AN_EXPORT, code="invalid")
    if data.get("version") not in SUPPORTED_VERSIONS:
        raise ValidationError(UNSUPPORTED.format(version=data.get("version")), code="invalid")
    return data


def describe(data: dict[str, Any]) -> str:
    """The file in a sentence. `exported_at` is read leniently: bake-tracker writes an offset
    followed by a Z ("...+00:00Z"), and nothing depends on it."""
    value = data.get("exported_at")
    when = None
    if isinstance(value, str):
        text = value[:-1] if value.endswith("Z") and "+" in value[10:] else value
        try:
            when = parse_datetime(text)
        except ValueError:
            when = None
    if when is None:
        return f"bake-tracker export {data['version']} (export time unreadable, ignored)."
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC)
    return f"bake-tracker export {data['version']}, exported {when:%Y-%m-%d %H:%M} UTC."


def import_baketracker(
    content: bytes, *, write: bool, connection: BaseDatabaseWrapper, keep_both: bool = False
) -> ImportReport:
    """Plan the import of a bake-tracker export and, when `write`, carry it out.

    The whole plan is made from `content` on every call, so an import never acts on an
    earlier dry run's findings. With `write=False` nothing is written and conflicts are
    listed in the report; with `write=True` a conflict refuses the whole import
    (ImportConflict, nothing written). With `keep_both`, a recipe, finished good or package
    that differs from the one here of the same name is imported under a new name instead of
    refusing, and the report's notes say so. A malformed file is a ValidationError naming
    the place in the file.
    """
    require_atomic(connection, "import_baketracker")
    data = read_file(content)
    season = read_season(data, timezone.now())
    plan, notes = _plan(season, keep_both, connection.alias)
    advice = KEEP_BOTH_ADVICE if renamable(plan) else ""
    facts = (describe(data), plan, season.found, season.skipped, season.not_carried_over, notes)
    if not write:
        return build_report(*facts, advice=advice)
    refuse_conflicts(plan, advice)
    return build_report(*facts, write_import(plan, connection.alias))


def _plan(season: Season, keep_both: bool, alias: str) -> tuple[Plan, list[str]]:
    """The plan and the report's notes: with keep-both, those of the renamed document."""
    if not keep_both:
        return plan_import(season.document, alias), season.notes
    kept = keep_both_versions(season.document, alias, APPLICATION)
    return kept.plan, [*season.notes, *kept.notes()]
