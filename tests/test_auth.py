"""Login, token refresh, login throttling, Bearer authentication and model permissions."""

import datetime as dt
import uuid
from importlib.metadata import version

import jwt
import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from factories import PASSWORD, client_for, make_contact, make_user
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from contacts.models import Contact
from contacts.scoping import accounts_assign

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/token"
REFRESH = "/api/auth/token/refresh"
LOGOUT = "/api/auth/logout"
BAD_CREDENTIALS = {"code": 401, "msg": "找不到指定凭据对应的有效用户", "data": None}
NOT_AUTHENTICATED = {"code": 401, "msg": "身份认证信息未提供。", "data": None}
INVALID_TOKEN = {"code": 401, "msg": "此令牌对任何类型的令牌无效", "data": None}
FORBIDDEN = {"code": 403, "msg": "您没有执行该操作的权限。", "data": None}
BEARER_CHALLENGE = 'Bearer realm="api"'


def login(client: APIClient, username: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, format="json", **extra)


def assert_throttled(response) -> None:
    """A 429 in the envelope that tells the client how long to wait, in the header and in msg."""
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    assert response.json() == {"code": 429, "msg": f"请求已被限流。 预计 {wait} 秒后可用。", "data": None}


def assert_access_token_for(token: str, user) -> None:
    """`token` is an access token of ours that authenticates `user`."""
    assert AccessToken(token)["user_id"] == str(user.pk)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/contacts").status_code == 200


# --- login -----------------------------------------------------------------------------------------


def test_login_with_json_returns_access_and_refresh_tokens(anon, reader):
    """A JSON login answers 200 with both tokens in the envelope."""
    response = login(anon, "reader")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200
    assert body["msg"] == "success"
    assert set(body["data"]) == {"access", "refresh"}
    assert_access_token_for(body["data"]["access"], reader)
    assert RefreshToken(body["data"]["refresh"])["user_id"] == str(reader.pk)


def test_login_with_form_data_returns_access_and_refresh_tokens(anon, reader):
    """A form-encoded login works like a JSON one."""
    response = anon.post(LOGIN, {"username": "reader", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["msg"], set(body["data"])) == (200, "success", {"access", "refresh"})
    assert_access_token_for(body["data"]["access"], reader)


def test_login_with_a_wrong_password_is_401(anon, reader):
    """A wrong password is refused with 401 in the envelope and a Bearer challenge."""
    response = login(anon, "reader", "not-the-password")
    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert response["WWW-Authenticate"] == BEARER_CHALLENGE


def test_login_of_an_unknown_user_is_401(anon, db):
    """An unknown user gets the same answer as a wrong password: nothing tells which one failed."""
    response = login(anon, "nobody")
    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


def test_login_of_an_inactive_user_is_401(anon, db):
    """A deactivated account cannot log in even with its right password."""
    make_user("gone", "contacts.view_contact", is_active=False)
    response = login(anon, "gone")
    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


@pytest.mark.parametrize("missing", ["username", "password"])
def test_login_without_a_field_is_400_naming_it(anon, reader, missing):
    """A missing field is a 400 that names it in msg and in data."""
    payload = {"username": "reader", "password": PASSWORD}
    del payload[missing]
    response = anon.post(LOGIN, payload, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "msg": f"{missing}: 该字段是必填项。",
        "data": {missing: ["该字段是必填项。"]},
    }


def test_login_with_a_body_that_is_not_json_is_400(anon, db):
    """A malformed JSON body is a 400 in the envelope, not a 500."""
    response = anon.post(LOGIN, "{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["data"]) == (400, None)
    assert body["msg"].startswith("JSON parse error")


@pytest.mark.parametrize("field", ["username", "password"])
def test_login_with_a_nul_in_a_field_is_400(anon, reader, field):
    """A NUL byte never reaches the user table (PostgreSQL would fail on it): the field is named."""
    payload = {"username": "reader", "password": PASSWORD, field: "rea\x00der"}
    response = anon.post(LOGIN, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["data"])) == (400, [field])
    assert body["msg"].startswith(f"{field}: ")


def test_refresh_returns_a_new_token_pair_and_uses_up_the_old_refresh_token(anon, reader):
    """A refresh token buys a working access token and a new refresh token, once: a second use is a 401."""
    refresh = login(anon, "reader").json()["data"]["refresh"]
    response = anon.post(REFRESH, {"refresh": refresh}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["msg"], set(body["data"])) == (200, "success", {"access", "refresh"})
    assert_access_token_for(body["data"]["access"], reader)
    assert RefreshToken(body["data"]["refresh"])["user_id"] == str(reader.pk)

    again = anon.post(REFRESH, {"refresh": refresh}, format="json")
    assert again.status_code == 401
    assert again.json() == {"code": 401, "msg": "令牌已被加入黑名单", "data": None}
    rotated = anon.post(REFRESH, {"refresh": body["data"]["refresh"]}, format="json")
    assert rotated.status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not-a-token", id="garbage"),
        pytest.param("access", id="access-token"),
        pytest.param("foreign", id="foreign-signed"),
        pytest.param("expired", id="expired"),
    ],
)
def test_refresh_with_a_bad_token_is_401(anon, reader, token):
    """Anything but a valid, unexpired refresh token signed by us is refused with 401."""
    now = int(dt.datetime.now(tz=dt.UTC).timestamp())
    claims = {
        "token_type": "refresh",
        "exp": now + 3600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": str(reader.pk),
    }
    if token == "access":
        token = str(AccessToken.for_user(reader))
    elif token == "foreign":
        token = jwt.encode(claims, "another-key-" * 4, algorithm="HS256")
    elif token == "expired":
        token = jwt.encode({**claims, "exp": now - 60}, django_settings.SECRET_KEY, algorithm="HS256")
    response = anon.post(REFRESH, {"refresh": token}, format="json")
    assert response.status_code == 401
    body = response.json()
    assert (body["code"], body["data"]) == (401, None)
    assert body["msg"]
    assert response["WWW-Authenticate"] == BEARER_CHALLENGE


def test_refresh_for_a_deactivated_user_is_401(anon, reader):
    """A refresh token stops buying access tokens once its user is deactivated."""
    refresh = str(RefreshToken.for_user(reader))
    reader.is_active = False
    reader.save()
    response = anon.post(REFRESH, {"refresh": refresh}, format="json")
    assert response.status_code == 401
    body = response.json()
    assert (body["code"], body["data"]) == (401, None)
    assert "access" not in response.content.decode()


def test_refresh_without_the_field_is_400_naming_it(anon, db):
    """A refresh request without `refresh` is a 400 that names it."""
    response = anon.post(REFRESH, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "msg": "refresh: 该字段是必填项。",
        "data": {"refresh": ["该字段是必填项。"]},
    }


def test_pyjwt_is_at_least_2_14():
    """The issue requires PyJWT 2.14 or newer (older releases mishandle some malformed tokens)."""
    major, minor = (int(part) for part in version("PyJWT").split(".")[:2])
    assert (major, minor) >= (2, 14)


# --- login throttling ------------------------------------------------------------------------------


def test_logins_from_one_address_are_throttled_past_ten_a_minute(anon, reader):
    """The 11th attempt from one address within a minute is a 429, whatever user names it tries."""
    for n in range(10):
        assert login(anon, f"guess-{n}", REMOTE_ADDR="10.1.0.1").status_code == 401
    assert_throttled(login(anon, "reader", REMOTE_ADDR="10.1.0.1"))
    assert login(anon, "reader", REMOTE_ADDR="10.1.0.2").status_code == 200


def test_logins_for_one_username_are_throttled_past_ten_a_minute(anon, reader):
    """The 11th attempt at one user name is a 429 even when every attempt comes from a new address."""
    for n in range(10):
        assert login(anon, "reader", "wrong", REMOTE_ADDR=f"10.2.0.{n + 1}").status_code == 401
    assert_throttled(login(anon, "reader", REMOTE_ADDR="10.2.1.1"))
    assert_throttled(login(anon, " READER ", REMOTE_ADDR="10.2.1.2"))
    assert login(anon, "someone-else", REMOTE_ADDR="10.2.1.3").status_code == 401


def test_a_numeric_username_in_json_counts_as_that_username(anon, db):
    """`{"username": 13800138000}` logs in as user "13800138000", so it must be throttled as that user."""
    make_user("13800138000")
    for n in range(10):
        response = anon.post(
            LOGIN, {"username": 13800138000, "password": "wrong"}, format="json", REMOTE_ADDR=f"10.7.0.{n + 1}"
        )
        assert response.status_code == 401
    assert_throttled(login(anon, "13800138000", REMOTE_ADDR="10.7.1.1"))


def test_refused_attempts_under_new_names_do_not_push_the_address_count_out_of_the_cache(anon, reader):
    """Hundreds of throttled attempts, each under a new user name, leave the address throttled."""
    for n in range(10):
        assert login(anon, f"guess-{n}", REMOTE_ADDR="10.8.0.1").status_code == 401
    for n in range(400):
        assert login(anon, f"flood-{n}", REMOTE_ADDR="10.8.0.1").status_code == 429
    assert_throttled(login(anon, "reader", REMOTE_ADDR="10.8.0.1"))


def test_many_clients_at_once_do_not_push_one_address_count_out_of_the_cache(anon, reader):
    """The counts of 60 other clients (360 cache entries) do not evict the count of the first one."""
    for n in range(10):
        assert login(anon, f"guess-{n}", REMOTE_ADDR="10.9.0.1").status_code == 401
    for client in range(60):
        for n in range(5):
            login(anon, f"user-{client}-{n}", REMOTE_ADDR=f"10.9.1.{client + 1}")
    assert_throttled(login(anon, "reader", REMOTE_ADDR="10.9.0.1"))


def test_refreshes_count_against_the_address_limit(anon, reader):
    """Token refreshes are throttled per address too: a stolen refresh token cannot be hammered."""
    refresh = str(RefreshToken.for_user(reader))
    for _ in range(10):
        response = anon.post(REFRESH, {"refresh": refresh}, format="json", REMOTE_ADDR="10.3.0.1")
        assert response.status_code == 200
        refresh = response.json()["data"]["refresh"]
    assert_throttled(anon.post(REFRESH, {"refresh": refresh}, format="json", REMOTE_ADDR="10.3.0.1"))


def test_a_forged_forwarded_for_header_does_not_reset_the_address_count(anon, reader):
    """With no trusted proxy (the default), X-Forwarded-For is ignored: the socket address is counted."""
    assert django_settings.TRUSTED_PROXY_COUNT == 0
    for n in range(10):
        response = login(anon, f"guess-{n}", REMOTE_ADDR="10.4.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert response.status_code == 401
    assert_throttled(login(anon, "reader", REMOTE_ADDR="10.4.0.1", HTTP_X_FORWARDED_FOR="198.51.100.99"))


def test_behind_one_trusted_proxy_the_address_it_appends_is_counted(anon, reader, settings):
    """With one trusted proxy the last X-Forwarded-For entry is the client; what the client prepends is not."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(10):
        forwarded = f"198.51.100.{n}, 203.0.113.5"
        response = login(anon, f"guess-{n}", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 401
    assert_throttled(login(anon, "reader", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5"))
    assert login(anon, "reader", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 200


def test_login_throttle_counts_live_in_the_database_cache_by_default(anon, reader):
    """Without REDIS_URL the counts are rows of the database cache table, which every worker shares."""
    assert caches["default"].__class__.__name__ == "DatabaseCache"
    login(anon, "reader", REMOTE_ADDR="10.5.0.1")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cache_key FROM {django_settings.CACHES['default']['LOCATION']}")  # noqa: S608
        keys = {row[0] for row in cursor.fetchall()}
    assert ":1:throttle_login_address_10.5.0.1" in keys
    assert len([key for key in keys if key.startswith(":1:throttle_login_username_")]) == 1
    assert not [key for key in keys if "reader" in key], "user names must not be stored in the cache"


def test_login_throttle_counts_live_in_redis_when_it_is_configured(anon, reader, settings, redis_url):
    """With the Redis cache (what REDIS_URL selects) the counts are Redis keys and the limit still holds."""
    prefix = f"boss-dp-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    server = redis.Redis.from_url(redis_url)
    try:
        for n in range(10):
            assert login(anon, f"guess-{n}", REMOTE_ADDR="10.6.0.1").status_code == 401
        assert_throttled(login(anon, "reader", REMOTE_ADDR="10.6.0.1"))
        keys = {key.decode() for key in server.scan_iter(match=f"{prefix}:*")}
        assert f"{prefix}:1:throttle_login_address_10.6.0.1" in keys
        assert len([key for key in keys if key.startswith(f"{prefix}:1:throttle_login_username_")]) == 10
    finally:
        for key in server.scan_iter(match=f"{prefix}:*"):
            server.delete(key)
        server.close()


# --- Bearer authentication -------------------------------------------------------------------------


def _claims(user, **overrides) -> dict:
    now = int(dt.datetime.now(tz=dt.UTC).timestamp())
    return {
        "token_type": "access",
        "exp": now + 3600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": str(user.pk) if user is not None else None,
        **overrides,
    }


def _authorization(kind: str, user) -> str:
    if kind == "basic":
        return "Basic cmVhZGVyOnBhc3N3b3Jk"
    if kind == "token-scheme":
        return f"Token {AccessToken.for_user(user)}"
    if kind == "malformed":
        return "Bearer not.a.jwt"
    if kind == "bearer-without-token":
        return "Bearer"
    if kind == "expired":
        return f"Bearer {jwt.encode(_claims(user, exp=1_000_000), django_settings.SECRET_KEY, algorithm='HS256')}"
    if kind == "foreign-signed":
        return f"Bearer {jwt.encode(_claims(user), 'some-other-secret-key-' * 3, algorithm='HS256')}"
    if kind == "alg-none":
        return f"Bearer {jwt.encode(_claims(user), None, algorithm='none')}"
    if kind == "refresh-as-access":
        return f"Bearer {RefreshToken.for_user(user)}"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("basic", NOT_AUTHENTICATED),
        ("token-scheme", NOT_AUTHENTICATED),
        ("malformed", INVALID_TOKEN),
        ("bearer-without-token", {"code": 401, "msg": "授权头必须包含两个用空格分隔的值", "data": None}),
        ("expired", INVALID_TOKEN),
        ("foreign-signed", INVALID_TOKEN),
        ("alg-none", INVALID_TOKEN),
        ("refresh-as-access", INVALID_TOKEN),
    ],
)
def test_a_bad_authorization_header_is_401_with_a_bearer_challenge(reader, kind, expected):
    """Another scheme or a token that is malformed, expired, foreign-signed, unsigned or not an access token."""
    make_contact()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=_authorization(kind, reader))
    response = client.get("/api/contacts")
    assert response.status_code == 401
    assert response.json() == expected
    assert response["WWW-Authenticate"] == BEARER_CHALLENGE


def test_a_request_without_authorization_is_401_with_a_bearer_challenge(anon, db):
    """No Authorization header at all: 401, and the challenge names the Bearer scheme."""
    response = anon.get("/api/contacts")
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert response["WWW-Authenticate"] == BEARER_CHALLENGE


def test_a_valid_token_of_a_deactivated_user_is_401(reader):
    """Deactivating an account locks it out at once, before its tokens expire."""
    client = client_for(reader)
    reader.is_active = False
    reader.save()
    response = client.get("/api/contacts")
    assert response.status_code == 401
    assert response.json() == {"code": 401, "msg": "该用户已禁用", "data": None}


def test_a_valid_token_of_a_deleted_user_is_401(reader):
    """A token outliving its user authenticates nobody."""
    client = client_for(reader)
    reader.delete()
    response = client.get("/api/contacts")
    assert response.status_code == 401
    assert response.json() == {"code": 401, "msg": "未找到该用户", "data": None}
    assert response["WWW-Authenticate"] == BEARER_CHALLENGE


# --- revocation: password change, deactivation, logout -----------------------------------------------

PASSWORD_CHANGED = {"code": 401, "msg": "密码已修改,请重新登录", "data": None}
BLACKLISTED = {"code": 401, "msg": "令牌已被加入黑名单", "data": None}
USER_NOT_FOUND = {"code": 401, "msg": "未找到该用户", "data": None}


def logged_in(anon: APIClient, username: str = "reader") -> tuple[APIClient, str]:
    """A client holding the access token of a fresh login, and the refresh token of that login."""
    tokens = login(anon, username).json()["data"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client, tokens["refresh"]


def refresh_with(anon: APIClient, refresh: str):
    return anon.post(REFRESH, {"refresh": refresh}, format="json")


@pytest.mark.parametrize("change", ["new password", "unusable password"])
def test_a_password_change_ends_every_token_issued_before_it(anon, reader, change):
    """After set_password (what changepassword and the admin do) or an unusable password, old access and
    refresh tokens are 401 with a clear message, and a login with the new password works."""
    client, refresh = logged_in(anon)
    assert client.get("/api/contacts").status_code == 200
    if change == "new password":
        reader.set_password("a-new-password-for-reader")
    else:
        reader.set_unusable_password()
    reader.save()

    response = client.get("/api/contacts")
    assert response.status_code == 401
    assert response.json() == PASSWORD_CHANGED
    assert response["WWW-Authenticate"] == BEARER_CHALLENGE
    assert refresh_with(anon, refresh).json() == PASSWORD_CHANGED
    if change == "new password":
        tokens = login(anon, "reader", "a-new-password-for-reader").json()["data"]
        assert_access_token_for(tokens["access"], reader)


def test_deactivation_ends_every_token_and_reactivation_revives_no_refresh_token(anon, reader):
    """Deactivating a user refuses its tokens at once and blacklists its refresh tokens for good."""
    client, refresh = logged_in(anon)
    reader.is_active = False
    reader.save()
    assert client.get("/api/contacts").json() == {"code": 401, "msg": "该用户已禁用", "data": None}
    assert refresh_with(anon, refresh).json() == BLACKLISTED

    reader.is_active = True
    reader.save()
    assert refresh_with(anon, refresh).json() == BLACKLISTED
    assert login(anon, "reader").status_code == 200


def test_refreshing_a_deleted_users_token_is_401(anon, reader):
    """simplejwt's own refresh answered 500 (an unhandled DoesNotExist) here."""
    _, refresh = logged_in(anon)
    reader.delete()
    response = refresh_with(anon, refresh)
    assert response.status_code == 401
    assert response.json() == USER_NOT_FOUND


@pytest.mark.parametrize("user_id", [str(2**31), str(2**63), str(10**30), "-1", "0"])
def test_a_token_whose_user_id_no_row_can_hold_is_401(anon, db, user_id):
    """Access and refresh tokens naming a user id beyond the database's integer are 401, on SQLite too."""
    for token_type, path in (("access", "/api/contacts"), ("refresh", REFRESH)):
        claims = {**_claims(None, user_id=user_id, token_type=token_type), "hash_password": "x"}
        token = jwt.encode(claims, django_settings.SECRET_KEY, algorithm="HS256")
        if token_type == "access":
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            response = client.get(path)
        else:
            response = refresh_with(anon, token)
        assert response.status_code == 401, (token_type, response.content)
        assert response.json() == USER_NOT_FOUND


def test_logout_blacklists_the_refresh_token(anon, reader):
    """POST /api/auth/logout with the refresh token: it can no longer refresh, nor log out twice."""
    _, refresh = logged_in(anon)
    response = anon.post(LOGOUT, {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert response.json() == {"code": 200, "msg": "success", "data": {}}
    assert refresh_with(anon, refresh).json() == BLACKLISTED
    assert anon.post(LOGOUT, {"refresh": refresh}, format="json").json() == BLACKLISTED


@pytest.mark.parametrize("payload", [{}, {"refresh": "not-a-token"}])
def test_logout_without_a_valid_refresh_token_is_refused(anon, db, payload):
    """A missing field is a 400 naming it; a token that is not ours is a 401."""
    response = anon.post(LOGOUT, payload, format="json")
    if payload:
        assert response.status_code == 401
        assert response.json()["msg"]
    else:
        assert response.json() == {
            "code": 400,
            "msg": "refresh: 该字段是必填项。",
            "data": {"refresh": ["该字段是必填项。"]},
        }


def test_flushexpiredtokens_removes_expired_tokens_and_their_blacklist_rows(anon, reader):
    """The scheduled `flushexpiredtokens` (README) keeps the blacklist from growing without end."""
    _, refresh = logged_in(anon)
    refresh_with(anon, refresh)
    assert (OutstandingToken.objects.count(), BlacklistedToken.objects.count()) == (2, 1)
    OutstandingToken.objects.filter(jti=RefreshToken(refresh, verify=False)["jti"]).update(
        expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    call_command("flushexpiredtokens")
    assert (OutstandingToken.objects.count(), BlacklistedToken.objects.count()) == (1, 0)


# --- permissions -----------------------------------------------------------------------------------


def _request(client: APIClient, action: str, contact_id: int):
    if action == "list":
        return client.get("/api/contacts")
    if action == "detail":
        return client.get(f"/api/contacts/{contact_id}")
    if action == "create":
        return client.post("/api/contacts", {"name": "李四", "account_id": 2}, format="json")
    if action == "update":
        return client.patch(f"/api/contacts/{contact_id}", {"notes": "已电话沟通"}, format="json")
    raise AssertionError(action)


ACTIONS = {"list": 200, "detail": 200, "create": 201, "update": 200}
PERMISSION_OF = {
    "list": "contacts.view_contact",
    "detail": "contacts.view_contact",
    "create": "contacts.add_contact",
    "update": "contacts.change_contact",
}


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_is_allowed_with_its_permission(action):
    """view_contact reads, add_contact creates, change_contact changes (in the user's accounts)."""
    contact = make_contact()
    user = make_user("clerk", PERMISSION_OF[action])
    accounts_assign(holder=user, account_ids=[contact.account_id, 2])
    response = _request(client_for(user), action, contact.pk)
    assert response.status_code == ACTIONS[action]
    assert response.json()["code"] == ACTIONS[action]


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_is_403_without_its_permission(action):
    """A logged-in user holding every other contact permission but the one needed gets a 403 envelope."""
    contact = make_contact()
    others = sorted(set(PERMISSION_OF.values()) - {PERMISSION_OF[action]})
    user = make_user("clerk", *others, "contacts.export_contact", "contacts.delete_contact")
    response = _request(client_for(user), action, contact.pk)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert Contact.objects.get(pk=contact.pk).notes == contact.notes


@pytest.mark.parametrize("action", ACTIONS)
def test_a_superuser_may_do_everything(admin_api, action):
    """A superuser needs no explicit permission."""
    contact = make_contact()
    response = _request(admin_api, action, contact.pk)
    assert response.status_code == ACTIONS[action]
    assert response.json()["code"] == ACTIONS[action]


def test_a_user_without_any_permission_is_403_on_the_list(db):
    """Being logged in is not enough to read contacts."""
    response = client_for(make_user("nobody")).get("/api/contacts")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
