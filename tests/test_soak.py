"""Soak: the served service under a minute of mixed traffic at 16 connections loses and breaks nothing.

SOAK_SECONDS (default 60) sets the length; `make soak` runs the load tests alone.
"""

from __future__ import annotations

import http.client
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import pytest
from served import call, login, prepare_database, served, service_env, suite_database

pytestmark = [pytest.mark.slow, pytest.mark.load]

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
CONNECTIONS = 16
SEEDED = 2000
SEARCH_TERMS = ["经理", "工程师", "张", "王芳", "138", "产品经理", "wechat", "设计", "压测"]
FILTERS = [
    "",
    "&reply_status=%E5%B7%B2%E5%9B%9E%E5%A4%8D",
    "&wechat_exchanged=true",
    "&worker_id=worker-003",
    "&ordering=contacted_at",
    "&ordering=-id",
]
ACTIONS = ["list"] * 30 + ["search"] * 25 + ["detail"] * 20 + ["create"] * 20 + ["export"] * 5


@dataclass
class Tally:
    answers: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    connection_errors: list[str] = field(default_factory=list)
    created: list[tuple[dict, dict]] = field(default_factory=list)


def new_contact(rng: random.Random, client: int, number: int) -> dict:
    return {
        "name": f"压测{client:02d}-{number}",
        "position": rng.choice(["产品经理", "后端工程师", "", "测试 工程师"]),
        "contact": rng.choice([f"139{rng.randrange(10**8):08d}", f"wechat:soak{rng.randrange(10**6)}", ""]),
        "reply_status": rng.choice(["已回复", "未回复"]),
        "wechat_exchanged": rng.choice([True, False]),
        "account_id": rng.randint(1, 5),
        "worker_id": f"soak-{client:02d}",
        "notes": rng.choice(["", "压测备注", "第二行\n备注"]),
        "contacted_at": rng.choice(
            [None, f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:30:15"]
        ),
    }


def drive(port: int, token: str, client: int, deadline: float, tally: Tally) -> None:
    """One connection's loop: a random mix of reads, creates and exports until the deadline."""
    rng = random.Random(client)
    number = 0
    while time.monotonic() < deadline:
        action = rng.choice(ACTIONS)
        payload = None
        method, expected = "GET", 200
        if action == "list":
            path = f"/api/contacts?page={rng.randint(1, 40)}&page_size={rng.choice([10, 20, 50])}{rng.choice(FILTERS)}"
        elif action == "search":
            path = f"/api/contacts?search={quote(rng.choice(SEARCH_TERMS))}{rng.choice(FILTERS)}"
        elif action == "detail":
            path = f"/api/contacts/{rng.randint(1, SEEDED)}"
        elif action == "create":
            number += 1
            method, expected, path, payload = "POST", 201, "/api/contacts", new_contact(rng, client, number)
        else:
            path = f"/api/contacts/export?worker_id=worker-00{rng.randint(1, 8)}&search={quote('经理')}"
        try:
            reply = call(port, method, path, token=token, payload=payload)
            tally.answers[(action, reply.status)] += 1
            if reply.status != expected:
                tally.unexpected.append(f"{method} {path}: {reply.status} {reply.body[:200]!r}")
            elif action == "create":
                tally.created.append((payload, reply.json()["data"]))
            elif action == "export":
                download = urlsplit(reply.json()["data"]["download_url"])
                file = call(port, "GET", f"{download.path}?{download.query}")
                tally.answers[("download", file.status)] += 1
                if file.status != 200 or not file.body.startswith(b"PK"):
                    tally.unexpected.append(f"download: {file.status} {file.body[:200]!r}")
        except (OSError, http.client.HTTPException) as error:
            tally.connection_errors.append(f"{method} {path}: {error!r}")


def test_soak_mixed_traffic_has_no_5xx_no_connection_error_and_keeps_every_create(tmp_path):
    """A minute at 16 connections: every answer as expected, and every 201 contact stored exactly."""
    with suite_database(tmp_path, "soak") as url:
        # One user drives every connection: its export quota is lifted, as the soak is about load.
        env = service_env(
            url,
            tmp_path,
            EXPORT_CONCURRENT_PER_USER=str(CONNECTIONS),
            EXPORT_DAILY_PER_USER="100000",
            EXPORT_SYNC_MAX_RUNNING=str(CONNECTIONS),
        )
        prepare_database(env, contacts=SEEDED)
        with served(env, tmp_path / "logs") as server:
            token = login(server.port)
            tally = Tally()
            deadline = time.monotonic() + SOAK_SECONDS
            threads = [
                threading.Thread(target=drive, args=(server.port, token, client, deadline, tally))
                for client in range(CONNECTIONS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            assert tally.connection_errors == []
            assert tally.unexpected == []
            assert not [answer for answer in tally.answers if answer[1] >= 500]
            served_actions = {action for action, _ in tally.answers}
            assert served_actions == {"list", "search", "detail", "create", "export", "download"}, tally.answers
            assert len(tally.created) >= 50, tally.answers

            def stored(created: tuple[dict, dict]) -> tuple[dict, dict, dict]:
                sent, answered = created
                return sent, answered, call(server.port, "GET", f"/api/contacts/{answered['id']}", token=token).json()

            with ThreadPoolExecutor(CONNECTIONS) as pool:
                for sent, answered, reply in pool.map(stored, tally.created):
                    assert reply["code"] == 200
                    assert reply["data"] == answered
                    assert {key: reply["data"][key] for key in sent} == sent

            listed = call(server.port, "GET", "/api/contacts?page_size=1", token=token).json()["data"]
            assert listed["total"] == SEEDED + len(tally.created)
            for worker_id in {sent["worker_id"] for sent, _ in tally.created}:
                mine = {answered["id"] for sent, answered in tally.created if sent["worker_id"] == worker_id}
                reply = call(server.port, "GET", f"/api/contacts?worker_id={worker_id}&page_size=100", token=token)
                data = reply.json()["data"]
                assert data["total"] == len(mine)
                assert {row["id"] for row in data["results"]} <= mine
                assert len(data["results"]) == min(len(mine), 100)
