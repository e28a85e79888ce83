"""The admin's contacts dashboard page: who may open it, where it is linked, and what it hands its script."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from factories import make_user

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/contacts/dashboard/"
LINK = f'<a href="{DASHBOARD}">联系统计看板</a>'


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_anonymous_visitor_is_sent_to_the_admin_login():
    """No session: the admin's login, coming back to the dashboard afterwards."""
    response = Client().get(DASHBOARD)
    assert (response.status_code, response["Location"]) == (302, f"/admin/login/?next={DASHBOARD}")


def test_a_user_who_is_not_staff_is_sent_to_the_admin_login_even_with_the_permission():
    """The admin's own rule: only staff reach its pages."""
    user = make_user("reader", "contacts.view_contact")
    response = client_of(user).get(DASHBOARD)
    assert (response.status_code, response["Location"]) == (302, f"/admin/login/?next={DASHBOARD}")


def test_staff_without_view_contact_are_refused():
    """Staff who may see only the export history get 403, and no link to the dashboard."""
    user = make_user("clerk", "contacts.view_contactexport", is_staff=True)
    client = client_of(user)
    assert client.get(DASHBOARD).status_code == 403
    index = client.get("/admin/")
    assert index.status_code == 200
    assert DASHBOARD not in index.content.decode()


def test_staff_with_view_contact_open_the_page_with_its_scripts_and_the_last_30_days(settings, monkeypatch):
    """200; Chart.js and the page's script as files, the stats API's address, the range ending today in the zone."""
    settings.TIME_ZONE = "Asia/Shanghai"
    # 01:30 on 1 March in Shanghai, still 29 February in UTC; 30 days back from 1 March 2024 is 1 February.
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2024, 2, 29, 17, 30, tzinfo=dt.UTC))
    user = make_user("viewer", "contacts.view_contact", is_staff=True)
    response = client_of(user).get(DASHBOARD)
    assert response.status_code == 200
    assert response.templates[0].name == "admin/contacts/dashboard.html"
    page = response.content.decode()
    assert re.findall(r'<script src="(/static/contacts/[^"]+)" defer></script>', page) == [
        "/static/contacts/vendor/chart.umd.js",
        "/static/contacts/dashboard.js",
    ]
    assert "<script>" not in page and "style=" not in page
    assert 'data-stats-url="/api/contacts/stats"' in page
    assert 'name="start_date" value="2024-02-01"' in page
    assert 'name="end_date" value="2024-03-01"' in page


def test_the_admin_index_app_page_and_side_bar_link_the_dashboard_for_those_who_may_open_it():
    """The contacts app lists the dashboard first, on the index and on the app's page (with the side bar)."""
    user = make_user("viewer", "contacts.view_contact", is_staff=True)
    client = client_of(user)
    index = client.get("/admin/").content.decode()
    assert index.count(LINK) == 1
    assert index.index(LINK) < index.index('<a href="/admin/contacts/contact/">')
    app_page = client.get("/admin/contacts/").content.decode()
    assert app_page.count(LINK) == 1
    dashboard = client.get(DASHBOARD).content.decode()
    assert f'<a href="{DASHBOARD}" aria-current="page">联系统计看板</a>' in dashboard
