"""The admin's login over real HTTP shares the API login's limits: per address and per username, one count.

gunicorn with debug off and the real (slow) password hashing, behind one trusted proxy so that each
test comes from its own client addresses (X-Forwarded-For, counted as the API counts it). A second
service with a three-second window shows a locked-out person logging in once the window has passed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from admin_http import LOGIN_PAGE, AdminBrowser, api_login, plain_static_settings
from served import PASSWORD, Gunicorn, Reply, manage, prepare_database, served, service_env, suite_database

pytestmark = pytest.mark.slow

STAFF = ["staff-a", "staff-b", "staff-c", "staff-d", "staff-e"]
THROTTLED_NOTE = re.compile(r'<p class="errornote">\s*登录尝试过于频繁,请 (\d+) 秒后再试。\s*</p>')


def _started(tmp_path_factory: pytest.TempPathFactory, purpose: str, **extra: str) -> Iterator[Gunicorn]:
    tmp_path = tmp_path_factory.mktemp(purpose)
    with suite_database(tmp_path, purpose) as url:
        env = service_env(url, tmp_path, WEB_CONCURRENCY="2", **plain_static_settings(tmp_path), **extra)
        prepare_database(env, contacts=0)
        manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth.models import User\n"
            f"for name in {STAFF!r}:\n"
            f"    User.objects.create_user(name, password={PASSWORD!r}, is_staff=True)\n",
        )
        with served(env, tmp_path / "logs") as gunicorn:
            yield gunicorn


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Gunicorn]:
    """The default limits (10 attempts a minute per address and per username), behind one trusted proxy."""
    yield from _started(tmp_path_factory, "admin_limits", TRUSTED_PROXY_COUNT="1")


@pytest.fixture(scope="module")
def brief_server(tmp_path_factory) -> Iterator[Gunicorn]:
    """One attempt in three seconds per address and per username: long enough that two attempts sent
    back to back fall into one window even on a loaded machine, whose password hashing may take a second."""
    yield from _started(tmp_path_factory, "admin_window", LOGIN_RATE_PER_ADDRESS="1/3s", LOGIN_RATE_PER_USERNAME="1/3s")


def admin_attempt(server: Gunicorn, username: str, password: str, forwarded_for: str) -> Reply:
    return AdminBrowser(server.port, forwarded_for=forwarded_for).log_in(username, password)


def assert_wrong_admin_login(reply: Reply) -> None:
    """The login page again, with the admin's own refusal of the credentials."""
    assert reply.status == 200
    page = reply.body.decode()
    assert 'id="login-form"' in page
    assert '<p class="errornote">' in page
    assert not THROTTLED_NOTE.search(page)


def assert_admin_throttled(reply: Reply) -> int:
    """The login page, as a 429 with Retry-After, saying in Chinese how many seconds to wait."""
    assert reply.status == 429
    assert reply.headers["content-type"].startswith("text/html")
    wait = int(reply.headers["retry-after"])
    assert 1 <= wait <= 60
    page = reply.body.decode()
    assert 'id="login-form"' in page
    assert [int(seconds) for seconds in THROTTLED_NOTE.findall(page)] == [wait]
    return wait


def assert_api_throttled(reply: Reply) -> None:
    assert reply.status == 429
    wait = int(reply.headers["retry-after"])
    assert 1 <= wait <= 60
    assert reply.json() == {"code": 429, "msg": f"请求已被限流。 预计 {wait} 秒后可用。", "data": None}


def assert_logged_in(browser: AdminBrowser, reply: Reply) -> None:
    """The login redirected to the admin's index, which the browser's session now opens."""
    assert (reply.status, reply.headers["location"]) == (302, "/admin/")
    index = browser.get("/admin/")
    assert index.status == 200
    assert 'id="site-name"' in index.body.decode()


def assert_not_logged_in(browser: AdminBrowser) -> None:
    index = browser.get("/admin/")
    assert (index.status, index.headers["location"]) == (302, f"{LOGIN_PAGE}?next=/admin/")


def test_wrong_admin_passwords_lock_that_address_and_username_out_of_both_logins(server):
    """Ten wrong admin passwords for one user from one address (whatever a client prepends to
    X-Forwarded-For): that user from a new address, and a new user from that address, are refused by
    the admin and by the API; the new user from the new address logs in."""
    user, address = "staff-a", "198.51.100.1"
    for n in range(10):
        assert_wrong_admin_login(admin_attempt(server, user, "wrong-password", f"203.0.113.{n}, {address}"))
    assert_admin_throttled(admin_attempt(server, user, PASSWORD, f"203.0.113.99, {address}"))
    assert_api_throttled(api_login(server.port, user, PASSWORD, forwarded_for="198.51.100.2"))
    assert_api_throttled(api_login(server.port, "staff-b", PASSWORD, forwarded_for=address))
    locked = AdminBrowser(server.port, forwarded_for=address)
    assert_admin_throttled(locked.log_in("staff-b", PASSWORD))
    assert_not_logged_in(locked)
    elsewhere = api_login(server.port, "staff-b", PASSWORD, forwarded_for="198.51.100.3")
    assert elsewhere.status == 200
    assert set(elsewhere.json()["data"]) == {"access", "refresh"}


def test_wrong_api_passwords_lock_that_address_and_username_out_of_the_admin_login(server):
    """Ten wrong API logins for one user from one address, its name in other cases, padded or full-width
    (which the admin's form reads as the same name): the admin refuses that user from a new address and
    a new user from that address; the new user from the new address logs in."""
    address = "198.51.101.1"
    spellings = ["staff-c", " STAFF-C ", "ｓｔａｆｆ－ｃ", "Staff-C", "staff-c "]
    for n in range(10):
        assert api_login(server.port, spellings[n % 5], "wrong-password", forwarded_for=address).status == 401
    assert_admin_throttled(admin_attempt(server, "staff-c", PASSWORD, "198.51.101.2"))
    locked = AdminBrowser(server.port, forwarded_for=address)
    assert_admin_throttled(locked.log_in("staff-d", PASSWORD))
    assert_not_logged_in(locked)
    elsewhere = AdminBrowser(server.port, forwarded_for="198.51.101.3")
    assert_logged_in(elsewhere, elsewhere.log_in("staff-d", PASSWORD))


def test_showing_the_login_page_is_not_an_attempt(server):
    """Fifteen views of the login page from one address do not count: its login then succeeds."""
    browser = AdminBrowser(server.port, forwarded_for="198.51.103.1")
    for _ in range(15):
        assert browser.get(LOGIN_PAGE).status == 200
    assert_logged_in(browser, browser.log_in("staff-e", PASSWORD))


def test_a_locked_out_person_logs_in_once_the_window_has_passed(brief_server):
    """With one attempt in three seconds: a second attempt within the window is refused, even with the
    right password; after the wait the page names, the same person logs in."""
    browser = AdminBrowser(brief_server.port)
    token = browser.login_token()
    assert_wrong_admin_login(browser.log_in("staff-a", "", token=token))
    wait = assert_admin_throttled(browser.log_in("staff-a", PASSWORD, token=token))
    assert 1 <= wait <= 3
    assert_not_logged_in(browser)
    time.sleep(wait + 0.2)
    assert_logged_in(browser, browser.log_in("staff-a", PASSWORD))
