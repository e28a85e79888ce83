"""Deep pages come from ids first, from the nearer end, and match plain OFFSET paging exactly."""

import datetime as dt

import pytest
from django.utils import timezone

from contacts.api import pagination
from contacts.filters import ORDERINGS
from contacts.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts_with_ties():
    """57 contacts where created and contact times repeat and some contact times are empty."""
    base = timezone.make_aware(dt.datetime(2024, 3, 1, 9, 0))
    Contact.objects.bulk_create(
        Contact(
            name=f"联系人{n}",
            account_id=1,
            created_at=base + dt.timedelta(hours=n % 7),
            contacted_at=None if n % 4 == 0 else base + dt.timedelta(hours=n % 5),
        )
        for n in range(57)
    )


@pytest.mark.parametrize("ordering", list(ORDERINGS))
def test_every_page_matches_offset_paging_in_every_ordering(contacts_with_ties, monkeypatch, ordering):
    """With the id-first path forced on, every page equals the plain slice of the same ordering."""
    monkeypatch.setattr(pagination, "DEEP_OFFSET", 0)
    queryset = Contact.objects.order_by(*ORDERINGS[ordering])
    expected = list(queryset.values_list("id", flat=True))
    total = len(expected)
    for page_size in (1, 10, 13):
        seen = []
        for offset in range(0, total, page_size):
            rows = pagination.page_rows(queryset, offset=offset, limit=page_size, total=total)
            assert [row.id for row in rows] == expected[offset : offset + page_size]
            seen.extend(row.id for row in rows)
        assert seen == expected


def test_deep_page_through_the_api_matches_the_shallow_listing(contacts_with_ties, api, monkeypatch):
    """The API's deep pages equal the rows a full listing has at that position."""
    everything = [row["id"] for row in api.get("/api/contacts?page_size=100").json()["data"]["results"]]
    monkeypatch.setattr(pagination, "DEEP_OFFSET", 5)
    for page in (1, 2, 3, 4, 5, 6):
        payload = api.get(f"/api/contacts?page={page}&page_size=10").json()["data"]
        assert payload["total"] == 57
        assert [row["id"] for row in payload["results"]] == everything[(page - 1) * 10 : page * 10]
