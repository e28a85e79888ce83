"""The admin's contacts dashboard in Chromium: its charts, totals and workers table draw what the stats API answers.

After each change of range, grouping or worker, the figures Chart.js holds and the table shows are compared
with the API's answer for the same parameters, fetched here over HTTP with a Bearer token; the API's refusals
are shown with its message. All of it under the Content-Security-Policy, with no request leaving the service.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect
from served import call, login

from e2e.e2e_support import ADMIN_PASSWORD, FRONTEND_USER, PolicyWatch, Service, screenshot

pytestmark = pytest.mark.slow

# The dashboard draws trend lines for this many workers at most (contacts/admin_dashboard.py).
TREND_WORKERS_MAX = 10
KNOWN_WORKER = "worker-e2e"  # the twelve known contacts of March 2024, and no demo contact

DRAWN = """() => {
  const data = (canvas) => Chart.getChart(canvas).data;
  const series = (chart) => Object.fromEntries(chart.datasets.map((dataset) => [dataset.label, dataset.data]));
  const counts = data(document.getElementById("chart-counts"));
  const rates = data(document.getElementById("chart-rates"));
  const rows = [...document.querySelectorAll("#dashboard-workers tbody tr")];
  const error = document.getElementById("dashboard-error");
  return {
    labels: [counts.labels, rates.labels],
    counts: series(counts),
    rates: series(rates),
    totals: Object.fromEntries(
      [...document.querySelectorAll("[data-total]")].map((cell) => [cell.dataset.total, cell.textContent])),
    workers: rows.map((row) => [...row.cells].slice(0, 6).map((cell) => cell.textContent)),
    trends: Object.fromEntries([...document.querySelectorAll("#dashboard-workers canvas")].map(
      (canvas) => [canvas.dataset.worker, [data(canvas).labels, series(data(canvas))]])),
    error: error.hidden ? null : error.textContent,
  };
}"""


def percent(rate: float) -> str:
    points = round(rate * 10000)
    return f"{points // 100}.{points % 100:02d}%"


class StatsApi:
    """The stats API as a client of the service sees it, with a Bearer token."""

    def __init__(self, service: Service) -> None:
        self.port = service.gunicorn.port
        self.token = login(self.port, FRONTEND_USER)

    def get(self, **params: str) -> tuple[int, dict[str, Any]]:
        query = urlencode({name: value for name, value in params.items() if value})
        reply = call(self.port, "GET", f"/api/contacts/stats?{query}", token=self.token)
        return reply.status, reply.json()

    def data(self, **params: str) -> dict[str, Any]:
        status, body = self.get(**params)
        assert status == 200, body
        return body["data"]


def expected_drawing(api: StatsApi, *, group_by: str, **filters: str) -> dict[str, Any]:
    """What the page must draw for these parameters, from the API's answers alone."""
    series = api.data(**filters, group_by=group_by)
    workers = sorted(
        api.data(**filters, group_by="worker_id")["results"], key=lambda row: (-row["contacts"], row["key"])
    )
    rows, totals = series["results"], series["totals"]
    trended = [row["key"] for row in workers if row["key"] != ""][:TREND_WORKERS_MAX]
    trends = {}
    for worker in trended:
        trend = api.data(**{**filters, "worker_id": worker}, group_by=group_by)["results"]
        trends[worker] = [
            [row["key"] for row in trend],
            {"联系": [row["contacts"] for row in trend], "已回复": [row["replied"] for row in trend]},
        ]
    return {
        "labels": [[row["key"] for row in rows]] * 2,
        "counts": {
            "联系": [row["contacts"] for row in rows],
            "已回复": [row["replied"] for row in rows],
            "交换微信": [row["wechat_exchanged"] for row in rows],
        },
        # A period without contacts has no rate: a gap, not 0%.
        "rates": {
            "回复率": [row["reply_rate"] if row["contacts"] else None for row in rows],
            "微信交换率": [row["wechat_rate"] if row["contacts"] else None for row in rows],
        },
        "totals": {
            "contacts": f"{totals['contacts']:,}",
            "replied": f"{totals['replied']:,}",
            "reply_rate": percent(totals["reply_rate"]),
            "wechat_exchanged": f"{totals['wechat_exchanged']:,}",
            "wechat_rate": percent(totals["wechat_rate"]),
        },
        "workers": [
            [
                row["key"] or "(未填)",
                f"{row['contacts']:,}",
                f"{row['replied']:,}",
                percent(row["reply_rate"]),
                f"{row['wechat_exchanged']:,}",
                percent(row["wechat_rate"]),
            ]
            for row in workers
        ],
        "trends": trends,
        "error": None,
    }


def drawn_when_ready(page: Page) -> dict[str, Any]:
    expect(page.locator("#dashboard")).to_have_attribute("data-state", "ready")
    return page.evaluate(DRAWN)


def refusal_shown(page: Page) -> str:
    expect(page.locator("#dashboard")).to_have_attribute("data-state", "error")
    return page.locator("#dashboard-error").text_content()


def test_the_dashboard_draws_what_the_stats_api_answers_for_each_range_grouping_and_worker(
    page: Page, service: Service
):
    """Opened from the admin index on the last 30 days; then March 2024, one worker, a refused range, by week."""
    api = StatsApi(service)
    policy = PolicyWatch.on(page, service.url)
    page.goto(f"{service.url}/admin/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.locator("#content-main").get_by_role("link", name="联系统计看板", exact=True).click()
    expect(page).to_have_url(f"{service.url}/admin/contacts/dashboard/")

    drawn = drawn_when_ready(page)
    start, end = (dt.date.fromisoformat(page.input_value(f"input[name={name}]")) for name in ("start_date", "end_date"))
    today = dt.datetime.now(zoneinfo.ZoneInfo(settings.TIME_ZONE)).date()
    assert (end - start, today - end <= dt.timedelta(days=1)) == (dt.timedelta(days=29), True)
    assert drawn == expected_drawing(api, group_by="day", start_date=str(start), end_date=str(end))
    assert len(drawn["labels"][0]) == 30
    everyone = [row["key"] for row in api.data(group_by="worker_id")["results"] if row["key"]]
    assert page.locator("select[name=worker_id] option").all_text_contents() == ["全部", *everyone]
    assert KNOWN_WORKER in everyone
    screenshot(page, "dashboard-1-last-30-days")

    # The end before the start: the API's refusal, in its words, and nothing drawn.
    page.fill("input[name=end_date]", "2024-03-31")
    status, body = api.get(start_date=str(start), end_date="2024-03-31", group_by="day")
    assert (status, refusal_shown(page)) == (400, body["msg"])
    assert page.evaluate(DRAWN)["counts"] == {"联系": [], "已回复": [], "交换微信": []}

    page.fill("input[name=start_date]", "2024-03-01")
    march = {"start_date": "2024-03-01", "end_date": "2024-03-31"}
    drawn = drawn_when_ready(page)
    assert drawn == expected_drawing(api, group_by="day", **march)
    assert (sum(drawn["counts"]["联系"]), drawn["workers"][0][0]) == (12, KNOWN_WORKER)
    assert page.url.endswith("?start_date=2024-03-01&end_date=2024-03-31&group_by=day")
    screenshot(page, "dashboard-2-march-2024")

    page.select_option("select[name=worker_id]", KNOWN_WORKER)
    drawn = drawn_when_ready(page)
    assert drawn == expected_drawing(api, group_by="day", worker_id=KNOWN_WORKER, **march)
    assert list(drawn["trends"]) == [KNOWN_WORKER]

    # Seven years by day is more groups than the API gives: its message says to group coarser.
    page.fill("input[name=start_date]", "2017-03-01")
    status, body = api.get(start_date="2017-03-01", end_date="2024-03-31", worker_id=KNOWN_WORKER, group_by="day")
    assert (status, refusal_shown(page)) == (400, body["msg"])
    page.select_option("select[name=group_by]", "week")
    drawn = drawn_when_ready(page)
    assert drawn == expected_drawing(
        api, group_by="week", start_date="2017-03-01", end_date="2024-03-31", worker_id=KNOWN_WORKER
    )
    screenshot(page, "dashboard-3-one-worker-by-week")

    # The address holds the view: opened again, the page draws the same.
    page.reload()
    assert drawn_when_ready(page) == drawn
    assert policy.settled(page).violations == []
    assert policy.elsewhere == []
