"""A browser's side of the served admin over plain HTTP: cookies, the CSRF token, the login form.

Each request goes on a new connection, with an optional X-Forwarded-For header (the served
service may trust one proxy, so that tests can come from many client addresses).
"""

from __future__ import annotations

import http.client
import json
import os
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from served import Reply

LOGIN_PAGE = "/admin/login/"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PLAIN_STATIC_OVERLAY = """from boss_dp.settings import *  # noqa: F403

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
"""


def plain_static_settings(tmp_path: Path) -> dict[str, str]:
    """Environment for a service whose pages link unhashed static files, so that it needs no collectstatic.

    Collecting takes seconds; these tests read pages, not their static files (the smoke and browser
    tests serve the collected, hashed ones).
    """
    overlay = tmp_path / "overlay"
    overlay.mkdir(exist_ok=True)
    (overlay / "plain_static_settings.py").write_text(PLAIN_STATIC_OVERLAY)
    return {
        "DJANGO_SETTINGS_MODULE": "plain_static_settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(overlay), os.environ.get("PYTHONPATH")])),
    }


@dataclass
class AdminBrowser:
    """One client of the admin: it keeps the cookies the service sets, as a browser does."""

    port: int
    forwarded_for: str = ""
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None) -> Reply:
        headers = {}
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    self._keep(value)
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def _keep(self, header: str) -> None:
        for name, morsel in SimpleCookie(header).items():
            if morsel["max-age"] == "0" or not morsel.value or morsel.value == '""':
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def login_token(self) -> str:
        """Open the admin's login page: the CSRF token its form carries."""
        page = self.get(LOGIN_PAGE)
        assert page.status == 200, page.status
        token = CSRF_INPUT.search(page.body.decode())
        assert token, "the login page must carry a CSRF token"
        return token.group(1)

    def log_in(self, username: str, password: str, *, token: str = "") -> Reply:
        """Submit the admin's login form, with `token` or the one a fresh look at the page gives."""
        form = {
            "csrfmiddlewaretoken": token or self.login_token(),
            "username": username,
            "password": password,
            "next": "/admin/",
        }
        return self.request("POST", LOGIN_PAGE, form=form)


def api_login(port: int, username: str, password: str, *, forwarded_for: str = "") -> Reply:
    """The API's login, as a frontend calls it, optionally through the trusted proxy."""
    headers = {"Content-Type": "application/json"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = json.dumps({"username": username, "password": password}).encode()
        connection.request("POST", "/api/auth/token", body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()
