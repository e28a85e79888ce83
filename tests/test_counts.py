"""The kept tally answers counts exactly, however the rows change."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, ContactTally, ReplyStatus

pytestmark = pytest.mark.django_db

FILTERS = [
    {},
    {"reply_status": ReplyStatus.REPLIED},
    {"reply_status": ReplyStatus.PENDING},
    {"wechat_exchanged": True},
    {"wechat_exchanged": False},
    {"reply_status": ReplyStatus.REPLIED, "wechat_exchanged": True},
    {"reply_status": ReplyStatus.PENDING, "wechat_exchanged": True},
]


def real_count(**filters) -> int:
    return len(Contact.objects.filter(**filters).values_list("id", flat=True))


def assert_counts_exact() -> None:
    for filters in FILTERS:
        assert Contact.objects.filter(**filters).tallied_count() == real_count(**filters), filters


@pytest.fixture
def seeded():
    call_command("seed_contacts", count=300, seed=5, stdout=StringIO())


def test_unfiltered_count_reads_the_tally_not_the_table(seeded):
    """Counting all contacts costs one small query on the tally table."""
    with CaptureQueriesContext(connection) as queries:
        total = Contact.objects.tallied_count()
    assert total == 300
    assert len(queries) == 1
    assert "contacts_contacttally" in queries[0]["sql"]


def test_counts_stay_exact_after_bulk_insert(seeded):
    """A bulk insert of seeded rows is counted in every status and wechat group."""
    assert_counts_exact()


def test_counts_stay_exact_after_create_update_and_delete(seeded):
    """Single creates, status changes by save and by update(), and deletes all move the tally."""
    Contact.objects.create(name="新人", account_id=1)
    contact = Contact.objects.filter(reply_status=ReplyStatus.PENDING).first()
    contact.reply_status = ReplyStatus.REPLIED
    contact.wechat_exchanged = True
    contact.save()
    Contact.objects.filter(worker_id="worker-002").update(reply_status=ReplyStatus.REPLIED, wechat_exchanged=False)
    Contact.objects.filter(worker_id="worker-003").delete()
    Contact.objects.filter(worker_id="worker-004").update(notes="只改备注")
    assert_counts_exact()


def test_counts_stay_exact_after_raw_sql_changes(seeded):
    """The triggers keep the tally right even for writes that bypass the ORM."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM contacts_contact WHERE worker_id = %s", ["worker-005"])
        cursor.execute("UPDATE contacts_contact SET reply_status = %s WHERE worker_id = %s", ["已回复", "worker-006"])
    assert_counts_exact()


def test_other_filters_count_the_rows_themselves(seeded):
    """Filters the tally cannot answer (ranges, negations, other fields) fall back to COUNT."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    querysets = [
        Contact.objects.filter(worker_id="worker-001"),
        Contact.objects.exclude(reply_status=ReplyStatus.REPLIED),
        Contact.objects.filter(created_at__gte=since, reply_status=ReplyStatus.REPLIED),
        Contact.objects.filter(Q(reply_status=ReplyStatus.REPLIED) | Q(wechat_exchanged=True)),
        Contact.objects.filter(reply_status__in=[ReplyStatus.REPLIED]),
        Contact.objects.none(),
        Contact.objects.all()[:7],
    ]
    for queryset in querysets:
        assert queryset.tallied_count() == len(list(queryset))


def test_tally_is_empty_after_deleting_everything(seeded):
    """Deleting every contact leaves every group at zero."""
    Contact.objects.all().delete()
    assert Contact.objects.tallied_count() == 0
    assert set(ContactTally.objects.values_list("total", flat=True)) <= {0}


def test_count_is_djangos_own_and_the_tally_is_asked_for_by_name(seeded):
    """`count()` is not replaced: only callers that ask for `tallied_count()` read the tally."""
    with CaptureQueriesContext(connection) as queries:
        assert Contact.objects.count() == 300
    assert "contacts_contacttally" not in queries[0]["sql"]


def test_the_admin_list_reads_its_count_from_the_tally(admin_client, seeded):
    """The unfiltered admin list of a million rows must not COUNT them: its paginator asks the tally."""
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/contacts/contact/")
    assert response.context["cl"].result_count == 300
    counts = [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]
    assert not [sql for sql in counts if "contacts_contact" in sql and "contacttally" not in sql], counts
