"""The contacts admin: its changelist (columns, filters, search, date drill-down, order, counts) and change form."""

import pytest
from django.urls import reverse
from factories import local_time, make_contact

from contacts.models import Contact

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:contacts_contact_changelist")
COLUMNS = [
    "name",
    "position",
    "contact",
    "reply_status",
    "wechat_exchanged",
    "worker_id",
    "account_id",
    "contacted_at",
    "created_at",
]


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Admin pages link static files; the suite must not depend on a prior collectstatic."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.TIME_ZONE = "Asia/Shanghai"


@pytest.fixture
def rows() -> dict[str, Contact]:
    return {
        "old": make_contact(
            name="张三",
            position="产品经理",
            contact="13800138000",
            reply_status="已回复",
            wechat_exchanged=True,
            created_at=local_time("2023-11-05 10:00"),
        ),
        "mid": make_contact(
            name="李四",
            position="前端工程师",
            contact="wechat:LiSi123",
            created_at=local_time("2024-03-01 10:00"),
        ),
        "new": make_contact(
            name="王五",
            position="产品运营",
            contact="13912345678",
            created_at=local_time("2024-03-20 10:00"),
        ),
    }


def shown(response) -> list[str]:
    """The contact names on a changelist page, in display order."""
    assert response.status_code == 200
    return [contact.name for contact in response.context["cl"].result_list]


def test_changelist_shows_the_columns_of_the_issue(admin_client, rows):
    """Name, position, contact, status, wechat, worker, account, contacted and created times."""
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    content = response.content.decode()
    for column in COLUMNS:
        assert f'class="sortable column-{column}' in content or f'class="column-{column}' in content, column
    assert "13800138000" in content
    assert "wechat:LiSi123" in content
    assert "worker-001" in content


def test_changelist_is_newest_first(admin_client, rows):
    """The most recently created contact leads the list."""
    assert shown(admin_client.get(CHANGELIST)) == ["王五", "李四", "张三"]


def test_changelist_filters_on_status_wechat_and_created_date(admin_client, rows):
    """The side bar offers the three filters, and each narrows the list."""
    response = admin_client.get(CHANGELIST)
    assert [spec.title for spec in response.context["cl"].filter_specs] == ["回复状态", "是否交换微信", "创建时间"]
    assert shown(admin_client.get(CHANGELIST, {"reply_status__exact": "已回复"})) == ["张三"]
    assert shown(admin_client.get(CHANGELIST, {"wechat_exchanged__exact": "0"})) == ["王五", "李四"]


def test_changelist_search_matches_name_position_and_contact_with_every_term(admin_client, rows):
    """The admin searches like the API: every term, in any of the three fields, any case."""
    assert shown(admin_client.get(CHANGELIST, {"q": "产品"})) == ["王五", "张三"]
    assert shown(admin_client.get(CHANGELIST, {"q": "产品 139"})) == ["王五"]
    assert shown(admin_client.get(CHANGELIST, {"q": "lisi"})) == ["李四"]
    assert shown(admin_client.get(CHANGELIST, {"q": "  "})) == ["王五", "李四", "张三"]


@pytest.mark.parametrize("term", ["\x00", "张\x00三", "\x1b[31m"])
def test_changelist_search_with_a_control_character_is_refused_with_a_message(admin_client, rows, term):
    """A NUL or another control character in the search box is reported beside the unsearched list."""
    response = admin_client.get(CHANGELIST, {"q": term})
    assert [str(message) for message in response.context["messages"]] == ["不能包含 NUL 等控制字符"]
    assert shown(response) == ["王五", "李四", "张三"]


def test_changelist_drills_down_by_created_date(admin_client, rows):
    """The date hierarchy offers the years present, then the months of a year, and filters by them."""
    years = admin_client.get(CHANGELIST)
    assert 'href="?created_at__year=2023"' in years.content.decode()
    assert 'href="?created_at__year=2024"' in years.content.decode()
    months = admin_client.get(CHANGELIST, {"created_at__year": "2024"})
    assert shown(months) == ["王五", "李四"]
    assert 'href="?created_at__month=3&amp;created_at__year=2024"' in months.content.decode()
    assert "created_at__month=11&amp;created_at__year=2024" not in months.content.decode()
    assert shown(admin_client.get(CHANGELIST, {"created_at__year": "2023", "created_at__month": "11"})) == ["张三"]


def test_changelist_date_drill_down_uses_local_days(admin_client):
    """A contact made at 00:30 local time on 1 March (16:30 UTC on 29 February) is listed under 1 March."""
    early = make_contact(created_at=local_time("2024-03-01 00:30"))
    response = admin_client.get(
        CHANGELIST, {"created_at__year": "2024", "created_at__month": "3", "created_at__day": "1"}
    )
    assert [contact.pk for contact in response.context["cl"].result_list] == [early.pk]


def test_a_filtered_changelist_does_not_count_the_whole_table(admin_client, rows):
    """Without the full-count link, a filtered page costs no extra COUNT over every row."""
    response = admin_client.get(CHANGELIST, {"q": "产品"})
    cl = response.context["cl"]
    assert (cl.result_count, cl.full_result_count) == (2, None)


def test_change_form_shows_and_saves_a_contact(admin_client, rows):
    """The change page shows the contact, and saving it changes the row; created time is read-only."""
    contact = rows["mid"]
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "wechat:LiSi123" in page.content.decode()
    assert "created_at" not in page.context["adminform"].form.fields
    response = admin_client.post(
        url,
        {
            "name": "李四",
            "position": "高级前端工程师",
            "contact": "wechat:LiSi123",
            "reply_status": "已回复",
            "wechat_exchanged": "on",
            "account_id": "3",
            "worker_id": "worker-002",
            "notes": "已推荐给用人部门",
            "contacted_at_0": "2024-03-02",
            "contacted_at_1": "09:30:00",
            "created_at": "2000-01-01 00:00:00",
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.position, contact.reply_status, contact.wechat_exchanged, contact.account_id) == (
        "高级前端工程师",
        "已回复",
        True,
        3,
    )
    assert contact.contacted_at == local_time("2024-03-02 09:30")
    assert contact.created_at == local_time("2024-03-01 10:00")


def test_the_admin_requires_a_staff_login(client, rows):
    """Anonymous visitors are sent to the admin login page."""
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
