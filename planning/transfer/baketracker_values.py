"""Values of a bake-tracker file, each checked where it is: a fault names its place in the
file (`events[1].event_date`), and what the report says about the file is gathered in a
`Season`."""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime

from eventplanner.limits import LONG_TEXT, Whole, text_problem
from planning.transfer.mapping import Document

T = TypeVar("T")

MAX_ROWS = 10_000  # rows in any one list of the file


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
    """A name, or the name of something the file lists: not blank, one line."""
    return _clean(row.get(key), f"{where}.{key}", max_length or LONG_TEXT, name=True)


def note(row: dict, key: str, where: str, max_length: int = LONG_TEXT) -> str:
    """Optional text: bake-tracker leaves empty fields out rather than writing null."""
    value = row.get(key)
    if value is None:
        return ""
    return _clean(value, f"{where}.{key}", max_length)


def _clean(value: object, where: str, max_length: int, name: bool = False) -> str:
    problem = text_problem(value, max_length, name=name)
    if problem is not None:
        raise fault(where, f"{problem}.")
    assert isinstance(value, str)
    return value


def whole(row: dict, key: str, where: str, limit: Whole) -> int:
    """A whole number within the limit its form sets, given as an int or as a float without
    a fraction (6.0)."""
    value = row.get(key)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    problem = limit.problem(value)
    if problem is not None:
        raise fault(f"{where}.{key}", f"{problem}.")
    assert isinstance(value, int)  # what limit.problem() finds no fault with
    return value


def _parsed(row: dict, key: str, where: str, parse: Callable[[str], T | None], what: str) -> T:
    """`row[key]` read by `parse`, or a fault naming the place and the form it must have."""
    value = row.get(key)
    try:
        parsed = parse(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise fault(f"{where}.{key}", f"must be {what} (got {value!r}).")
    return parsed


def day(row: dict, key: str, where: str) -> datetime.date:
    return _parsed(row, key, where, parse_date, "a date written YYYY-MM-DD")


def moment(row: dict, key: str, where: str) -> datetime.datetime:
    """A run's time. Bake-tracker stores UTC without a zone and exports it with a Z."""
    parsed = _parsed(row, key, where, parse_datetime, "a date and time")
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
