"""Per-user scoping: a user sees, exports and changes only the contacts of their accounts, everywhere."""

from io import StringIO

import pytest
from celery import current_app
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from export_support import exports_folder, workbook
from factories import client_for, make_contact, make_user

from contacts.api.serializers import ACCOUNT_OUT_OF_SCOPE_MSG
from contacts.exports import services
from contacts.models import Contact, ContactExport, GroupAccount, UserAccount
from contacts.scoping import accounts_assign, contact_accounts_of

pytestmark = pytest.mark.django_db

NOT_FOUND = {"code": 404, "msg": "未找到。", "data": None}
READ_WRITE = ("contacts.view_contact", "contacts.add_contact", "contacts.change_contact")
EXPORT = ("contacts.view_contact", "contacts.export_contact")
CHANGELIST = reverse("admin:contacts_contact_changelist")


@pytest.fixture
def contacts() -> dict[int, list[Contact]]:
    """Contacts of accounts 1, 2 and 3, a different number of each."""
    return {
        account: [make_contact(name=f"账号{account}-{n}", account_id=account) for n in range(account + 1)]
        for account in (1, 2, 3)
    }


def ids(contacts: list[Contact]) -> list[int]:
    return sorted(contact.pk for contact in contacts)


def listed(client, **params) -> tuple[int, list[int]]:
    response = client.get("/api/contacts", {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    return data["total"], sorted(item["id"] for item in data["results"])


def user_of(*accounts: int, perms: tuple[str, ...] = READ_WRITE, name: str = "clerk"):
    user = make_user(name, *perms)
    accounts_assign(holder=user, account_ids=accounts)
    return user


def test_the_list_and_its_total_hold_only_the_users_accounts(contacts):
    """A user of accounts 1 and 3 lists those contacts, and the total counts them and no more."""
    client = client_for(user_of(1, 3))
    assert listed(client) == (6, ids(contacts[1] + contacts[3]))
    assert listed(client, account_id=2) == (0, [])
    assert listed(client, account_id=3) == (4, ids(contacts[3]))
    assert listed(client, search="账号1") == (2, ids(contacts[1]))


def test_the_scoped_total_is_read_from_the_tally_not_counted(contacts):
    """The list's total of a scoped user costs no COUNT over the contacts."""
    client = client_for(user_of(1, 3))
    with CaptureQueriesContext(connection) as queries:
        assert listed(client)[0] == 6
    counts = [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]
    assert counts == []


def test_accounts_of_the_users_groups_count_too(contacts):
    """A user sees the accounts of each of their groups as well as their own."""
    user = user_of(1)
    team = Group.objects.create(name="华东组")
    accounts_assign(holder=team, account_ids=[2])
    user.groups.add(team)
    assert listed(client_for(user)) == (5, ids(contacts[1] + contacts[2]))


def test_a_user_without_accounts_sees_nothing(contacts):
    """No account assigned: an empty list, a total of 0, and every detail a 404."""
    client = client_for(make_user("newcomer", *READ_WRITE))
    assert listed(client) == (0, [])
    assert client.get(f"/api/contacts/{contacts[1][0].pk}").json() == NOT_FOUND


def test_view_all_contacts_and_superusers_see_every_account(contacts, admin_api):
    """The view_all_contacts permission (its own or its group's), and a superuser, see all three accounts."""
    everything = ids(contacts[1] + contacts[2] + contacts[3])
    assert listed(client_for(make_user("boss2", "contacts.view_contact", "contacts.view_all_contacts"))) == (
        9,
        everything,
    )
    leads = Group.objects.create(name="主管")
    leads.permissions.add(Permission.objects.get(codename="view_all_contacts"))
    lead = user_of(1, name="lead")
    lead.groups.add(leads)
    assert listed(client_for(lead)) == (9, everything)
    assert listed(admin_api) == (9, everything)


def test_a_contact_of_another_account_is_a_404_to_read_and_to_change(contacts):
    """Outside the scope, detail and PATCH answer exactly as for an id that does not exist, and change nothing."""
    client = client_for(user_of(1))
    foreign = contacts[2][0]
    assert client.get(f"/api/contacts/{foreign.pk}").json() == NOT_FOUND
    response = client.patch(f"/api/contacts/{foreign.pk}", {"notes": "改了"}, format="json")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert client.get("/api/contacts/999999").json() == NOT_FOUND
    assert Contact.objects.get(pk=foreign.pk).notes == ""
    own = contacts[1][0]
    assert client.get(f"/api/contacts/{own.pk}").json()["data"]["id"] == own.pk


def test_creating_a_contact_in_another_account_is_a_400_naming_account_id(contacts):
    """A create into an account outside the scope is refused; into one inside it succeeds."""
    client = client_for(user_of(1))
    response = client.post("/api/contacts", {"name": "李四", "account_id": 2}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "msg": f"account_id: {ACCOUNT_OUT_OF_SCOPE_MSG}",
        "data": {"account_id": [ACCOUNT_OUT_OF_SCOPE_MSG]},
    }
    assert not Contact.objects.filter(name="李四").exists()
    assert client.post("/api/contacts", {"name": "李四", "account_id": 1}, format="json").status_code == 201


def test_moving_a_contact_into_another_account_is_a_400_and_changes_nothing(contacts):
    """PATCH of account_id to an account outside the scope is refused; within the scope it moves."""
    client = client_for(user_of(1, 3))
    own = contacts[1][0]
    response = client.patch(f"/api/contacts/{own.pk}", {"account_id": 2, "notes": "x"}, format="json")
    assert (response.status_code, response.json()["data"]) == (400, {"account_id": [ACCOUNT_OUT_OF_SCOPE_MSG]})
    assert Contact.objects.get(pk=own.pk).account_id == 1
    moved = client.patch(f"/api/contacts/{own.pk}", {"account_id": 3}, format="json")
    assert moved.status_code == 200 and moved.json()["data"]["account_id"] == 3
    assert listed(client, account_id=3)[0] == 5


def test_the_per_account_tally_stays_exact_however_account_ids_change(contacts):
    """Moves by update(), by raw SQL, deletes and bulk inserts: each account's tally equals a real count."""
    Contact.objects.filter(account_id=1).update(account_id=2)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_contact SET account_id = 4, reply_status = %s WHERE id = %s", ["已回复", contacts[3][0].pk]
        )
    Contact.objects.filter(pk=contacts[2][0].pk).delete()
    Contact.objects.bulk_create([Contact(name="批量", account_id=account) for account in (3, 5, 5)])
    for accounts in ([1], [2], [3], [4], [5], [2, 4], [1, 2, 3, 4, 5]):
        real = len(Contact.objects.filter(account_id__in=accounts).values_list("id", flat=True))
        assert Contact.objects.filter(account_id__in=accounts).tallied_count() == real, accounts
    assert Contact.objects.filter(account_id=4, reply_status="已回复").tallied_count() == 1
    moved_in, account_2_left, moved_by_sql = 2, 3 - 1, 1
    assert listed(client_for(user_of(2, 4)))[0] == moved_in + account_2_left + moved_by_sql


def export_ids(filename: str) -> list[int]:
    sheet = workbook(exports_folder() / filename).worksheets[0]
    return sorted(row[0] for row in list(sheet.iter_rows(values_only=True))[1:])


def test_the_export_holds_only_the_users_accounts(contacts):
    """The synchronous export writes the contacts the list shows, not those of other accounts."""
    client = client_for(user_of(2, perms=EXPORT))
    response = client.get("/api/contacts/export")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["total_records"] == 3
    assert export_ids(data["filename"]) == ids(contacts[2])


def test_an_export_job_scopes_by_its_users_accounts_when_a_worker_runs_it(contacts, monkeypatch):
    """A job counts the user's contacts when accepted, and exports the accounts the user has when it runs."""
    monkeypatch.setattr(current_app, "send_task", lambda name, args: None)
    user = user_of(2, perms=EXPORT)
    response = client_for(user).post("/api/contacts/exports", {}, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["data"]["id"]
    assert ContactExport.objects.get(pk=job_id).total_records == 3
    accounts_assign(holder=user, account_ids=[3])
    export = services.export_job_run(export_id=job_id)
    assert export.status == ContactExport.Status.SUCCEEDED
    assert export_ids(export.filename) == ids(contacts[2] + contacts[3])


def test_an_export_job_of_a_user_who_lost_every_account_exports_nothing(contacts, monkeypatch):
    """Accounts taken away between acceptance and run: the file has no row."""
    monkeypatch.setattr(current_app, "send_task", lambda name, args: None)
    user = user_of(1, perms=EXPORT)
    job_id = client_for(user).post("/api/contacts/exports", {}, format="json").json()["data"]["id"]
    accounts_assign(holder=user, account_ids=[1], remove=True)
    export = services.export_job_run(export_id=job_id)
    assert (export.status, export.row_count, export_ids(export.filename)) == (ContactExport.Status.SUCCEEDED, 0, [])


def staff_client(*accounts: int, perms: tuple[str, ...] = ()) -> Client:
    user = user_of(*accounts, perms=("contacts.view_contact", "contacts.change_contact", *perms), name="staff")
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_the_admins_list_and_change_view_hold_only_the_users_accounts(contacts):
    """The admin's changelist shows the user's accounts only; another account's contact is not found."""
    client = staff_client(3)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == sorted(contacts[3], key=lambda c: (c.created_at, c.pk))[::-1]
    assert response.context["cl"].result_count == 4
    foreign = reverse("admin:contacts_contact_change", args=[contacts[1][0].pk])
    assert client.get(foreign, follow=True).redirect_chain[-1][0] == reverse("admin:index")
    own = reverse("admin:contacts_contact_change", args=[contacts[3][0].pk])
    assert client.get(own).status_code == 200


def test_the_admin_refuses_to_move_a_contact_into_another_account(contacts):
    """The change form's account_id must be one of the user's accounts."""
    client = staff_client(3)
    contact = contacts[3][0]
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    form = {
        "name": contact.name,
        "position": contact.position,
        "contact": contact.contact,
        "reply_status": contact.reply_status,
        "account_id": 1,
        "worker_id": contact.worker_id,
        "notes": "",
        "contacted_at_0": "",
        "contacted_at_1": "",
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"account_id": [ACCOUNT_OUT_OF_SCOPE_MSG]}
    assert Contact.objects.get(pk=contact.pk).account_id == 3


def test_the_admins_export_action_exports_only_the_users_accounts(contacts):
    """Selecting ids of another account in the action exports only the user's own contacts among them."""
    client = staff_client(1, perms=("contacts.export_contact",))
    chosen = [contact.pk for contact in contacts[1] + contacts[2]]
    response = client.post(CHANGELIST, {"action": "export_selected", "_selected_action": chosen}, follow=True)
    assert response.status_code == 200
    export = ContactExport.objects.get()
    assert export_ids(export.filename) == ids(contacts[1])


def test_the_admin_edits_the_accounts_of_a_user_and_of_a_group(admin_client):
    """The user and group change forms carry an inline of their accounts, which saves."""
    user = make_user("clerk")
    group = Group.objects.create(name="华南组")
    user_url = reverse("admin:auth_user_change", args=[user.pk])
    page = admin_client.get(user_url)
    assert page.status_code == 200
    assert "contact_accounts-TOTAL_FORMS" in page.content.decode()
    group_url = reverse("admin:auth_group_change", args=[group.pk])
    form = {
        "name": "华南组",
        "contact_accounts-TOTAL_FORMS": "2",
        "contact_accounts-INITIAL_FORMS": "0",
        "contact_accounts-MIN_NUM_FORMS": "0",
        "contact_accounts-MAX_NUM_FORMS": "1000",
        "contact_accounts-0-account_id": "7",
        "contact_accounts-1-account_id": "9",
    }
    response = admin_client.post(group_url, form)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert sorted(GroupAccount.objects.filter(group=group).values_list("account_id", flat=True)) == [7, 9]


def test_the_admin_saves_a_users_accounts(admin_client):
    """Adding accounts through the user's inline gives the user those contacts."""
    user = make_user("clerk", "contacts.view_contact")
    url = reverse("admin:auth_user_change", args=[user.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        {
            "username": "clerk",
            "date_joined_0": form.initial["date_joined"].strftime("%Y-%m-%d"),
            "date_joined_1": form.initial["date_joined"].strftime("%H:%M:%S"),
            "user_permissions": [Permission.objects.get(codename="view_contact").pk],
            "contact_accounts-TOTAL_FORMS": "1",
            "contact_accounts-INITIAL_FORMS": "0",
            "contact_accounts-MIN_NUM_FORMS": "0",
            "contact_accounts-MAX_NUM_FORMS": "1000",
            "contact_accounts-0-account_id": "5",
        }
    )
    data.pop("groups", None)
    data.pop("last_login", None)
    data.pop("date_joined", None)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert list(UserAccount.objects.filter(user=user).values_list("account_id", flat=True)) == [5]
    user.refresh_from_db()
    assert contact_accounts_of(user=user) == frozenset({5})


def test_assign_accounts_gives_and_takes_accounts_idempotently(db):
    """The command assigns, reports what was already there, and removes, for a user."""
    user = make_user("clerk")
    out = StringIO()
    call_command("assign_accounts", "--user", "clerk", "3", "1", stdout=out)
    call_command("assign_accounts", "--user", "clerk", "1", "2", stdout=out)
    call_command("assign_accounts", "--user", "clerk", "--remove", "1", "9", stdout=out)
    assert out.getvalue().splitlines() == [
        "assigned accounts 1, 3 to user 'clerk'",
        "assigned accounts 2 to user 'clerk'",
        "user 'clerk' already had accounts 1",
        "removed accounts 1 from user 'clerk'",
        "user 'clerk' did not have accounts 9",
    ]
    assert sorted(UserAccount.objects.filter(user=user).values_list("account_id", flat=True)) == [2, 3]


def test_assign_accounts_to_a_group(db):
    """--group assigns to the group, whose members then see those contacts."""
    Group.objects.create(name="华北组")
    out = StringIO()
    call_command("assign_accounts", "--group", "华北组", "4", stdout=out)
    assert out.getvalue() == "assigned accounts 4 to group '华北组'\n"
    assert list(GroupAccount.objects.values_list("group__name", "account_id")) == [("华北组", 4)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "ghost", "1"], "no user 'ghost'"),
        (["--group", "ghosts", "1"], "no group 'ghosts'"),
    ],
)
def test_assign_accounts_to_an_unknown_user_or_group_is_an_error(db, args, message):
    """An unknown name stops the command with a CommandError naming it; nothing is written."""
    with pytest.raises(CommandError, match=message):
        call_command("assign_accounts", *args, stdout=StringIO())
    assert not UserAccount.objects.exists() and not GroupAccount.objects.exists()


@pytest.mark.parametrize("bad", ["0", "-1", "x", "2147483648", "１"])
def test_assign_accounts_refuses_an_account_id_that_is_not_one(db, bad):
    """An account id must be a whole number the column holds."""
    make_user("clerk")
    with pytest.raises(CommandError, match="account id"):
        call_command("assign_accounts", "--user", "clerk", bad, stdout=StringIO())
