"""The admin's date drill-down probes periods by index and answers what truncating every row answers."""

import datetime as dt

import pytest
from django.db import models
from django.utils import timezone

from contacts.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts_over_two_years():
    """Contacts on scattered local days in 2023 and 2024, including both sides of local midnight."""
    moments = [
        dt.datetime(2023, 12, 31, 23, 59, 59),
        dt.datetime(2024, 1, 1, 0, 0, 0),
        dt.datetime(2024, 2, 29, 12, 0),
        dt.datetime(2024, 3, 1, 0, 30),
        dt.datetime(2024, 3, 17, 8, 0),
        dt.datetime(2024, 3, 17, 23, 0),
        dt.datetime(2024, 11, 30, 16, 0),
    ]
    Contact.objects.bulk_create(
        Contact(name=f"联系人{n}", account_id=1, created_at=timezone.make_aware(moment))
        for n, moment in enumerate(moments)
    )


@pytest.mark.parametrize("kind", ["year", "month", "day"])
@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_probed_periods_equal_truncated_periods(contacts_over_two_years, kind, order):
    """Years, months and days present, in local time, in either order, as Django computes them."""
    queryset = Contact.objects.all()
    truncated = list(models.QuerySet.datetimes(queryset, "created_at", kind, order))
    assert queryset.datetimes("created_at", kind, order) == truncated


def test_probed_periods_respect_filters(contacts_over_two_years):
    """Only periods that hold rows of the filtered queryset are listed."""
    march = Contact.objects.filter(created_at__gte=timezone.make_aware(dt.datetime(2024, 3, 1)))
    assert march.datetimes("created_at", "month") == list(models.QuerySet.datetimes(march, "created_at", "month"))
    assert Contact.objects.none().datetimes("created_at", "day") == []


def test_admin_changelist_drills_down_by_year_and_month(contacts_over_two_years, admin_client):
    """The date hierarchy offers the years, then the months of a year, then the days of a month."""
    top = admin_client.get("/admin/contacts/contact/")
    assert top.status_code == 200
    assert "created_at__year=2023" in top.content.decode() and "created_at__year=2024" in top.content.decode()
    months = admin_client.get("/admin/contacts/contact/?created_at__year=2024").content.decode()
    for month in (1, 2, 3, 11):
        assert f"created_at__month={month}&" in months or f'created_at__month={month}"' in months
    days = admin_client.get("/admin/contacts/contact/?created_at__year=2024&created_at__month=3").content.decode()
    assert "created_at__day=1" in days and "created_at__day=17" in days and 'created_at__day=2"' not in days
