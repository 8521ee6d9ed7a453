"""Values of a bake-tracker file, each checked where it is: a fault names its place in the
file (`events[1].event_date`), and what the report says about the file is gathered in a
`Season`."""

from __future__ import annotations

import datetime
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime

from eventplanner.domain import MAX_DB_INT
from planning.transfer.mapping import Document

MAX_ROWS = 10_000  # rows in any one list of the file
MAX_NOTE = 10_000  # characters in a note or description


def fault(where: str, message: str) -> ValidationError:
    return ValidationError(f"{where}: {message}", code="invalid")


@dataclass
class Season:
    """A bake-tracker file as eventplanner will see it, with what the report says about it."""

    document: Document
    found: dict[str, int]
    skipped: dict[str, Counter] = field(default_factory=dict)  # label -> reason -> rows
    not_carried_over: Counter = field(default_factory=Counter)  # key in the file -> rows
    notes: list[str] = field(default_factory=list)

    def skip(self, label: str, reason: str) -> None:
        self.skipped.setdefault(label, Counter())[reason] += 1


# ---------------------------------------------------------------------------------------
# Values, each checked where it is
# ---------------------------------------------------------------------------------------


def rows_of(data: dict, key: str) -> list[tuple[str, dict]]:
    """The rows of a list of the file, each with its place."""
    rows = data.get(key, [])
    if not isinstance(rows, list):
        raise fault(key, "must be a list.")
    if len(rows) > MAX_ROWS:
        raise fault(key, f"has {len(rows):,} rows; at most {MAX_ROWS:,} are read.")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise fault(f"{key}[{index}]", "must be an object.")
    return [(f"{key}[{index}]", row) for index, row in enumerate(rows)]


def text(row: dict, key: str, where: str, max_length: int | None = None) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise fault(f"{where}.{key}", "must be a non-empty text.")
    return _clean(value, f"{where}.{key}", max_length or MAX_NOTE)


def note(row: dict, key: str, where: str, max_length: int = MAX_NOTE) -> str:
    """Optional text: bake-tracker leaves empty fields out rather than writing null."""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fault(f"{where}.{key}", "must be text.")
    return _clean(value, f"{where}.{key}", max_length)


def _clean(value: str, where: str, max_length: int) -> str:
    if "\x00" in value:
        raise fault(where, "contains a NUL character.")
    if len(value) > max_length:
        raise fault(where, f"is {len(value):,} characters long; at most {max_length:,}.")
    return value


def whole(row: dict, key: str, where: str, minimum: int = 1) -> int:
    """A whole number, given as an int or as a float without a fraction (6.0)."""
    value = row.get(key)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise fault(f"{where}.{key}", f"must be a whole number of {minimum} or more.")
    if value > MAX_DB_INT:
        raise fault(f"{where}.{key}", f"must be at most {MAX_DB_INT:,} (got {value:,}).")
    return value


def day(row: dict, key: str, where: str) -> datetime.date:
    value = row.get(key)
    try:
        parsed = parse_date(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise fault(f"{where}.{key}", f"must be a date written YYYY-MM-DD (got {value!r}).")
    return parsed


def moment(row: dict, key: str, where: str) -> datetime.datetime:
    """A run's time. Bake-tracker stores UTC without a zone and exports it with a Z."""
    value = row.get(key)
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise fault(f"{where}.{key}", f"must be a date and time (got {value!r}).")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def max_length(model_field: str, model: Any) -> int:
    return model._meta.get_field(model_field).max_length


def unique(seen: dict[str, str], name: str, where: str, kind: str) -> None:
    # Bake-tracker does not keep these names unique; eventplanner does, ignoring case.
    if name.lower() in seen:
        raise fault(where, f"{kind} {name!r} is listed twice (also {seen[name.lower()]}).")
    seen[name.lower()] = where
