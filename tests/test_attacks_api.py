"""Issue 9's attacks on the API, replayed as the attacker made them: over HTTP against gunicorn.

Stolen tokens after a password change, a deactivation or a logout; refreshes of deleted or impossible
users; a weak bootstrap password; JSON nested past the parser; bodies and notes without bound; exports
filling the disk. One served service on the suite's database (SQLite, or PostgreSQL in its run).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import uuid
from urllib.parse import urlsplit

import jwt
import pytest
from served import PASSWORD, PYTHON, REPO, Gunicorn, call, manage, prepare_database, served, service_env, suite_database

pytestmark = pytest.mark.slow

PASSWORD_CHANGED = {"code": 401, "msg": "密码已修改,请重新登录", "data": None}
BLACKLISTED = {"code": 401, "msg": "令牌已被加入黑名单", "data": None}
INACTIVE = {"code": 401, "msg": "该用户已禁用", "data": None}
USER_NOT_FOUND = {"code": 401, "msg": "未找到该用户", "data": None}
TOO_DEEP = {"code": 400, "msg": "JSON parse error - 嵌套超过 32 层", "data": None}
CONTROL = "不能包含 NUL 等控制字符"
DAILY_EXPORTS = 2


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> tuple[Gunicorn, dict[str, str]]:
    tmp_path = tmp_path_factory.mktemp("attacks_api")
    with suite_database(tmp_path, "attacks") as url:
        # A storage cap of one byte keeps only the newest export: each export removes the one before.
        # Every request here comes from one address: the login throttle (tested elsewhere) is lifted.
        env = service_env(
            url,
            tmp_path,
            EXPORT_DAILY_PER_USER=str(DAILY_EXPORTS),
            EXPORT_STORAGE_MAX_BYTES="1",
            LOGIN_RATE_PER_ADDRESS="10000/min",
        )
        prepare_database(env, contacts=40)
        with served(env, tmp_path / "logs") as gunicorn:
            yield gunicorn, env


def shell(env: dict[str, str], code: str) -> str:
    return manage(env, "shell", "-c", "from django.contrib.auth.models import User\n" + code)


def new_user(env: dict[str, str], *perms: str) -> str:
    """A user who may read every account's contacts (and `perms`), under a fresh name."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    shell(
        env,
        f"from django.contrib.auth.models import Permission\n"
        f"user = User.objects.create_user({name!r}, password={PASSWORD!r})\n"
        f"user.user_permissions.set(Permission.objects.filter(content_type__app_label='contacts', "
        f"codename__in={['view_contact', 'view_all_contacts', *perms]!r}))\n",
    )
    return name


def log_in(port: int, username: str, password: str = PASSWORD) -> dict[str, str]:
    reply = call(port, "POST", "/api/auth/token", payload={"username": username, "password": password})
    assert reply.status == 200, reply.body
    return reply.json()["data"]


def refresh(port: int, token: str):
    return call(port, "POST", "/api/auth/token/refresh", payload={"refresh": token})


def listing(port: int, access: str):
    return call(port, "GET", "/api/contacts?page_size=1", token=access)


def error_log_after(server: Gunicorn, position: int) -> str:
    return server.error_log.read_bytes()[position:].decode(errors="replace")


# --- point 2: tokens outlive a password change -------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        "user.set_password('a-new-password-0123')",
        "user.set_unusable_password()",
    ],
    ids=["changepassword", "unusable-password"],
)
def test_a_stolen_token_pair_dies_with_a_password_change(service, change):
    """After the password changes (what `changepassword` and the admin do), the stolen access token and the
    stolen refresh token are 401 with a clear message; a login with the new password works."""
    server, env = service
    username = new_user(env)
    stolen = log_in(server.port, username)
    stolen = refresh(server.port, stolen["refresh"]).json()["data"]
    assert listing(server.port, stolen["access"]).status == 200

    shell(env, f"user = User.objects.get(username={username!r})\n{change}\nuser.save()\n")

    for reply in (listing(server.port, stolen["access"]), refresh(server.port, stolen["refresh"])):
        assert (reply.status, reply.json()) == (401, PASSWORD_CHANGED)
        assert reply.headers["www-authenticate"] == 'Bearer realm="api"'
    if "set_password" in change:
        fresh = log_in(server.port, username, "a-new-password-0123")
        assert listing(server.port, fresh["access"]).status == 200


def test_deactivation_ends_every_token_and_reactivation_revives_none(service):
    """A deactivated user's tokens are refused at once; once reactivated, its old refresh token stays dead."""
    server, env = service
    username = new_user(env)
    stolen = log_in(server.port, username)
    shell(env, f"user = User.objects.get(username={username!r})\nuser.is_active = False\nuser.save()\n")
    assert listing(server.port, stolen["access"]).json() == INACTIVE
    assert refresh(server.port, stolen["refresh"]).json() == BLACKLISTED

    shell(env, f"user = User.objects.get(username={username!r})\nuser.is_active = True\nuser.save()\n")
    assert refresh(server.port, stolen["refresh"]).json() == BLACKLISTED
    assert listing(server.port, log_in(server.port, username)["access"]).status == 200


def test_logout_blacklists_and_a_refresh_token_buys_new_tokens_only_once(service):
    """Two refreshes racing with one token: one gets a new pair, the other a 401. Logout ends the new one."""
    server, env = service
    username = new_user(env)
    tokens = log_in(server.port, username)
    start = threading.Barrier(2)
    replies = []

    def race() -> None:
        start.wait()
        replies.append(refresh(server.port, tokens["refresh"]))

    racers = [threading.Thread(target=race) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    assert sorted(reply.status for reply in replies) == [200, 401], [reply.body for reply in replies]
    rotated = next(reply for reply in replies if reply.status == 200).json()["data"]
    assert set(rotated) == {"access", "refresh"}

    logout = call(server.port, "POST", "/api/auth/logout", payload={"refresh": rotated["refresh"]})
    assert (logout.status, logout.json()) == (200, {"code": 200, "msg": "success", "data": {}})
    assert refresh(server.port, rotated["refresh"]).json() == BLACKLISTED


# --- point 3: refreshes of users that are gone or cannot exist -------------------------------------


def forged(env: dict[str, str], token_type: str, user_id: str) -> str:
    """A token the service itself would sign (the attacker held a real one; the test holds the key)."""
    now = int(dt.datetime.now(tz=dt.UTC).timestamp())
    claims = {"token_type": token_type, "exp": now + 600, "iat": now, "jti": uuid.uuid4().hex, "user_id": user_id}
    return jwt.encode({**claims, "hash_password": "x"}, env["DJANGO_SECRET_KEY"], algorithm="HS256")


def test_refreshing_a_deleted_users_token_is_a_401_not_a_500(service):
    """simplejwt's refresh raised DoesNotExist for a deleted user: now the 401 envelope, and no traceback."""
    server, env = service
    username = new_user(env)
    tokens = log_in(server.port, username)
    shell(env, f"User.objects.filter(username={username!r}).delete()\n")
    logged = server.error_log.stat().st_size
    for reply in (refresh(server.port, tokens["refresh"]), listing(server.port, tokens["access"])):
        assert (reply.status, reply.json()) == (401, USER_NOT_FOUND)
    assert "Traceback" not in error_log_after(server, logged)


@pytest.mark.parametrize("user_id", [str(2**31), str(2**63), str(10**40)])
def test_a_token_whose_user_id_no_row_can_hold_is_a_401(service, user_id):
    """User ids beyond the database's integer (2**63 was a 500 on SQLite) authenticate nobody."""
    server, env = service
    access = listing(server.port, forged(env, "access", user_id))
    renewed = refresh(server.port, forged(env, "refresh", user_id))
    assert [(access.status, access.json()), (renewed.status, renewed.json())] == [(401, USER_NOT_FOUND)] * 2


# --- point 4: the admin bootstrap takes a weak password ------------------------------------------


@pytest.mark.parametrize("password", ["admin", "12345678", "password"])
def test_the_admin_bootstrap_refuses_a_weak_password(service, password):
    """`make run`'s ensure_admin with DJANGO_SUPERUSER_PASSWORD=admin exits non-zero, says why, creates no one."""
    _, env = service
    result = subprocess.run(
        [PYTHON, "manage.py", "ensure_admin"],
        cwd=REPO,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SUPERUSER_PASSWORD is refused: " in result.stderr
    assert "Traceback" not in result.stderr
    assert shell(env, "print(User.objects.filter(is_superuser=True).count())").splitlines()[-1] == "0"


# --- points 5 and 6: bodies the framework let through ---------------------------------------------


def test_json_nested_past_the_limit_is_a_400_on_every_endpoint_and_logs_nothing(service):
    """Deep nesting answered 500 (even without a login) and wrote dozens of log lines each time."""
    server, env = service
    access = log_in(server.port, new_user(env, "add_contact", "change_contact"))["access"]
    logged = server.error_log.stat().st_size
    for depth in (33, 50_000):
        body = ("[" * depth + "]" * depth).encode()
        for method, path, token in [
            ("POST", "/api/auth/token", ""),
            ("POST", "/api/auth/token/refresh", ""),
            ("POST", "/api/auth/logout", ""),
            ("POST", "/api/contacts", access),
            ("PATCH", "/api/contacts/1", access),
        ]:
            reply = call(server.port, method, path, token=token, body=body)
            assert (reply.status, reply.json()) == (400, TOO_DEEP), (method, path, depth)
    assert error_log_after(server, logged).strip() == ""


def test_oversized_bodies_and_text_are_refused_naming_the_problem(service):
    """A 2.4 MB note is a 413 envelope; 10,001 characters of notes and control characters are 400s naming
    the field; nothing of them is stored."""
    server, env = service
    access = log_in(server.port, new_user(env, "add_contact"))["access"]
    report = {"name": "张三", "account_id": 1}

    def create(**fields: str):
        return call(server.port, "POST", "/api/contacts", token=access, payload={**report, **fields})

    huge = create(notes="长" * 800_000)
    assert (huge.status, huge.json()) == (413, {"code": 413, "msg": "请求体过大,最多 1048576 字节", "data": None})
    long = create(notes="长" * 10_001)
    assert (long.status, long.json()["data"]) == (400, {"notes": ["请确保这个字段不能超过 10000 个字符。"]})
    forged_line = create(name="张三\x1b[2J", notes="ok")
    assert (forged_line.status, forged_line.json()["data"]) == (400, {"name": [CONTROL]})
    assert create(notes="长" * 10_000).status == 201


def test_a_list_page_stays_bounded_with_notes_stored_before_the_limit(service):
    """30 contacts of 2.4 MB notes (written before the limit, straight into the database) made a 72 MB page."""
    server, env = service
    shell(
        env,
        "from contacts.models import Contact\n"
        "Contact.objects.bulk_create([Contact(name='旧', account_id=9, worker_id='legacy', notes='长' * 2_400_000)"
        " for _ in range(30)])\n",
    )
    access = log_in(server.port, new_user(env))["access"]
    reply = call(server.port, "GET", "/api/contacts?worker_id=legacy&page_size=100", token=access)
    assert reply.status == 200
    assert [len(row["notes"]) for row in reply.json()["data"]["results"]] == [10_000] * 30
    assert len(reply.body) < 1_000_000


# --- point 12: exports fill the disk ---------------------------------------------------------------


def download(port: int, url: str):
    link = urlsplit(url)
    return call(port, "GET", f"{link.path}?{link.query}")


def test_exports_are_bounded_per_user_per_day_and_in_storage(service):
    """Each export removes the older files past the storage cap (here one byte: all but the newest), and past
    the daily quota a 429 envelope tells when to come back."""
    server, env = service
    access = log_in(server.port, new_user(env, "export_contact"))["access"]
    made = [call(server.port, "GET", "/api/contacts/export", token=access) for _ in range(DAILY_EXPORTS)]
    assert [reply.status for reply in made] == [200] * DAILY_EXPORTS
    first, last = (reply.json()["data"]["download_url"] for reply in (made[0], made[-1]))
    assert download(server.port, first).status == 404
    assert download(server.port, last).status == 200

    refused = call(server.port, "GET", "/api/contacts/export", token=access)
    assert refused.status == 429
    wait = int(refused.headers["retry-after"])
    assert 86_000 < wait <= 86_400
    assert refused.json() == {
        "code": 429,
        "msg": f"24 小时内每人最多导出 {DAILY_EXPORTS} 次,请 {wait} 秒后重试",
        "data": None,
    }


def test_a_user_with_exports_running_is_refused_another(service):
    """Past EXPORT_CONCURRENT_PER_USER running exports the next is a 429 with Retry-After."""
    server, env = service
    username = new_user(env, "export_contact")
    shell(
        env,
        "from django.utils import timezone\n"
        "from contacts.models import ContactExport\n"
        f"user = User.objects.get(username={username!r})\n"
        "for n in range(2):\n"
        "    ContactExport.objects.create(user=user, username=user.username, filename=f'{user.username}-{n}',\n"
        "                                 heartbeat_at=timezone.now())\n",
    )
    refused = call(server.port, "GET", "/api/contacts/export", token=log_in(server.port, username)["access"])
    assert (refused.status, refused.headers["retry-after"]) == (429, "30")
    assert refused.json()["msg"] == "已有 2 个导出正在进行,每人最多同时 2 个,请稍后重试"


# --- point 13: API answers are not cached ----------------------------------------------------------


def test_api_answers_carry_cache_control_no_store(service):
    """Answers hold personal data: success, 401, 404 and the health probe all say no-store."""
    server, env = service
    access = log_in(server.port, new_user(env))["access"]
    replies = [
        listing(server.port, access),
        call(server.port, "GET", "/api/contacts"),
        call(server.port, "GET", "/api/nowhere", token=access),
        call(server.port, "GET", "/api/health"),
    ]
    assert [(reply.status, reply.headers["cache-control"]) for reply in replies] == [
        (200, "no-store"),
        (401, "no-store"),
        (404, "no-store"),
        (200, "no-store"),
    ]
