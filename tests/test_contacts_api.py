"""The contacts resource: list (shape, paging, every filter, ordering), detail, create and change."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from factories import client_for, local_time, make_contact, make_user

from contacts.models import Contact

pytestmark = pytest.mark.django_db

FIELDS = [
    "id",
    "name",
    "position",
    "contact",
    "reply_status",
    "wechat_exchanged",
    "account_id",
    "worker_id",
    "notes",
    "contacted_at",
    "created_at",
]
REPLIED, PENDING = "已回复", "未回复"


@pytest.fixture(autouse=True)
def _shanghai(settings):
    """The documented default zone, whatever the developer's environment says."""
    settings.TIME_ZONE = "Asia/Shanghai"


def listing(client, **params):
    """The list page for `params`, asserted to be a 200 envelope; returns `data`."""
    response = client.get("/api/contacts", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["code"], body["msg"]) == (200, "success")
    return body["data"]


def ids(client, **params) -> list[int]:
    return [row["id"] for row in listing(client, page_size=100, **params)["results"]]


def bad_params(client, **params) -> dict:
    response = client.get("/api/contacts", params)
    assert response.status_code == 400, response.content
    return response.json()


def bulk(count: int, **fields) -> list[Contact]:
    start = local_time("2024-03-01 09:00")
    return Contact.objects.bulk_create(
        Contact(
            name=f"候选人{n}",
            position="测试工程师",
            contact=f"139{n:08d}",
            account_id=1,
            worker_id="worker-001",
            created_at=start + dt.timedelta(minutes=n),
            **fields,
        )
        for n in range(count)
    )


# --- shape -------------------------------------------------------------------------------------------


def test_list_has_total_page_page_size_and_results_with_the_eleven_fields(api):
    """The original document's shape, field for field, with local times and no fractions."""
    contact = make_contact(
        name="张三",
        position="产品经理",
        contact="13800138000",
        reply_status=REPLIED,
        wechat_exchanged=True,
        account_id=1,
        worker_id="worker-001",
        notes="沟通顺畅,有意向",
        contacted_at=local_time("2024-03-01 10:30:00.654321"),
        created_at=local_time("2024-03-01 10:00:00.123456"),
    )
    response = api.get("/api/contacts")
    assert response.status_code == 200
    assert response.json() == {
        "code": 200,
        "msg": "success",
        "data": {
            "total": 1,
            "page": 1,
            "page_size": 10,
            "results": [
                {
                    "id": contact.pk,
                    "name": "张三",
                    "position": "产品经理",
                    "contact": "13800138000",
                    "reply_status": "已回复",
                    "wechat_exchanged": True,
                    "account_id": 1,
                    "worker_id": "worker-001",
                    "notes": "沟通顺畅,有意向",
                    "contacted_at": "2024-03-01T10:30:00",
                    "created_at": "2024-03-01T10:00:00",
                }
            ],
        },
    }
    assert list(response.json()["data"]["results"][0]) == FIELDS


def test_an_empty_contact_time_is_null(api):
    """A contact that has no contact time yet shows `contacted_at: null`."""
    make_contact(contacted_at=None)
    assert listing(api)["results"][0]["contacted_at"] is None


def test_times_are_shown_in_the_configured_time_zone(api, settings):
    """The same instant reads as local wall-clock time of DJANGO_TIME_ZONE, without an offset."""
    make_contact(created_at=dt.datetime(2024, 3, 1, 2, 0, 5, tzinfo=dt.UTC))
    assert listing(api)["results"][0]["created_at"] == "2024-03-01T10:00:05"
    settings.TIME_ZONE = "America/New_York"
    assert listing(api)["results"][0]["created_at"] == "2024-02-29T21:00:05"


@pytest.mark.parametrize("path", ["/api/contacts", "/api/contacts/"])
def test_the_list_answers_with_and_without_the_trailing_slash_without_redirecting(api, path):
    """Both spellings answer 200 directly; a redirect would drop the Authorization header in browsers."""
    make_contact()
    response = api.get(path)
    assert response.status_code == 200
    assert response.json()["data"]["total"] == 1


def test_detail_create_and_change_answer_with_and_without_the_trailing_slash(admin_api):
    """The slash is optional on every route, for every method."""
    created = admin_api.post("/api/contacts/", {"name": "李四", "account_id": 2}, format="json")
    assert created.status_code == 201
    pk = created.json()["data"]["id"]
    assert admin_api.get(f"/api/contacts/{pk}/").status_code == 200
    assert admin_api.get(f"/api/contacts/{pk}").status_code == 200
    assert admin_api.patch(f"/api/contacts/{pk}/", {"notes": "a"}, format="json").status_code == 200
    assert admin_api.patch(f"/api/contacts/{pk}", {"notes": "b"}, format="json").status_code == 200


# --- paging ------------------------------------------------------------------------------------------


def test_the_first_page_of_ten_is_the_default(api):
    """Without paging parameters: page 1, ten newest rows, the total of all rows."""
    rows = bulk(12)
    data = listing(api)
    assert (data["total"], data["page"], data["page_size"]) == (12, 1, 10)
    assert [row["id"] for row in data["results"]] == [row.pk for row in reversed(rows)][:10]


def test_a_later_page_holds_the_rest(api):
    """Page 2 of size 5 over 12 rows holds rows 6 to 10, newest first."""
    rows = bulk(12)
    data = listing(api, page=2, page_size=5)
    assert (data["total"], data["page"], data["page_size"]) == (12, 2, 5)
    assert [row["id"] for row in data["results"]] == [row.pk for row in reversed(rows)][5:10]


def test_empty_paging_parameters_mean_the_defaults(api):
    """`page=` and `page_size=` with no value are as if absent."""
    bulk(3)
    data = listing(api, page="", page_size="")
    assert (data["total"], data["page"], data["page_size"], len(data["results"])) == (3, 1, 10, 3)


def test_a_page_size_above_one_hundred_is_capped_and_reported(api):
    """`page_size=500` returns 100 rows and says so."""
    bulk(120)
    data = listing(api, page_size=500)
    assert (data["total"], data["page"], data["page_size"], len(data["results"])) == (120, 1, 100, 100)


def test_a_page_past_the_last_is_empty_with_the_true_total(api):
    """Asking beyond the end is not an error: no rows, and the total tells where the end is."""
    bulk(3)
    assert listing(api, page=2) == {"total": 3, "page": 2, "page_size": 10, "results": []}


@pytest.mark.parametrize("name", ["page", "page_size"])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "1e3", "+2", "٣", "0x10"])
def test_a_paging_parameter_that_is_not_a_positive_integer_is_400(api, name, value):
    """Anything but a whole number of at least 1 is refused, naming the parameter."""
    assert bad_params(api, **{name: value}) == {
        "code": 400,
        "msg": f"{name}: 必须是不小于 1 的整数",
        "data": {name: ["必须是不小于 1 的整数"]},
    }


def test_a_huge_page_number_is_an_empty_page_not_a_500(api):
    """A page number far past any table, even past 64 bits, is just past the last page."""
    bulk(2)
    assert listing(api, page="999999999999999999") == {
        "total": 2,
        "page": 999999999999999999,
        "page_size": 10,
        "results": [],
    }
    for page in ("9223372036854775808", "1" + "0" * 40, "9" * 5000):
        data = listing(api, page=page)
        assert (data["total"], data["page_size"], data["results"]) == (2, 10, [])


@pytest.mark.parametrize("page_size", ["101", "9223372036854775808", "1" + "0" * 40, "9" * 5000])
def test_a_huge_page_size_is_capped_not_a_500(api, page_size):
    """A page size beyond 64 bits, or of thousands of digits, is still only a request for more than 100 rows."""
    bulk(2)
    data = listing(api, page_size=page_size)
    assert (data["total"], data["page"], data["page_size"], len(data["results"])) == (2, 1, 100, 2)


def test_leading_zeros_do_not_change_a_paging_number(api):
    """`007` is 7, and `000` is still 0, which is refused."""
    bulk(3)
    assert listing(api, page="001", page_size="002")["page_size"] == 2
    assert bad_params(api, page="000")["data"] == {"page": ["必须是不小于 1 的整数"]}


def test_the_total_is_the_real_count_after_every_kind_of_change(admin_api):
    """Creating, changing status or flag, and deleting rows all show in the total, filtered or not."""
    rows = bulk(6)
    admin_api.patch(f"/api/contacts/{rows[0].pk}", {"reply_status": REPLIED, "wechat_exchanged": True}, format="json")
    admin_api.post("/api/contacts", {"name": "新人", "account_id": 1, "reply_status": REPLIED}, format="json")
    Contact.objects.filter(pk=rows[1].pk).delete()
    Contact.objects.filter(pk__in=[rows[2].pk, rows[3].pk]).update(reply_status=REPLIED)
    Contact.objects.filter(pk=rows[3].pk).update(wechat_exchanged=True)
    cases = [
        ({}, {}),
        ({"reply_status": REPLIED}, {"reply_status": REPLIED}),
        ({"reply_status": PENDING}, {"reply_status": PENDING}),
        ({"wechat_exchanged": "true"}, {"wechat_exchanged": True}),
        ({"reply_status": REPLIED, "wechat_exchanged": "false"}, {"reply_status": REPLIED, "wechat_exchanged": False}),
    ]
    for params, lookups in cases:
        real = len(list(Contact.objects.filter(**lookups).values_list("pk", flat=True)))
        assert listing(admin_api, **params)["total"] == real, params
    assert listing(admin_api)["total"] == 6


# --- search ------------------------------------------------------------------------------------------


@pytest.fixture
def people() -> dict[str, int]:
    rows = {
        "zhang": make_contact(name="张三", position="产品经理", contact="13800138000"),
        "li": make_contact(name="李四", position="Python开发工程师", contact="wechat:LiSi123"),
        "wang": make_contact(name="王五", position="产品运营", contact="13912345678"),
        "latin": make_contact(name="Zhang Wei", position="Product Manager", contact="wechat:zw_01"),
        "odd": make_contact(name="100%达标", position="a_b 测试", contact="15000000000"),
    }
    return {key: row.pk for key, row in rows.items()}


def found(client, people: dict[str, int], search: str) -> set[str]:
    by_id = {pk: key for key, pk in people.items()}
    return {by_id[pk] for pk in ids(client, search=search)}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("张", {"zhang"}),
        ("张三", {"zhang"}),
        ("经理", {"zhang"}),
        ("产品", {"zhang", "wang"}),
        ("工程师", {"li"}),
        ("13800", {"zhang"}),
        ("000", {"zhang", "odd"}),
        ("wechat:", {"li", "latin"}),
    ],
)
def test_search_finds_a_term_in_name_position_or_contact(api, people, search, expected):
    """One term matches anywhere inside any of the three fields, short or long."""
    assert found(api, people, search) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("张三 产品", {"zhang"}),
        ("产品 139", {"wang"}),
        ("产品 李四", set()),
        ("wechat Manager", {"latin"}),
    ],
)
def test_search_terms_must_all_match_each_in_any_field(api, people, search, expected):
    """White space separates terms; a row must contain every term, each in any field."""
    assert found(api, people, search) == expected


@pytest.mark.parametrize("search", ["lisi", "LISI", "python", "PYTHON", "zhang wei", "ZHANG", "product manager"])
def test_search_ignores_case(api, people, search):
    """Latin letters match whatever their case, on SQLite as on PostgreSQL."""
    assert found(api, people, search) == (
        {"li"} if "lisi" in search.lower() or "python" in search.lower() else {"latin"}
    )


@pytest.mark.parametrize("search", ["  张三  ", "\t张三\n", "张三\u3000产品", " 产品  经理 "])
def test_search_is_trimmed_and_split_on_any_white_space(api, people, search):
    """Leading, trailing and repeated white space, tabs and the full-width space only separate terms."""
    assert found(api, people, search) == {"zhang"}


@pytest.mark.parametrize("search", ["", "   ", "\u3000"])
def test_an_empty_search_is_no_filter(api, people, search):
    """Blank search text lists everything."""
    assert found(api, people, search) == set(people)


@pytest.mark.parametrize(("search", "expected"), [("%", {"odd"}), ("_", {"latin", "odd"}), ("a_b", {"odd"})])
def test_search_wildcards_are_literal_characters(api, people, search, expected):
    """`%` and `_` match themselves, not any text."""
    assert found(api, people, search) == expected


def test_a_search_of_one_hundred_characters_is_accepted(api, people):
    """The limit is inclusive."""
    assert found(api, people, "张" * 100) == set()


def test_a_search_over_one_hundred_characters_is_400(api, people):
    """101 characters is refused, saying the limit and the length."""
    assert bad_params(api, search="张" * 101) == {
        "code": 400,
        "msg": "search: 确保该变量包含不超过 100 字符 (目前字符数 101)。",
        "data": {"search": ["确保该变量包含不超过 100 字符 (目前字符数 101)。"]},
    }


# --- the other filters -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [REPLIED, PENDING])
def test_reply_status_filters_on_the_stored_string(api, status):
    """Each status lists only its rows."""
    replied = make_contact(reply_status=REPLIED)
    pending = make_contact(reply_status=PENDING)
    assert ids(api, reply_status=status) == [replied.pk if status == REPLIED else pending.pk]


@pytest.mark.parametrize("value", ["yes", "replied", "已回", " 已回复x", "1"])
def test_an_unknown_reply_status_is_400_naming_the_allowed_values(api, value):
    """Anything but the two statuses is refused, listing what is allowed."""
    assert bad_params(api, reply_status=value) == {
        "code": 400,
        "msg": "reply_status: 只能是 未回复 或 已回复",
        "data": {"reply_status": ["只能是 未回复 或 已回复"]},
    }


@pytest.mark.parametrize(
    ("value", "exchanged"),
    [("true", True), ("TRUE", True), ("True", True), ("1", True), ("false", False), ("FALSE", False), ("0", False)],
)
def test_wechat_exchanged_takes_true_false_one_zero_in_any_case(api, value, exchanged):
    """`true`/`false`/`1`/`0` in any case select the rows with that flag."""
    yes = make_contact(wechat_exchanged=True)
    no = make_contact(wechat_exchanged=False)
    assert ids(api, wechat_exchanged=value) == [yes.pk if exchanged else no.pk]


def test_an_empty_wechat_exchanged_is_no_filter(api):
    """`wechat_exchanged=` lists both kinds."""
    make_contact(wechat_exchanged=True)
    make_contact(wechat_exchanged=False)
    assert len(ids(api, wechat_exchanged="")) == 2


@pytest.mark.parametrize("value", ["yes", "no", "t", "2", "-1", "truex"])
def test_any_other_wechat_exchanged_is_400(api, value):
    """A value that is not a boolean is refused, not silently ignored."""
    assert bad_params(api, wechat_exchanged=value) == {
        "code": 400,
        "msg": "wechat_exchanged: 只能是 true 或 false(也可用 1 或 0)",
        "data": {"wechat_exchanged": ["只能是 true 或 false(也可用 1 或 0)"]},
    }


@pytest.fixture
def day_edges() -> dict[str, int]:
    """Rows around the local day 2024-03-01 in Asia/Shanghai (16:00 UTC is local midnight)."""
    times = {
        "before": "2024-02-29 23:59:59.999999",
        "first": "2024-03-01 00:00:00",
        "noon": "2024-03-01 12:00:00",
        "last": "2024-03-01 23:59:59.999999",
        "next": "2024-03-02 00:00:00",
    }
    return {key: make_contact(created_at=local_time(text)).pk for key, text in times.items()}


def days(client, edges: dict[str, int], **params) -> set[str]:
    by_id = {pk: key for key, pk in edges.items()}
    return {by_id[pk] for pk in ids(client, **params)}


def test_one_day_is_the_whole_local_day_and_nothing_else(api, day_edges):
    """start = end = a day: from its 00:00:00 through 23:59:59.999999, not the next midnight."""
    assert days(api, day_edges, start_date="2024-03-01", end_date="2024-03-01") == {"first", "noon", "last"}


def test_start_date_alone_starts_at_local_midnight(api, day_edges):
    """The start day is included from its first instant."""
    assert days(api, day_edges, start_date="2024-03-01") == {"first", "noon", "last", "next"}


def test_end_date_alone_ends_before_the_next_local_midnight(api, day_edges):
    """The end day is included to its last microsecond."""
    assert days(api, day_edges, end_date="2024-03-01") == {"before", "first", "noon", "last"}


def test_dates_follow_the_configured_time_zone(api, settings):
    """Whole days are days of DJANGO_TIME_ZONE: in UTC the same rows fall on other days."""
    settings.TIME_ZONE = "UTC"
    late = make_contact(created_at=dt.datetime(2024, 3, 1, 23, 30, tzinfo=dt.UTC))
    assert ids(api, start_date="2024-03-01", end_date="2024-03-01") == [late.pk]
    settings.TIME_ZONE = "Asia/Shanghai"
    assert ids(api, start_date="2024-03-02", end_date="2024-03-02") == [late.pk]
    assert ids(api, start_date="2024-03-01", end_date="2024-03-01") == []


def test_a_start_after_the_end_is_400(api):
    """An empty, backwards range is a mistake worth telling about."""
    assert bad_params(api, start_date="2024-03-02", end_date="2024-03-01") == {
        "code": 400,
        "msg": "end_date: 结束日期不能早于开始日期",
        "data": {"end_date": ["结束日期不能早于开始日期"]},
    }


@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize("value", ["2024-02-30", "2024-13-01", "2024/03/01", "20240301", "03-01-2024", "today"])
def test_an_invalid_date_is_400(api, name, value):
    """Only real YYYY-MM-DD dates are accepted."""
    assert bad_params(api, **{name: value}) == {
        "code": 400,
        "msg": f"{name}: 日期格式应为 YYYY-MM-DD",
        "data": {name: ["日期格式应为 YYYY-MM-DD"]},
    }


@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize("value", ["0001-01-01", "1899-12-31", "9999-12-31"])
def test_a_date_at_the_ends_of_the_calendar_is_400_not_a_500(api, name, value):
    """Dates whose midnight cannot be shifted between time zones are refused before any query."""
    assert bad_params(api, **{name: value}) == {
        "code": 400,
        "msg": f"{name}: 日期应在 1900-01-01 与 9998-12-31 之间",
        "data": {name: ["日期应在 1900-01-01 与 9998-12-31 之间"]},
    }


def test_worker_id_matches_exactly(api):
    """`worker-001` is neither `worker-0010` nor `WORKER-001`."""
    exact = make_contact(worker_id="worker-001")
    make_contact(worker_id="worker-0010")
    make_contact(worker_id="WORKER-001")
    assert ids(api, worker_id="worker-001") == [exact.pk]


def test_account_id_matches_exactly(api):
    """Account 2 lists only account 2."""
    make_contact(account_id=1)
    two = make_contact(account_id=2)
    make_contact(account_id=12)
    assert ids(api, account_id="2") == [two.pk]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "输入整数。"),
        ("1.5", "输入整数。"),
        ("0", "确保该值大于或等于1。"),
        ("-3", "确保该值大于或等于1。"),
        ("99999999999999999999", "确保该值小于或等于2147483647。"),
    ],
)
def test_an_account_id_that_is_not_a_positive_integer_is_400(api, value, problem):
    """account_id is a whole number that an account can have."""
    assert bad_params(api, account_id=value) == {
        "code": 400,
        "msg": f"account_id: {problem}",
        "data": {"account_id": [problem]},
    }


def test_filters_combine(api):
    """The original document's combined example: every filter applies at once."""
    match = make_contact(
        position="产品经理", reply_status=REPLIED, wechat_exchanged=True, created_at=local_time("2024-06-01 10:00")
    )
    make_contact(position="产品经理", reply_status=REPLIED, wechat_exchanged=False, created_at=match.created_at)
    make_contact(position="产品经理", reply_status=PENDING, wechat_exchanged=True, created_at=match.created_at)
    make_contact(position="产品经理", reply_status=REPLIED, wechat_exchanged=True, created_at=local_time("2023-06-01"))
    make_contact(position="前端工程师", reply_status=REPLIED, wechat_exchanged=True, created_at=match.created_at)
    params = {
        "search": "产品经理",
        "reply_status": REPLIED,
        "wechat_exchanged": "true",
        "start_date": "2024-01-01",
        "end_date": "2024-12-31",
    }
    data = listing(api, **params)
    assert (data["total"], [row["id"] for row in data["results"]]) == (1, [match.pk])


def test_unknown_parameters_are_ignored(api):
    """Parameters the API does not know change nothing."""
    rows = bulk(3)
    assert ids(api, name="nobody", foo="bar", limit="1", offset="2") == [row.pk for row in reversed(rows)]


@pytest.mark.parametrize(
    "name",
    [
        "search",
        "reply_status",
        "wechat_exchanged",
        "start_date",
        "end_date",
        "worker_id",
        "account_id",
        "ordering",
        "page",
        "page_size",
    ],
)
@pytest.mark.parametrize("value", ["\x00", "abc\x00", "1\x00", "\x01", "a\x1fb", "\x7f", "a\x85b"])
def test_a_nul_or_control_character_in_any_parameter_is_400(api, name, value):
    """Text the databases cannot store or compare is refused up front, the same on SQLite and PostgreSQL."""
    make_contact()
    body = bad_params(api, **{name: value})
    assert body["code"] == 400
    assert list(body["data"]) == [name]
    assert body["msg"].startswith(f"{name}: ")


def test_invalid_utf8_in_a_parameter_is_not_a_500(api):
    """Bytes that are not UTF-8 arrive as replacement characters and simply match nothing."""
    make_contact()
    response = api.get("/api/contacts?search=%ff%fe&worker_id=%ED%A0%80")
    assert response.status_code == 200
    assert response.json()["data"] == {"total": 0, "page": 1, "page_size": 10, "results": []}


def test_a_nul_in_an_unknown_parameter_is_ignored(api):
    """An unknown parameter is ignored, whatever it holds."""
    make_contact()
    assert listing(api, foo="\x00")["total"] == 1


# --- ordering ----------------------------------------------------------------------------------------


@pytest.fixture
def ordered() -> list[int]:
    """Five rows with equal created_at pairs, an equal contacted_at pair and two empty contact times."""
    t1, t2, t3 = (local_time(f"2024-03-0{day} 10:00") for day in (1, 2, 3))
    x1, x2 = local_time("2024-04-01 09:00"), local_time("2024-04-02 09:00")
    specs = [(t1, x2), (t1, None), (t2, x1), (t2, x1), (t3, None)]
    return [make_contact(created_at=created, contacted_at=contacted).pk for created, contacted in specs]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("created_at", [2, 1, 4, 3, 5]),
        ("-created_at", [5, 4, 3, 2, 1]),
        ("contacted_at", [4, 3, 1, 5, 2]),
        ("-contacted_at", [1, 4, 3, 5, 2]),
        ("id", [1, 2, 3, 4, 5]),
        ("-id", [5, 4, 3, 2, 1]),
        ("", [5, 4, 3, 2, 1]),
    ],
)
def test_ordering_breaks_ties_by_newest_id_and_puts_empty_contact_times_last(api, ordered, ordering, expected):
    """Each of the six orders, ties broken by -id, empty contacted_at last both ways; -created_at by default."""
    assert ids(api, ordering=ordering) == [ordered[n - 1] for n in expected]


@pytest.mark.parametrize("value", ["name", "created", "+id", "-", "created_at,id", "CREATED_AT"])
def test_an_unknown_ordering_is_400_naming_the_allowed_values(api, value):
    """Only the six documented orderings are accepted."""
    message = "只能是 created_at, -created_at, contacted_at, -contacted_at, id, -id"
    assert bad_params(api, ordering=value) == {
        "code": 400,
        "msg": f"ordering: {message}",
        "data": {"ordering": [message]},
    }


@pytest.mark.parametrize("ordering", ["created_at", "-created_at", "contacted_at", "-contacted_at", "id", "-id"])
def test_paging_neither_repeats_nor_skips_a_row(api, ordering):
    """Walking pages of 2 over rows full of ties yields every row exactly once, in the one-page order."""
    same = local_time("2024-03-01 10:00")
    for n in range(11):
        make_contact(created_at=same + dt.timedelta(hours=n // 4), contacted_at=None if n % 3 else same)
    everything = ids(api, ordering=ordering)
    walked = []
    for page in range(1, 8):
        data = listing(api, ordering=ordering, page=page, page_size=2)
        assert data["total"] == 11
        walked += [row["id"] for row in data["results"]]
    assert walked == everything
    assert sorted(walked) == sorted(Contact.objects.values_list("pk", flat=True))


# --- detail ------------------------------------------------------------------------------------------


def test_detail_returns_one_contact_in_the_envelope(api):
    """GET /api/contacts/{id}: the same eleven fields as a list row."""
    contact = make_contact(notes="已发送简历", created_at=local_time("2024-03-01 10:00"))
    response = api.get(f"/api/contacts/{contact.pk}")
    assert response.status_code == 200
    assert response.json() == {
        "code": 200,
        "msg": "success",
        "data": {
            "id": contact.pk,
            "name": "张三",
            "position": "产品经理",
            "contact": "13800138000",
            "reply_status": "未回复",
            "wechat_exchanged": False,
            "account_id": 1,
            "worker_id": "worker-001",
            "notes": "已发送简历",
            "contacted_at": None,
            "created_at": "2024-03-01T10:00:00",
        },
    }


@pytest.mark.parametrize("suffix", ["0", "999999", "9223372036854775807", "9223372036854775808", "1" + "0" * 40])
def test_detail_of_an_absent_id_is_404(api, suffix):
    """An id that names no contact, however large, is a 404, never a 500."""
    make_contact()
    response = api.get(f"/api/contacts/{suffix}")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "msg": "未找到。", "data": None}


@pytest.mark.parametrize("suffix", ["abc", "-1", "1.0", "%00"])
def test_detail_of_a_non_numeric_id_is_404(api, suffix):
    """Ids are digits; any other path is simply not an endpoint."""
    response = api.get(f"/api/contacts/{suffix}")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "msg": "接口不存在", "data": None}


# --- create ------------------------------------------------------------------------------------------


@pytest.fixture
def bot(db):
    """A bot worker's account: it may add contacts and nothing else."""
    return client_for(make_user("bot", "contacts.add_contact", "contacts.view_all_contacts"))


REPORT = {
    "name": "李四",
    "position": "前端工程师",
    "contact": "wechat:lisi123",
    "reply_status": "未回复",
    "wechat_exchanged": False,
    "account_id": 2,
    "worker_id": "worker-002",
    "notes": "",
    "contacted_at": "2024-03-02T14:20:00",
    "created_at": "2024-03-02T14:00:00",
}


def test_a_bot_reports_a_contact_with_201(bot):
    """POST stores every field and answers with the stored contact."""
    response = bot.post("/api/contacts", REPORT, format="json")
    assert response.status_code == 201
    stored = Contact.objects.get()
    assert response.json() == {"code": 201, "msg": "success", "data": {"id": stored.pk, **REPORT}}
    assert (stored.name, stored.contact, stored.account_id, stored.worker_id) == (
        "李四",
        "wechat:lisi123",
        2,
        "worker-002",
    )


def test_a_naive_created_at_is_read_in_the_local_time_zone(bot):
    """`2024-03-02T14:00:00` is 14:00 in DJANGO_TIME_ZONE, i.e. 06:00 UTC for Asia/Shanghai."""
    bot.post("/api/contacts", REPORT, format="json")
    stored = Contact.objects.get()
    assert stored.created_at == dt.datetime(2024, 3, 2, 6, 0, tzinfo=dt.UTC)
    assert stored.contacted_at == dt.datetime(2024, 3, 2, 6, 20, tzinfo=dt.UTC)


def test_a_created_at_with_an_offset_is_kept_as_that_instant(bot):
    """An explicit offset wins over the local zone; the answer shows the instant in local time."""
    response = bot.post("/api/contacts", {**REPORT, "created_at": "2024-03-02T14:00:00Z"}, format="json")
    assert response.status_code == 201
    assert response.json()["data"]["created_at"] == "2024-03-02T22:00:00"
    assert Contact.objects.get().created_at == dt.datetime(2024, 3, 2, 14, 0, tzinfo=dt.UTC)


def test_created_at_defaults_to_now_and_optional_fields_to_empty(bot):
    """Only name and account_id are required: the rest take their defaults."""
    before = timezone.now().replace(microsecond=0)
    response = bot.post("/api/contacts", {"name": "王五", "account_id": 3}, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    stored = Contact.objects.get()
    assert before <= stored.created_at <= timezone.now()
    assert data == {
        "id": stored.pk,
        "name": "王五",
        "position": "",
        "contact": "",
        "reply_status": "未回复",
        "wechat_exchanged": False,
        "account_id": 3,
        "worker_id": "",
        "notes": "",
        "contacted_at": None,
        "created_at": timezone.localtime(stored.created_at).strftime("%Y-%m-%dT%H:%M:%S"),
    }


def test_a_form_encoded_report_is_accepted(bot):
    """Bots that post forms are served like those that post JSON."""
    response = bot.post("/api/contacts", {"name": "赵六", "account_id": "4", "wechat_exchanged": "true"})
    assert response.status_code == 201
    assert Contact.objects.get().wechat_exchanged is True


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"name": None}, "name", "该字段不能为 null。"),
        ({"name": ""}, "name", "该字段不能为空。"),
        ({"name": "张" * 65}, "name", "请确保这个字段不能超过 64 个字符。"),
        ({"position": "岗" * 129}, "position", "请确保这个字段不能超过 128 个字符。"),
        ({"contact": "1" * 129}, "contact", "请确保这个字段不能超过 128 个字符。"),
        ({"worker_id": "w" * 65}, "worker_id", "请确保这个字段不能超过 64 个字符。"),
        ({"notes": "备" * 10_001}, "notes", "请确保这个字段不能超过 10000 个字符。"),
        ({"reply_status": "maybe"}, "reply_status", "“maybe” 不是合法选项。"),
        ({"wechat_exchanged": "perhaps"}, "wechat_exchanged", "必须是有效的布尔值。"),
        ({"account_id": "x"}, "account_id", "请填写合法的整数值。"),
        ({"account_id": 0}, "account_id", "请确保该值大于或者等于 1。"),
        ({"account_id": -5}, "account_id", "请确保该值大于或者等于 1。"),
        ({"account_id": 2**31}, "account_id", "请确保该值小于或者等于 2147483647。"),
        ({"account_id": 2**64}, "account_id", "请确保该值小于或者等于 2147483647。"),
        ({"contacted_at": "yesterday"}, "contacted_at", None),
        ({"created_at": "2024-03-02 25:00"}, "created_at", None),
    ],
)
def test_an_invalid_field_is_400_naming_it(bot, changes, field, problem):
    """Each bad field is named with its problem, and nothing is stored."""
    response = bot.post("/api/contacts", {**REPORT, **changes}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["data"])) == (400, [field])
    if problem is not None:
        assert body == {"code": 400, "msg": f"{field}: {problem}", "data": {field: [problem]}}
    else:
        assert body["msg"].startswith(f"{field}: 日期时间格式错误")
    assert not Contact.objects.exists()


@pytest.mark.parametrize("field", ["name", "missing-account"])
def test_a_missing_required_field_is_400_naming_it(bot, field):
    """name and account_id are required."""
    payload = {**REPORT}
    del payload["name" if field == "name" else "account_id"]
    name = "name" if field == "name" else "account_id"
    response = bot.post("/api/contacts", payload, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "msg": f"{name}: 该字段是必填项。", "data": {name: ["该字段是必填项。"]}}


@pytest.mark.parametrize("field", ["name", "position", "contact", "worker_id", "notes"])
def test_a_nul_in_a_text_field_is_400(bot, field):
    """PostgreSQL cannot store NUL, so neither database is asked to."""
    response = bot.post("/api/contacts", {**REPORT, field: "前\x00后"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["data"])) == (400, [field])
    assert body["msg"].startswith(f"{field}: ")
    assert not Contact.objects.exists()


@pytest.mark.parametrize("field", ["name", "position", "contact", "worker_id", "notes"])
@pytest.mark.parametrize("control", ["\x1b[2J", "\x07", "\x7f", "\x85", "\x0b"])
def test_a_control_character_in_a_text_field_is_400_on_create_and_change(bot, admin_api, field, control):
    """Written text refuses control characters as query parameters do (tabs and line breaks are text)."""
    problem = "不能包含 NUL 等控制字符"
    response = bot.post("/api/contacts", {**REPORT, field: f"前{control}后"}, format="json")
    assert response.json() == {"code": 400, "msg": f"{field}: {problem}", "data": {field: [problem]}}
    contact = make_contact()
    response = admin_api.patch(f"/api/contacts/{contact.pk}", {field: f"前{control}后"}, format="json")
    assert response.json() == {"code": 400, "msg": f"{field}: {problem}", "data": {field: [problem]}}
    assert Contact.objects.get().name == contact.name


def test_tabs_and_line_breaks_are_kept_in_written_text(bot):
    """Notes of several lines are text, not control characters."""
    response = bot.post("/api/contacts", {**REPORT, "notes": "第一行\r\n第二行\t完"}, format="json")
    assert response.status_code == 201
    assert Contact.objects.get().notes == "第一行\r\n第二行\t完"


def test_notes_of_the_documented_limit_are_stored_whole(bot):
    """10,000 characters of notes are accepted and answered as stored."""
    response = bot.post("/api/contacts", {**REPORT, "notes": "备" * 10_000}, format="json")
    assert response.status_code == 201
    assert response.json()["data"]["notes"] == "备" * 10_000


def test_notes_stored_before_the_limit_are_answered_cut_so_a_page_stays_bounded(api):
    """Rows written before notes were bounded (30 of 2.4 MB made a 72 MB page) answer at most 10,000 characters."""
    for _ in range(30):
        make_contact(notes="长" * 2_400_000)
    response = api.get("/api/contacts", {"page_size": 100})
    assert response.status_code == 200
    assert [len(row["notes"]) for row in response.json()["data"]["results"]] == [10_000] * 30
    assert len(response.content) < 30 * 10_000 * 3 + 30 * 1_000


@pytest.mark.parametrize("field", ["name", "notes"])
def test_a_lone_surrogate_in_a_text_field_is_400(bot, field):
    """Half a UTF-16 pair cannot be encoded for either database: refused, not a 500."""
    body = json.dumps({"name": "李四", "account_id": 2, field: "a\ud800"})
    response = bot.post("/api/contacts", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "msg": f"{field}: 不允许使用代理字符: U+D800。",
        "data": {field: ["不允许使用代理字符: U+D800。"]},
    }


@pytest.mark.parametrize("field", ["created_at", "contacted_at"])
@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00+14:00",
        "1899-12-31T23:59:59",
        "9999-12-31T23:59:59",
        "9999-12-31T23:59:59-12:00",
        "9999-12-31T23:59:59.999999Z",
    ],
)
def test_a_date_time_at_the_ends_of_the_calendar_is_400_not_a_500(bot, field, value):
    """Times that cannot be shifted between zones or stored everywhere are refused, never a 500."""
    response = bot.post("/api/contacts", {**REPORT, field: value}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["data"])) == (400, [field])
    assert body["msg"].startswith(f"{field}: ")
    assert not Contact.objects.exists()


def test_the_id_cannot_be_chosen_by_the_client(bot):
    """A posted id is ignored: the database numbers contacts."""
    taken = make_contact()
    response = bot.post("/api/contacts", {**REPORT, "id": taken.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["data"]["id"] != taken.pk
    assert Contact.objects.count() == 2


# --- change ------------------------------------------------------------------------------------------


@pytest.fixture
def editor(db):
    """A recruiter who reads and changes contacts."""
    return client_for(
        make_user("editor", "contacts.view_contact", "contacts.change_contact", "contacts.view_all_contacts")
    )


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"reply_status": "已回复"}, {"reply_status": "已回复"}),
        ({"wechat_exchanged": True}, {"wechat_exchanged": True}),
        ({"notes": "约了周三电话面试"}, {"notes": "约了周三电话面试"}),
        ({"contacted_at": "2024-03-05T09:15:00"}, {"contacted_at": "2024-03-05T09:15:00"}),
        ({"contacted_at": None}, {"contacted_at": None}),
        (
            {"position": "高级产品经理", "worker_id": "worker-003"},
            {"position": "高级产品经理", "worker_id": "worker-003"},
        ),
    ],
)
def test_patch_changes_only_the_given_fields(editor, changes, shown):
    """PATCH answers 200 with the whole changed contact; other fields stay as they were."""
    contact = make_contact(contacted_at=local_time("2024-03-01 11:00"), created_at=local_time("2024-03-01 10:00"))
    before = editor.get(f"/api/contacts/{contact.pk}").json()["data"]
    response = editor.patch(f"/api/contacts/{contact.pk}", changes, format="json")
    assert response.status_code == 200
    assert response.json() == {"code": 200, "msg": "success", "data": {**before, **shown}}
    assert editor.get(f"/api/contacts/{contact.pk}").json()["data"] == {**before, **shown}


def test_patch_with_an_invalid_value_is_400_and_changes_nothing(editor):
    """A bad value is named, and the contact keeps its old values."""
    contact = make_contact(notes="旧备注")
    response = editor.patch(f"/api/contacts/{contact.pk}", {"notes": "新备注", "reply_status": "?"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "msg": "reply_status: “?” 不是合法选项。",
        "data": {"reply_status": ["“?” 不是合法选项。"]},
    }
    assert Contact.objects.get(pk=contact.pk).notes == "旧备注"


@pytest.mark.parametrize("suffix", ["424242", "9223372036854775808", "1" + "0" * 40])
def test_patch_of_an_absent_id_is_404(editor, suffix):
    """Changing a contact that does not exist is a 404, however large the id."""
    response = editor.patch(f"/api/contacts/{suffix}", {"notes": "x"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "msg": "未找到。", "data": None}


def test_one_contact_is_not_narrowed_by_the_lists_filters(api, admin_api):
    """Detail and PATCH answer the contact asked for by id, whatever list parameters ride along."""
    contact = make_contact(name="张三", reply_status="未回复")
    detail = api.get(f"/api/contacts/{contact.id}?reply_status=bogus&search=不匹配&page=0")
    assert detail.status_code == 200
    assert detail.json()["data"]["id"] == contact.id
    changed = admin_api.patch(f"/api/contacts/{contact.id}?search=不匹配", {"notes": "已联系"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["data"]["notes"] == "已联系"
