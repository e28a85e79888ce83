"""What the browser tests share: the served service, the frontend's two origins, Chromium's settings.

One served service for the whole browser session: gunicorn with gunicorn.conf.py and debug off, on a
throwaway migrated database (SQLite, or PostgreSQL in the suite's PostgreSQL run) holding demo
contacts and a known set of March 2024 contacts, with static files collected into a temporary folder.
The frontend page is served from one origin that CORS_ALLOWED_ORIGINS lets in and one it does not.
A PolicyWatch records what a page does against the Content-Security-Policy.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openpyxl
from playwright.sync_api import ConsoleMessage, Download, Page, Route
from served import (
    PASSWORD,
    REPO,
    Gunicorn,
    free_port,
)

from contacts.exports.storage import FILENAME_RE
from contacts.exports.workbook import DATA_SHEET_TITLE, HEADER

# Debian's Chromium by default; TEST_CHROMIUM names another Chromium executable.
CHROMIUM = os.environ.get("TEST_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FRONTEND = Path(__file__).resolve().parent / "frontend"
ARTIFACTS = REPO / "test-artifacts" / "e2e"
ADMIN_PASSWORD = "e2e-admin-password-0123456789"
FRONTEND_USER = "served"
FRONTEND_PASSWORD = PASSWORD
# Every wait in a browser test ends within this many milliseconds.
BROWSER_TIMEOUT_MS = 20_000
# Reports the page's Content-Security-Policy violations to the test, from before any script of the page runs.
VIOLATION_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  const blocked = event.blockedURI || "inline";
  window.reportPolicyViolation(`${event.violatedDirective} blocked ${blocked} on ${event.documentURI}`);
});
"""

STATIC_ROOT_OVERLAY = """from boss_dp.settings import *  # noqa: F403

STATIC_ROOT = {static_root!r}
"""

# Twelve contacts in March 2024, far from the demo contacts (spread over the last 90 days).
KNOWN_CONTACTS = """
import datetime as dt
from django.utils import timezone
from contacts.models import Contact

rows = [
    ("欧阳娜娜", "产品经理", "13800138001", "已回复", True, 1),
    ("张伟", "产品经理", "wechat:zhangwei", "已回复", False, 2),
    ("李娜", "高级产品经理", "13900139002", "未回复", False, 3),
    ("王芳", "前端工程师", "13700137003", "已回复", True, 4),
    ("刘洋", "产品经理", "13600136004", "已回复", True, 5),
    ("陈静", "产品经理助理", "wechat:chenjing", "已回复", False, 6),
    ("杨磊", "后端工程师", "13500135005", "未回复", False, 7),
    ("赵敏", "产品经理", "13400134006", "未回复", True, 8),
    ("黄强", "产品经理", "13300133007", "已回复", False, 9),
    ("周杰", "测试工程师", "13200132008", "已回复", False, 10),
    ("吴昊", "产品经理", "13100131009", "已回复", True, 20),
    ("郑爽", "产品经理", "13000130010", "已回复", True, 31),
]
for name, position, contact, status, wechat, day in rows:
    Contact.objects.create(
        name=name, position=position, contact=contact, reply_status=status, wechat_exchanged=wechat,
        account_id=day, worker_id="worker-e2e",
        created_at=timezone.make_aware(dt.datetime(2024, 3, day, 10, 30)),
    )
"""


@dataclass
class Service:
    gunicorn: Gunicorn
    allowed_origin: str
    foreign_origin: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gunicorn.port}"

    def frontend(self, origin: str) -> str:
        return f"{origin}/index.html?api={self.url}"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def static_origin() -> Iterator[str]:
    """The frontend folder served on a free port of 127.0.0.1, as its own origin."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(QuietHandler, directory=FRONTEND))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot under test-artifacts/e2e/ (git-ignored), for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def workbook_names(download: Download) -> list[str]:
    """The names column of the downloaded workbook's data sheet, after checking its header."""
    assert FILENAME_RE.fullmatch(download.suggested_filename)
    with open(download.path(), "rb") as handle:
        book = openpyxl.load_workbook(handle)
    rows = list(book[DATA_SHEET_TITLE].iter_rows(values_only=True))
    assert rows[0] == HEADER
    return [row[HEADER.index("姓名")] for row in rows[1:]]


@dataclass
class PolicyWatch:
    """What a page did against the Content-Security-Policy and against talking to the service only."""

    service_url: str
    violations: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)

    @classmethod
    def on(cls, page: Page, service_url: str) -> PolicyWatch:
        """Record every violation the page reports (as an event or in the console) from its first script on,
        and refuse and record every request to anywhere but the service."""
        policy_watch = cls(service_url)
        page.expose_function("reportPolicyViolation", policy_watch._violation)
        page.add_init_script(VIOLATION_LISTENER)
        page.on("console", policy_watch._console)
        page.route("**/*", policy_watch._route)
        return policy_watch

    def _violation(self, description: str) -> None:
        self.violations.append(description)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"console: {message.text}")

    def _route(self, route: Route) -> None:
        if route.request.url.startswith(f"{self.service_url}/"):
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort()

    def settled(self, page: Page) -> PolicyWatch:
        """This watch, once the page has run the tasks it queued (violation events are queued tasks)."""
        page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 0))")
        return self
