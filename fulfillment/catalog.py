"""The recipients and packages catalog: lists with search, choosing one in a form, and
create, edit and delete (refused, with the reason, while an assignment uses it). Public
functions follow the service contract (README, "Transactions").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from eventplanner.domain import (
    DomainError,
    clean_search,
    insert_unless_conflict,
    require_atomic,
    validate_id,
    validate_positive_int,
    validate_text,
)
from fulfillment.models import EventRecipientPackage, Package, PackageItem, Recipient
from fulfillment.reads import MAX_PER_PAGE, _Paging
from planning.models import FinishedGood

NAME_REQUIRED = "Enter a name."
PACKAGE_NAME_TAKEN = "There is already a package called {name!r}; choose another name."
PACKAGE_ITEM_TWICE = "{good} is listed twice; put the whole quantity on one line."
RECIPIENT_IN_USE = (
    "{name} cannot be deleted: they have {count} package assignment(s) across events, "
    "which are the record of what they were given. Remove those assignments first (only "
    "pending ones without history can be removed)."
)
PACKAGE_IN_USE = (
    "{name} cannot be deleted: it is assigned {count} time(s) across events. Remove those "
    "assignments first, or keep the package and stop using it."
)


@dataclass(frozen=True)
class CatalogPage(_Paging):
    """One page of a catalog list; each row carries an `assignment_count` annotation."""

    rows: list[Any]
    matching: int
    page: int
    num_pages: int
    per_page: int


def _catalog_page(queryset, page: int, per_page: int) -> CatalogPage:
    validate_positive_int(page, "page")
    validate_positive_int(per_page, "per_page")
    per_page = min(per_page, MAX_PER_PAGE)
    matching = queryset.count()
    num_pages = max(1, -(-matching // per_page))
    page = min(page, num_pages)
    offset = (page - 1) * per_page
    rows = list(queryset[offset : offset + per_page])
    return CatalogPage(rows, matching, page, num_pages, per_page)


def _clean_name(name: Any, field: str = "name", max_length: int = 200) -> str:
    validate_text(name, field)
    name = name.strip()
    if not name:
        raise ValidationError({field: [NAME_REQUIRED]}, code="required")
    if len(name) > max_length:
        raise ValidationError(
            {field: [f"Keep the {field} to {max_length} characters or fewer."]}, code="max_length"
        )
    return name


def list_recipients(
    *, connection: BaseDatabaseWrapper, search: str = "", page: int = 1, per_page: int = 50
) -> CatalogPage:
    """Recipients whose name, household or address contains `search`, by name then id,
    each with its number of assignments across events. Two queries."""
    require_atomic(connection, "list_recipients")
    validate_text(search, "search")
    queryset = _matching(
        Recipient.objects.using(connection.alias), search, "name", "household", "address"
    )
    queryset = queryset.annotate(assignment_count=Count("assignments")).order_by("name", "id")
    return _catalog_page(queryset, page, per_page)


def search_recipients(
    search: str, *, connection: BaseDatabaseWrapper, limit: int = 20
) -> list[Recipient]:
    """Up to `limit` recipients matching by name or household, for choosing one in a form."""
    require_atomic(connection, "search_recipients")
    return _choices(Recipient, search, ("name", "household"), limit, connection)


def search_packages(
    search: str, *, connection: BaseDatabaseWrapper, limit: int = 20
) -> list[Package]:
    """Up to `limit` packages whose name contains `search`, for choosing one in a form."""
    require_atomic(connection, "search_packages")
    return _choices(Package, search, ("name",), limit, connection)


def _matching(queryset: QuerySet, search: str, *fields: str) -> QuerySet:
    """The rows where any of `fields` contains the search term (all rows without one)."""
    if term := clean_search(search):
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}__icontains": term})
        queryset = queryset.filter(condition)
    return queryset


def _choices(model: Any, search: str, fields: tuple[str, ...], limit: int, connection) -> list:
    validate_text(search, "search")
    validate_positive_int(limit, "limit")
    queryset = model.objects.using(connection.alias).order_by("name", "id")
    return list(_matching(queryset, search, *fields)[:limit])


def _recipient_fields(name: Any, household: Any, address: Any, notes: Any) -> dict[str, str]:
    fields = {"name": _clean_name(name)}
    fields["household"] = _clean_name(household, "household") if household.strip() else ""
    for field, value in (("address", address), ("notes", notes)):
        fields[field] = validate_text(value, field).strip()
    return fields


def create_recipient(
    *,
    name: str,
    household: str = "",
    address: str = "",
    notes: str = "",
    connection: BaseDatabaseWrapper,
) -> Recipient:
    """Add a recipient. Names need not be unique (two "Aunt Mary"s may exist)."""
    require_atomic(connection, "create_recipient")
    validate_text(household, "household")
    fields = _recipient_fields(name, household, address, notes)
    return Recipient.objects.using(connection.alias).create(**fields)


def update_recipient(
    recipient_id: int,
    *,
    name: str,
    household: str = "",
    address: str = "",
    notes: str = "",
    connection: BaseDatabaseWrapper,
) -> Recipient:
    require_atomic(connection, "update_recipient")
    validate_id(recipient_id, "recipient_id")
    validate_text(household, "household")
    fields = _recipient_fields(name, household, address, notes)
    recipient = Recipient.objects.using(connection.alias).select_for_update().get(pk=recipient_id)
    for field, value in fields.items():
        setattr(recipient, field, value)
    recipient.save(using=connection.alias, update_fields=[*fields, "updated_at"])
    return recipient


def delete_recipient(recipient_id: int, *, connection: BaseDatabaseWrapper) -> None:
    """Delete a recipient who has no assignments; one with assignments is kept (refused
    with a message saying why and what to do)."""
    require_atomic(connection, "delete_recipient")
    validate_id(recipient_id, "recipient_id")
    alias = connection.alias
    recipient = Recipient.objects.using(alias).select_for_update().get(pk=recipient_id)
    count = EventRecipientPackage.objects.using(alias).filter(recipient_id=recipient_id).count()
    if count:
        raise DomainError(RECIPIENT_IN_USE.format(name=recipient, count=count), code="in_use")
    Recipient.objects.using(alias).filter(pk=recipient_id).delete()


def list_packages(
    *, connection: BaseDatabaseWrapper, search: str = "", page: int = 1, per_page: int = 50
) -> CatalogPage:
    """Packages whose name or description contains `search`, by name, each with its number
    of assignments (`assignment_count`) and its items loaded. Three queries."""
    require_atomic(connection, "list_packages")
    validate_text(search, "search")
    alias = connection.alias
    queryset = _matching(Package.objects.using(alias), search, "name", "description")
    queryset = (
        queryset.annotate(assignment_count=Count("assignments"))
        .order_by("name", "id")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PackageItem.objects.using(alias)
                .select_related("finished_good")
                .order_by("finished_good__name", "id"),
            )
        )
    )
    return _catalog_page(queryset, page, per_page)


def get_package(package_id: int, *, connection: BaseDatabaseWrapper) -> Package:
    """The package with its items (and their finished goods) and `assignment_count`."""
    require_atomic(connection, "get_package")
    validate_id(package_id, "package_id")
    alias = connection.alias
    return (
        Package.objects.using(alias)
        .annotate(assignment_count=Count("assignments"))
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PackageItem.objects.using(alias)
                .select_related("finished_good")
                .order_by("finished_good__name", "id"),
            )
        )
        .get(pk=package_id)
    )


def _validate_items(items: Any, connection) -> list[tuple[int, int]]:
    if isinstance(items, (str, bytes)):
        raise ValidationError({"items": ["items must be a list of (finished good id, quantity)."]})
    cleaned: list[tuple[int, int]] = []
    for good_id, quantity in items:
        cleaned.append(
            (validate_id(good_id, "finished_good_id"), validate_positive_int(quantity, "quantity"))
        )
    ids = [good_id for good_id, _ in cleaned]
    names = dict(
        FinishedGood.objects.using(connection.alias).filter(pk__in=ids).values_list("pk", "name")
    )
    missing = set(ids) - set(names)
    if missing:
        raise FinishedGood.DoesNotExist(
            f"Finished goods {', '.join(map(str, sorted(missing)))} do not exist."
        )
    seen: set[int] = set()
    for good_id in ids:
        if good_id in seen:
            raise ValidationError(
                {"items": [PACKAGE_ITEM_TWICE.format(good=names[good_id])]}, code="duplicate"
            )
        seen.add(good_id)
    return cleaned


def _check_package_name(name: str, exclude_pk: int | None, alias: str) -> None:
    taken = Package.objects.using(alias).filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"name": [PACKAGE_NAME_TAKEN.format(name=name)]}, code="unique")


def _replace_items(package: Package, items: list[tuple[int, int]], alias: str) -> None:
    PackageItem.objects.using(alias).filter(package=package).delete()
    PackageItem.objects.using(alias).bulk_create(
        [
            PackageItem(package=package, finished_good_id=good_id, quantity=quantity)
            for good_id, quantity in items
        ]
    )


def create_package(
    *,
    name: str,
    description: str = "",
    items: Iterable[tuple[int, int]] = (),
    connection: BaseDatabaseWrapper,
) -> Package:
    """Add a package with its items: (finished good id, quantity) pairs, each good once.
    The name is unique (case does not make a new name)."""
    require_atomic(connection, "create_package")
    name = _clean_name(name)
    description = validate_text(description, "description").strip()
    cleaned = _validate_items(list(items), connection)
    alias = connection.alias
    _check_package_name(name, None, alias)
    now = timezone.now()
    package = Package(name=name, description=description, created_at=now, updated_at=now)
    # A concurrent package of the same name ends in a validation error, not an
    # IntegrityError that would abort the caller's transaction.
    pk = insert_unless_conflict(package, connection=connection)
    if pk is None:
        raise ValidationError({"name": [PACKAGE_NAME_TAKEN.format(name=name)]}, code="unique")
    package.pk = pk
    package._state.adding = False
    package._state.db = alias
    _replace_items(package, cleaned, alias)
    return package


def update_package(
    package_id: int,
    *,
    name: str,
    description: str = "",
    items: Iterable[tuple[int, int]] = (),
    connection: BaseDatabaseWrapper,
) -> Package:
    """Rename or describe a package and replace its items with `items`."""
    require_atomic(connection, "update_package")
    validate_id(package_id, "package_id")
    name = _clean_name(name)
    description = validate_text(description, "description").strip()
    cleaned = _validate_items(list(items), connection)
    alias = connection.alias
    package = Package.objects.using(alias).select_for_update().get(pk=package_id)
    _check_package_name(name, package.pk, alias)
    package.name = name
    package.description = description
    package.save(using=alias, update_fields=["name", "description", "updated_at"])
    _replace_items(package, cleaned, alias)
    return package


def delete_package(package_id: int, *, connection: BaseDatabaseWrapper) -> None:
    """Delete a package (and its item list) that no assignment uses; one in use is kept."""
    require_atomic(connection, "delete_package")
    validate_id(package_id, "package_id")
    alias = connection.alias
    package = Package.objects.using(alias).select_for_update().get(pk=package_id)
    count = EventRecipientPackage.objects.using(alias).filter(package_id=package_id).count()
    if count:
        raise DomainError(PACKAGE_IN_USE.format(name=package.name, count=count), code="in_use")
    Package.objects.using(alias).filter(pk=package_id).delete()
