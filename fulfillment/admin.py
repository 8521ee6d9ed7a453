from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, transaction
from django.http import HttpRequest

from fulfillment import services
from fulfillment.models import (
    ChangeSource,
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
    Package,
    PackageItem,
    Recipient,
)


class PackageItemInline(admin.TabularInline):
    model = PackageItem
    extra = 1
    autocomplete_fields = ["finished_good"]


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "description"]
    inlines = [PackageItemInline]


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ["name", "household", "address"]
    search_fields = ["name", "household", "address", "notes"]
    list_filter = ["household"]


class StatusChangeInline(admin.TabularInline):
    """The history, read-only: it is written only by the fulfillment services."""

    model = FulfillmentStatusChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "from_status", "to_status", "changed_by", "source", "note"]
    readonly_fields = fields
    ordering = ["changed_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@admin.register(EventRecipientPackage)
class EventRecipientPackageAdmin(admin.ModelAdmin):
    list_display = [
        "recipient",
        "package",
        "event",
        "quantity",
        "fulfillment_status",
        "status_changed_at",
    ]
    list_filter = ["fulfillment_status", "event", "package"]
    search_fields = ["recipient__name", "recipient__household", "package__name", "notes"]
    list_select_related = ["recipient", "package", "event"]
    autocomplete_fields = ["event", "recipient", "package"]
    readonly_fields = ["fulfillment_status", "status_changed_at", "created_at", "updated_at"]
    inlines = [StatusChangeInline]
    actions = ["mark_ready", "mark_delivered"]

    def has_change_fulfillment_status_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.CHANGE_STATUS_PERM)

    def _bulk_move(self, request: HttpRequest, queryset, new_status: str) -> None:
        alias = queryset.db
        ids = list(queryset.values_list("pk", flat=True))
        try:
            # Django does not wrap admin actions in a transaction: the action owns it.
            with transaction.atomic(using=alias):
                changed = services.bulk_update_fulfillment_status(
                    ids,
                    new_status,
                    connection=connections[alias],
                    changed_by=request.user,
                    source=ChangeSource.ADMIN,
                )
        except services.BulkTransitionError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        except (PermissionDenied, ValidationError) as error:
            self.message_user(
                request,
                "; ".join(error.messages) if hasattr(error, "messages") else str(error),
                messages.ERROR,
            )
            return
        unchanged = len(ids) - changed
        text = f"{_plural(changed, 'package')} marked {new_status}."
        if unchanged:
            text += f" {unchanged} already {new_status} left as they were."
        self.message_user(request, text, messages.SUCCESS)

    @admin.action(
        description="Mark selected packages ready",
        permissions=["change_fulfillment_status"],
    )
    def mark_ready(self, request: HttpRequest, queryset) -> None:
        self._bulk_move(request, queryset, FulfillmentStatus.READY)

    @admin.action(
        description="Mark selected packages delivered",
        permissions=["change_fulfillment_status"],
    )
    def mark_delivered(self, request: HttpRequest, queryset) -> None:
        self._bulk_move(request, queryset, FulfillmentStatus.DELIVERED)


@admin.register(FulfillmentStatusChange)
class FulfillmentStatusChangeAdmin(admin.ModelAdmin):
    list_display = ["assignment", "from_status", "to_status", "changed_by", "changed_at", "source"]
    list_filter = ["source", "to_status", "assignment__event"]
    search_fields = ["assignment__recipient__name", "assignment__package__name", "note"]
    list_select_related = ["assignment__recipient", "assignment__package", "changed_by"]
    date_hierarchy = "changed_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
