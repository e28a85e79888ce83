import re
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.search import search_count

_DIGITS = re.compile(r"[0-9]+")
# A longer number asks for more than any table holds, so it is read as LARGEST_PARAM: converting
# thousands of digits would fail (Python's int-from-text limit) instead of answering.
MAX_DIGITS = 18
LARGEST_PARAM = 10**MAX_DIGITS
# Past this offset a page is found by its ids first: skipping index entries is cheap, skipping rows is not.
DEEP_OFFSET = 1000


def page_rows(queryset: QuerySet, *, offset: int, limit: int, total: int) -> list:
    """Rows offset..offset+limit of an ordered queryset of `total` rows, fast however deep the page.

    A deep page reads only ids from the ordering's index, from whichever end of the result is
    nearer, then fetches just the rows of the page.
    """
    if offset < DEEP_OFFSET or not queryset.ordered:
        return list(queryset[offset : offset + limit])
    limit = min(limit, total - offset)
    ids = queryset.values_list("pk", flat=True)
    from_end = total - offset - limit
    if from_end < offset:
        page_ids = list(ids.reverse()[from_end : from_end + limit])[::-1]
    else:
        page_ids = list(ids[offset : offset + limit])
    rows = queryset.model._default_manager.in_bulk(page_ids)
    return [rows[pk] for pk in page_ids if pk in rows]


def positive_int_param(request: Request, name: str, *, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    digits = text.lstrip("0")
    if not _DIGITS.fullmatch(text) or not digits:
        raise ValidationError({name: ["必须是不小于 1 的整数"]})
    return int(digits) if len(digits) <= MAX_DIGITS else LARGEST_PARAM


class PagePagination(BasePagination):
    """`page` and `page_size` paging with the original document's {total, page, page_size, results}."""

    default_page_size = 10
    max_page_size = 100

    def count(self, queryset: QuerySet) -> int:
        return queryset.count()

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: APIView | None = None) -> list:
        self.page = positive_int_param(request, "page", default=1)
        self.page_size = min(
            positive_int_param(request, "page_size", default=self.default_page_size), self.max_page_size
        )
        self.total = self.count(queryset)
        offset = (self.page - 1) * self.page_size
        if offset >= self.total:
            return []
        return page_rows(queryset, offset=offset, limit=self.page_size, total=self.total)

    def get_paginated_response(self, data: list[dict[str, Any]]) -> Response:
        return Response({"total": self.total, "page": self.page, "page_size": self.page_size, "results": data})

    # The two hooks through which schema generators (drf-spectacular) read a paginator.

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "total": {"type": "integer", "minimum": 0, "description": "符合条件的记录总数"},
                "page": {"type": "integer", "minimum": 1},
                "page_size": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
                "results": schema,
            },
            "required": ["total", "page", "page_size", "results"],
            "additionalProperties": False,
        }

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        descriptions = {
            "page": "页码,从 1 开始;超过最后一页时 `results` 为空,`total` 仍为总数;超过 18 位的数按 10^18 计。",
            "page_size": "每页数量,默认 10;大于 100 时按 100 计,`data.page_size` 给出实际用的数量。",
        }
        return [
            {
                "name": name,
                "in": "query",
                "required": False,
                "allowEmptyValue": True,
                "description": descriptions[name],
                "schema": {"type": "integer", "minimum": 1, "default": default},
            }
            for name, default in (("page", 1), ("page_size", self.default_page_size))
        ]


class ContactPagination(PagePagination):
    """The contact list's paging: its total read from the kept tally where the filters allow, a search alone
    counted by position values (contacts/search.py)."""

    def count(self, queryset: QuerySet) -> int:
        searched = search_count(queryset)
        return queryset.tallied_count() if searched is None else searched
