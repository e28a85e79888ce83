"""Django admin in a real browser: log in, filter and search the contacts, export selected rows, read the history.

All of it under the Content-Security-Policy, with no violation and no request leaving the service.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from e2e.e2e_support import ADMIN_PASSWORD, PolicyWatch, Service, screenshot, workbook_names

pytestmark = pytest.mark.slow

# The known contacts of 2024 who replied and whose name, position or contact holds 产品经理: newest first.
FOUND = ["郑爽", "吴昊", "黄强", "陈静", "刘洋", "张伟", "欧阳娜娜"]


def changelist_names(page: Page) -> list[str]:
    return page.locator("#result_list tbody tr th a").all_inner_texts()


def test_an_admin_filters_searches_exports_selected_rows_and_reads_the_history(page: Page, service: Service):
    """Login, the contact list with a filter, a drill-down and a search, the export action, the history."""
    policy = PolicyWatch.on(page, service.url)
    page.goto(f"{service.url}/admin/")
    screenshot(page, "admin-1-login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    screenshot(page, "admin-2-index")

    page.click("a[href='/admin/contacts/contact/']")
    expect(page.locator("#result_list")).to_be_visible()
    screenshot(page, "admin-3-contacts")

    page.locator("nav.toplinks").get_by_role("link", name="2024", exact=True).click()
    page.locator("#changelist-filter").get_by_role("link", name="已回复", exact=True).click()
    page.fill("#searchbar", "产品经理")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(len(FOUND))
    assert changelist_names(page) == FOUND
    screenshot(page, "admin-4-filtered-and-searched")

    rows = page.locator("#result_list tbody tr")
    for index in range(3):
        rows.nth(index).locator("input.action-select").check()
    page.select_option("select[name=action]", "export_selected")
    page.click("button[name=index]")
    message = page.locator(".messagelist .success")
    expect(message).to_contain_text("已导出 3 条记录")
    screenshot(page, "admin-5-exported")
    with page.expect_download() as download_info:
        message.locator("a").click()
    download = download_info.value
    assert workbook_names(download) == FOUND[:3]

    page.goto(f"{service.url}/admin/contacts/contactexport/")
    history = page.locator("#result_list tbody tr", has_text=download.suggested_filename)
    expect(history).to_have_count(1)
    expect(history).to_contain_text("admin")
    expect(history).to_contain_text("后台")
    screenshot(page, "admin-6-export-history")
    assert policy.settled(page).violations == []
    assert policy.elsewhere == []
