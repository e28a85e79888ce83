"""One HTTP request to the served service, on a new connection, and its answer."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def call(
    port: int,
    method: str,
    path: str,
    *,
    token: str = "",
    payload: dict | None = None,
    body: bytes | None = None,
    timeout: float = 60,
) -> Reply:
    """One request to 127.0.0.1:`port` on a new connection (sync workers close every connection anyway).

    `payload` is sent as JSON; `body`, bytes sent as they are, is labelled JSON too. Header names of
    the reply are lower-cased.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if payload is not None:
        body = json.dumps(payload).encode()
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()
