"""The Content-Security-Policy header on the admin's and the API docs' pages, over plain HTTP."""

from __future__ import annotations

import pytest
from admin_http import AdminBrowser

from e2e.e2e_support import ADMIN_PASSWORD, Service

pytestmark = pytest.mark.slow

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def test_the_admin_and_docs_pages_carry_the_policy(service: Service):
    """The login page, the contact list, a change form, the export history, the dashboard, Swagger UI and its
    script."""
    browser = AdminBrowser(service.gunicorn.port)
    pages = {"/admin/login/": browser.get("/admin/login/")}
    login = browser.log_in("admin", ADMIN_PASSWORD)
    assert (login.status, login.headers["location"]) == (302, "/admin/")
    for path in [
        "/admin/",
        "/admin/contacts/contact/",
        "/admin/contacts/contact/1/change/",
        "/admin/contacts/contactexport/",
        "/admin/contacts/dashboard/",
        "/api/docs",
        "/api/docs?script=",
    ]:
        pages[path] = browser.get(path)
    assert {path: reply.status for path, reply in pages.items()} == dict.fromkeys(pages, 200)
    assert {path: reply.headers.get("content-security-policy") for path, reply in pages.items()} == dict.fromkeys(
        pages, POLICY
    )
