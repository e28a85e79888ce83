"""Counting and date drill-down answered from indexes and kept tallies instead of full scans."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import connections, models
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, GreaterThanOrEqual, In, LessThan
from django.db.models.sql.where import AND
from django.utils import timezone

TALLIED_FIELDS = frozenset({"account_id", "reply_status", "wechat_exchanged"})
# Only the per-day tally has these: `created_at` counts there when the bounds fall on local midnights.
DAY_TALLIED_FIELDS = TALLIED_FIELDS | {"worker_id", "created_at"}
# Beyond this many periods, one seek per period costs more than one scan.
MAX_PROBED_PERIODS = 400


def _local_midnight_day(value: object) -> dt.date | None:
    """The day that `value` is the first instant of, in the service's time zone, else None."""
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        return None
    local = value.astimezone(ZoneInfo(settings.TIME_ZONE))
    if timezone.make_aware(dt.datetime.combine(local.date(), dt.time.min), local.tzinfo) != value:
        return None
    return local.date()


def _tallied_filters(query: models.sql.Query) -> list[tuple[str, str, tuple]] | None:
    """The query's conditions as (tally column, operator, values) when every one of them can be read from a
    kept tally: equalities or `IN`s (a user's scope is an `IN` of their accounts), and whole-day bounds
    of `created_at`; else None."""
    if (
        query.is_sliced
        or query.distinct
        or query.combinator
        or query.group_by is not None
        or query.annotations
        or query.extra
        or len(query.alias_map) > 1
        or query.where.negated
        or query.where.connector != AND
    ):
        return None
    filters = []
    for condition in query.where.children:
        if not (
            isinstance(condition, Exact | In | GreaterThanOrEqual | LessThan)
            and isinstance(condition.lhs, Col)
            and condition.lhs.target.name in DAY_TALLIED_FIELDS
            and not hasattr(condition.rhs, "resolve_expression")
        ):
            return None
        name = condition.lhs.target.name
        if name == "created_at":
            day = _local_midnight_day(condition.rhs)
            if day is None or isinstance(condition, Exact | In):
                return None
            filters.append(("day", ">=" if isinstance(condition, GreaterThanOrEqual) else "<", (day,)))
        elif isinstance(condition, Exact | In):
            filters.append((name, "IN", tuple(condition.rhs) if isinstance(condition, In) else (condition.rhs,)))
        else:
            return None
    return filters


def _tally_sum(db: str, filters: list[tuple[str, str, tuple]]) -> int | None:
    """The kept tally's total for these conditions, in one plain query (the ORM's aggregate costs more than
    the sum itself, and nearly every list request counts); None when only a per-day tally could answer
    and it counts another time zone's days."""
    if any(not values for _, _, values in filters):
        return 0
    if all(name in TALLIED_FIELDS for name, _, _ in filters):
        tally = apps.get_model("contacts", "ContactTally")
    else:
        from .day_tally import day_tally_usable

        if not day_tally_usable(using=db):
            return None
        tally = apps.get_model("contacts", "ContactDayTally")
    connection = connections[db]
    quote = connection.ops.quote_name
    conditions, params = [], []
    for name, operator, values in filters:
        field = tally._meta.get_field(name)
        placeholders = f"({', '.join(['%s'] * len(values))})" if operator == "IN" else "%s"
        conditions.append(f"{quote(field.column)} {operator} {placeholders}")
        params += [field.get_db_prep_value(value, connection, prepared=False) for value in values]
    where = " AND ".join(conditions) or "1 = 1"
    total = quote(tally._meta.get_field("total").column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(SUM({total}), 0) FROM {quote(tally._meta.db_table)} WHERE {where}", params)  # noqa: S608
        return int(cursor.fetchone()[0])


def _next_period(moment: dt.datetime, kind: str) -> dt.datetime:
    if kind == "year":
        naive = dt.datetime(moment.year + 1, 1, 1)
    elif kind == "month":
        naive = dt.datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1)
    else:
        naive = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time.min)
    return timezone.make_aware(naive)


def _period_start(moment: dt.datetime, kind: str) -> dt.datetime:
    local = timezone.localtime(moment)
    naive = dt.datetime(local.year, 1 if kind == "year" else local.month, 1 if kind != "day" else local.day)
    return timezone.make_aware(naive)


class ContactQuerySet(models.QuerySet):
    def tallied_count(self) -> int:
        """The exact count, read from the kept tally when the filters allow (most list pages), else counted.

        The list's paginator and the admin's ask for it by name; `count()` stays Django's own.
        """
        filters = _tallied_filters(self.query)
        total = None if filters is None else _tally_sum(self.db, filters)
        return self.count() if total is None else total

    def datetimes(self, field_name: str, kind: str, order: str = "ASC", tzinfo=None):
        """The admin's date drill-down without truncating every row: one index seek per period present.

        Returns a list, not a queryset; the admin only iterates it.
        """
        if kind not in ("year", "month", "day") or tzinfo is not None:
            return super().datetimes(field_name, kind, order, tzinfo)
        moments = self.order_by(field_name).values_list(field_name, flat=True)
        present: list[dt.datetime] = []
        moment = moments.first()
        while moment is not None:
            if len(present) == MAX_PROBED_PERIODS:
                return super().datetimes(field_name, kind, order, tzinfo)
            present.append(_period_start(moment, kind))
            moment = moments.filter(**{f"{field_name}__gte": _next_period(present[-1], kind)}).first()
        return present if order == "ASC" else present[::-1]
