"""Counting and date drill-down answered from indexes and kept tallies instead of full scans."""

import datetime as dt

from django.apps import apps
from django.db import connections, models
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In
from django.db.models.sql.where import AND
from django.utils import timezone

TALLIED_FIELDS = frozenset({"account_id", "reply_status", "wechat_exchanged"})
# Beyond this many periods, one seek per period costs more than one scan.
MAX_PROBED_PERIODS = 400


def _tallied_filters(query: models.sql.Query) -> list[tuple[str, tuple]] | None:
    """The query's conditions as (field, values it may take) when they are only equalities or `IN`s on
    tallied fields (a user's scope is an `IN` of their accounts), else None."""
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
            isinstance(condition, Exact | In)
            and isinstance(condition.lhs, Col)
            and condition.lhs.target.name in TALLIED_FIELDS
            and not hasattr(condition.rhs, "resolve_expression")
        ):
            return None
        values = tuple(condition.rhs) if isinstance(condition, In) else (condition.rhs,)
        filters.append((condition.lhs.target.name, values))
    return filters


def _tally_sum(db: str, filters: list[tuple[str, tuple]]) -> int:
    """The kept tally's total for these conditions, in one plain query (the ORM's aggregate costs
    more than the sum itself, and nearly every list request counts)."""
    if any(not values for _, values in filters):
        return 0
    tally = apps.get_model("contacts", "ContactTally")
    connection = connections[db]
    quote = connection.ops.quote_name
    conditions, params = [], []
    for name, values in filters:
        field = tally._meta.get_field(name)
        conditions.append(f"{quote(field.column)} IN ({', '.join(['%s'] * len(values))})")
        params += [field.get_db_prep_value(value, connection, prepared=True) for value in values]
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
        if filters is None:
            return self.count()
        return _tally_sum(self.db, filters)

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
