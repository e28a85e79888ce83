"""The contact filters, declared once: the list API, the export and the admin all use them.

Each filter carries its label and help text: the OpenAPI document, the export's 导出信息 sheet and
its history read them from here.
"""

import datetime as dt
import re

import django_filters
from django import forms
from django.db import connections
from django.db.models import F, QuerySet
from django.utils import timezone

from .models import Contact, ReplyStatus
from .search import search_condition
from .validators import validate_no_control_characters

SEARCH_MAX_LENGTH = 100
# Dates outside these years would overflow a datetime once shifted between time zones.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(9998, 12, 31)
# The same range as a pattern, for the OpenAPI document: years 1900 to 9998 (tests hold them together).
DAY_PATTERN = r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-[0-9]{2}-[0-9]{2}$"
# int() and strptime() also read other scripts' digits ("٣" is 3): parameters take ASCII digits only.
ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
ASCII_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

DEFAULT_ORDERING = "-created_at"
# Ties are always broken by -id and empty contact times always sort last, so that paging
# neither repeats nor skips a row and SQLite and PostgreSQL return the same order.
ORDERINGS = {
    "created_at": (F("created_at").asc(), F("id").desc()),
    "-created_at": (F("created_at").desc(), F("id").desc()),
    "contacted_at": (F("contacted_at").asc(nulls_last=True), F("id").desc()),
    "-contacted_at": (F("contacted_at").desc(nulls_last=True), F("id").desc()),
    "id": (F("id").asc(),),
    "-id": (F("id").desc(),),
}


class TextParamField(forms.CharField):
    """Free text that the database can store: PostgreSQL rejects NUL, so SQLite must too."""

    def to_python(self, value: str | None) -> str:
        text = super().to_python(value)
        validate_no_control_characters(text)
        return text


class TextFilter(django_filters.CharFilter):
    field_class = TextParamField


class BooleanParamField(forms.Field):
    """`true`/`false` or `1`/`0`, in any case; anything else is an error, not a silent no-filter."""

    default_error_messages = {"invalid": "只能是 true 或 false(也可用 1 或 0)"}

    def to_python(self, value: str | None) -> bool | None:
        text = (value or "").strip().lower()
        if not text:
            return None
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class BooleanParamFilter(django_filters.Filter):
    field_class = BooleanParamField


class DayField(forms.DateField):
    default_error_messages = {"invalid": "日期格式应为 YYYY-MM-DD"}

    def __init__(self, **kwargs):
        super().__init__(input_formats=["%Y-%m-%d"], **kwargs)

    def to_python(self, value: str | None) -> dt.date | None:
        if value not in self.empty_values and not ASCII_DAY.fullmatch(str(value).strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def validate(self, value: dt.date | None) -> None:
        super().validate(value)
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise forms.ValidationError(f"日期应在 {EARLIEST_DATE} 与 {LATEST_DATE} 之间", code="out_of_range")


class DayFilter(django_filters.Filter):
    field_class = DayField


class IntegerParamField(forms.IntegerField):
    def to_python(self, value: str | None) -> int | None:
        if value not in self.empty_values and not ASCII_INTEGER.fullmatch(str(value).strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IntegerFilter(django_filters.Filter):
    field_class = IntegerParamField


class ChoiceFilter(django_filters.ChoiceFilter):
    pass


class ContactFilterForm(forms.Form):
    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and start > end:
            self.add_error("end_date", "结束日期不能早于开始日期")
        return cleaned


def local_midnight(day: dt.date) -> dt.datetime:
    """The first instant of `day` in the configured time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class ContactFilterSet(django_filters.FilterSet):
    search = TextFilter(
        method="filter_search",
        max_length=SEARCH_MAX_LENGTH,
        label="搜索关键词",
        help_text="关键词:按空白拆分,每个词都须(不区分大小写)出现在姓名、岗位或联系方式中。",
    )
    reply_status = ChoiceFilter(
        choices=ReplyStatus.choices,
        error_messages={"invalid_choice": "只能是 " + " 或 ".join(ReplyStatus.values)},
        label="回复状态",
        help_text="回复状态。",
    )
    wechat_exchanged = BooleanParamFilter(
        field_name="wechat_exchanged",
        label="是否交换微信",
        help_text="是否交换微信:`true`/`false`(也接受 `1`/`0`,不区分大小写)。",
    )
    start_date = DayFilter(
        method="filter_start_date",
        label="开始日期",
        help_text=f"开始日期(含),按服务时区的当天 00:00:00 起算 `created_at`;{EARLIEST_DATE} 至 {LATEST_DATE}。",
    )
    end_date = DayFilter(
        method="filter_end_date",
        label="结束日期",
        help_text=f"结束日期(含),到服务时区的当天 23:59:59.999999 为止,不早于 start_date;"
        f"{EARLIEST_DATE} 至 {LATEST_DATE}。",
    )
    worker_id = TextFilter(max_length=64, label="Worker ID", help_text="Worker 标识,精确匹配。")
    account_id = IntegerFilter(
        min_value=1, max_value=2_147_483_647, label="账号 ID", help_text="招聘平台账号 ID,精确匹配。"
    )
    ordering = ChoiceFilter(
        choices=[(key, key) for key in ORDERINGS],
        method="filter_ordering",
        error_messages={"invalid_choice": "只能是 " + ", ".join(ORDERINGS)},
        label="排序",
        help_text=f"排序,默认 `{DEFAULT_ORDERING}`;同值再按 `-id`,`contacted_at` 为空的总排在最后。",
    )

    class Meta:
        model = Contact
        fields: list[str] = []
        form = ContactFilterForm

    def get_form_class(self) -> type[forms.Form]:
        """The same form for every request: built once, not once a request.

        A fast path: without it the list served 23.1% fewer requests (bench/README.md, the A/B).
        """
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Every white-space separated term must occur in the name, position or contact."""
        vendor = connections[queryset.db].vendor
        for term in value.split():
            queryset = queryset.filter(search_condition(term, vendor=vendor))
        return queryset

    def filter_start_date(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(created_at__gte=local_midnight(value))

    def filter_end_date(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(created_at__lt=local_midnight(value + dt.timedelta(days=1)))

    def filter_ordering(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # applied in filter_queryset, which also orders when the parameter is absent

    @property
    def ordering_key(self) -> str:
        return self.form.cleaned_data.get("ordering") or DEFAULT_ORDERING

    def parameters(self) -> dict[str, str]:
        """The filters asked for, as given (empty ones are not asked for), and the ordering applied.

        What an export records in its history.
        """
        if not self.is_valid():
            raise ValueError("only a valid FilterSet has parameters to record")
        given = {name: self.data[name] for name in self.filters if name != "ordering" and self.data.get(name)}
        return {**given, "ordering": self.ordering_key}

    def described(self) -> list[tuple[str, str]]:
        """(label, value as given) of each filter asked for, the ordering left out: the 导出信息 sheet's lines."""
        return [(self.filters[name].label, value) for name, value in self.parameters().items() if name != "ordering"]

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(queryset).order_by(*ORDERINGS[self.ordering_key])
