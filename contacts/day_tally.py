"""The per-day tally (ContactDayTally): its triggers, built for the service's time zone, and when to trust it.

A day is a local date, so the triggers are written for one time zone, the one DayTallyZone records. After
every `migrate` the tally is rebuilt (triggers and rows) if DJANGO_TIME_ZONE is not the recorded zone, and
readers use it only while the two agree; otherwise they count the contacts, slower but still exact.

PostgreSQL counts per statement from transition tables, like the account tally of migrations 0004/0008;
SQLite per row, through the date function Django registers on each of its connections (so a write from
outside Django, such as the sqlite3 shell, fails rather than miscount).
"""

# The SQL here is built from table names and a checked zone name, never from input.
# ruff: noqa: S608

from __future__ import annotations

import re

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from .models import Contact, ContactDayTally, DayTallyZone

TALLY = ContactDayTally._meta.db_table
CONTACTS = Contact._meta.db_table
KEY = "day, account_id, worker_id, reply_status, wechat_exchanged"
ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-/]+")

# The zone each database's tally counts in, as last read or built by this process.
_recorded: dict[str, str] = {}


def _local_day(connection: BaseDatabaseWrapper, column: str, zone: str) -> str:
    if connection.vendor == "postgresql":
        return f"({column} AT TIME ZONE '{zone}')::date"
    return f"django_datetime_cast_date({column}, '{zone}', '{connection.timezone_name}')"


def _postgresql_triggers(zone: str, connection: BaseDatabaseWrapper) -> list[str]:
    def changes(table: str, delta: int) -> str:
        day = _local_day(connection, "created_at", zone)
        return (
            f"SELECT {day} AS day, account_id, worker_id, reply_status, wechat_exchanged, {delta} AS delta FROM {table}"
        )

    # Summed per key and upserted in key order, so that concurrent writers lock tally rows in one order.
    def upsert(rows: str) -> str:
        return f"""
        INSERT INTO {TALLY} AS t ({KEY}, total)
        SELECT {KEY}, sum(delta) FROM ({rows}) AS changes
        GROUP BY {KEY} HAVING sum(delta) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT ({KEY}) DO UPDATE SET total = t.total + EXCLUDED.total;"""

    added, removed = changes("contacts_new", 1), changes("contacts_old", -1)
    return [
        f"""CREATE OR REPLACE FUNCTION contacts_day_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {upsert(added)} RETURN NULL; END $$""",
        f"""CREATE OR REPLACE FUNCTION contacts_day_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {upsert(removed)} RETURN NULL; END $$""",
        f"""CREATE OR REPLACE FUNCTION contacts_day_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {upsert(removed + " UNION ALL " + added)} RETURN NULL; END $$""",
        f"""CREATE OR REPLACE FUNCTION contacts_day_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM {TALLY}; RETURN NULL; END $$""",
        f"DROP TRIGGER IF EXISTS contacts_day_tally_insert ON {CONTACTS}",
        f"DROP TRIGGER IF EXISTS contacts_day_tally_delete ON {CONTACTS}",
        f"DROP TRIGGER IF EXISTS contacts_day_tally_update ON {CONTACTS}",
        f"DROP TRIGGER IF EXISTS contacts_day_tally_truncate ON {CONTACTS}",
        f"""CREATE TRIGGER contacts_day_tally_insert AFTER INSERT ON {CONTACTS}
        REFERENCING NEW TABLE AS contacts_new FOR EACH STATEMENT EXECUTE FUNCTION contacts_day_tally_insert()""",
        f"""CREATE TRIGGER contacts_day_tally_delete AFTER DELETE ON {CONTACTS}
        REFERENCING OLD TABLE AS contacts_old FOR EACH STATEMENT EXECUTE FUNCTION contacts_day_tally_delete()""",
        f"""CREATE TRIGGER contacts_day_tally_update AFTER UPDATE ON {CONTACTS}
        REFERENCING OLD TABLE AS contacts_old NEW TABLE AS contacts_new
        FOR EACH STATEMENT EXECUTE FUNCTION contacts_day_tally_update()""",
        f"""CREATE TRIGGER contacts_day_tally_truncate AFTER TRUNCATE ON {CONTACTS}
        FOR EACH STATEMENT EXECUTE FUNCTION contacts_day_tally_truncate()""",
    ]


def _sqlite_triggers(zone: str, connection: BaseDatabaseWrapper) -> list[str]:
    def add(row: str) -> str:
        day = _local_day(connection, f"{row}.created_at", zone)
        return f"""
        INSERT INTO {TALLY} ({KEY}, total)
        VALUES ({day}, {row}.account_id, {row}.worker_id, {row}.reply_status, {row}.wechat_exchanged, 1)
        ON CONFLICT ({KEY}) DO UPDATE SET total = total + 1;"""

    def remove(row: str) -> str:
        day = _local_day(connection, f"{row}.created_at", zone)
        return f"""
        UPDATE {TALLY} SET total = total - 1
        WHERE day = {day} AND account_id = {row}.account_id AND worker_id = {row}.worker_id
        AND reply_status = {row}.reply_status AND wechat_exchanged = {row}.wechat_exchanged;"""

    counted = ("created_at", "account_id", "worker_id", "reply_status", "wechat_exchanged")
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in counted)
    return [
        "DROP TRIGGER IF EXISTS contacts_day_tally_insert",
        "DROP TRIGGER IF EXISTS contacts_day_tally_delete",
        "DROP TRIGGER IF EXISTS contacts_day_tally_update",
        f"CREATE TRIGGER contacts_day_tally_insert AFTER INSERT ON {CONTACTS} BEGIN {add('NEW')} END",
        f"CREATE TRIGGER contacts_day_tally_delete AFTER DELETE ON {CONTACTS} BEGIN {remove('OLD')} END",
        f"""CREATE TRIGGER contacts_day_tally_update AFTER UPDATE OF {", ".join(counted)} ON {CONTACTS}
        WHEN {changed} BEGIN {remove("OLD")} {add("NEW")} END""",
    ]


def day_tally_rebuild(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Write the triggers for DJANGO_TIME_ZONE and refill the tally from the contacts, in one transaction."""
    zone = settings.TIME_ZONE
    if not ZONE_NAME.fullmatch(zone):
        raise ValueError(f"unexpected time zone name {zone!r}")
    connection = connections[using]
    build = _postgresql_triggers if connection.vendor == "postgresql" else _sqlite_triggers
    day = _local_day(connection, "created_at", zone)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for statement in build(zone, connection):
            cursor.execute(statement)
        cursor.execute(f"DELETE FROM {TALLY}")
        cursor.execute(
            f"INSERT INTO {TALLY} ({KEY}, total) "
            f"SELECT {day}, account_id, worker_id, reply_status, wechat_exchanged, count(*) FROM {CONTACTS} "
            f"GROUP BY 1, 2, 3, 4, 5"
        )
        DayTallyZone.objects.using(using).update_or_create(pk=1, defaults={"zone": zone})
    _recorded.pop(using, None)


def day_tally_usable(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the tally counts days of DJANGO_TIME_ZONE (read once per process and database)."""
    if using not in _recorded:
        _recorded[using] = DayTallyZone.objects.using(using).filter(pk=1).values_list("zone", flat=True).first() or ""
    return _recorded[using] == settings.TIME_ZONE


def day_tally_after_migrate(*, using: str, **kwargs: object) -> None:
    """post_migrate: rebuild the tally when the time zone changed (or on the first migrate that made it)."""
    connection = connections[using]
    if TALLY not in connection.introspection.table_names():
        return
    _recorded.pop(using, None)
    if not day_tally_usable(using=using):
        day_tally_rebuild(using=using)


def _forget_on_zone_change(*, setting: str, **kwargs: object) -> None:
    if setting == "TIME_ZONE":
        _recorded.clear()


setting_changed.connect(_forget_on_zone_change)
