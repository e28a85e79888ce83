"""Fixtures of the browser tests: one served service per session, Chromium, a fresh page per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from served import manage, prepare_database, served, service_env, suite_database
from services import executable_problem, require_service

from e2e.e2e_support import (
    ADMIN_PASSWORD,
    BROWSER_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    FRONTEND_USER,
    KNOWN_CONTACTS,
    STATIC_ROOT_OVERLAY,
    Service,
    static_origin,
)


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Iterator[Service]:
    tmp_path = tmp_path_factory.mktemp("e2e")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "e2e_settings.py").write_text(STATIC_ROOT_OVERLAY.format(static_root=str(tmp_path / "static")))
    with static_origin() as allowed, static_origin() as foreign, suite_database(tmp_path, "e2e") as url:
        env = service_env(
            url,
            tmp_path,
            DJANGO_SETTINGS_MODULE="e2e_settings",
            PYTHONPATH=os.pathsep.join(filter(None, [str(overlay), os.environ.get("PYTHONPATH")])),
            WEB_CONCURRENCY="2",
            CORS_ALLOWED_ORIGINS=allowed,
            DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        )
        prepare_database(env, contacts=40, username=FRONTEND_USER)
        manage(env, "shell", "-c", KNOWN_CONTACTS)
        manage(env, "ensure_admin")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        with served(env, tmp_path / "logs") as gunicorn:
            yield Service(gunicorn, allowed_origin=allowed, foreign_origin=foreign)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require_service("Chromium", lambda: executable_problem(CHROMIUM))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile per test, accepting downloads, with every wait bounded."""
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()
