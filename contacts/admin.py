from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .filters import ContactFilterSet
from .models import Contact, ContactExport


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "contact",
        "reply_status",
        "wechat_exchanged",
        "worker_id",
        "account_id",
        "contacted_at",
        "created_at",
    ]
    list_filter = ["reply_status", "wechat_exchanged", "created_at"]
    search_fields = ["name", "position", "contact"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    readonly_fields = ["created_at", "updated_at"]
    # The "N total" link beside a filtered count costs a full-table COUNT on every page.
    show_full_result_count = False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Search as the API does, through the shared FilterSet."""
        if not search_term.strip():
            return queryset, False
        return ContactFilterSet().filter_search(queryset, "search", search_term), False


@admin.register(ContactExport)
class ContactExportAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        "username",
        "source",
        "status",
        "row_count",
        "size_bytes",
        "duration_ms",
        "created_at",
        "purged_at",
    ]
    list_filter = ["status", "source", "created_at"]
    search_fields = ["filename", "username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ContactExport | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ContactExport | None = None) -> bool:
        return False
