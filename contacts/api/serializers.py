import datetime as dt
from typing import Any

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from contacts.bulk import BULK_CREATE_MAX, contacts_bulk_create
from contacts.exports.columns import COLUMN_BY_FIELD, DEFAULT_COLUMNS
from contacts.exports.links import export_link_sign
from contacts.exports.services import export_failure_message
from contacts.exports.storage import FILENAME_RE
from contacts.filters import EARLIEST_DATE, LATEST_DATE
from contacts.models import NOTES_MAX_LENGTH, Contact, ContactExport

GENERATED_AT_FORMAT = "%Y-%m-%d %H:%M:%S"
ACCOUNT_OUT_OF_SCOPE_MSG = "无权写入该账号的联系记录(不在分配给你的账号内)"
BULK_EMPTY_MSG = "列表至少要有 1 条联系记录"
BULK_TOO_MANY_MSG = f"一次最多新增 {BULK_CREATE_MAX} 条联系记录"


def validate_storable_datetime(value: dt.datetime) -> None:
    """Keep date-times far enough from the calendar's ends to survive any time-zone shift."""
    if value is not None and not EARLIEST_DATE <= value.date() <= LATEST_DATE:
        raise serializers.ValidationError(f"时间应在 {EARLIEST_DATE} 与 {LATEST_DATE} 之间")


class StorableDateTimeField(serializers.DateTimeField):
    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        # DRF's own check of a naive time in the local zone overflows at the calendar's ends
        # (`0001-01-01T00:00:00` in Asia/Shanghai) and lets the OverflowError escape as a 500.
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


def _local_text(value: dt.datetime | None) -> str | None:
    return None if value is None else timezone.localtime(value).strftime(api_settings.DATETIME_FORMAT)


class ContactListSerializer(serializers.ListSerializer):
    """A bulk create: 1..BULK_CREATE_MAX contacts, each validated as a single create, written together or
    not at all. The errors name each failing item by its index in the list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_empty", False)
        kwargs.setdefault("max_length", BULK_CREATE_MAX)
        super().__init__(*args, **kwargs)
        self.error_messages["empty"] = BULK_EMPTY_MSG
        self.error_messages["max_length"] = BULK_TOO_MANY_MSG

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            by_index = list(detail.items() if isinstance(detail, dict) else enumerate(detail))
            if not all(isinstance(index, int) for index, _ in by_index):  # the list's own errors
                raise
            # An item that is not an object has a list of errors: keyed like any error not of one field.
            errors = {
                str(index): error if isinstance(error, dict) else {api_settings.NON_FIELD_ERRORS_KEY: error}
                for index, error in by_index
                if error
            }
            raise serializers.ValidationError(errors) from None

    def create(self, validated_data: list[dict[str, Any]]) -> list[Contact]:
        return contacts_bulk_create(items=validated_data)


class ContactSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: StorableDateTimeField,
    }

    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "position",
            "contact",
            "reply_status",
            "wechat_exchanged",
            "account_id",
            "worker_id",
            "notes",
            "contacted_at",
            "created_at",
        ]
        extra_kwargs = {
            # PostgreSQL's integer column: SQLite would store more, so bound it alike on both.
            "account_id": {"max_value": 2_147_483_647},
            "contacted_at": {"validators": [validate_storable_datetime]},
            "created_at": {"validators": [validate_storable_datetime]},
        }
        list_serializer_class = ContactListSerializer

    def validate_account_id(self, value: int) -> int:
        """A contact is written only into an account the caller sees (the view gives them as `accounts`)."""
        accounts = self.context.get("accounts")
        if accounts is not None and value not in accounts:
            raise serializers.ValidationError(ACCOUNT_OUT_OF_SCOPE_MSG)
        return value

    def to_representation(self, instance: Contact) -> dict[str, Any]:
        """What the fields above answer, read directly; tests hold the two to the same output.

        A fast path: without it the list served 12.9% fewer requests (bench/README.md, the A/B).
        """
        data = {name: getattr(instance, name) for name in self.Meta.fields}
        # Notes stored before their length was bounded are answered cut, so a page stays bounded too.
        data["notes"] = instance.notes[:NOTES_MAX_LENGTH]
        data["contacted_at"] = _local_text(instance.contacted_at)
        data["created_at"] = _local_text(instance.created_at)
        return data


EXPORT_FORMATS = ContactExport.FileFormat.values
COLUMN_NAMES = ", ".join(COLUMN_BY_FIELD)
# What `columns` accepts, but for a name given twice (no pattern can say that): names as they are, no spaces.
COLUMNS_PATTERN = "^({names})(,({names}))*$".format(names="|".join(COLUMN_BY_FIELD))
FORMAT_INVALID_MSG = "只能是 " + " 或 ".join(EXPORT_FORMATS) + ',不能是 "{input}"'
COLUMNS_EMPTY_MSG = "至少要有一列,可选:" + COLUMN_NAMES
COLUMN_EMPTY_MSG = '列名不能为空(在 "{columns}" 中)'
COLUMN_UNKNOWN_MSG = '没有 "{name}" 这一列,可选:' + COLUMN_NAMES
COLUMN_REPEATED_MSG = '列 "{name}" 重复'
PARAMETER_REPEATED_MSG = "只能给出一次"


class ExportOptionsSerializer(serializers.Serializer):
    """What an export writes, besides which rows: its file format and its columns. Not filters: the
    FilterSet ignores both. `columns` is a comma-separated list of field names, in the order wanted."""

    # Not a ChoiceField: from a query string DRF would take `format=` for "not given", and the empty value
    # of these two parameters is refused wherever it comes from.
    format = serializers.CharField(
        default=ContactExport.FileFormat.XLSX,
        allow_blank=True,
        trim_whitespace=False,
        help_text="文件格式:`xlsx`(默认)或 `csv`。",
    )
    columns = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=(
            f"导出的列及其顺序,逗号分隔的字段名:{COLUMN_NAMES};默认为除 `account_id` 外的十列。"
            "未知、重复或空的列名是 400。"
        ),
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """A parameter given twice in a query string is refused, not read as its last value."""
        if hasattr(data, "getlist"):
            repeated = {name: [PARAMETER_REPEATED_MSG] for name in self.fields if len(data.getlist(name)) > 1}
            if repeated:
                raise serializers.ValidationError(repeated)
        return super().to_internal_value(data)

    def validate_format(self, value: str) -> str:
        if value not in EXPORT_FORMATS:
            raise serializers.ValidationError(FORMAT_INVALID_MSG.format(input=value))
        return value

    def validate_columns(self, value: str) -> list[str]:
        """The field names in the order given. (An absent `columns` never gets here: it means the default ones.)"""
        if not value:
            raise serializers.ValidationError(COLUMNS_EMPTY_MSG)
        names = value.split(",")
        for name in names:
            if not name:
                raise serializers.ValidationError(COLUMN_EMPTY_MSG.format(columns=value))
            if name not in COLUMN_BY_FIELD:
                raise serializers.ValidationError(COLUMN_UNKNOWN_MSG.format(name=name))
        for index, name in enumerate(names):
            if name in names[:index]:
                raise serializers.ValidationError(COLUMN_REPEATED_MSG.format(name=name))
        return names


def export_download_path(filename: str) -> str:
    """The site-relative download link of an export, signed for EXPORT_LINK_TTL_SECONDS."""
    path = reverse("contact-export-download", kwargs={"filename": filename})
    return f"{path}?{urlencode({'signature': export_link_sign(filename=filename)})}"


class ExportResultSerializer(serializers.Serializer):
    """导出完成:`download_url` 为带签名、限时有效的完整下载地址(由请求的主机与协议构成),打开时不需登录头。"""

    download_url = serializers.SerializerMethodField()
    filename = serializers.RegexField(f"^{FILENAME_RE.pattern}$", read_only=True)
    total_records = serializers.IntegerField(source="row_count", min_value=0, read_only=True, help_text="写入的记录数")
    generated_at = serializers.SerializerMethodField()

    @extend_schema_field(
        {
            "type": "string",
            "format": "uri",
            "description": "带签名的完整下载地址(`/media/exports/<filename>?signature=…`),限时有效,打开时不需登录头",
        }
    )
    def get_download_url(self, export: ContactExport) -> str:
        return self.context["request"].build_absolute_uri(export_download_path(export.filename))

    @extend_schema_field(
        {
            "type": "string",
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
            "description": "服务时区的生成时间 YYYY-MM-DD HH:MM:SS",
        }
    )
    def get_generated_at(self, export: ContactExport) -> str:
        return timezone.localtime(export.started_at).strftime(GENERATED_AT_FORMAT)


class ExportJobAcceptedSerializer(serializers.ModelSerializer):
    """导出任务已接受,正在排队;用 `status_url` 查看进度。"""

    status_url = serializers.SerializerMethodField()

    class Meta:
        model = ContactExport
        fields = ["id", "status", "status_url"]

    @extend_schema_field({"type": "string", "format": "uri", "description": "查看这个导出任务的完整地址"})
    def get_status_url(self, export: ContactExport) -> str:
        return self.context["request"].build_absolute_uri(reverse("export-job-detail", kwargs={"pk": export.pk}))


class ExportJobSerializer(serializers.ModelSerializer):
    """一个导出任务:状态、进度、所要求的筛选条件;成功后有与同步导出相同的 `download_url`、`filename`、
    `generated_at`(每次查看都给出新签名的链接),失败时有 `error`。"""

    rows_written = serializers.IntegerField(source="row_count", read_only=True, help_text="已写入的行数")
    progress = serializers.IntegerField(read_only=True, min_value=0, max_value=100, help_text="进度百分比")
    filters = serializers.DictField(child=serializers.CharField(), read_only=True, help_text="所要求的筛选条件")
    format = serializers.ChoiceField(
        source="file_format", choices=EXPORT_FORMATS, read_only=True, help_text="文件格式:`xlsx` 或 `csv`"
    )
    columns = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    filename = serializers.SerializerMethodField()
    generated_at = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = ContactExport
        fields = [
            "id",
            "status",
            "total_records",
            "rows_written",
            "progress",
            "filters",
            "format",
            "columns",
            "created_at",
            "started_at",
            "finished_at",
            "download_url",
            "filename",
            "generated_at",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "string", "enum": list(COLUMN_BY_FIELD)},
            "description": "导出的列(字段名)及其顺序;未指定时为默认的十列",
        }
    )
    def get_columns(self, export: ContactExport) -> list[str]:
        return list(export.columns) or [column.field for column in DEFAULT_COLUMNS]

    def _result(self, export: ContactExport) -> dict[str, str] | None:
        """The synchronous export's answer, for a job that succeeded and whose file is not purged."""
        if export.status != ContactExport.Status.SUCCEEDED or export.purged_at is not None:
            return None
        return ExportResultSerializer(export, context=self.context).data

    @extend_schema_field({"type": ["string", "null"], "format": "uri", "description": "成功后:带签名的下载地址"})
    def get_download_url(self, export: ContactExport) -> str | None:
        result = self._result(export)
        return result and result["download_url"]

    @extend_schema_field({"type": ["string", "null"], "pattern": f"^{FILENAME_RE.pattern}$"})
    def get_filename(self, export: ContactExport) -> str | None:
        result = self._result(export)
        return result and result["filename"]

    @extend_schema_field(
        {"type": ["string", "null"], "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"}
    )
    def get_generated_at(self, export: ContactExport) -> str | None:
        result = self._result(export)
        return result and result["generated_at"]

    @extend_schema_field({"type": ["string", "null"], "description": "失败时:原因(不含任何记录内容)"})
    def get_error(self, export: ContactExport) -> str | None:
        return export_failure_message(export) if export.status == ContactExport.Status.FAILED else None
