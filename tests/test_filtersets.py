"""ContactFilterSet on its own: one short test per parameter, as the list, export and admin use it."""

import pytest
from factories import local_time, make_contact

from contacts.filters import ContactFilterSet
from contacts.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _shanghai(settings):
    settings.TIME_ZONE = "Asia/Shanghai"


@pytest.fixture
def contacts() -> None:
    make_contact(
        name="张三",
        position="产品经理",
        contact="13800138000",
        reply_status="已回复",
        wechat_exchanged=True,
        account_id=1,
        worker_id="worker-001",
        created_at=local_time("2024-03-01 00:00"),
        contacted_at=local_time("2024-03-03 10:00"),
    )
    make_contact(
        name="李四",
        position="前端工程师",
        contact="wechat:LiSi123",
        reply_status="未回复",
        wechat_exchanged=False,
        account_id=2,
        worker_id="worker-002",
        created_at=local_time("2024-03-01 23:59:59.999999"),
        contacted_at=None,
    )
    make_contact(
        name="王五",
        position="产品运营",
        contact="13912345678",
        reply_status="未回复",
        wechat_exchanged=True,
        account_id=2,
        worker_id="worker-001",
        created_at=local_time("2024-03-02 00:00"),
        contacted_at=local_time("2024-03-02 09:00"),
    )


def names(params: dict) -> list[str]:
    filterset = ContactFilterSet(params, queryset=Contact.objects.all())
    assert filterset.is_valid(), filterset.errors
    return [contact.name for contact in filterset.qs]


def errors(params: dict) -> dict:
    filterset = ContactFilterSet(params, queryset=Contact.objects.all())
    assert not filterset.is_valid()
    return {field: list(messages) for field, messages in filterset.errors.items()}


def test_no_parameters_list_everything_newest_first(contacts):
    """Without parameters every row comes back, newest created first."""
    assert names({}) == ["王五", "李四", "张三"]


def test_search(contacts):
    """Every term must occur in name, position or contact."""
    assert names({"search": "产品"}) == ["王五", "张三"]
    assert names({"search": "产品 138"}) == ["张三"]
    assert names({"search": "lisi"}) == ["李四"]


def test_search_too_long(contacts):
    """Over 100 characters is an error."""
    assert list(errors({"search": "x" * 101})) == ["search"]


def test_reply_status(contacts):
    """Only the rows with that status."""
    assert names({"reply_status": "已回复"}) == ["张三"]
    assert names({"reply_status": "未回复"}) == ["王五", "李四"]


def test_reply_status_invalid(contacts):
    """An unknown status names the allowed ones."""
    assert errors({"reply_status": "replied"}) == {"reply_status": ["只能是 未回复 或 已回复"]}


def test_wechat_exchanged(contacts):
    """true/false/1/0 in any case."""
    assert names({"wechat_exchanged": "TRUE"}) == ["王五", "张三"]
    assert names({"wechat_exchanged": "0"}) == ["李四"]


def test_wechat_exchanged_invalid(contacts):
    """Not a boolean is an error, not an ignored filter."""
    assert errors({"wechat_exchanged": "yes"}) == {"wechat_exchanged": ["只能是 true 或 false(也可用 1 或 0)"]}


def test_start_date(contacts):
    """From the local midnight that starts the day."""
    assert names({"start_date": "2024-03-02"}) == ["王五"]


def test_end_date(contacts):
    """Through the last microsecond of the local day."""
    assert names({"end_date": "2024-03-01"}) == ["李四", "张三"]


def test_start_after_end(contacts):
    """A backwards range is an error on end_date."""
    assert errors({"start_date": "2024-03-02", "end_date": "2024-03-01"}) == {"end_date": ["结束日期不能早于开始日期"]}


def test_worker_id(contacts):
    """Exact worker id."""
    assert names({"worker_id": "worker-001"}) == ["王五", "张三"]
    assert names({"worker_id": "worker-00"}) == []


def test_account_id(contacts):
    """Exact account id."""
    assert names({"account_id": "2"}) == ["王五", "李四"]


def test_account_id_invalid(contacts):
    """Not an integer is an error."""
    assert list(errors({"account_id": "two"})) == ["account_id"]


def test_ordering(contacts):
    """Every ordering; empty contact times last in both directions."""
    assert names({"ordering": "created_at"}) == ["张三", "李四", "王五"]
    assert names({"ordering": "-created_at"}) == ["王五", "李四", "张三"]
    assert names({"ordering": "contacted_at"}) == ["王五", "张三", "李四"]
    assert names({"ordering": "-contacted_at"}) == ["张三", "王五", "李四"]
    assert names({"ordering": "id"}) == ["张三", "李四", "王五"]
    assert names({"ordering": "-id"}) == ["王五", "李四", "张三"]


def test_ordering_invalid(contacts):
    """Only the six orderings exist."""
    assert list(errors({"ordering": "name"})) == ["ordering"]


def test_control_characters(contacts):
    """NUL and other control characters in free text are errors."""
    assert list(errors({"search": "a\x00", "worker_id": "\x01"})) == ["search", "worker_id"]


def test_every_parameter_declares_its_label_and_help_text():
    """The label names it on the 导出信息 sheet, the help text describes it in the OpenAPI document."""
    for name, declared in ContactFilterSet.base_filters.items():
        assert declared.label, name
        assert declared.extra.get("help_text"), name


def test_parameters_are_what_was_asked_with_the_ordering_applied():
    """What an export records: the parameters given as given, empty ones left out, and the ordering."""
    filterset = ContactFilterSet(
        {"search": " 张 三 ", "reply_status": "已回复", "worker_id": "", "page": "2"}, queryset=Contact.objects.all()
    )
    assert filterset.parameters() == {"search": " 张 三 ", "reply_status": "已回复", "ordering": "-created_at"}
    assert filterset.described() == [("搜索关键词", " 张 三 "), ("回复状态", "已回复")]
    asked = ContactFilterSet({"ordering": "id", "account_id": "7"}, queryset=Contact.objects.all())
    assert asked.parameters() == {"account_id": "7", "ordering": "id"}
    assert asked.described() == [("账号 ID", "7")]


def test_an_invalid_filterset_has_no_parameters_to_record():
    """Only what passed validation may be recorded as what an export exported."""
    with pytest.raises(ValueError, match="valid FilterSet"):
        ContactFilterSet({"reply_status": "maybe"}, queryset=Contact.objects.all()).parameters()


def test_each_filterset_has_filters_of_its_own():
    """The filters belong to one FilterSet each, and a method filter calls its own."""
    first = ContactFilterSet({"search": "张三"}, queryset=Contact.objects.all())
    second = ContactFilterSet({"search": "李四"}, queryset=Contact.objects.all())
    for name, declared in ContactFilterSet.base_filters.items():
        assert first.filters[name] is not declared and second.filters[name] is not declared
        assert first.filters[name] is not second.filters[name]
        assert (first.filters[name].parent, second.filters[name].parent) == (first, second)
    assert first.filters["search"].filter.method.__self__ is first
    assert second.filters["search"].filter.method.__self__ is second
