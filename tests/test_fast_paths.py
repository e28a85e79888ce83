"""Hand-written fast paths answer exactly what the generic code they replace answers."""

import datetime as dt
import sys
import unicodedata

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import client_for, make_contact
from rest_framework import serializers

from contacts.api.serializers import ContactSerializer
from contacts.backends import OneQueryModelBackend, user_get_with_permissions
from contacts.filters import ContactFilterSet
from contacts.imports import columns
from contacts.imports.columns import DATETIME_FORMATS, DATETIME_MSG
from contacts.models import Contact
from contacts.scoping import accounts_assign, contact_accounts_of
from contacts.validators import has_control_character

pytestmark = pytest.mark.django_db


def permission(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


@pytest.fixture
def users():
    editors = Group.objects.create(name="editors")
    editors.permissions.add(permission("change_contact"), permission("view_contact"))
    own_only = User.objects.create_user("own")
    own_only.user_permissions.add(permission("view_contact"))
    grouped = User.objects.create_user("grouped")
    grouped.groups.add(editors)
    both = User.objects.create_user("both")
    both.groups.add(editors)
    both.user_permissions.add(permission("export_contact"), permission("view_contact"))
    inactive = User.objects.create_user("inactive", is_active=False)
    inactive.user_permissions.add(permission("view_contact"))
    nothing = User.objects.create_user("nothing")
    boss = User.objects.create_superuser("boss")
    return [own_only, grouped, both, inactive, nothing, boss]


def test_permissions_equal_djangos_in_one_query(users):
    """User, group, mixed, inactive, empty and superuser permission sets match ModelBackend's."""
    for user in users:
        expected = ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
        fresh = User.objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as queries:
            assert OneQueryModelBackend().get_all_permissions(fresh) == expected, user.username
        assert len(queries) == (0 if not user.is_active else 1)


def test_the_user_comes_with_its_permissions_in_one_query(users):
    """The user the API authenticates is the stored one, with the permissions ModelBackend reads."""
    fields = [field.attname for field in User._meta.concrete_fields]
    for user in users:
        with CaptureQueriesContext(connection) as queries:
            fetched = user_get_with_permissions(user_id=user.pk)
            may_view = fetched.has_perm("contacts.view_contact")
        stored = User.objects.get(pk=user.pk)
        assert [getattr(fetched, name) for name in fields] == [getattr(stored, name) for name in fields]
        assert may_view == ModelBackend().has_perm(stored, "contacts.view_contact") or stored.is_superuser
        assert fetched.get_all_permissions() == ModelBackend().get_all_permissions(stored), user.username
        assert len(queries) == 1, user.username


def test_the_user_comes_with_the_accounts_it_sees_in_that_one_query(users):
    """Own and group accounts, read with the user's row, equal those the ORM reads for the same user."""
    own_only, grouped, both, _, nothing, _ = users
    accounts_assign(holder=own_only, account_ids=[3, 1])
    accounts_assign(holder=Group.objects.get(name="editors"), account_ids=[2, 3])
    accounts_assign(holder=both, account_ids=[3, 9])
    expected = {own_only: {1, 3}, grouped: {2, 3}, both: {2, 3, 9}, nothing: set()}
    for user, accounts in expected.items():
        with CaptureQueriesContext(connection) as queries:
            fetched = user_get_with_permissions(user_id=user.pk)
            seen = contact_accounts_of(user=fetched)
        assert seen == contact_accounts_of(user=User.objects.get(pk=user.pk)) == frozenset(accounts), user.username
        assert len(queries) == 1, user.username


def test_a_scoped_list_request_costs_three_queries_too(db):
    """A user of some accounts: the user with its permissions and accounts, the kept count, the page."""
    user = User.objects.create_user("scoped")
    user.user_permissions.add(permission("view_contact"))
    accounts_assign(holder=user, account_ids=[1, 2])
    make_contact(account_id=1)
    make_contact(account_id=3)
    client = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/contacts")
    assert response.json()["data"]["total"] == 1
    assert len(queries) == 3, [query["sql"] for query in queries]


def test_no_such_user_is_none(db):
    """A token's user id that no row has finds nobody."""
    assert user_get_with_permissions(user_id=987654) is None


def test_a_list_request_costs_three_queries(api):
    """The user with its permissions, the kept count, the page: no more round trips than that."""
    make_contact(name="张三")
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/contacts")
    assert response.status_code == 200
    assert response.json()["data"]["total"] == 1
    assert len(queries) == 3, [query["sql"] for query in queries]


def test_permissions_are_read_once_per_user_object(users):
    """A request's many permission checks cost one query."""
    user = User.objects.get(username="both")
    backend = OneQueryModelBackend()
    with CaptureQueriesContext(connection) as queries:
        assert backend.has_perm(user, "contacts.export_contact")
        assert backend.has_perm(user, "contacts.change_contact")
        assert not backend.has_perm(user, "contacts.add_contact")
    assert len(queries) == 1


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC"])
def test_contact_representation_equals_the_generic_field_walk(settings, zone):
    """Every field, empty contact times and microseconds included, as DRF's fields render them."""
    settings.TIME_ZONE = zone
    moment = timezone.make_aware(dt.datetime(2024, 3, 1, 23, 59, 59, 999_999))
    contacts = [
        Contact.objects.create(name="张三", account_id=1, contacted_at=None, created_at=moment),
        Contact.objects.create(
            name="李四",
            position="产品经理",
            contact="wechat:lisi",
            reply_status="已回复",
            wechat_exchanged=True,
            account_id=2_147_483_647,
            worker_id="worker-001",
            notes="备注\n第二行",
            contacted_at=moment + dt.timedelta(hours=5),
            created_at=moment - dt.timedelta(days=400),
        ),
    ]
    for contact in [*contacts, Contact.objects.get(pk=contacts[1].pk)]:
        serializer = ContactSerializer(contact)
        assert serializer.data == serializers.ModelSerializer.to_representation(serializer, contact)


def test_the_filter_form_class_is_built_once_and_still_validates_each_request():
    """Each request gets its own bound form of one shared class, with its own errors."""
    good = ContactFilterSet({"reply_status": "已回复"}, queryset=Contact.objects.all())
    bad = ContactFilterSet({"reply_status": "x", "page": "2"}, queryset=Contact.objects.all())
    assert type(good.form) is type(bad.form)
    assert good.is_valid() and not bad.is_valid()
    assert list(bad.errors) == ["reply_status"]
    assert good.form.cleaned_data["reply_status"] == "已回复"


def test_control_characters_are_unicodes_category_cc_but_tabs_and_line_breaks():
    """The validators' pattern finds exactly the characters of category Cc other than tab, LF and CR, on every
    code point."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        expected = unicodedata.category(char) == "Cc" and char not in "\t\n\r"
        assert has_control_character(f"ab{char}c") is expected, hex(code)


def strptime_read(text: str) -> dt.datetime | str:
    """How the import read a time before its shortcut for the export's format: the formats in turn, then ISO."""
    for pattern in DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return DATETIME_MSG


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01 10:15:30",
        "2024-02-29 23:59:59",
        "2023-02-29 10:00:00",
        "2024-13-01 00:00:00",
        "2024-00-10 00:00:00",
        "2024-01-00 00:00:00",
        "2024-04-31 00:00:00",
        "2024-01-01 24:00:00",
        "2024-01-01 23:60:00",
        "2024-01-01 23:59:60",
        "2024-01-01 23:59:61",
        "0000-01-01 00:00:00",
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59",
    ],
)
def test_the_exports_time_format_is_read_as_strptime_reads_it(text):
    """A time in the export's own format (the import's shortcut) reads as the formats read it, or fails alike."""
    try:
        read = columns.cell_read("contacted_at", text, from_csv=True)
    except columns.CellError as error:
        read = error.message
    assert read == strptime_read(text)
