"""GET /api/contacts/stats: the funnel per period, worker or account, equal to what the list counts."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import client_for, local_time, make_contact, make_user

from contacts.day_tally import day_tally_rebuild
from contacts.models import ReplyStatus
from contacts.scoping import accounts_assign

pytestmark = pytest.mark.django_db

REPLIED = ReplyStatus.REPLIED


def stats(api, **params) -> dict:
    response = api.get("/api/contacts/stats", params)
    assert response.status_code == 200, response.json()
    return response.json()["data"]


def list_total(api, **params) -> int:
    response = api.get("/api/contacts", params)
    assert response.status_code == 200, response.json()
    return response.json()["data"]["total"]


def funnel(key, contacts, replied, wechat) -> dict:
    def rate(part):
        return round(part / contacts, 4) if contacts else 0

    return {
        "key": key,
        "contacts": contacts,
        "replied": replied,
        "reply_rate": rate(replied),
        "wechat_exchanged": wechat,
        "wechat_rate": rate(wechat),
    }


def totals(contacts, replied, wechat) -> dict:
    return {name: value for name, value in funnel(None, contacts, replied, wechat).items() if name != "key"}


@pytest.fixture
def week_of_contacts(db):
    """Seven contacts over 2026-03-02 (a Monday) to 2026-03-10, two workers, two accounts, none on the 5th to 8th."""
    made = [
        ("2026-03-02 00:00", "w-a", 1, REPLIED, True),
        ("2026-03-02 23:59:59.999999", "w-a", 1, REPLIED, False),
        ("2026-03-03 00:00", "w-b", 2, ReplyStatus.PENDING, False),
        ("2026-03-04 12:00", "w-b", 1, REPLIED, False),
        ("2026-03-04 12:30", "w-a", 2, ReplyStatus.PENDING, False),
        ("2026-03-09 08:00", "w-b", 2, REPLIED, True),
        ("2026-03-10 09:00", "w-a", 1, ReplyStatus.PENDING, False),
    ]
    for created, worker, account, status, wechat in made:
        make_contact(
            created_at=local_time(created),
            worker_id=worker,
            account_id=account,
            reply_status=status,
            wechat_exchanged=wechat,
        )


def test_stats_by_day_list_every_day_of_the_contacts_with_zeros_between(api, week_of_contacts):
    """Without dates the range is the first to the last contact's day; empty days are there with zeros."""
    assert stats(api) == {
        "group_by": "day",
        "totals": totals(7, 4, 2),
        "results": [
            funnel("2026-03-02", 2, 2, 1),
            funnel("2026-03-03", 1, 0, 0),
            funnel("2026-03-04", 2, 1, 0),
            funnel("2026-03-05", 0, 0, 0),
            funnel("2026-03-06", 0, 0, 0),
            funnel("2026-03-07", 0, 0, 0),
            funnel("2026-03-08", 0, 0, 0),
            funnel("2026-03-09", 1, 1, 1),
            funnel("2026-03-10", 1, 0, 0),
        ],
    }


def test_stats_by_week_are_keyed_by_the_monday_of_iso_weeks(api, week_of_contacts):
    """Weeks start on Monday; the asked dates widen the range to whole weeks, empty ones included."""
    assert stats(api, group_by="week", start_date="2026-02-25", end_date="2026-03-16") == {
        "group_by": "week",
        "totals": totals(7, 4, 2),
        "results": [
            funnel("2026-02-23", 0, 0, 0),
            funnel("2026-03-02", 5, 3, 1),
            funnel("2026-03-09", 2, 1, 1),
            funnel("2026-03-16", 0, 0, 0),
        ],
    }


def test_stats_by_month_are_keyed_by_year_and_month(api, week_of_contacts):
    """Months read `YYYY-MM`; a start date alone runs the range to the last contact's month."""
    assert stats(api, group_by="month", start_date="2026-01-31") == {
        "group_by": "month",
        "totals": totals(7, 4, 2),
        "results": [funnel("2026-01", 0, 0, 0), funnel("2026-02", 0, 0, 0), funnel("2026-03", 7, 4, 2)],
    }


def test_stats_by_worker_and_by_account_list_only_those_with_contacts(api, week_of_contacts):
    """Worker ids are keys as text, account ids as numbers, in order; the filters apply first."""
    assert stats(api, group_by="worker_id", end_date="2026-03-04") == {
        "group_by": "worker_id",
        "totals": totals(5, 3, 1),
        "results": [funnel("w-a", 3, 2, 1), funnel("w-b", 2, 1, 0)],
    }
    assert stats(api, group_by="account_id", reply_status=REPLIED) == {
        "group_by": "account_id",
        "totals": totals(4, 4, 2),
        "results": [funnel(1, 3, 3, 1), funnel(2, 1, 1, 1)],
    }


def test_no_matching_contacts_and_no_dates_is_no_groups(api, week_of_contacts):
    """Nothing matches: zero totals, rates 0, and no period to list."""
    assert stats(api, worker_id="nobody") == {"group_by": "day", "totals": totals(0, 0, 0), "results": []}


def test_a_search_is_counted_from_the_contacts_and_agrees_with_the_tally(api, week_of_contacts):
    """`search` cannot be read from the tally: the counted figures are the tally's own for the same rows."""
    for group_by in ("day", "week", "worker_id", "account_id"):
        searched = stats(api, group_by=group_by, search="产品经理")
        assert searched == stats(api, group_by=group_by)
    assert stats(api, search="没有这个词") == {"group_by": "day", "totals": totals(0, 0, 0), "results": []}


def test_without_a_search_the_figures_come_from_the_tally(api, week_of_contacts):
    """A year by day and by worker read the per-day tally, never the contacts table."""
    for group_by in ("day", "worker_id"):
        with CaptureQueriesContext(connection) as queries:
            stats(api, group_by=group_by, start_date="2026-01-01", end_date="2026-12-31")
        read = " ".join(query["sql"] for query in queries)
        assert "contacts_contactdaytally" in read
        assert 'contacts_contact"' not in read.replace('contacts_contact"."', "")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"group_by": "hour"}, "group_by", "只能是 day、week、month、worker_id、account_id"),
        ({"group_by": ""}, "group_by", "只能是 day、week、month、worker_id、account_id"),
        ({"start_date": "2026-13-01"}, "start_date", "日期格式应为 YYYY-MM-DD"),
        ({"wechat_exchanged": "maybe"}, "wechat_exchanged", "只能是 true 或 false(也可用 1 或 0)"),
        ({"start_date": "2026-03-05", "end_date": "2026-03-01"}, "end_date", "结束日期不能早于开始日期"),
        (
            {"start_date": "2020-01-01", "end_date": "2026-12-31"},
            "group_by",
            "分组过多(2557 组,最多 1000 组):请缩小日期范围,或改用更粗的分组(week 或 month)",
        ),
    ],
)
def test_bad_parameters_are_a_400_naming_them(api, week_of_contacts, params, field, message):
    """The list's filters are validated as the list does; `group_by` and too many groups name `group_by`."""
    response = api.get("/api/contacts/stats", params)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "msg": f"{field}: {message}", "data": {field: [message]}}


def test_a_thousand_days_are_answered_and_one_more_is_refused(api, week_of_contacts):
    """At most 1,000 groups: 1,000 days are fine, 1,001 ask for a coarser grouping, which answers."""
    start = dt.date(2026, 1, 1)
    assert len(stats(api, start_date=start, end_date=start + dt.timedelta(days=999))["results"]) == 1000
    too_many = api.get("/api/contacts/stats", {"start_date": start, "end_date": start + dt.timedelta(days=1000)})
    assert too_many.status_code == 400
    assert too_many.json()["data"] == {
        "group_by": ["分组过多(1001 组,最多 1000 组):请缩小日期范围,或改用更粗的分组(week 或 month)"]
    }
    assert (
        len(stats(api, group_by="week", start_date=start, end_date=start + dt.timedelta(days=1000))["results"]) == 144
    )


def test_a_user_counts_only_the_contacts_of_their_accounts(week_of_contacts):
    """Scoping as the list's: a user of account 2 sees its three contacts only, in totals and groups."""
    user = make_user("scoped", "contacts.view_contact")
    accounts_assign(holder=user, account_ids=[2])
    scoped = client_for(user)
    assert stats(scoped, group_by="account_id") == {
        "group_by": "account_id",
        "totals": totals(3, 1, 1),
        "results": [funnel(2, 3, 1, 1)],
    }
    assert stats(scoped, group_by="worker_id", account_id=1)["totals"] == totals(0, 0, 0)
    assert stats(scoped)["totals"]["contacts"] == list_total(scoped) == 3


def test_stats_need_a_login_and_view_contact(anon, week_of_contacts):
    """No token: 401; a user without `view_contact`: 403; both in the envelope."""
    assert anon.get("/api/contacts/stats").json() == {"code": 401, "msg": "身份认证信息未提供。", "data": None}
    nobody = client_for(make_user("nobody"))
    response = nobody.get("/api/contacts/stats")
    assert (response.status_code, response.json()["code"]) == (403, 403)


def test_the_admins_session_reads_the_stats_but_changes_nothing(client, week_of_contacts):
    """Staff logged in to the admin read the stats with their session (the dashboard does); other methods
    are refused."""
    staff = make_user("staff", "contacts.view_contact", "contacts.view_all_contacts", is_staff=True)
    client.force_login(staff)
    response = client.get("/api/contacts/stats", {"group_by": "month"})
    assert response.status_code == 200
    assert response.json()["data"]["results"] == [funnel("2026-03", 7, 4, 2)]
    assert client.post("/api/contacts/stats").status_code in (403, 405)


# --- the same figures as the list --------------------------------------------------------------------------


def assert_stats_equal_the_list(api, **filters) -> None:
    """For each group of each grouping, the list's totals for that group's filters are the stats' figures."""
    for group_by in ("day", "week", "month", "worker_id", "account_id"):
        answer = stats(api, group_by=group_by, **filters)
        assert answer["totals"]["contacts"] == list_total(api, **filters), (group_by, filters)
        for group in answer["results"]:
            narrowed = dict(filters)
            if group_by in ("worker_id", "account_id"):
                narrowed[group_by] = group["key"]
            else:
                first, last = period_days(group["key"], group_by)
                narrowed["start_date"] = max(first, filters.get("start_date", first))
                narrowed["end_date"] = min(last, filters.get("end_date", last))
            assert group["contacts"] == list_total(api, **narrowed), (group_by, group)
            assert group["replied"] == list_total(api, **narrowed, reply_status=REPLIED), (group_by, group)
            assert group["wechat_exchanged"] == list_total(api, **narrowed, wechat_exchanged="true"), (group_by, group)


def period_days(key: str, group_by: str) -> tuple[str, str]:
    if group_by == "month":
        first = dt.date.fromisoformat(f"{key}-01")
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    else:
        first = dt.date.fromisoformat(key)
        last = first + dt.timedelta(days=6 if group_by == "week" else 0)
    return first.isoformat(), last.isoformat()


def contacts_around_midnights(days: list[str]) -> None:
    """On each day: its first instant, its last microsecond, and noon, of different workers and statuses."""
    for n, day in enumerate(days):
        for m, clock in enumerate(("00:00", "12:00", "23:59:59.999999")):
            make_contact(
                created_at=local_time(f"{day} {clock}"),
                worker_id=f"w-{(n + m) % 3}",
                account_id=1 + (n * 3 + m) % 2,
                reply_status=REPLIED if (n + m) % 2 else ReplyStatus.PENDING,
                wechat_exchanged=(n * m) % 3 == 1,
            )


@pytest.mark.parametrize("filters", [{}, {"start_date": "2026-03-29", "end_date": "2026-04-01"}, {"worker_id": "w-1"}])
def test_the_stats_equal_the_lists_totals_around_midnights(api, filters):
    """In the default zone (no daylight saving): every group's figures equal the list's totals."""
    contacts_around_midnights(["2026-03-28", "2026-03-29", "2026-03-30", "2026-04-01", "2026-05-31"])
    assert_stats_equal_the_list(api, **filters)


@pytest.fixture
def berlin(settings, db):
    """The service in Europe/Berlin, its per-day tally rebuilt for it (as `migrate` does after a change)."""
    settings.TIME_ZONE = "Europe/Berlin"
    day_tally_rebuild()


@pytest.mark.parametrize(
    "filters",
    [{}, {"start_date": "2026-03-28", "end_date": "2026-03-30"}, {"end_date": "2026-10-25"}, {"account_id": 2}],
)
def test_the_stats_equal_the_lists_totals_across_daylight_saving_changes(berlin, api, filters):
    """In Europe/Berlin, over the days the clocks go forward (2026-03-29) and back (2026-10-25): the
    23- and 25-hour days hold exactly their own contacts, in the stats as in the list."""
    contacts_around_midnights(["2026-03-28", "2026-03-29", "2026-03-30", "2026-10-24", "2026-10-25", "2026-10-26"])
    assert_stats_equal_the_list(api, **filters)
    by_day = {
        group["key"]: group["contacts"]
        for group in stats(api, start_date="2026-03-29", end_date="2026-03-29")["results"]
    }
    assert by_day == {"2026-03-29": 3}
