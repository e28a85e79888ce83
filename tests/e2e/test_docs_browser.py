"""Swagger UI at /api/docs renders the API's schema in a browser that cannot reach the internet, under the policy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from served import call, login

from e2e.e2e_support import FRONTEND_USER, PolicyWatch, Service, screenshot

pytestmark = pytest.mark.slow

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def schema_operations(service: Service) -> int:
    """How many operations the service's OpenAPI document describes."""
    document = call(service.gunicorn.port, "GET", "/api/schema").json()
    return sum(len(HTTP_METHODS & set(item)) for item in document["paths"].values())


def exactly(path: str) -> re.Pattern:
    """The whole text Swagger UI shows for `path`, which puts a zero-width space before each slash."""
    return re.compile("^" + "\u200b?/".join(re.escape(part) for part in path.split("/")) + "$")


def test_swagger_ui_renders_every_operation_from_local_files_only(page: Page, service: Service):
    """Every request the page makes goes to the service itself; the UI lists all operations and the Bearer
    scheme, and calls the API, with no Content-Security-Policy violation."""
    policy = PolicyWatch.on(page, service.url)
    page.goto(f"{service.url}/api/docs")
    expect(page.locator(".opblock")).to_have_count(schema_operations(service))
    expect(page.locator(".info .title")).to_contain_text("boss_dp contacts API")
    expect(page.locator(".btn.authorize")).to_be_visible()
    paths = page.locator(".opblock-summary-path")
    expect(paths.filter(has_text=exactly("/api/contacts/export"))).to_have_count(1)
    expect(paths.filter(has_text=exactly("/api/contacts/exports/{id}"))).to_have_count(2)

    health = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/api/health"))
    health.locator(".opblock-summary").click()
    health.locator(".try-out__btn").click()
    health.locator(".execute").click()
    expect(health.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(health.locator(".live-responses-table tbody .microlight").first).to_contain_text('"database": "ok"')

    assert policy.settled(page).violations == []
    assert policy.elsewhere == []
    screenshot(page, "docs-swagger-ui")


def test_swagger_ui_drives_the_job_api_with_a_bearer_token(page: Page, service: Service):
    """Authorized with a token, Swagger UI's try-out starts an export job (202, queued) and reads it back."""
    token = login(service.gunicorn.port, FRONTEND_USER)
    page.goto(f"{service.url}/api/docs")
    page.locator(".btn.authorize").click()
    # The Bearer scheme's box; the stats operation also documents the admin's session cookie.
    bearer = page.locator(".modal-ux .auth-container", has_text="jwtAuth")
    bearer.locator("input").fill(token)
    bearer.locator(".auth-btn-wrapper .authorize").click()
    bearer.locator(".btn-done").click()

    path = page.locator(".opblock-summary-path", has_text=exactly("/api/contacts/exports"))
    start = page.locator(".opblock-post", has=path)
    start.locator(".opblock-summary").click()
    start.locator(".try-out__btn").click()
    start.locator("textarea.body-param__text").fill('{"ordering": "-id"}')
    start.locator(".execute").click()
    expect(start.locator(".live-responses-table tbody .response-col_status").first).to_have_text("202")
    answer = start.locator(".live-responses-table tbody .microlight").first
    expect(answer).to_contain_text('"status": "queued"')
    job_id = re.search(r'"id": (\d+)', answer.inner_text()).group(1)

    reply = call(service.gunicorn.port, "GET", f"/api/contacts/exports/{job_id}", token=token)
    assert (reply.status, reply.json()["data"]["filters"]) == (200, {"ordering": "-id"})
