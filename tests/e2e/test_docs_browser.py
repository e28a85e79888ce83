"""Swagger UI at /api/docs renders the API's schema in a browser that cannot reach the internet."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from e2e.e2e_support import Service, screenshot

pytestmark = pytest.mark.slow

OPERATIONS = 10


def test_swagger_ui_renders_every_operation_from_local_files_only(page: Page, service: Service):
    """Every request the page makes goes to the service itself; the UI lists all operations and the Bearer scheme."""
    elsewhere: list[str] = []

    def only_the_service(route: Route) -> None:
        if route.request.url.startswith(f"{service.url}/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_service)
    page.goto(f"{service.url}/api/docs")
    expect(page.locator(".opblock")).to_have_count(OPERATIONS)
    expect(page.locator(".info .title")).to_contain_text("boss_dp contacts API")
    expect(page.locator(".btn.authorize")).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/contacts/export")).to_have_count(1)
    assert elsewhere == []
    screenshot(page, "docs-swagger-ui")
