"""The management commands `make run` relies on: seed_contacts and ensure_admin."""

import datetime as dt
import itertools
import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, ContactDayTally, ReplyStatus

pytestmark = pytest.mark.django_db

COMPARED = ["name", "position", "contact", "reply_status", "wechat_exchanged", "account_id", "worker_id", "notes"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_contacts", *args, stdout=out)
    return out.getvalue()


def ensure_admin() -> str:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def snapshot() -> list[tuple]:
    """The seeded rows oldest first, with times as offsets from the newest so that runs compare."""
    rows = list(Contact.objects.order_by("created_at", "id").values(*COMPARED, "created_at", "contacted_at"))
    newest = rows[-1]["created_at"]
    return [
        (
            *(row[field] for field in COMPARED),
            newest - row["created_at"],
            row["contacted_at"] and row["contacted_at"] - row["created_at"],
        )
        for row in rows
    ]


def test_seed_contacts_loads_the_requested_count():
    """--count N adds exactly N contacts and says so."""
    out = seed("--count", "250")
    assert Contact.objects.count() == 250
    assert out.startswith("Loaded 250 contacts in ")


@pytest.mark.django_db(transaction=True)
def test_seed_contacts_leaves_the_planners_statistics_fresh():
    """After the load, outside any transaction: PostgreSQL's VACUUM (ANALYZE) (row estimate and visibility
    map), SQLite's ANALYZE (sqlite_stat1): a fresh load plans like one autovacuum has seen."""
    out = seed("--count", "250")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            assert out.endswith(
                'then ran VACUUM (ANALYZE) "contacts_contact"; VACUUM (ANALYZE) "contacts_contactdaytally".\n'
            )
            cursor.execute("SELECT reltuples, relallvisible FROM pg_class WHERE relname = 'contacts_contact'")
            estimated, all_visible_pages = cursor.fetchone()
            assert (estimated, all_visible_pages > 0) == (250, True)
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'contacts_contactdaytally'")
            assert cursor.fetchone()[0] == ContactDayTally.objects.count() > 0
        else:
            assert out.endswith('then ran ANALYZE "contacts_contact"; ANALYZE "contacts_contactdaytally".\n')
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'contacts_contact'")
            counted = [stat.split()[0] for (stat,) in cursor.fetchall()]
            assert counted and set(counted) == {"250"}
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'contacts_contactdaytally'")
            tallied = [stat.split()[0] for (stat,) in cursor.fetchall()]
            assert tallied and set(tallied) == {str(ContactDayTally.objects.count())}


def test_seed_contacts_rows_look_real():
    """Chinese names, a phone number or a wechat id, both statuses, several workers and accounts."""
    seed("--count", "300", "--seed", "3")
    rows = list(Contact.objects.all())
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", row.name) for row in rows)
    assert all(re.fullmatch(r"1[0-9]{10}|wechat:[a-z]{6}[0-9]{1,3}", row.contact) for row in rows)
    assert {row.reply_status for row in rows} == set(ReplyStatus.values)
    assert all(row.reply_status == ReplyStatus.REPLIED for row in rows if row.wechat_exchanged)
    assert len({row.worker_id for row in rows}) > 1
    assert len({row.account_id for row in rows}) > 1
    assert any(row.contacted_at is None for row in rows)
    assert all(row.contacted_at >= row.created_at for row in rows if row.contacted_at)


def test_the_same_seed_gives_the_same_rows():
    """Two runs with one seed produce identical contacts, times included relative to the run."""
    seed("--count", "200", "--seed", "42")
    first = snapshot()
    Contact.objects.all().delete()
    seed("--count", "200", "--seed", "42")
    assert snapshot() == first


def test_another_seed_gives_other_rows():
    """The seed is what decides the rows."""
    seed("--count", "50", "--seed", "1")
    first = snapshot()
    Contact.objects.all().delete()
    seed("--count", "50", "--seed", "2")
    assert snapshot() != first


def test_seed_contacts_spreads_rows_over_the_last_days():
    """--days D places every row within the last D days, spread over the whole span."""
    before = timezone.now()
    seed("--count", "300", "--days", "3")
    times = sorted(Contact.objects.values_list("created_at", flat=True))
    assert before - dt.timedelta(days=3, seconds=1) <= times[0] < before - dt.timedelta(days=2, hours=23)
    assert before - dt.timedelta(minutes=15) <= times[-1] <= timezone.now()
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps) < dt.timedelta(hours=1)


def test_seed_contacts_if_empty_leaves_a_filled_table_alone():
    """--if-empty loads only into an empty table, so `make run` can call it every time."""
    seed("--count", "20", "--if-empty")
    out = seed("--count", "20", "--if-empty")
    assert Contact.objects.count() == 20
    assert out == "Contacts already exist: nothing loaded.\n"


@pytest.mark.parametrize("args", [("--count", "-1"), ("--count", "5", "--days", "0")])
def test_seed_contacts_refuses_nonsense_arguments(args):
    """A negative count or fewer than one day is an error, not a silent no-op."""
    with pytest.raises(CommandError, match="--count must be >= 0 and --days >= 1"):
        seed(*args)
    assert not Contact.objects.exists()


def test_ensure_admin_uses_the_password_from_the_environment(monkeypatch):
    """With DJANGO_SUPERUSER_PASSWORD the account `admin` gets that password, which is not printed."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-environment-1")
    out = ensure_admin()
    admin = User.objects.get(username="admin")
    assert (admin.is_superuser, admin.is_staff, admin.check_password("from-the-environment-1")) == (True, True, True)
    assert out == "Created the admin account `admin` with DJANGO_SUPERUSER_PASSWORD.\n"
    assert "from-the-environment-1" not in out


def test_ensure_admin_prints_a_random_password_once(monkeypatch):
    """Without DJANGO_SUPERUSER_PASSWORD a random password is made and shown this one time only."""
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = ensure_admin()
    password = re.search(r"with the password: (\S+)\n", out).group(1)
    assert len(password) >= 16
    assert User.objects.get(username="admin").check_password(password)
    again = ensure_admin()
    assert again == "An admin account exists already.\n"
    assert User.objects.count() == 1


def test_ensure_admin_makes_a_different_password_each_time(monkeypatch):
    """The random password is not a fixed default."""
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    first = re.search(r"with the password: (\S+)\n", ensure_admin()).group(1)
    User.objects.all().delete()
    second = re.search(r"with the password: (\S+)\n", ensure_admin()).group(1)
    assert first != second


def test_ensure_admin_does_nothing_when_a_superuser_exists(monkeypatch):
    """An existing superuser of any name means no `admin` account is added and no password changed."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-environment-1")
    User.objects.create_superuser(username="boss", password="kept-password-1")
    assert ensure_admin() == "An admin account exists already.\n"
    assert list(User.objects.values_list("username", flat=True)) == ["boss"]
    assert User.objects.get().check_password("kept-password-1")


def test_ensure_admin_explains_a_plain_user_named_admin_instead_of_crashing(monkeypatch):
    """A non-superuser already called `admin` is neither promoted silently nor hit with a unique-key crash."""
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    User.objects.create_user(username="admin", password="kept-password-1")
    with pytest.raises(CommandError, match="A user `admin` exists but is not a superuser"):
        ensure_admin()
    admin = User.objects.get()
    assert (admin.is_superuser, admin.check_password("kept-password-1")) == (False, True)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("admin", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("1234567890", "This password is entirely numeric."),
        ("admin2026", "The password is too similar to the username."),
    ],
)
def test_ensure_admin_refuses_a_weak_password_from_the_environment(monkeypatch, password, problem):
    """DJANGO_SUPERUSER_PASSWORD goes through Django's password validators; a weak one creates no account."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)
    with pytest.raises(CommandError) as refused:
        ensure_admin()
    assert str(refused.value).startswith("DJANGO_SUPERUSER_PASSWORD is refused: ")
    assert problem in str(refused.value)
    assert not User.objects.exists()
