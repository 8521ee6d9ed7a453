"""Keep both: the file's catalog rows that differ from rows here of the same name are
imported under a new name, so neither version is lost and nothing different is merged.

A step on the `Document` between reading and planning. The plan finds the conflicts; each
recipe, finished good or package of the file in conflict is renamed "<name> (from
<source>)", then "(from <source> 2)", ..., and every reference to it in the file (components,
package items, targets, runs, assignments) follows the new name. Entities are renamed one
at a time in the catalog's dependency order, planning again after each: a renamed recipe
changes the components of the finished goods that name it, so a good here that matched
them before may now differ, while a good here that an earlier keep-both import made now
matches. A new name that is here with the same content is that earlier import's row and is
reused, so a repeat still changes nothing. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from eventplanner.domain import concrete_field
from planning.transfer.importing import Plan, Resolved, plan_import
from planning.transfer.mapping import PACKAGES, REF, Document, Entity, EventPart, EventRows

KEEP_BOTH_ADVICE = (
    "Re-run with --keep-both, or tick Keep both, to import the file's versions under new names."
)
RENAMED = (
    "{kind} {name!r} differs from the one here ({theirs} here, {ours} in the file); "
    "the file's is imported as {new!r}."
)
RENAMED_BEFORE = (
    "{kind} {name!r} differs from the one here ({theirs} here, {ours} in the file); "
    "the file's is {new!r}, already here from an earlier import."
)
# Read together as one figure: "36 cookies per batch".
YIELD = ("yield_per_batch", "yield_unit")


@dataclass(frozen=True)
class Renamed:
    """A row of the file kept under a new name, with both versions described."""

    entity: Entity
    original: str
    name: str
    attempt: int  # 1 for "(from <source>)", n for "(from <source> n)"
    theirs: str
    ours: str


@dataclass(frozen=True)
class KeptBoth:
    document: Document  # the file with the differing rows renamed
    plan: Plan  # the plan of that document: what the import does
    renamed: tuple[Renamed, ...]

    def notes(self) -> list[str]:
        """One line per renamed row, saying whether the import creates it or finds it here."""
        found = {resolved.entity.label: resolved.existing for resolved in self.plan.catalog}
        return [
            (RENAMED_BEFORE if r.name in found.get(r.entity.label, {}) else RENAMED).format(
                kind=r.entity.kind.capitalize(),
                name=r.original,
                theirs=r.theirs,
                ours=r.ours,
                new=r.name,
            )
            for r in self.renamed
        ]


def renamable(plan: Plan) -> bool:
    """Whether some conflict is a catalog row of the same name that differs."""
    return any(getattr(conflict, "key", "") for conflict in plan.conflicts)


def keep_both_versions(document: Document, alias: str, source: str) -> KeptBoth:
    """The document with every catalog row that differs from one here renamed, and its plan.
    Other conflicts (an event changed since an earlier import) stay in the plan."""
    renamed: dict[tuple[str, str], Renamed] = {}  # by label and the row's new name
    plan = plan_import(document, alias)
    while (differing := _first_differing(plan)) is not None:
        resolved, keys = differing
        entity = resolved.entity
        taken = {row.key.lower() for row in resolved.rows}
        names = {}
        for key in keys:
            previous = renamed.pop((entity.label, key), None) or _first_rename(
                resolved, key, plan, alias
            )
            name, attempt = _new_name(previous, source, taken)
            taken.add(name.lower())
            names[key] = name
            renamed[(entity.label, name)] = replace(previous, name=name, attempt=attempt)
        document = rename(document, entity, names)
        plan = plan_import(document, alias)
    return KeptBoth(document, plan, tuple(renamed.values()))


def _first_differing(plan: Plan) -> tuple[Resolved, list[str]] | None:
    """The first entity, in dependency order, with rows that differ from rows here, and the
    keys of those rows."""
    keys: dict[str, list[str]] = {}
    for conflict in plan.conflicts:
        if getattr(conflict, "key", ""):
            named = keys.setdefault(conflict.label, [])
            if conflict.key not in named:
                named.append(conflict.key)
    for resolved in plan.catalog:
        if resolved.entity.label in keys:
            return resolved, keys[resolved.entity.label]
    return None


def _new_name(previous: Renamed, source: str, taken: set[str]) -> tuple[str, int]:
    """The next name, after `previous.attempt`, that no other row of the file has (ignoring
    case, as the unique names do), cut to fit the column."""
    limit = concrete_field(previous.entity.model, previous.entity.key).max_length
    attempt = previous.attempt
    while True:
        attempt += 1
        suffix = f" (from {source})" if attempt == 1 else f" (from {source} {attempt})"
        name = previous.original[: None if limit is None else limit - len(suffix)].rstrip() + suffix
        if name.lower() not in taken:
            return name, attempt


def _first_rename(resolved: Resolved, key: str, plan: Plan, alias: str) -> Renamed:
    """A row about to be renamed for the first time, with the version here and the file's,
    on what differs."""
    entity, row, here = resolved.entity, resolved.wanted[key], resolved.existing[key]
    ours: dict[str, Any] = dict(row.values)
    theirs: dict[str, Any] = {name: getattr(here, name) for name in row.values}
    if entity.parts is not None:
        parts = entity.parts
        named = next(r.entity for r in plan.catalog if r.entity.label == parts.entity)
        ours[parts.source] = row.parts
        theirs[parts.source] = dict(
            parts.model._default_manager.using(alias)
            .filter(**{parts.owner: here})
            .values_list(f"{parts.part}__{named.key}", parts.amount)
        )
    differ = [name for name in ours if ours[name] != theirs[name]]
    return Renamed(entity, key, key, 0, _version(theirs, differ), _version(ours, differ))


def _version(values: dict[str, Any], differ: list[str]) -> str:
    shown = []
    if set(YIELD) & set(differ):
        shown.append(f"{values['yield_per_batch']} {values['yield_unit']} per batch".strip())
    for name in differ:
        value = values[name]
        if name in YIELD:
            continue
        if isinstance(value, dict):
            listed = ", ".join(f"{n} x {part!r}" for part, n in sorted(value.items()))
            shown.append(f"{name} {listed or 'none'}")
        else:
            shown.append(f"{name} {value!r}")
    return " and ".join(shown)


# ---------------------------------------------------------------------------------------
# Renaming a catalog row of the document and every reference to it
# ---------------------------------------------------------------------------------------


def rename(document: Document, entity: Entity, names: dict[str, str]) -> Document:
    """A copy of the document with `entity`'s rows renamed (old key -> new key) and every
    REF, component, package item and assignment naming them following."""

    def new(key: str) -> str:
        return names.get(key, key)

    catalog = []
    for other, rows in document.catalog:
        if other is entity:
            rows = [
                replace(row, key=new(row.key), values={**row.values, entity.key: new(row.key)})
                for row in rows
            ]
        elif other.parts is not None and other.parts.entity == entity.label:
            rows = [
                replace(row, parts={new(part): n for part, n in row.parts.items()}) for row in rows
            ]
        catalog.append((other, rows))
    events = [_renamed_event(part, entity, new) for part in document.events]
    return replace(document, catalog=catalog, events=events)


def _renamed_event(part: EventPart, entity: Entity, new) -> EventPart:
    event_rows = [
        (spec, [_renamed_refs(spec, row, entity, new) for row in rows])
        for spec, rows in part.event_rows
    ]
    assignments = part.assignments
    if entity is PACKAGES:  # assignments name their package by its key
        assignments = [{**row, "package": new(row["package"])} for row in assignments]
    return replace(part, event_rows=event_rows, assignments=assignments)


def _renamed_refs(spec: EventRows, row: dict[str, Any], entity: Entity, new) -> dict[str, Any]:
    refs = {
        f.name: new(row[f.name]) for f in spec.fields if f.kind == REF and f.entity == entity.label
    }
    return {**row, **refs}
