"""The per-day tally stays exact however contacts change, follows the time zone, and answers the list's totals."""

from collections import Counter
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import local_time, make_contact
from import_support import csv_bytes

from contacts.day_tally import day_tally_usable
from contacts.filters import ContactFilterSet
from contacts.imports.services import contacts_import
from contacts.models import Contact, ContactDayTally, DayTallyZone, ReplyStatus

pytestmark = pytest.mark.django_db


def recounted() -> Counter:
    """What the tally should hold, counted in Python from the contacts and the configured zone."""
    return Counter(
        (timezone.localtime(contact.created_at).date(), *key)
        for contact in Contact.objects.all()
        for key in [(contact.account_id, contact.worker_id, contact.reply_status, contact.wechat_exchanged)]
    )


def tallied() -> Counter:
    rows = ContactDayTally.objects.filter(total__gt=0)
    assert not ContactDayTally.objects.filter(total__lt=0).exists()
    return Counter(
        {(row.day, row.account_id, row.worker_id, row.reply_status, row.wechat_exchanged): row.total for row in rows}
    )


@pytest.fixture
def seeded(db):
    call_command("seed_contacts", count=400, seed=11, days=20, stdout=StringIO())


def test_a_bulk_insert_is_tallied_per_local_day(seeded):
    """Seeded rows land on their local day, per account, worker, status and WeChat."""
    assert tallied() == recounted()
    assert sum(tallied().values()) == 400


def test_the_tally_follows_creates_saves_updates_and_deletes(seeded):
    """Every way the ORM changes a counted column moves the tally, a day change included."""
    make_contact(created_at=local_time("2026-01-01 00:00"))
    moved = Contact.objects.order_by("id").first()
    moved.created_at = local_time("2025-12-31 23:59:59")
    moved.worker_id = "worker-moved"
    moved.save()
    Contact.objects.filter(worker_id="worker-002").update(reply_status=ReplyStatus.REPLIED, wechat_exchanged=True)
    Contact.objects.filter(worker_id="worker-003").update(account_id=9)
    Contact.objects.filter(worker_id="worker-004").update(created_at=local_time("2026-02-02 12:00"))
    Contact.objects.filter(worker_id="worker-005").delete()
    Contact.objects.filter(worker_id="worker-006").update(notes="只改备注")
    assert tallied() == recounted()


def test_the_tally_follows_raw_sql(seeded):
    """Writes that bypass the ORM are counted too: the triggers do the counting."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE contacts_contact SET worker_id = %s WHERE account_id = %s", ["raw", 2])
        cursor.execute("DELETE FROM contacts_contact WHERE account_id = %s", [3])
    assert tallied() == recounted()


def test_deleting_everything_leaves_nothing_counted(seeded):
    """After all contacts are gone no day holds a contact."""
    Contact.objects.all().delete()
    assert tallied() == Counter()


def test_emptying_the_table_at_once_empties_the_tally(seeded):
    """PostgreSQL's TRUNCATE fires no row or statement delete trigger, so the tally has its own truncate
    trigger; SQLite has no TRUNCATE, and its unqualified DELETE (its fast "truncate") still fires triggers."""
    emptying = "TRUNCATE contacts_contact" if connection.vendor == "postgresql" else "DELETE FROM contacts_contact"
    with connection.cursor() as cursor:
        cursor.execute(emptying)
    assert tallied() == Counter()


def test_a_change_of_time_zone_rebuilds_the_tally_at_the_next_migrate(settings, seeded):
    """With DJANGO_TIME_ZONE changed the tally is not trusted until `migrate` rebuilds it for the new zone."""
    before = settings.TIME_ZONE
    settings.TIME_ZONE = "America/New_York"
    assert not day_tally_usable()
    assert DayTallyZone.objects.get().zone == before
    call_command("migrate", verbosity=0)
    assert day_tally_usable()
    assert DayTallyZone.objects.get().zone == "America/New_York"
    assert tallied() == recounted()
    make_contact(created_at=local_time("2026-03-08 01:30"), worker_id="after-rebuild")
    assert tallied() == recounted()


def test_without_a_tally_for_the_zone_the_list_counts_and_agrees(settings, seeded):
    """Until the rebuild, totals for date ranges are counted from the contacts, not read from a wrong tally."""
    settings.TIME_ZONE = "America/New_York"
    queryset = ContactFilterSet({"start_date": "2026-01-01"}, queryset=Contact.objects.all()).qs
    with CaptureQueriesContext(connection) as queries:
        total = queryset.tallied_count()
    assert total == queryset.count()
    assert "COUNT(*)" in queries[-1]["sql"]


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2026-11-01", "end_date": "2026-11-30"},
        {"worker_id": "worker-003"},
        {"end_date": "2026-11-20", "reply_status": "已回复", "wechat_exchanged": "true"},
        {"start_date": "2026-11-25", "account_id": "2", "worker_id": "worker-001"},
    ],
)
def test_the_lists_totals_for_days_and_workers_read_the_day_tally(seeded, params):
    """Whole-day ranges and a worker with any other tallied filter: one sum over the per-day tally, exact."""
    queryset = ContactFilterSet(params, queryset=Contact.objects.all()).qs
    with CaptureQueriesContext(connection) as queries:
        total = queryset.tallied_count()
    assert total == len(list(queryset))
    assert [query["sql"].split(" FROM ")[1].split()[0].strip('"') for query in queries][
        -1
    ] == "contacts_contactdaytally"


def test_a_range_that_does_not_start_at_midnight_is_counted(seeded):
    """A bound that is not a local midnight (only the ORM can ask for one) is counted, not read from days."""
    since = local_time("2026-11-20 08:30")
    queryset = Contact.objects.filter(created_at__gte=since)
    with CaptureQueriesContext(connection) as queries:
        total = queryset.tallied_count()
    assert total == len(list(queryset))
    assert "COUNT(*)" in queries[-1]["sql"]


def test_imports_and_bulk_reports_are_tallied(seeded, admin_api):
    """An import's created and updated rows (PostgreSQL writes them by COPY and one UPDATE) and a worker's
    bulk report land on the right days."""
    header = ["ID", "姓名", "账号 ID", "Worker ID", "回复状态", "创建时间"]
    first = Contact.objects.order_by("id").first()
    rows = [header, [first.id, first.name, 7, "imported", "已回复", "2026-06-01 23:59:59"]]
    rows += [["", f"导入{n}", 8, "imported", "未回复", f"2026-06-0{1 + n % 2} 00:00:00"] for n in range(300)]
    report = contacts_import(file=BytesIO(csv_bytes(rows)), user=None)
    assert (report.created, report.updated, report.error_count) == (300, 1, 0)
    reported = [{"name": f"上报{n}", "account_id": 5, "worker_id": "bulk"} for n in range(50)]
    assert admin_api.post("/api/contacts", reported, format="json").status_code == 201
    assert tallied() == recounted()
