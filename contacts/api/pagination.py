import re
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

_DIGITS = re.compile(r"[0-9]{1,18}")


def positive_int_param(request: Request, name: str, *, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not _DIGITS.fullmatch(text) or int(text) < 1:
        raise ValidationError({name: ["必须是不小于 1 的整数"]})
    return int(text)


class ContactPagination(BasePagination):
    """`page` and `page_size` paging with the original document's {total, page, page_size, results}."""

    default_page_size = 10
    max_page_size = 100

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: APIView | None = None) -> list:
        self.page = positive_int_param(request, "page", default=1)
        self.page_size = min(
            positive_int_param(request, "page_size", default=self.default_page_size), self.max_page_size
        )
        self.total = queryset.count()
        offset = (self.page - 1) * self.page_size
        if offset >= self.total:
            return []
        return list(queryset[offset : offset + self.page_size])

    def get_paginated_response(self, data: list[dict[str, Any]]) -> Response:
        return Response({"total": self.total, "page": self.page, "page_size": self.page_size, "results": data})
