"""A browser frontend on another origin: login, list, filter, page, export and download, and CORS refusal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from contacts.exports.storage import FILENAME_RE
from e2e.e2e_support import FRONTEND_PASSWORD, FRONTEND_USER, Service, screenshot, workbook_names

pytestmark = pytest.mark.slow

# The known March 2024 contacts whose position holds 产品经理, who replied, created 1-20 March: newest first.
EXPECTED = ["吴昊", "黄强", "陈静", "刘洋", "张伟", "欧阳娜娜"]


def log_in(page: Page, service: Service, origin: str) -> None:
    page.goto(service.frontend(origin))
    page.fill("input[name=username]", FRONTEND_USER)
    page.fill("input[name=password]", FRONTEND_PASSWORD)
    page.click("#login button")


def apply_filters(page: Page) -> None:
    page.fill("input[name=search]", "产品经理")
    page.select_option("select[name=reply_status]", "已回复")
    page.fill("input[name=start_date]", "2024-03-01")
    page.fill("input[name=end_date]", "2024-03-20")
    page.select_option("select[name=page_size]", "2")
    page.click("#search")


def shown_names(page: Page) -> list[str]:
    return page.locator("#results tbody tr td:nth-child(2)").all_inner_texts()


def test_the_frontend_logs_in_filters_pages_and_downloads_the_export(page: Page, service: Service):
    """From an allowed origin: token login, Bearer list, Chinese search + status + dates, paging, <a> download."""
    log_in(page, service, service.allowed_origin)
    expect(page.locator("#page-info")).to_contain_text("共 52 条")
    screenshot(page, "frontend-1-logged-in")

    apply_filters(page)
    expect(page.locator("#page-info")).to_have_text("第 1 / 3 页,共 6 条")
    assert shown_names(page) == EXPECTED[:2]
    screenshot(page, "frontend-2-filtered")

    page.click("#next")
    expect(page.locator("#page-info")).to_have_text("第 2 / 3 页,共 6 条")
    assert shown_names(page) == EXPECTED[2:4]
    page.click("#next")
    expect(page.locator("#page-info")).to_have_text("第 3 / 3 页,共 6 条")
    assert shown_names(page) == EXPECTED[4:]
    screenshot(page, "frontend-3-last-page")

    with page.expect_download() as download_info:
        page.click("#export")
    expect(page.locator("#status")).to_have_text("成功导出 6 条记录")
    assert workbook_names(download_info.value) == EXPECTED
    screenshot(page, "frontend-4-exported")


def test_the_frontend_can_follow_the_download_url_with_window_open(page: Page, service: Service):
    """The original's other way: window.open(download_url) opens the signed link in a new tab, which downloads."""
    log_in(page, service, service.allowed_origin)
    apply_filters(page)
    expect(page.locator("#page-info")).to_have_text("第 1 / 3 页,共 6 条")
    page.check("#window-open")
    # Chromium attributes the download to the opener; the new tab closes once its answer is a download.
    with page.expect_popup(), page.expect_download() as download_info:
        page.click("#export")
    download = download_info.value
    assert re.fullmatch(rf"{re.escape(service.url)}/media/exports/{FILENAME_RE.pattern}\?signature=\S+", download.url)
    expect(page.locator("#status")).to_have_text("成功导出 6 条记录")
    assert workbook_names(download) == EXPECTED


def test_a_frontend_on_an_origin_not_allowed_is_refused_by_the_browser(page: Page, service: Service):
    """The same page from an origin missing from CORS_ALLOWED_ORIGINS: the browser blocks the login call."""
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    log_in(page, service, service.foreign_origin)
    expect(page.locator("#status")).to_have_text("登录失败:Failed to fetch")
    assert page.locator("#filters").is_hidden()
    blocked = [text for text in console if "blocked by CORS policy" in text]
    assert blocked, console
    assert re.search(rf"from origin '{re.escape(service.foreign_origin)}' has been blocked", blocked[0])
    screenshot(page, "frontend-5-foreign-origin-refused")
