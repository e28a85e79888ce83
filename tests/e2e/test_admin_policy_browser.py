"""The admin's scripts and styles work under the Content-Security-Policy, which a browser enforces."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from e2e.e2e_support import ADMIN_PASSWORD, PolicyWatch, Service, screenshot

pytestmark = pytest.mark.slow

# The known contacts of March 2024 who replied.
REPLIED_IN_MARCH_2024 = 9


def test_the_admin_login_list_filters_actions_and_change_form_work_under_the_policy(page: Page, service: Service):
    """Login; the contact list drilled down by date and filtered, every row selected by the select-all box;
    a change form's calendar: no policy violation, and no request leaves the service."""
    policy = PolicyWatch.on(page, service.url)
    page.goto(f"{service.url}/admin/login/?next=/admin/contacts/contact/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#result_list")).to_be_visible()

    page.locator("nav.toplinks").get_by_role("link", name="2024", exact=True).click()
    page.locator("nav.toplinks").get_by_role("link", name="2024年3月", exact=True).click()
    page.locator("#changelist-filter").get_by_role("link", name="已回复", exact=True).click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(REPLIED_IN_MARCH_2024)
    page.click("#action-toggle")
    expect(page.locator("input.action-select:checked")).to_have_count(REPLIED_IN_MARCH_2024)
    expect(page.locator(".action-counter")).to_have_text(
        f"选中了 {REPLIED_IN_MARCH_2024} 个中的 {REPLIED_IN_MARCH_2024} 个"
    )
    expect(rows.first).to_have_class("selected")
    screenshot(page, "policy-admin-changelist")

    rows.first.locator("th a").click()
    expect(page.locator("#contact_form")).to_be_visible()
    page.locator(".datetimeshortcuts a", has=page.locator(".date-icon")).click()
    expect(page.locator(".calendarbox")).to_be_visible()
    page.locator(".calendarbox .calendar-shortcuts a").first.click()
    expect(page.locator("#id_contacted_at_0")).not_to_have_value("")
    screenshot(page, "policy-admin-change-form")

    assert policy.settled(page).violations == []
    assert policy.elsewhere == []


def test_the_policy_watch_reports_what_the_policy_blocks(page: Page, service: Service):
    """An inline script and an inline style added to an admin page are blocked, and the watch says so."""
    policy = PolicyWatch.on(page, service.url)
    page.goto(f"{service.url}/admin/login/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.ran = true";
            document.head.appendChild(script);
            const style = document.createElement("style");
            style.textContent = "body { display: none }";
            document.head.appendChild(style);
        }"""
    )
    assert page.evaluate("() => window.ran === undefined")
    expect(page.locator("#login-form")).to_be_visible()
    violations = policy.settled(page).violations
    assert [text for text in violations if not text.startswith("console: ")] == [
        f"script-src-elem blocked inline on {service.url}/admin/login/",
        f"style-src-elem blocked inline on {service.url}/admin/login/",
    ]
    assert len(violations) == 4
