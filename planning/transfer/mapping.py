"""How each entity of an event travels between databases, declared once.

Catalog entities (recipes, finished goods, packages) are found in the other database by a
natural key: a row there with the same key is reused when it carries the same values and
child rows, refused as a conflict when it does not, and created when there is none.
Recipients have no natural key: one is reused when a row with all the same values exists
that no other recipient of the file took (two alike recipients are two people, alike.py).
The event's own rows (targets, runs) are always created and name catalog rows and users.

The plan and write steps of the import work on `Row`s and a `Document` and read nothing but
these descriptions, so a file of another format is read into the same shapes (with its own
`source` names) and goes through the same steps. `reading.py` reads this product's format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import ManyToOneRel, Model

from eventplanner.limits import ACTUAL_YIELD, AMOUNT, NOTES, PACKED, YIELD_PER_BATCH, Whole
from fulfillment.models import Package, PackageItem, Recipient
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind
from planning.models import (
    FinishedGood,
    FinishedGoodComponent,
    Recipe,
)

FORMAT = "eventplanner.event"
# 2: each recipient carries a stable key, so alike recipients stay apart. 1 is still read.
VERSION = 2
VERSIONS = (1, 2)
# The key of a recipient's reference, local to the file, by which assignments name it.
REFERENCE = "ref"
# The key of a recipient's stable key: the same in every export of the same recipient.
KEY = "key"
# Assignments are read by hand (see below), held to the limits of their form.
ASSIGNMENT_QUANTITY = PACKED
ASSIGNMENT_NOTES = NOTES

# What a field holds; it decides how the value is checked when read and written out.
TEXT = "text"  # a string, required
NOTE = "note"  # a string, empty when left out
POSITIVE = "positive"  # a whole number greater than 0
COUNT = "count"  # a whole number, 0 or more
MOMENT = "moment"  # a date and time with a time zone
REF = "ref"  # the natural key of a catalog row of the same file
USER = "user"  # a username the file lists, or nothing
USERS = "users"  # the entity a USER field names


@dataclass(frozen=True)
class Field:
    name: str  # the model's field
    kind: str = TEXT
    entity: str = ""  # REF and USER: the label of the entity it names
    source: str = ""  # the key in the file, when it is not the model field's name
    # What an imported value is held to, as the form's field is: a Whole for an amount, a
    # length for a text (None: the model column's length).
    limit: Whole | int | None = None

    @property
    def key(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class Parts:
    """Child rows listed under a catalog row, each naming a row of another entity with an
    amount: a finished good's components, a package's items."""

    source: str  # the list's key in the file, also the word for them in a conflict
    model: type[Model]
    owner: str  # the child's foreign key to the row it is listed under
    part: str  # the child's foreign key to the row it names
    entity: str  # the label of the entity it names
    part_source: str = ""  # the key in the file of the name, when it is not `part`
    amount: str = "quantity"
    limit: Whole = AMOUNT  # of the amount

    @property
    def part_key(self) -> str:
        return self.part_source or self.part

    @property
    def accessor(self) -> str:
        """The owner's manager of these rows (`good.components`)."""
        relation = self.model._meta.get_field(self.owner).remote_field
        if not isinstance(relation, ManyToOneRel):
            raise FieldDoesNotExist(f"{self.model._meta.label}.{self.owner} is no foreign key.")
        return relation.get_accessor_name()


@dataclass(frozen=True)
class Entity:
    """A catalog entity. A row of the file and a row here with the same key are compared on
    every field the entity carries and on its child rows: all equal means reuse."""

    label: str  # plural, for counts and cross-references: "finished goods"
    source: str  # the list's key in the file: "finished_goods"
    kind: str  # singular, in messages: "finished good"
    model: type[Model]
    fields: tuple[Field, ...]
    key: str = "name"  # the natural key; "" when rows are matched on all their fields
    parts: Parts | None = None

    @property
    def source_key(self) -> str:
        """The key in the file of the natural key."""
        return next(f.key for f in self.fields if f.name == self.key)


@dataclass(frozen=True)
class EventRows:
    """Rows that belong to the event: created with it, naming catalog rows and users."""

    label: str
    source: str
    kind: str
    model: type[Model]
    fields: tuple[Field, ...]
    order: tuple[str, ...]  # the order of the export, the same in every database
    one_per_item: bool = False  # a target: one per recipe or finished good of the event

    @property
    def related(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.entity)


@dataclass(frozen=True)
class Row:
    """One row of an entity as read from a file, by model field names."""

    key: str  # the natural key, or for an entity without one the file's own reference
    values: dict[str, Any]
    parts: dict[str, int] = field(default_factory=dict)  # the part's key -> amount


class Conflict(str):
    """Why a file cannot be imported as it is, naming both versions; it also knows the label
    of the entity it is about, for a report's counts, and for a catalog row of the same name
    that differs, the file's key of that row (so it can be kept under a new name), and
    compares and prints as the message."""

    label: str
    key: str

    def __new__(cls, message: str, label: str, key: str = "") -> Conflict:
        conflict = super().__new__(cls, message)
        conflict.label = label
        conflict.key = key
        return conflict


@dataclass
class EventPart:
    """One event of a file and the rows that belong to it. `event` is None for rows that
    belong to no event (a run recorded between seasons)."""

    event: dict[str, Any] | None  # name, event_date, notes
    event_rows: list[tuple[EventRows, list[dict[str, Any]]]]
    # Each with its recipient's reference, its package's key and its "history" steps.
    assignments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Document:
    """What a file holds, read and checked, in the shapes the plan and write steps use."""

    users: list[str]
    catalog: list[tuple[Entity, list[Row]]]  # in dependency order: named before naming
    events: list[EventPart]
    # An event already here with the same name and date is refused (an event export is a
    # copy to make), or, for a file that holds a whole season, reused when it already has
    # every row the file gives it, so that importing the same file again changes nothing.
    reuse_events: bool = False


def _text(*names: str) -> tuple[Field, ...]:
    return tuple(Field(name) for name in names)


RECIPES = Entity(
    "recipes",
    "recipes",
    "recipe",
    Recipe,
    (
        *_text("name", "category"),
        Field("yield_per_batch", POSITIVE, limit=YIELD_PER_BATCH),
        *_text("yield_unit", "notes"),
    ),
)
FINISHED_GOODS = Entity(
    "finished goods",
    "finished_goods",
    "finished good",
    FinishedGood,
    _text("name", "description"),
    parts=Parts("components", FinishedGoodComponent, "finished_good", "recipe", "recipes"),
)
PACKAGES = Entity(
    "packages",
    "packages",
    "package",
    Package,
    _text("name", "description"),
    parts=Parts("items", PackageItem, "package", "finished_good", "finished goods", limit=PACKED),
)
RECIPIENTS = Entity(
    "recipients",
    "recipients",
    "recipient",
    Recipient,
    _text("name", "household", "address", "notes"),
    key="",
)
CATALOG = (RECIPES, FINISHED_GOODS, PACKAGES)


def _targets(kind: TargetKind, items: str) -> EventRows:
    """A kind's targets: one per item of the event, its amount and notes."""
    return EventRows(
        f"{kind.name} targets",
        f"{kind.name}_targets",
        f"{kind.name} target",
        kind.target_model,
        (
            Field(kind.item_field, REF, items),
            Field(kind.amount_field, POSITIVE, limit=AMOUNT),
            Field("notes", NOTE, limit=NOTES),
        ),
        order=(f"{kind.item_field}__name",),
        one_per_item=True,
    )


def _runs(kind: TargetKind, items: str, *counted: Field) -> EventRows:
    """A kind's runs, in the order they were recorded; `counted`: what only this kind's runs
    record beside their amount (a production run's actual yield)."""
    fields = (
        Field(kind.item_field, REF, items),
        Field(kind.run_amount_field, POSITIVE, limit=AMOUNT),
        *counted,
        Field(kind.run_time_field, MOMENT),
        Field("notes", NOTE, limit=NOTES),
        Field("recorded_by", USER, USERS),
    )
    order = (
        kind.run_time_field,
        f"{kind.item_field}__name",
        kind.run_amount_field,
        *(f.name for f in counted),
        "notes",
        "id",
    )
    return EventRows(
        f"{kind.name} runs",
        f"{kind.name}_runs",
        f"{kind.name} run",
        kind.run_model,
        fields,
        order=order,
    )


PRODUCTION_TARGETS = _targets(PRODUCTION, "recipes")
ASSEMBLY_TARGETS = _targets(ASSEMBLY, "finished goods")
PRODUCTION_RUNS = _runs(PRODUCTION, "recipes", Field("actual_yield", COUNT, limit=ACTUAL_YIELD))
ASSEMBLY_RUNS = _runs(ASSEMBLY, "finished goods")
# Assignments belong to the event too, but each carries its status history, which needs the
# assignment's id, and names its recipient by REFERENCE: the readers and writers name them.
EVENT_ROWS = (PRODUCTION_TARGETS, ASSEMBLY_TARGETS, PRODUCTION_RUNS, ASSEMBLY_RUNS)
