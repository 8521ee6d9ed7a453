"""What an import does, per entity: found in the file, created, reused, skipped (with the
reason) and in conflict; plus what the file holds that is not carried over.

A dry run's report is made from the plan, a real run's from what the write did; the two
are equal for the same file and database (`ImportReport.outcome`), which is what makes a
dry run worth reading.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from planning.transfer.importing import EVENTS, ImportResult, Plan

LABELS = (
    "recipes",
    "finished goods",
    "packages",
    "recipients",
    "events",
    "production targets",
    "assembly targets",
    "production runs",
    "assembly runs",
    "assignments",
    "status changes",
)
NOTHING_TO_DO = "Nothing to import: everything in the file is already here."
DRY_RUN = "Dry run, nothing was written. Importing this file would do this:"
WRITTEN = "Imported:"
REFUSED = "Nothing can be imported until these conflicts are resolved:"


@dataclass(frozen=True)
class EntityCounts:
    label: str
    found: int
    created: int
    reused: int
    skipped: tuple[tuple[str, int], ...]  # (reason, rows)
    conflicts: int

    @property
    def skipped_count(self) -> int:
        return sum(n for _, n in self.skipped)


@dataclass(frozen=True)
class ImportReport:
    source: str  # what the file is, in a sentence
    written: bool
    entities: tuple[EntityCounts, ...]
    conflicts: tuple[str, ...]
    not_carried_over: tuple[tuple[str, int], ...]
    notes: tuple[str, ...]
    advice: str = ""  # what the user can do about the conflicts

    @property
    def changes(self) -> bool:
        return any(e.created for e in self.entities)

    def outcome(self) -> ImportReport:
        """The report without saying whether it was a dry run."""
        return replace(self, written=False)

    def lines(self) -> list[str]:
        lines = [self.source, WRITTEN if self.written else DRY_RUN]
        lines.append(
            f"  {'':<20}{'found':>7}{'created':>9}{'reused':>8}{'skipped':>9}{'conflicts':>11}"
        )
        for e in self.entities:
            lines.append(
                f"  {e.label:<20}{e.found:>7}{e.created:>9}{e.reused:>8}"
                f"{e.skipped_count:>9}{e.conflicts:>11}"
            )
        if not self.changes and not self.conflicts:
            lines.append(NOTHING_TO_DO)
        skipped = [(e.label, reason, n) for e in self.entities for reason, n in e.skipped]
        if skipped:
            lines.append("Skipped:")
            lines += [f"  {label}: {n} ({reason})" for label, reason, n in skipped]
        if self.conflicts:
            lines.append(REFUSED)
            lines += [f"  - {conflict}" for conflict in self.conflicts]
            if self.advice:
                lines.append(self.advice)
        if self.not_carried_over:
            lines.append("Not carried over (eventplanner has no place for them):")
            lines += [f"  {key}: {n}" for key, n in self.not_carried_over]
        if self.notes:
            lines.append("Notes:")
            lines += [f"  - {line}" for line in self.notes]
        return lines


def build_report(
    source: str,
    plan: Plan,
    found: dict[str, int],
    skipped: dict[str, Counter],
    not_carried_over: Counter,
    notes: list[str],
    result: ImportResult | None = None,
    advice: str = "",
) -> ImportReport:
    """From the plan, or when `result` is given, from what the write did."""
    if result is None:
        created, reused = plan.counts()
    else:
        created = {**result.created, EVENTS: len(result.events)}
        reused = {**result.reused, EVENTS: len(result.reused_events)}
    conflicts = Counter(getattr(c, "label", "") for c in plan.conflicts)
    entities = tuple(
        EntityCounts(
            label=label,
            found=found.get(label, 0),
            created=created.get(label, 0),
            reused=reused.get(label, 0),
            skipped=tuple(sorted(skipped.get(label, Counter()).items())),
            conflicts=conflicts[label],
        )
        for label in LABELS
    )
    return ImportReport(
        source=source,
        written=result is not None,
        entities=entities,
        conflicts=tuple(plan.conflicts),
        not_carried_over=tuple(sorted((k, n) for k, n in not_carried_over.items() if n)),
        notes=tuple(notes),
        advice=advice if plan.conflicts else "",
    )


def as_dict(report: ImportReport) -> dict[str, Any]:
    """The report for a template: rows of counts and the lists beside them."""
    return {
        "source": report.source,
        "written": report.written,
        "changes": report.changes,
        "entities": report.entities,
        "skipped": [(e.label, r, n) for e in report.entities for r, n in e.skipped],
        "conflicts": report.conflicts,
        "not_carried_over": report.not_carried_over,
        "notes": report.notes,
        "advice": report.advice,
    }
