"""The limits on what people may enter, defined once: the forms build their fields from them,
and both imports hold every imported value to them, so a file cannot bring in what the pages
would refuse (a recipe of 10 million cookies per batch, a target of 10^9 batches)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Model

from eventplanner.domain import is_whole_number


@dataclass(frozen=True)
class Whole:
    """A whole number from `minimum` to `maximum`, both included."""

    minimum: int
    maximum: int

    @property
    def too_large(self) -> str:
        """The form's words when the number typed is above the limit."""
        return f"That is more than {self.maximum:,}."

    def problem(self, value: Any) -> str | None:
        """Why `value` (as read from a file: any JSON value) is not such a number, or None."""
        if not is_whole_number(value) or value < self.minimum:
            return f"must be a whole number of at least {self.minimum} (got {_shown(value)})"
        if value > self.maximum:
            return f"must be at most {self.maximum:,} (got {value:,})"
        return None


# Batches and quantities of targets and runs, and a finished good's items per unit.
AMOUNT = Whole(1, 1_000_000)
# How many of a package an assignment gives, and how many of a finished good a package holds.
PACKED = Whole(1, 10_000)
# What a production run's batches really made; 0 is a failed bake.
ACTUAL_YIELD = Whole(0, 100_000_000)
YIELD_PER_BATCH = Whole(1, 100_000)
# The notes of targets, runs and assignments.
NOTES = 2_000
# Texts whose form sets no limit (descriptions, recipe, event and recipient notes, addresses)
# are still capped in an import: a file is not typed, and may hold anything.
LONG_TEXT = 10_000

# Control characters have no place in a name; in longer texts only tab and line breaks do.
# NUL cannot even be stored in PostgreSQL text.
_CONTROL_IN_NAME = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def max_length(model: type[Model], field: str) -> int | None:
    """The model column's length: the one definition its forms and the imports share."""
    return getattr(model._meta.get_field(field), "max_length", None)


def text_problem(value: Any, limit: int, *, name: bool = False) -> str | None:
    """Why `value` is not a text of at most `limit` characters (a `name`: not blank, one line),
    or None."""
    if not isinstance(value, str):
        return f"must be text (got {_shown(value)})"
    if name and not value.strip():
        return "must not be empty"
    if "\x00" in value:
        return "contains a NUL character"
    control = (_CONTROL_IN_NAME if name else _CONTROL_IN_TEXT).search(value)
    if control is not None:
        return f"contains the control character {control.group()!r}"
    if len(value) > limit:
        return f"is {len(value):,} characters long; at most {limit:,}"
    return None


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{shown[:37]}..."
