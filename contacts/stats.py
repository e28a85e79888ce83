"""The funnel statistics: how many contacts, how many replied, how many exchanged WeChat, per period or per
worker or account, for the list's filters.

Without a search they are summed from the per-day tally (contacts/day_tally.py), a few rows a day, when it
counts days of the service's time zone; otherwise the contacts are counted. Both give the same figures.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from .day_tally import day_tally_usable
from .filters import ContactFilterSet
from .models import ContactDayTally, ReplyStatus

PERIODS = ("day", "week", "month")
GROUPINGS = (*PERIODS, "worker_id", "account_id")
MAX_GROUPS = 1000


def funnel_rate(part: int, whole: int) -> float:
    """`part` of `whole` as a fraction rounded to 4 places; 0 when `whole` is 0 (the export's 统计 sheet too)."""
    return round(part / whole, 4) if whole else 0


class TooManyGroups(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(f"{count} groups, at most {MAX_GROUPS}")
        self.count = count


@dataclass(frozen=True)
class Funnel:
    contacts: int = 0
    replied: int = 0
    wechat_exchanged: int = 0

    def __add__(self, other: Funnel) -> Funnel:
        return Funnel(
            self.contacts + other.contacts,
            self.replied + other.replied,
            self.wechat_exchanged + other.wechat_exchanged,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "contacts": self.contacts,
            "replied": self.replied,
            "reply_rate": funnel_rate(self.replied, self.contacts),
            "wechat_exchanged": self.wechat_exchanged,
            "wechat_rate": funnel_rate(self.wechat_exchanged, self.contacts),
        }


def period_start(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _next_period(start: dt.date, period: str) -> dt.date:
    if period == "week":
        return start + dt.timedelta(days=7)
    if period == "month":
        return dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + dt.timedelta(days=1)


def _period_count(first: dt.date, last: dt.date, period: str) -> int:
    if period == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first).days // (7 if period == "week" else 1) + 1


def _period_key(start: dt.date, period: str) -> str:
    return start.strftime("%Y-%m") if period == "month" else start.isoformat()


def _funnel_sums(rows: QuerySet, column: str) -> QuerySet:
    """Each group's funnel: `column` is the count of contacts, either one a row or a tally's total."""

    def aggregate(**condition: object) -> Count | Coalesce:
        where = Q(**condition) if condition else None
        return Count(column, filter=where) if column == "id" else Coalesce(Sum(column, filter=where), 0)

    return rows.annotate(
        contacts=aggregate(),
        replied=aggregate(reply_status=ReplyStatus.REPLIED),
        wechat=aggregate(wechat_exchanged=True),
    )


def _tally_rows(*, filters: dict[str, Any], accounts: frozenset[int] | None, using: str) -> QuerySet:
    rows = ContactDayTally.objects.using(using).order_by()
    if accounts is not None:
        rows = rows.filter(account_id__in=accounts)
    if filters.get("start_date"):
        rows = rows.filter(day__gte=filters["start_date"])
    if filters.get("end_date"):
        rows = rows.filter(day__lte=filters["end_date"])
    for name in ("account_id", "worker_id", "reply_status"):
        if filters.get(name) not in (None, ""):
            rows = rows.filter(**{name: filters[name]})
    if filters.get("wechat_exchanged") is not None:
        rows = rows.filter(wechat_exchanged=filters["wechat_exchanged"])
    return rows


def _grouped(*, filterset: ContactFilterSet, accounts: frozenset[int] | None, group_by: str) -> dict[Any, Funnel]:
    """Each group's funnel, keyed by the local day for periods, else by the worker or account id."""
    filters = filterset.form.cleaned_data
    using = filterset.queryset.db
    field = "day" if group_by in PERIODS else group_by
    if not filters.get("search") and day_tally_usable(using=using):
        rows = _funnel_sums(_tally_rows(filters=filters, accounts=accounts, using=using).values(field), "total")
    else:
        contacts = filterset.qs.order_by()
        if field == "day":
            contacts = contacts.annotate(day=TruncDate("created_at"))
        rows = _funnel_sums(contacts.values(field), "id")
    return {
        key: Funnel(contacts, replied, wechat)
        for key, contacts, replied, wechat in rows.values_list(field, "contacts", "replied", "wechat")
        if contacts
    }


def _by_period(counts: dict[dt.date, Funnel], period: str, first: dt.date | None, last: dt.date | None) -> list:
    """Every period from `first`'s to `last`'s (the contacts' own first and last when not given), zeros
    where there were no contacts."""
    if counts:
        first = first or min(counts)
        last = last or max(counts)
    elif first is None or last is None:
        if first is None and last is None:
            return []
        first = last = first or last
    start, end = period_start(first, period), period_start(last, period)
    count = _period_count(start, end, period)
    if count > MAX_GROUPS:
        raise TooManyGroups(count)
    sums: dict[dt.date, Funnel] = defaultdict(Funnel)
    for day, funnel in counts.items():
        sums[period_start(day, period)] += funnel
    results = []
    while start <= end:
        results.append((_period_key(start, period), sums[start]))
        start = _next_period(start, period)
    return results


def contact_stats(*, filterset: ContactFilterSet, accounts: frozenset[int] | None, group_by: str) -> dict[str, Any]:
    """The funnel of the contacts `filterset` selects, in total and per group, for a valid `filterset`.

    `accounts` is the caller's scope (None: every account), the one `filterset.queryset` is already limited
    to. Raises TooManyGroups beyond MAX_GROUPS groups.
    """
    counts = _grouped(filterset=filterset, accounts=accounts, group_by=group_by)
    if group_by in PERIODS:
        filters = filterset.form.cleaned_data
        results = _by_period(counts, group_by, filters.get("start_date"), filters.get("end_date"))
    else:
        if len(counts) > MAX_GROUPS:
            raise TooManyGroups(len(counts))
        results = sorted(counts.items())
    totals = sum(counts.values(), Funnel())
    return {
        "group_by": group_by,
        "totals": totals.as_dict(),
        "results": [{"key": key, **funnel.as_dict()} for key, funnel in results],
    }
