"""Export one event with everything it needs to a JSON-ready dict, and import it back.

The export is self-contained and uses natural keys instead of database ids: recipes,
finished goods and packages by their unique names, users by username, recipients (not
unique) by a reference local to the file. Importing into an empty database recreates the
event unchanged; importing into a database that already has some of the catalog reuses
identical rows and refuses, listing every difference, when a row of the same name differs.
Bookkeeping columns (created_at, updated_at) are not part of the export.

Same contract as the services: keyword-only `connection`, the caller owns the transaction,
everything is validated before the first write.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.dateparse import parse_date, parse_datetime

from eventplanner.domain import (
    DomainError,
    require_atomic,
    validate_id,
    validate_non_negative_int,
    validate_positive_int,
    validate_text,
)
from fulfillment.models import (
    STATUS_ORDER,
    ChangeSource,
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
    Package,
    PackageItem,
    Recipient,
)
from planning.models import (
    AssemblyRun,
    Event,
    EventAssemblyTarget,
    EventProductionTarget,
    FinishedGood,
    FinishedGoodComponent,
    ProductionRun,
    Recipe,
)

FORMAT = "eventplanner.event"
VERSION = 1

EVENT_EXISTS = "An event called {name!r} on {date} already exists; nothing was imported."
CATALOG_DIFFERS = (
    "{kind} {name!r} exists with different {fields} ({theirs} here, {ours} in the file)."
)
CONFLICTS = "Nothing was imported, the file conflicts with this database: {details}"


class ImportConflict(DomainError):
    """The file cannot be imported into this database as it is."""


def _dt(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def export_event(event_id: int, *, connection: BaseDatabaseWrapper) -> dict[str, Any]:
    """The event, its targets, runs, assignments with their status history, and the
    recipes, finished goods, packages, recipients and users they refer to."""
    require_atomic(connection, "export_event")
    validate_id(event_id, "event_id")
    db = connection.alias
    event = Event.objects.using(db).get(pk=event_id)

    production_targets = list(
        EventProductionTarget.objects.using(db)
        .filter(event=event)
        .select_related("recipe")
        .order_by("recipe__name")
    )
    assembly_targets = list(
        EventAssemblyTarget.objects.using(db)
        .filter(event=event)
        .select_related("finished_good")
        .order_by("finished_good__name")
    )
    production_runs = list(
        ProductionRun.objects.using(db)
        .filter(event=event)
        .select_related("recipe", "recorded_by")
        .order_by("produced_at", "recipe__name", "num_batches", "actual_yield", "notes", "id")
    )
    assembly_runs = list(
        AssemblyRun.objects.using(db)
        .filter(event=event)
        .select_related("finished_good", "recorded_by")
        .order_by("assembled_at", "finished_good__name", "quantity", "notes", "id")
    )
    assignments = list(
        EventRecipientPackage.objects.using(db)
        .filter(event=event)
        .select_related("recipient", "package")
        .order_by(
            "recipient__name",
            "recipient__household",
            "recipient__address",
            "recipient__notes",
            "package__name",
            "id",
        )
    )
    history: dict[int, list[FulfillmentStatusChange]] = {}
    for change in (
        FulfillmentStatusChange.objects.using(db)
        .filter(assignment__event=event)
        .select_related("changed_by")
        .order_by("changed_at", "id")
    ):
        history.setdefault(change.assignment_id, []).append(change)

    packages = list(
        Package.objects.using(db)
        .filter(pk__in={a.package_id for a in assignments})
        .prefetch_related("items__finished_good")
        .order_by("name")
    )
    good_ids = (
        {t.finished_good_id for t in assembly_targets}
        | {r.finished_good_id for r in assembly_runs}
        | {item.finished_good_id for package in packages for item in package.items.all()}
    )
    goods = list(
        FinishedGood.objects.using(db)
        .filter(pk__in=good_ids)
        .prefetch_related("components__recipe")
        .order_by("name")
    )
    recipe_ids = (
        {t.recipe_id for t in production_targets}
        | {r.recipe_id for r in production_runs}
        | {c.recipe_id for good in goods for c in good.components.all()}
    )
    recipes = list(Recipe.objects.using(db).filter(pk__in=recipe_ids).order_by("name"))

    recipient_refs: dict[int, str] = {}
    recipients = []
    for assignment in assignments:
        recipient = assignment.recipient
        if recipient.pk not in recipient_refs:
            recipient_refs[recipient.pk] = f"recipient-{len(recipient_refs) + 1}"
            recipients.append(
                {
                    "ref": recipient_refs[recipient.pk],
                    "name": recipient.name,
                    "household": recipient.household,
                    "address": recipient.address,
                    "notes": recipient.notes,
                }
            )

    actors = {_username(r.recorded_by) for r in [*production_runs, *assembly_runs]}
    actors |= {_username(c.changed_by) for changes in history.values() for c in changes}
    users = sorted(actors - {None})
    return {
        "format": FORMAT,
        "version": VERSION,
        "event": {
            "name": event.name,
            "event_date": event.event_date.isoformat(),
            "notes": event.notes,
        },
        "users": users,
        "recipes": [
            {
                "name": r.name,
                "category": r.category,
                "yield_per_batch": r.yield_per_batch,
                "yield_unit": r.yield_unit,
                "notes": r.notes,
            }
            for r in recipes
        ],
        "finished_goods": [
            {
                "name": g.name,
                "description": g.description,
                "components": sorted(
                    ({"recipe": c.recipe.name, "quantity": c.quantity} for c in g.components.all()),
                    key=lambda c: c["recipe"],
                ),
            }
            for g in goods
        ],
        "packages": [
            {
                "name": p.name,
                "description": p.description,
                "items": sorted(
                    (
                        {"finished_good": i.finished_good.name, "quantity": i.quantity}
                        for i in p.items.all()
                    ),
                    key=lambda i: i["finished_good"],
                ),
            }
            for p in packages
        ],
        "recipients": recipients,
        "production_targets": [
            {"recipe": t.recipe.name, "target_batches": t.target_batches, "notes": t.notes}
            for t in production_targets
        ],
        "assembly_targets": [
            {
                "finished_good": t.finished_good.name,
                "target_quantity": t.target_quantity,
                "notes": t.notes,
            }
            for t in assembly_targets
        ],
        "production_runs": [
            {
                "recipe": r.recipe.name,
                "num_batches": r.num_batches,
                "actual_yield": r.actual_yield,
                "produced_at": _dt(r.produced_at),
                "notes": r.notes,
                "recorded_by": _username(r.recorded_by),
            }
            for r in production_runs
        ],
        "assembly_runs": [
            {
                "finished_good": r.finished_good.name,
                "quantity": r.quantity,
                "assembled_at": _dt(r.assembled_at),
                "notes": r.notes,
                "recorded_by": _username(r.recorded_by),
            }
            for r in assembly_runs
        ],
        "assignments": [
            {
                "recipient": recipient_refs[a.recipient_id],
                "package": a.package.name,
                "quantity": a.quantity,
                "notes": a.notes,
                "fulfillment_status": a.fulfillment_status,
                "status_changed_at": _dt(a.status_changed_at),
                "history": [
                    {
                        "from_status": c.from_status,
                        "to_status": c.to_status,
                        "changed_by": _username(c.changed_by),
                        "changed_at": _dt(c.changed_at),
                        "source": c.source,
                        "note": c.note,
                    }
                    for c in history.get(a.pk, [])
                ],
            }
            for a in assignments
        ],
    }


# ---------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    event: Event
    created: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    placeholder_users: list[str] = field(default_factory=list)


def _need(data: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ValidationError(f"{where}: '{key}' is missing.")
    value = data[key]
    if kind is int:
        return validate_positive_int(value, f"{where}.{key}")
    if not isinstance(value, kind):
        raise ValidationError(f"{where}: '{key}' must be {kind.__name__}.")
    return value


def _moment(value: Any, where: str) -> datetime.datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(f"{where}: {value!r} is not a date and time with a time zone.")
    return parsed


def _status(value: Any, where: str) -> str:
    if value not in FulfillmentStatus.values:
        raise ValidationError(f"{where}: unknown status {value!r}.")
    return value


def _differences(existing: Any, wanted: dict[str, Any]) -> list[str]:
    return [name for name, value in wanted.items() if getattr(existing, name) != value]


def _check_history(steps: list[dict], status: str, where: str) -> None:
    reached = FulfillmentStatus.PENDING.value
    for step in steps:
        old, new = _status(step.get("from_status"), where), _status(step.get("to_status"), where)
        if old != reached or abs(STATUS_ORDER.index(new) - STATUS_ORDER.index(old)) != 1:
            raise ValidationError(f"{where}: the history is not a chain of single steps.")
        if step.get("source") not in ChangeSource.values:
            raise ValidationError(f"{where}: unknown source {step.get('source')!r}.")
        validate_text(step.get("note"), f"{where}.note")
        _moment(step.get("changed_at"), where)
        reached = new
    if reached != status:
        raise ValidationError(f"{where}: the history ends at {reached}, the status is {status}.")


def import_event(data: Any, *, connection: BaseDatabaseWrapper) -> ImportResult:
    """Create the event of an export_event() file, reusing identical catalog rows.

    Refused with ImportConflict (nothing written) when the event already exists or a
    recipe, finished good or package of the same name differs; with ValidationError when
    the file is malformed. Users the file names but this database lacks are created
    inactive and without a usable password, so the record of who did what is kept.
    """
    from django.contrib.auth import get_user_model

    require_atomic(connection, "import_event")
    db = connection.alias
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError(f"Not an event export (expected format {FORMAT!r}).")
    if data.get("version") != VERSION:
        raise ValidationError(f"Unsupported export version {data.get('version')!r}.")

    # --- Validate and resolve everything before the first write --------------------------
    event_data = _need(data, "event", dict, "event")
    name = _need(event_data, "name", str, "event")
    event_date = parse_date(_need(event_data, "event_date", str, "event"))
    if event_date is None or not name.strip() or len(name) > 200:
        raise ValidationError("event: needs a name (at most 200 characters) and a date.")
    notes = validate_text(event_data.get("notes", ""), "event.notes")
    conflicts = []
    if Event.objects.using(db).filter(name=name, event_date=event_date).exists():
        conflicts.append(EVENT_EXISTS.format(name=name, date=event_date.isoformat()))

    def catalog(kind: str, model: Any, rows: list[dict], fields: dict[str, type]) -> dict:
        existing = {
            o.name: o
            for o in model.objects.using(db).filter(
                name__in=[_need(row, "name", str, kind) for row in rows]
            )
        }
        wanted = {}
        for row in rows:
            values = {f: _need(row, f, t, f"{kind} {row['name']!r}") for f, t in fields.items()}
            if model is Recipe:
                validate_positive_int(values["yield_per_batch"], "yield_per_batch")
            wanted[row["name"]] = values
            found = existing.get(row["name"])
            if found is not None and (diff := _differences(found, values)):
                conflicts.append(
                    CATALOG_DIFFERS.format(
                        kind=kind.capitalize(),
                        name=row["name"],
                        fields=", ".join(diff),
                        theirs=", ".join(repr(getattr(found, f)) for f in diff),
                        ours=", ".join(repr(values[f]) for f in diff),
                    )
                )
        return {"existing": existing, "wanted": wanted}

    recipes = catalog(
        "recipe",
        Recipe,
        _need(data, "recipes", list, "file"),
        {"name": str, "category": str, "yield_per_batch": int, "yield_unit": str, "notes": str},
    )
    goods = catalog(
        "finished good",
        FinishedGood,
        _need(data, "finished_goods", list, "file"),
        {"name": str, "description": str},
    )
    packages = catalog(
        "package", Package, _need(data, "packages", list, "file"), {"name": str, "description": str}
    )
    recipe_names = set(recipes["wanted"])
    good_names = set(goods["wanted"])
    package_names = set(packages["wanted"])

    def parts(rows, key, part_key, names, kind, existing, model, owner_field, part_field):
        """Components or items per row; for a row that exists here, they must match."""
        result = {}
        for row in rows:
            where = f"{kind} {row['name']!r}"
            listed = {}
            for part in _need(row, key, list, where):
                part_name = _need(part, part_key, str, where)
                if part_name not in names:
                    raise ValidationError(f"{where}: {part_name!r} is not in the file.")
                listed[part_name] = _need(part, "quantity", int, where)
            result[row["name"]] = listed
            if row["name"] in existing:
                have = dict(
                    model.objects.using(db)
                    .filter(**{f"{owner_field}__name": row["name"]})
                    .values_list(f"{part_field}__name", "quantity")
                )
                if have != listed:
                    conflicts.append(
                        f"{kind.capitalize()} {row['name']!r} exists with different {key} "
                        f"({have} here, {listed} in the file)."
                    )
        return result

    components = parts(
        data["finished_goods"],
        "components",
        "recipe",
        recipe_names,
        "finished good",
        goods["existing"],
        FinishedGoodComponent,
        "finished_good",
        "recipe",
    )
    items = parts(
        data["packages"],
        "items",
        "finished_good",
        good_names,
        "package",
        packages["existing"],
        PackageItem,
        "package",
        "finished_good",
    )

    recipients_by_ref = {}
    for row in _need(data, "recipients", list, "file"):
        ref = _need(row, "ref", str, "recipient")
        values = {
            f: _need(row, f, str, f"recipient {ref}")
            for f in ("name", "household", "address", "notes")
        }
        recipients_by_ref[ref] = values

    user_model = get_user_model()
    usernames = [validate_text(u, "users") for u in _need(data, "users", list, "file")]
    users = {
        u.get_username(): u
        for u in user_model._default_manager.db_manager(db).filter(
            **{f"{user_model.USERNAME_FIELD}__in": usernames}
        )
    }

    def user(username: Any, where: str) -> Any:
        if username is None:
            return None
        if username not in usernames:
            raise ValidationError(f"{where}: user {username!r} is not listed in the file.")
        return username

    production_targets = [
        (
            _check_name(row, "recipe", recipe_names),
            _need(row, "target_batches", int, "production target"),
            validate_text(row.get("notes", ""), "production target notes"),
        )
        for row in _need(data, "production_targets", list, "file")
    ]
    assembly_targets = [
        (
            _check_name(row, "finished_good", good_names),
            _need(row, "target_quantity", int, "assembly target"),
            validate_text(row.get("notes", ""), "assembly target notes"),
        )
        for row in _need(data, "assembly_targets", list, "file")
    ]
    production_runs = []
    for row in _need(data, "production_runs", list, "file"):
        production_runs.append(
            {
                "recipe": _check_name(row, "recipe", recipe_names),
                "num_batches": _need(row, "num_batches", int, "production run"),
                "actual_yield": validate_non_negative_int(row.get("actual_yield"), "actual_yield"),
                "produced_at": _moment(row.get("produced_at"), "production run"),
                "notes": validate_text(row.get("notes", ""), "production run notes"),
                "recorded_by": user(row.get("recorded_by"), "production run"),
            }
        )
    assembly_runs = []
    for row in _need(data, "assembly_runs", list, "file"):
        assembly_runs.append(
            {
                "finished_good": _check_name(row, "finished_good", good_names),
                "quantity": _need(row, "quantity", int, "assembly run"),
                "assembled_at": _moment(row.get("assembled_at"), "assembly run"),
                "notes": validate_text(row.get("notes", ""), "assembly run notes"),
                "recorded_by": user(row.get("recorded_by"), "assembly run"),
            }
        )
    assignments = []
    seen_pairs = set()
    for row in _need(data, "assignments", list, "file"):
        ref = _need(row, "recipient", str, "assignment")
        if ref not in recipients_by_ref:
            raise ValidationError(f"assignment: recipient {ref!r} is not in the file.")
        package = _check_name(row, "package", package_names)
        if (ref, package) in seen_pairs:
            raise ValidationError(f"assignment: {ref} has package {package!r} twice.")
        seen_pairs.add((ref, package))
        status = _status(row.get("fulfillment_status"), "assignment")
        steps = _need(row, "history", list, "assignment")
        _check_history(steps, status, f"assignment of {package!r} to {ref}")
        for step in steps:
            user(step.get("changed_by"), "history")
        assignments.append(
            {
                "recipient": ref,
                "package": package,
                "quantity": _need(row, "quantity", int, "assignment"),
                "notes": validate_text(row.get("notes", ""), "assignment notes"),
                "status": status,
                "status_changed_at": _moment(row.get("status_changed_at"), "assignment"),
                "history": steps,
            }
        )
    if conflicts:
        raise ImportConflict(CONFLICTS.format(details=" ".join(conflicts)), code="conflict")

    # --- Write ---------------------------------------------------------------------------
    result = ImportResult(event=Event(name=name, event_date=event_date, notes=notes))
    for username in usernames:
        if username not in users:
            placeholder = user_model(**{user_model.USERNAME_FIELD: username}, is_active=False)
            placeholder.set_unusable_password()
            placeholder.save(using=db)
            users[username] = placeholder
            result.placeholder_users.append(username)

    def ensure(kind: str, model: Any, spec: dict) -> dict[str, Any]:
        rows = dict(spec["existing"])
        for row_name, values in spec["wanted"].items():
            if row_name not in rows:
                rows[row_name] = model(**values)
                rows[row_name].save(using=db)
                result.created[kind] = result.created.get(kind, 0) + 1
            else:
                result.reused[kind] = result.reused.get(kind, 0) + 1
        return rows

    recipe_rows = ensure("recipes", Recipe, recipes)
    good_rows = ensure("finished goods", FinishedGood, goods)
    package_rows = ensure("packages", Package, packages)
    FinishedGoodComponent.objects.using(db).bulk_create(
        FinishedGoodComponent(
            finished_good=good_rows[good], recipe=recipe_rows[recipe], quantity=quantity
        )
        for good, listed in components.items()
        if good not in goods["existing"]
        for recipe, quantity in listed.items()
    )
    PackageItem.objects.using(db).bulk_create(
        PackageItem(package=package_rows[package], finished_good=good_rows[good], quantity=qty)
        for package, listed in items.items()
        if package not in packages["existing"]
        for good, qty in listed.items()
    )

    recipient_rows = {}
    for ref, values in recipients_by_ref.items():
        match = Recipient.objects.using(db).filter(**values).order_by("pk").first()
        if match is None:
            match = Recipient(**values)
            match.save(using=db)
            result.created["recipients"] = result.created.get("recipients", 0) + 1
        else:
            result.reused["recipients"] = result.reused.get("recipients", 0) + 1
        recipient_rows[ref] = match

    event = result.event
    event.save(using=db)
    EventProductionTarget.objects.using(db).bulk_create(
        EventProductionTarget(event=event, recipe=recipe_rows[r], target_batches=n, notes=t)
        for r, n, t in production_targets
    )
    EventAssemblyTarget.objects.using(db).bulk_create(
        EventAssemblyTarget(event=event, finished_good=good_rows[g], target_quantity=n, notes=t)
        for g, n, t in assembly_targets
    )
    ProductionRun.objects.using(db).bulk_create(
        ProductionRun(
            event=event,
            **{
                **run,
                "recipe": recipe_rows[run["recipe"]],
                "recorded_by": users.get(run["recorded_by"]),
            },
        )
        for run in production_runs
    )
    AssemblyRun.objects.using(db).bulk_create(
        AssemblyRun(
            event=event,
            **{
                **run,
                "finished_good": good_rows[run["finished_good"]],
                "recorded_by": users.get(run["recorded_by"]),
            },
        )
        for run in assembly_runs
    )
    history_rows = []
    for row in assignments:
        assignment = EventRecipientPackage(
            event=event,
            recipient=recipient_rows[row["recipient"]],
            package=package_rows[row["package"]],
            quantity=row["quantity"],
            notes=row["notes"],
            fulfillment_status=row["status"],
            status_changed_at=row["status_changed_at"],
        )
        assignment.save(using=db)
        history_rows += [
            FulfillmentStatusChange(
                assignment=assignment,
                from_status=step["from_status"],
                to_status=step["to_status"],
                changed_by=users.get(step.get("changed_by")),
                changed_at=_moment(step["changed_at"], "history"),
                source=step["source"],
                note=step["note"],
            )
            for step in row["history"]
        ]
    FulfillmentStatusChange.objects.using(db).bulk_create(history_rows)
    result.created.update(
        {
            "production targets": len(production_targets),
            "assembly targets": len(assembly_targets),
            "production runs": len(production_runs),
            "assembly runs": len(assembly_runs),
            "assignments": len(assignments),
            "status changes": len(history_rows),
        }
    )
    return result


def _check_name(row: Any, key: str, names: set[str]) -> str:
    value = _need(row, key, str, key.replace("_", " "))
    if value not in names:
        raise ValidationError(f"{key.replace('_', ' ')} {value!r} is not in the file.")
    return value
