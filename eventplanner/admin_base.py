"""What every ModelAdmin of the project shares."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest

from eventplanner.domain import MAX_ID

SELECTION_INVALID = "That selection is not a list of rows; select the rows again."


class ModelAdmin(admin.ModelAdmin):
    def response_action(self, request: HttpRequest, queryset):
        # Django filters by the posted selection as it is: a word, or a number beyond the id
        # column, would be a server error instead of a message.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(v.isascii() and v.isdigit() and int(v) <= MAX_ID for v in selected):
            self.message_user(request, SELECTION_INVALID, messages.WARNING)
            return None
        return super().response_action(request, queryset)
