from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html

from . import admin_accounts  # noqa: F401  (users and groups with their accounts)
from .api.serializers import ACCOUNT_OUT_OF_SCOPE_MSG, export_download_path
from .exports.errors import ExportFailed, ExportQuotaExceeded, ExportTooLarge
from .exports.services import contact_export_create
from .filters import ContactFilterSet
from .models import Contact, ContactExport
from .scoping import contact_accounts_of, contacts_scoped


class TalliedPaginator(Paginator):
    """The admin's paginator, counting the contacts from the kept tally where it can (most pages)."""

    @cached_property
    def count(self) -> int:
        return self.object_list.tallied_count()


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
    readonly_fields = ["created_at", "updated_at"]
    # The "N total" link beside a filtered count costs a full-table COUNT on every page.
    show_full_result_count = False
    paginator = TalliedPaginator
    actions = ["export_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Only the contacts of the user's accounts: the list, the change view and the export action."""
        return contacts_scoped(queryset=super().get_queryset(request), user=request.user)

    def get_form(self, request: HttpRequest, obj: Contact | None = None, **kwargs: object) -> type[forms.ModelForm]:
        """A contact is added or moved only into one of the user's accounts."""
        form = super().get_form(request, obj, **kwargs)
        accounts = contact_accounts_of(user=request.user)
        if accounts is None or "account_id" not in form.base_fields:
            return form

        class ScopedContactForm(form):
            def clean_account_id(self) -> int:
                value = self.cleaned_data["account_id"]
                if value not in accounts:
                    raise forms.ValidationError(ACCOUNT_OUT_OF_SCOPE_MSG)
                return value

        return ScopedContactForm

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Search as the API does, through the shared FilterSet."""
        if not search_term.strip():
            return queryset, False
        return ContactFilterSet().filter_search(queryset, "search", search_term), False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("contacts.export_contact")

    @admin.action(description="导出所选联系记录为 Excel", permissions=["export"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """The API's workbook of the selected contacts, in the list's default order, offered as a link."""
        try:
            export = contact_export_create(
                filterset=ContactFilterSet(data={}, queryset=queryset),
                user=request.user,
                source=ContactExport.Source.ADMIN,
                selection="后台勾选的记录",
                file_format=ContactExport.FileFormat.XLSX,
            )
        except ExportTooLarge as exc:
            self.message_user(
                request, f"所选 {exc.rows} 条超过单次导出上限 {exc.limit} 条,请减少所选记录", messages.ERROR
            )
            return
        except ExportQuotaExceeded as exc:  # the user's quota, or this machine's exports at once
            self.message_user(request, str(exc), messages.ERROR)
            return
        except ExportFailed:
            self.message_user(request, "导出失败,请稍后重试", messages.ERROR)
            return
        ttl = settings.EXPORT_LINK_TTL_SECONDS
        self.message_user(
            request,
            format_html(
                '已导出 {} 条记录:<a href="{}" download="{}">下载 {}</a>(链接 {}内有效)',
                export.row_count,
                export_download_path(export.filename),
                export.filename,
                export.filename,
                f"{ttl // 60} 分钟" if ttl >= 60 else f"{ttl} 秒",
            ),
            messages.SUCCESS,
        )


@admin.register(ContactExport)
class ContactExportAdmin(admin.ModelAdmin):
    """The export history, exports made at once and jobs alike, with each one's live status and progress."""

    list_display = [
        "__str__",
        "username",
        "source",
        "file_format",
        "status",
        "progress_shown",
        "row_count",
        "total_records",
        "size_bytes",
        "duration_ms",
        "created_at",
        "finished_at",
        "purged_at",
    ]
    list_filter = ["status", "source", "file_format", "created_at"]
    search_fields = ["filename", "username"]
    date_hierarchy = "created_at"

    @admin.display(description="进度")
    def progress_shown(self, export: ContactExport) -> str:
        return f"{export.progress}%"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ContactExport | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ContactExport | None = None) -> bool:
        return False
