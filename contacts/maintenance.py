"""Keeping the contacts table (and the per-day tally its triggers fill) ready to serve after a bulk write.

A bulk load leaves the planner's statistics stale (on PostgreSQL, before autovacuum has run, also the
visibility map that index-only scans need): measured at a million rows, the deep page took 179 ms and the
`worker_id` list fell to 0.5% of the ceiling until `VACUUM (ANALYZE)`; 10 ms and 4.8% after it.
"""

from __future__ import annotations

from django.db import connections

from contacts.models import Contact, ContactDayTally


def contacts_statistics_refresh(*, using: str = "default") -> str:
    """Refresh the planner's view of the contacts and the per-day tally after a bulk write; returns the
    statements run.

    PostgreSQL: `VACUUM (ANALYZE)`, or `ANALYZE` alone inside a transaction, where VACUUM cannot run.
    SQLite: `ANALYZE` (its sqlite_stat1 table, which its planner reads).
    """
    connection = connections[using]
    tables = [connection.ops.quote_name(model._meta.db_table) for model in (Contact, ContactDayTally)]
    vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
    statements = [f"VACUUM (ANALYZE) {table}" if vacuum else f"ANALYZE {table}" for table in tables]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return "; ".join(statements)
