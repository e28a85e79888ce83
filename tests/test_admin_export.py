"""The admin's export action on the contact list, and the read-only export history."""

import datetime as dt
import html
import re

import pytest
from django.test import Client
from django.utils import timezone
from export_support import data_rows, expected_row, folder_names, workbook
from factories import make_user

from contacts.models import Contact, ContactExport

CHANGELIST = "/admin/contacts/contact/"
LINK = re.compile(r'href="(/media/exports/contacts_export_[^"]+)"')


@pytest.fixture
def contacts(db) -> list[Contact]:
    start = timezone.make_aware(dt.datetime(2024, 3, 1, 9, 0))
    made = [
        Contact.objects.create(name=f"联系人{index}", account_id=1, created_at=start + dt.timedelta(hours=index % 3))
        for index in range(6)
    ]
    made.append(Contact.objects.create(name="=1+1", contact="+86 138 0000 0000", account_id=2, created_at=start))
    return made


def staff_client(*perms: str) -> Client:
    user = make_user("staff", *perms, "contacts.view_all_contacts", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def exporter_admin(db) -> Client:
    return staff_client("contacts.view_contact", "contacts.export_contact")


def run_action(client: Client, contacts: list[Contact], *, select_across: bool = False):
    return client.post(
        CHANGELIST,
        {
            "action": "export_selected",
            "_selected_action": [contact.pk for contact in contacts],
            "select_across": "1" if select_across else "0",
            "index": "0",
        },
        follow=True,
    )


def offered_actions(client: Client) -> dict[str, str]:
    form = client.get(CHANGELIST).context["action_form"]
    return dict(form.fields["action"].choices) if form is not None else {}


def test_the_action_is_offered_to_users_who_may_export(exporter_admin, contacts):
    """The contact list's action menu has the export for a user with export_contact."""
    assert offered_actions(exporter_admin)["export_selected"] == "导出所选联系记录为 Excel"


def test_the_selected_contacts_are_exported_in_the_lists_default_order(exporter_admin, contacts):
    """The link in the message downloads the API's workbook of exactly the selected rows, newest first."""
    selected = contacts[1:]
    response = run_action(exporter_admin, selected)
    assert response.status_code == 200
    message = str(next(iter(response.context["messages"])))
    assert message.startswith("已导出 6 条记录:")
    assert "链接 60 分钟内有效" in message
    link = html.unescape(LINK.search(response.content.decode()).group(1))
    download = Client().get(link)
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    ordered = sorted(selected, key=lambda contact: (contact.created_at, contact.pk), reverse=True)
    book = workbook(body)
    assert data_rows(book["联系记录"]) == [expected_row(contact) for contact in ordered]
    assert book["联系记录"]["B" + str(2 + ordered.index(contacts[6]))].quotePrefix is True
    assert dict(book["导出信息"].iter_rows(values_only=True))["来源"] == "后台"


def test_select_across_exports_every_contact_of_the_list(exporter_admin, contacts):
    """ "Select all N" exports the whole list, not only the page."""
    run_action(exporter_admin, contacts[:1], select_across=True)
    assert ContactExport.objects.get().row_count == len(contacts)


def test_an_admin_export_is_recorded_as_from_the_admin(exporter_admin, contacts):
    """The history names the user, the admin as source, and the selection."""
    run_action(exporter_admin, contacts[:2])
    record = ContactExport.objects.get()
    assert (record.username, record.source, record.status, record.row_count) == ("staff", "admin", "succeeded", 2)
    assert record.filters == {"selection": "后台勾选的记录", "ordering": "-created_at"}
    assert folder_names() == [record.filename]


def test_users_without_export_permission_neither_see_nor_run_the_action(db, contacts):
    """Viewing contacts does not offer the export, and posting it anyway exports nothing."""
    client = staff_client("contacts.view_contact")
    assert "export_selected" not in offered_actions(client)
    run_action(client, contacts)
    assert folder_names() == []
    assert not ContactExport.objects.exists()


def test_too_many_selected_rows_give_an_error_message_and_no_file(exporter_admin, contacts, settings):
    """Past EXPORT_MAX_ROWS the admin is told to select fewer, and nothing is written."""
    settings.EXPORT_MAX_ROWS = 3
    response = run_action(exporter_admin, contacts)
    message = next(iter(response.context["messages"]))
    assert (message.level_tag, str(message)) == ("error", "所选 7 条超过单次导出上限 3 条,请减少所选记录")
    assert folder_names() == []


def test_the_daily_export_limit_holds_in_the_admin_too(exporter_admin, contacts, settings):
    """The admin action counts against the same per-user quota as the API, and says so."""
    settings.EXPORT_DAILY_PER_USER = 1
    run_action(exporter_admin, contacts)
    response = run_action(exporter_admin, contacts)
    message = next(iter(response.context["messages"]))
    assert message.level_tag == "error"
    assert re.fullmatch(r"24 小时内每人最多导出 1 次,请 \d+ 秒后重试", str(message))
    assert len(folder_names()) == 1


def test_the_export_history_is_read_only_in_the_admin(admin_user, contacts):
    """Even a superuser can list and read export records but not add, change or delete them."""
    client = Client()
    client.force_login(admin_user)
    run_action(client, contacts[:1])
    record = ContactExport.objects.get()
    listing = client.get("/admin/contacts/contactexport/")
    assert listing.status_code == 200
    assert record.filename in listing.content.decode()
    detail = client.get(f"/admin/contacts/contactexport/{record.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert client.get("/admin/contacts/contactexport/add/").status_code == 403
    assert client.post(f"/admin/contacts/contactexport/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ContactExport.objects.filter(pk=record.pk).exists()


def test_the_export_history_shows_jobs_with_their_live_status_and_progress(admin_user, db):
    """A running job reads as running at its share of the matching rows; a queued one has no file name yet."""
    ContactExport.objects.create(
        username="boss", source="job", status="running", filename="contacts_export_20240301_090000_0000000a.xlsx",
        total_records=200, row_count=50,
    )  # fmt: skip
    queued = ContactExport.objects.create(username="boss", source="job", status="queued", total_records=10)
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/contacts/contactexport/").content.decode()
    assert "进行中" in page and "25%" in page
    assert f"导出任务 {queued.pk}" in page and "排队中" in page
