"""Recipients that look alike: the model allows two with the same name, household, address
and notes, and they are two people.

A file of version 2 gives each recipient a stable key, and its recipients are all kept
apart; a file of version 1 has none, and its alike recipients are one person, as they were
when it was written, unless that person would then hold one package twice in the event:
then the file itself tells them apart, and they stay two.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from planning.transfer.mapping import RECIPIENTS, Row


def _values(row: Row) -> tuple:
    return tuple(row.values[f.name] for f in RECIPIENTS.fields)


def merge_alike_recipients(
    recipients: list[Row], assignments: list[dict[str, Any]]
) -> tuple[list[Row], list[dict[str, Any]]]:
    """A key-less file's recipients with alike ones merged into the first of them, and its
    assignments pointed at the one kept."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    for row in recipients:
        groups[_values(row)].append(row.key)
    packages: dict[str, list[str]] = defaultdict(list)
    for assignment in assignments:
        packages[assignment["recipient"]].append(assignment["package"])
    kept_as: dict[str, str] = {}
    for refs in groups.values():
        given = [package for ref in refs for package in packages[ref]]
        if len(given) == len(set(given)):  # no package twice: one person
            kept_as.update((ref, refs[0]) for ref in refs)
    merged = [row for row in recipients if kept_as.get(row.key, row.key) == row.key]
    pointed = [{**a, "recipient": kept_as.get(a["recipient"], a["recipient"])} for a in assignments]
    return merged, pointed


def stable_keys(recipients: Iterable[Any], alike_before: dict[int, int]) -> dict[Any, str]:
    """Each recipient's key: a digest of what it holds and its rank among the recipients
    here that hold the same (1 for the oldest), so an export of the same recipient always
    gives the same key, and a database the event was imported into gives the same keys."""
    keys = {}
    for recipient in recipients:
        digest = hashlib.sha256(
            "\x1f".join(getattr(recipient, f.name) for f in RECIPIENTS.fields).encode()
        ).hexdigest()[:12]
        keys[recipient] = f"{digest}-{alike_before[recipient.pk] + 1}"
    return keys


def alike_ranks(recipients: list[Any], alias: str) -> dict[int, int]:
    """For each recipient, how many older recipients here hold exactly the same values."""
    model = RECIPIENTS.model
    names = {r.name for r in recipients}
    fields = [f.name for f in RECIPIENTS.fields]
    seen: dict[tuple, int] = defaultdict(int)
    ranks = {}
    for pk, *values in (
        model._default_manager.using(alias)
        .filter(name__in=names)
        .order_by("pk")
        .values_list("pk", *fields)
    ):
        ranks[pk] = seen[tuple(values)]
        seen[tuple(values)] += 1
    return ranks
