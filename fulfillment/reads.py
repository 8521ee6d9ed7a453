"""What the fulfillment pages read: an event's assignments (as model objects for the
contract, as light rows for lists), one page of them with the counts per status, the CSV
export's rows, the packing list and the delivery checklist. Public functions follow the
service contract (README, "Transactions").
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from eventplanner.domain import (
    clean_search,
    require_atomic,
    require_exists,
    validate_id,
    validate_positive_int,
    validate_text,
)
from fulfillment.models import (
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
    PackageItem,
    Recipient,
    assignments_with_status,
)
from fulfillment.workflow import _validate_status
from planning.models import Event

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class LastChange(TypedDict):
    """What the page's reads annotate an assignment with: who made its last status change
    (None for a script or no change) and from where (None: no change yet)."""

    last_changed_by: str | None
    last_change_source: str | None


# An assignment as the fulfillment page shows it: recipient, package and its last change.
ShownAssignment: TypeAlias = "WithAnnotations[EventRecipientPackage, LastChange]"


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    """One assignment of an event (a recipient's package), as a light list shows it."""

    assignment_id: int
    recipient_id: int
    recipient_name: str
    household: str
    package_id: int
    package_name: str
    quantity: int
    fulfillment_status: str
    status_changed_at: datetime.datetime
    notes: str


_ASSIGNMENT_ROW_FIELDS = (
    "id",
    "recipient_id",
    "recipient__name",
    "recipient__household",
    "package_id",
    "package__name",
    "quantity",
    "fulfillment_status",
    "status_changed_at",
    "notes",
)


def _assignments_by_status(event_id: int, status: str | None, alias: str) -> QuerySet:
    """The one definition of an event's assignment list (optionally of one status), ordered
    by recipient name, then id; the model read and the row read below both take it."""
    queryset = EventRecipientPackage.objects.using(alias).filter(event_id=event_id)
    if status is not None:
        queryset = queryset.filter(fulfillment_status=status)
    return queryset.order_by("recipient__name", "id")


def _validated_list_args(event_id: Any, status: Any) -> str | None:
    validate_id(event_id, "event_id")
    return None if status is None else _validate_status(status, "status")


def get_packages_by_status(
    event_id: int, status: str | None = None, *, connection: BaseDatabaseWrapper
) -> list[EventRecipientPackage]:
    """The event's assignments (optionally of one status) as model objects with their
    recipient and package loaded, ordered by recipient name, then id; DoesNotExist for an
    unknown event.

    The recipient comes with the row (the order needs that join anyway); the packages, few
    and each given to many recipients, come from one more query and are shared: one object
    per package instead of one per row. Measured against select_related of both, this is
    0.83-0.97x the time at 400 to 2,000 rows; prefetching the recipients too was slower
    below about 1,000 rows."""
    require_atomic(connection, "get_packages_by_status")
    status = _validated_list_args(event_id, status)
    assignments = list(
        _assignments_by_status(event_id, status, connection.alias)
        .select_related("recipient")
        .prefetch_related("package")
    )
    if not assignments:
        require_exists(Event, event_id, "event_id", connection=connection)
    return assignments


def list_assignment_rows(
    event_id: int, status: str | None = None, *, connection: BaseDatabaseWrapper
) -> list[AssignmentRow]:
    """The same list as `get_packages_by_status`, as plain rows with the recipient's and
    package's names, in one statement: for a page or an export that need not build three
    model objects per row."""
    require_atomic(connection, "list_assignment_rows")
    status = _validated_list_args(event_id, status)
    rows = [
        AssignmentRow(*values)
        for values in _assignments_by_status(event_id, status, connection.alias).values_list(
            *_ASSIGNMENT_ROW_FIELDS
        )
    ]
    if not rows:
        require_exists(Event, event_id, "event_id", connection=connection)
    return rows


MAX_PER_PAGE = 200


@dataclass(frozen=True)
class StatusCounts:
    pending: int
    ready: int
    delivered: int

    @property
    def total(self) -> int:
        return self.pending + self.ready + self.delivered

    def get(self, status: str) -> int:
        return getattr(self, status)


class _Paging:
    """Page navigation for a result holding `matching`, `page`, `num_pages`, `per_page`."""

    matching: int
    page: int
    num_pages: int
    per_page: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def start_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.matching else 0

    @property
    def end_index(self) -> int:
        return min(self.page * self.per_page, self.matching)


@dataclass(frozen=True)
class AssignmentPage(_Paging):
    """One page of an event's assignments, with the event-wide counts per status."""

    rows: list[ShownAssignment]
    counts: StatusCounts
    matching: int
    page: int
    num_pages: int
    per_page: int


def _last_change(field: str, alias: str) -> Subquery:
    return Subquery(
        FulfillmentStatusChange.objects.using(alias)
        .filter(assignment_id=OuterRef("pk"))
        .order_by("-changed_at", "-id")
        .values(field)[:1]
    )


@cache
def _annotated_assignments(alias: str) -> QuerySet:
    """Assignments with recipient and package loaded and who made the last status change
    (`last_changed_by`, None for a script or no change; `last_change_source`).

    Built once per database alias and never evaluated itself: callers filter a clone
    (building the two subqueries was a tenth of a fulfillment page's service time)."""
    return (
        EventRecipientPackage.objects.using(alias)
        .select_related("recipient", "package")
        .annotate(
            last_changed_by=_last_change("changed_by__username", alias),
            last_change_source=_last_change("source", alias),
        )
    )


def _filtered(queryset, status: str | None, search: str):
    if status:
        queryset = queryset.filter(fulfillment_status=status)
    search = clean_search(search)
    if search:
        queryset = queryset.filter(
            Q(recipient__name__icontains=search) | Q(recipient__household__icontains=search)
        )
    return queryset


def _validate_filter(status: str | None, search: str) -> str | None:
    if status is not None:
        status = _validate_status(status, "status")
    validate_text(search, "search")
    return status


@cache
def _status_counts(alias: str) -> QuerySet:
    # Built once per database alias, like _lockable: each call filters a clone by event, and
    # building the three subqueries was a third of the call.
    return (
        Event.objects.using(alias)
        .order_by()
        .values_list(*(assignments_with_status(status) for status in FulfillmentStatus.values))
    )


def get_status_counts(event_id: int, *, connection: BaseDatabaseWrapper) -> StatusCounts:
    """The event's assignments counted per status, in one query (DoesNotExist for an
    unknown event)."""
    require_atomic(connection, "get_status_counts")
    validate_id(event_id, "event_id")
    values = _status_counts(connection.alias).filter(pk=event_id).first()
    if values is None:
        raise Event.DoesNotExist(f"Event {event_id} does not exist.")
    return StatusCounts(*values)


# Below this many matching rows, sorting them is cheaper than walking the recipients' index.
INDEX_ORDER_MIN_ROWS = 200


def _page_ids_in_name_order(
    event_id: int, status: str | None, offset: int, limit: int, connection
) -> RawSQL:
    """The ids of one page of the event's assignments in (recipient name, id) order, read in
    index order instead of sorting every row of the event for each page.

    SQLite never reorders the tables of a CROSS JOIN (its documented way to fix a join
    order), so it walks the recipients' (name, id) index and, for each recipient, finds its
    rows of the event through the (event, recipient, status) index: a page costs the rows
    before it, and only each run of one name is sorted by id. Without statistics SQLite
    would otherwise start from the event's rows and sort all of them. PostgreSQL plans a
    CROSS JOIN with a join condition in WHERE like any inner join.
    """
    qn = connection.ops.quote_name
    status_clause = "AND a.fulfillment_status = %s" if status else ""
    sql = (
        f"SELECT a.id FROM {qn(Recipient._meta.db_table)} r "
        f"CROSS JOIN {qn(EventRecipientPackage._meta.db_table)} a "
        f"WHERE a.recipient_id = r.id AND a.event_id = %s {status_clause} "
        "ORDER BY r.name, a.id LIMIT %s OFFSET %s"
    )
    params = [event_id, *([status] if status else []), limit, offset]
    return RawSQL(sql, params)


def list_event_assignments(
    event_id: int,
    *,
    connection: BaseDatabaseWrapper,
    status: str | None = None,
    search: str = "",
    page: int = 1,
    per_page: int = 50,
) -> AssignmentPage:
    """One page of the event's assignments (optionally of one status, and whose recipient
    name or household contains `search`), ordered by recipient name then id, plus the
    event-wide counts per status. Three queries whatever the number of rows; a page past the
    end gives the last page."""
    require_atomic(connection, "list_event_assignments")
    status = _validate_filter(status, search)
    validate_positive_int(page, "page")
    validate_positive_int(per_page, "per_page")
    per_page = min(per_page, MAX_PER_PAGE)
    counts = get_status_counts(event_id, connection=connection)
    alias = connection.alias
    base = _filtered(
        EventRecipientPackage.objects.using(alias).filter(event_id=event_id), status, search
    )
    # Without a search the counts already say how many rows match: no second count.
    if clean_search(search):
        matching = base.count()
    elif status:
        matching = counts.get(status)
    else:
        matching = counts.total
    num_pages = max(1, -(-matching // per_page))
    page = min(page, num_pages)
    offset = (page - 1) * per_page
    # The page's ids first, then its rows, so the last-change subqueries run for this page's
    # rows only, not for every row of the event before the sort.
    if clean_search(search) or matching < INDEX_ORDER_MIN_ROWS:
        page_ids = base.order_by("recipient__name", "id").values("pk")[offset : offset + per_page]
    else:
        page_ids = _page_ids_in_name_order(event_id, status, offset, per_page, connection)
    rows = list(
        _annotated_assignments(alias).filter(pk__in=page_ids).order_by("recipient__name", "id")
    )
    return AssignmentPage(
        rows=rows,
        counts=counts,
        matching=matching,
        page=page,
        num_pages=num_pages,
        per_page=per_page,
    )


def get_assignment_row(
    assignment_id: int, *, connection: BaseDatabaseWrapper, event_id: int | None = None
) -> ShownAssignment:
    """One assignment as the fulfillment page shows it (recipient, package, last change).
    With `event_id`, an assignment of another event does not exist."""
    require_atomic(connection, "get_assignment_row")
    validate_id(assignment_id, "assignment_id")
    queryset = _annotated_assignments(connection.alias).select_related("event")
    if event_id is not None:
        validate_id(event_id, "event_id")
        queryset = queryset.filter(event_id=event_id)
    return queryset.get(pk=assignment_id)


@dataclass(frozen=True)
class ExportRow:
    recipient: str
    household: str
    address: str
    package: str
    quantity: int
    status: str
    last_changed_at: Any
    last_changed_by: str


def get_export_rows(
    event_id: int, *, connection: BaseDatabaseWrapper, status: str | None = None, search: str = ""
) -> list[ExportRow]:
    """Every assignment of the event matching the filter (as on the page, without paging),
    for the CSV export: one query plus the existence check."""
    require_atomic(connection, "get_export_rows")
    status = _validate_filter(status, search)
    require_exists(Event, event_id, "event_id", connection=connection)
    queryset = _filtered(
        _annotated_assignments(connection.alias).filter(event_id=event_id), status, search
    ).order_by("recipient__name", "id")
    return [
        ExportRow(
            recipient=row.recipient.name,
            household=row.recipient.household,
            address=row.recipient.address,
            package=row.package.name,
            quantity=row.quantity,
            status=row.get_fulfillment_status_display(),
            # Never moved: no status change to report (not the time it was assigned).
            last_changed_at=row.status_changed_at if row.last_change_source else None,
            last_changed_by=row.last_changed_by or "",
        )
        for row in queryset
    ]


@dataclass(frozen=True)
class PackedGood:
    name: str
    units: int


@dataclass(frozen=True)
class PackedPackage:
    assignment_id: int
    name: str
    quantity: int
    status: str
    notes: str
    contents: list[PackedGood]


@dataclass(frozen=True)
class PackingSection:
    recipient_id: int
    name: str
    household: str
    address: str
    notes: str
    packages: list[PackedPackage]


def get_packing_list(
    event_id: int, *, connection: BaseDatabaseWrapper, status: str | None = None
) -> list[PackingSection]:
    """One section per recipient (by id: two "Aunt Mary"s stay apart), ordered by name, with
    each assigned package and its contents: units of each finished good = the assignment's
    quantity x the package item's quantity. No prices. Three queries."""
    require_atomic(connection, "get_packing_list")
    status = _validate_filter(status, "")
    require_exists(Event, event_id, "event_id", connection=connection)
    alias = connection.alias
    assignments = list(
        _filtered(
            EventRecipientPackage.objects.using(alias)
            .filter(event_id=event_id)
            .select_related("recipient", "package"),
            status,
            "",
        ).order_by("recipient__name", "recipient_id", "package__name", "id")
    )
    items: dict[int, list[tuple[str, int]]] = {}
    if assignments:
        package_ids = EventRecipientPackage.objects.using(alias).filter(event_id=event_id)
        for item in (
            PackageItem.objects.using(alias)
            .filter(package__in=package_ids.values("package_id"))
            .select_related("finished_good")
            .order_by("finished_good__name", "id")
        ):
            items.setdefault(item.package_id, []).append((item.finished_good.name, item.quantity))
    sections: list[PackingSection] = []
    for assignment in assignments:
        recipient = assignment.recipient
        if not sections or sections[-1].recipient_id != recipient.pk:
            sections.append(
                PackingSection(
                    recipient_id=recipient.pk,
                    name=recipient.name,
                    household=recipient.household,
                    address=recipient.address,
                    notes=recipient.notes,
                    packages=[],
                )
            )
        sections[-1].packages.append(
            PackedPackage(
                assignment_id=assignment.pk,
                name=assignment.package.name,
                quantity=assignment.quantity,
                status=assignment.fulfillment_status,
                notes=assignment.notes,
                contents=[
                    PackedGood(name, per_package * assignment.quantity)
                    for name, per_package in items.get(assignment.package_id, [])
                ],
            )
        )
    return sections


@dataclass(frozen=True)
class HouseholdStop:
    household: str
    address: str
    rows: list[EventRecipientPackage]


def get_delivery_checklist(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[HouseholdStop]:
    """The event's ready packages grouped into stops: one per household and address (a
    household spread over several addresses is several stops, so nobody is sent to the
    wrong door; a recipient without a household is a stop of their own), in household
    then address order. Two queries."""
    require_atomic(connection, "get_delivery_checklist")
    require_exists(Event, event_id, "event_id", connection=connection)
    rows = (
        _annotated_assignments(connection.alias)
        .filter(event_id=event_id, fulfillment_status=FulfillmentStatus.READY)
        .order_by("recipient__household", "recipient__name", "recipient_id", "id")
    )
    stops: dict[tuple[str, str, int], HouseholdStop] = {}
    for row in rows:
        recipient = row.recipient
        address = " ".join(recipient.address.split()).casefold()
        household = " ".join(recipient.household.split()).casefold()
        key = (household, address, 0) if household else ("", address, recipient.pk)
        stop = stops.get(key)
        if stop is None:
            stop = stops[key] = HouseholdStop(
                household=recipient.household or recipient.name, address=recipient.address, rows=[]
            )
        stop.rows.append(row)
    return sorted(
        stops.values(), key=lambda stop: (stop.household.casefold(), stop.address.casefold())
    )
