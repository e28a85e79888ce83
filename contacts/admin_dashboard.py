"""The contacts dashboard of the admin, `/admin/contacts/dashboard/`: the funnel of the stats API in charts.

The page holds no figures of its own: contacts/static/contacts/dashboard.js asks `GET /api/contacts/stats`
with the admin's session and draws what it answers, with the Chart.js vendored beside it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

DASHBOARD_URL_NAME = "contacts_dashboard"
DASHBOARD_TITLE = "联系统计看板"
DASHBOARD_PERMISSION = "contacts.view_contact"
# The range the page opens on: the last 30 days, today included.
DEFAULT_DAYS = 30
# The workers table draws a trend line for at most this many workers (the most contacted): one request each.
TREND_WORKERS_MAX = 10


def dashboard_entry(request: HttpRequest) -> dict[str, Any] | None:
    """The dashboard's row in the admin's app list (index, app page, side bar), for those who may see it."""
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        return None
    return {
        "model": None,
        "name": DASHBOARD_TITLE,
        "object_name": "Dashboard",
        "perms": {"add": False, "change": False, "delete": False, "view": True},
        "admin_url": reverse(f"admin:{DASHBOARD_URL_NAME}"),
        "add_url": None,
        "view_only": True,
    }


def contact_dashboard(request: HttpRequest, *, site: AdminSite) -> TemplateResponse:
    """The page; staff without `view_contact` are refused (the stats API would refuse them too)."""
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    today = timezone.localdate()
    context = {
        **site.each_context(request),
        "title": DASHBOARD_TITLE,
        "subtitle": None,
        "start_date": today - dt.timedelta(days=DEFAULT_DAYS - 1),
        "end_date": today,
        "stats_url": reverse("contact-stats"),
        "trend_workers_max": TREND_WORKERS_MAX,
    }
    return TemplateResponse(request, "admin/contacts/dashboard.html", context)
