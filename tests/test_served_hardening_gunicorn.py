"""Issue 9 against the served gunicorn, as an attacker meets it.

gunicorn trusts no forwarded header, so only Django's settings let a proxy set the scheme and host
of a download link.
"""

import http.client
import json

import pytest
from served import PASSWORD, Reply, prepare_database, served, service_env, suite_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("hardening")
    with suite_database(tmp_path, "hardening") as url:
        env = service_env(url, tmp_path)
        prepare_database(env, contacts=3)
        yield env, tmp_path


@pytest.fixture(scope="module")
def server(database):
    """The service with DJANGO_HTTPS=0 (no proxy in front)."""
    env, tmp_path = database
    env = {**env, "DJANGO_HTTPS": "0", "WEB_CONCURRENCY": "2"}
    with served(env, tmp_path / "logs") as gunicorn:
        yield gunicorn


@pytest.fixture(scope="module")
def https_server(database):
    """The service behind a TLS proxy as deployed: DJANGO_HTTPS=1, the proxy's host allowed."""
    env, tmp_path = database
    env = {
        **env,
        "DJANGO_HTTPS": "1",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,contacts.example.com",
        "WEB_CONCURRENCY": "1",
    }
    with served(env, tmp_path / "https-logs") as gunicorn:
        yield gunicorn


def get(port: int, path: str, headers: dict[str, str]) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def login(port: int, headers: dict[str, str]) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = json.dumps({"username": "served", "password": PASSWORD})
        connection.request("POST", "/api/auth/token", body, {**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return json.loads(response.read())["data"]["access"]
    finally:
        connection.close()


# 9. forwarded headers ----------------------------------------------------------------------------

FORGED_PROXY_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Ssl": "on",
    "X-Forwarded-Protocol": "ssl",
    "SCRIPT_NAME": "/evil",
}


def test_without_a_proxy_forwarded_headers_do_not_change_the_download_link(server):
    """With DJANGO_HTTPS=0, headers claiming https, another host or a prefix leave the link as the client called it."""
    token = login(server.port, {})
    reply = get(server.port, "/api/contacts/export", {**FORGED_PROXY_HEADERS, "Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    data = reply.json()["data"]
    assert data["download_url"].startswith(f"http://127.0.0.1:{server.port}/media/exports/{data['filename']}?")
    assert data["total_records"] == 3


def test_behind_a_tls_proxy_its_headers_make_the_download_link_https(https_server):
    """With DJANGO_HTTPS=1, the proxy's X-Forwarded-Proto and -Host give the https link a browser can open."""
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "contacts.example.com"}
    token = login(https_server.port, proxy)
    reply = get(https_server.port, "/api/contacts/export", {**proxy, "Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    data = reply.json()["data"]
    assert data["download_url"].startswith(f"https://contacts.example.com/media/exports/{data['filename']}?")
    # Without the proxy's word the request is plain http, which DJANGO_HTTPS=1 redirects.
    assert get(https_server.port, "/api/contacts/export", {"Authorization": f"Bearer {token}"}).status == 301
