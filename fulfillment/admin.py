from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connections, transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse

from eventplanner.admin_base import MadeOfItemsAdmin, ModelAdmin, items_inline
from eventplanner.htmx import Attempt, error_text
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


@admin.register(Package)
class PackageAdmin(MadeOfItemsAdmin):
    inlines = [items_inline(PackageItem, "finished_good")]


@admin.register(Recipient)
class RecipientAdmin(ModelAdmin):
    list_display = ["name", "household", "address"]
    search_fields = ["name", "household", "address", "notes"]
    list_filter = ["household"]


class StatusChangeInline(admin.TabularInline):
    """The history, read-only: it is written only by the fulfillment services."""

    model = FulfillmentStatusChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "from_status", "to_status", "changed_by", "source", "note"]
    # Plain names, all read-only; the stubs type `fields` as possibly nested groups.
    readonly_fields = fields  # type: ignore[assignment]
    ordering = ["changed_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class UndoReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        error_messages={"required": "A reason is required to undo a status change."},
        widget=forms.TextInput(attrs={"size": 60}),
    )


SEEN_PREFIX = "seen_"


def _statuses_seen(request: HttpRequest) -> dict[int, str]:
    """{id: status} from the confirmation page's hidden `seen_<id>` inputs; anything that is
    not an id is left out (the service then refuses the row as unseen)."""
    return {
        int(name.removeprefix(SEEN_PREFIX)): value
        for name, value in request.POST.items()
        if name.startswith(SEEN_PREFIX)
        and name.removeprefix(SEEN_PREFIX).isascii()
        and name.removeprefix(SEEN_PREFIX).isdigit()
        and len(name) < 30
        and isinstance(value, str)  # a QueryDict's items() may give a list, the stubs say
    }


@admin.register(EventRecipientPackage)
class EventRecipientPackageAdmin(ModelAdmin):
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
    actions = ["mark_ready", "mark_delivered", "undo_status"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Once a package has moved, who got what for which event is part of the record:
        # only quantity and notes stay editable.
        if obj is not None and (
            obj.fulfillment_status != FulfillmentStatus.PENDING or obj.status_changes.exists()
        ):
            return [*self.readonly_fields, "event", "recipient", "package"]
        return self.readonly_fields

    def get_actions(self, request: HttpRequest):
        # Bulk delete would bypass the rule that only pending, never-moved assignments go.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and (
            obj.fulfillment_status != FulfillmentStatus.PENDING or obj.status_changes.exists()
        ):
            return False
        return super().has_delete_permission(request, obj)

    def has_change_fulfillment_status_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.CHANGE_STATUS_PERM)

    def has_undo_fulfillment_status_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.UNDO_STATUS_PERM)

    def _change_selected(self, request: HttpRequest, queryset, change) -> tuple[int, int] | None:
        """Run `change(ids, connection)` over the selected rows in the action's own
        transaction (Django does not wrap admin actions in one); returns how many rows were
        selected and how many changed, or None once a refusal has been told to the user."""
        alias = queryset.db
        ids = list(queryset.values_list("pk", flat=True))
        refusals = (PermissionDenied, ValidationError, ObjectDoesNotExist)
        with Attempt(*refusals) as attempt, transaction.atomic(using=alias):
            changed = change(ids, connections[alias])
        if attempt.error is not None:
            self.message_user(request, error_text(attempt.error), messages.ERROR)
            self.keep_selection(request, ids)
            return None
        return len(ids), changed

    def _bulk_move(self, request: HttpRequest, queryset, new_status: str) -> None:
        counts = self._change_selected(
            request,
            queryset,
            lambda ids, connection: services.bulk_update_fulfillment_status(
                ids,
                new_status,
                connection=connection,
                changed_by=request.user,
                source=ChangeSource.ADMIN,
            ),
        )
        if counts is None:
            return
        selected, changed = counts
        text = f"{_plural(changed, 'package')} marked {new_status}."
        if selected - changed:
            text += f" {selected - changed} already {new_status} left as they were."
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

    def _refuse_pending(self, request: HttpRequest, refused: list, selected: list[int]) -> None:
        blocked = [
            services.BlockedRow(
                row.pk, row.recipient.name, row.package.name, row.fulfillment_status
            )
            for row in refused
        ]
        text = services.BulkTransitionError.text(services.BULK_UNDO_REFUSED, blocked)
        self.message_user(request, text, messages.ERROR)
        self.keep_selection(request, selected)

    @admin.action(
        description="Step selected packages back one status (asks for a reason)",
        permissions=["undo_fulfillment_status"],
    )
    def undo_status(self, request: HttpRequest, queryset):
        """First shows an intermediate page asking for the reason; its form posts back to
        this action with `apply`, and then every selected row goes back one step, all or
        nothing, with the reason kept in the history."""
        form = UndoReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            # What the confirmation page showed for each row, posted back with it: a row
            # that moved since, or this page posted twice, never steps back twice.
            seen = _statuses_seen(request)
            counts = self._change_selected(
                request,
                queryset,
                lambda ids, connection: services.bulk_undo_fulfillment_status(
                    ids,
                    reason=form.cleaned_data["reason"],
                    expected_status=seen,
                    connection=connection,
                    changed_by=request.user,
                    source=ChangeSource.ADMIN,
                ),
            )
            if counts is not None:
                text = f"{_plural(counts[1], 'package')} stepped back one status."
                if counts[0] - counts[1]:
                    text += f" {counts[0] - counts[1]} already stepped back left as they were."
                self.message_user(request, text, messages.SUCCESS)
            return None
        rows = list(queryset.select_related("recipient", "package", "event").order_by("pk"))
        if refused := [row for row in rows if row.previous_status is None]:
            # Said before a reason is asked for: the step back would refuse these anyway.
            self._refuse_pending(request, refused, [row.pk for row in rows])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Step packages back one status",
            "opts": self.model._meta,
            "rows": rows,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "seen_prefix": SEEN_PREFIX,
            "action": "undo_status",
            "select_across": request.POST.get("select_across", "0"),
            "index": request.POST.get("index", "0"),
        }
        return TemplateResponse(request, "fulfillment/admin_undo.html", context)


@admin.register(FulfillmentStatusChange)
class FulfillmentStatusChangeAdmin(ModelAdmin):
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


# Deleting a user would set changed_by to NULL on their history (and recorded_by on runs),
# and the pages would then say the change was made "by a script". A user who has history
# is deactivated instead: they can no longer sign in, and their name stays on the record.
# Chosen over storing a copy of the name on each history row: no schema change, and the
# history keeps pointing at the account itself. The confirmation pages say so beforehand.
User = get_user_model()
KEPT_USERS = (
    "{names} made status changes that are kept in the history, so they will be deactivated "
    "(no longer able to sign in) instead of deleted, and their names stay on that history."
)


def users_with_history(users) -> list:
    changed = FulfillmentStatusChange.objects.filter(changed_by__in=users).values("changed_by")
    return list(User._default_manager.filter(pk__in=changed).order_by("pk"))


def _kept_text(users) -> str:
    kept = users_with_history(users)
    return KEPT_USERS.format(names=", ".join(map(str, kept))) if kept else ""


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class KeepHistoryUserAdmin(auth_admin.UserAdmin):
    def render_delete_form(self, request: HttpRequest, context):
        context["kept_users_text"] = _kept_text([context["object"]])
        return super().render_delete_form(request, context)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        selected = actions.get("delete_selected")  # never None in Django, unlike its stubs
        if selected is not None:
            _, name, description = selected
            actions["delete_selected"] = (type(self)._delete_selected, name, description)
        return actions

    def _delete_selected(self, request: HttpRequest, queryset):
        response = delete_selected(self, request, queryset)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            response.context_data["kept_users_text"] = _kept_text(queryset)
        return response

    def delete_model(self, request: HttpRequest, obj) -> None:
        self.delete_queryset(request, User._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        kept = [user.pk for user in users_with_history(queryset)]
        User._default_manager.filter(pk__in=kept).update(is_active=False)
        super().delete_queryset(request, queryset.exclude(pk__in=kept))
