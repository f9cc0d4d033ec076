"""Analytics end to end: uploads, duplicates, a checksum failure and deletes through the running emulator,
counted from the table's stream by the analytics function, and read back with `stats` per space.

The emulator is this module's own (a fresh data dir), so every figure is known exactly. Counting runs
behind the writes (the stream is delivered in batches), so each check waits until the figures settle.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.e2e.clients import send_bytes, token_for
from tests.e2e.conftest import Emulator, _start

STATS = """
query S($days: Int, $everyone: Boolean) {
  stats(days: $days, everyone: $everyone) {
    uploads bytes hashed failed duplicates deleted hashedBytes throughput
    latency { p50 p95 p99 }
    contentTypes { contentType uploads bytes }
    days { date uploads bytes hashed failed duplicates deleted latency { p50 p95 p99 } }
  }
}"""
REQUEST = """
mutation R($input: RequestUploadInput!) {
  requestUpload(input: $input) { file { id } url method headers }
}"""
FILE = "query F($id: ID!) { file(id: $id) { id status } }"
DELETE = "mutation D($id: ID!) { deleteFile(id: $id) { id } }"
FIGURES = ("uploads", "bytes", "hashed", "failed", "duplicates", "deleted")
SETTLE_S = 60


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from _start(tmp_path_factory, "analytics")


class Client:
    """One caller: a user-pool user (by token) or the API key's anonymous space."""

    def __init__(self, emulator: Emulator, token: str | None = None) -> None:
        self.emulator = emulator
        self.headers = {"Authorization": token} if token else {"x-api-key": emulator.api_key}

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            self.emulator.graphql_url, json={"query": query, "variables": variables or {}}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(query, variables)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]
        return result

    def upload(self, body: bytes, content_type: str, **fields: Any) -> dict[str, Any]:
        """Request, send, and wait until the file is HASHED or FAILED."""
        ticket = self.data(
            REQUEST, {"input": {"name": "f.bin", "size": len(body), "contentType": content_type, **fields}}
        )["requestUpload"]
        assert send_bytes(ticket, body).status_code == 200
        return self.wait(ticket["file"]["id"])

    def wait(self, file_id: str) -> dict[str, Any]:
        end = time.monotonic() + SETTLE_S
        while (found := self.data(FILE, {"id": file_id})["file"])["status"] not in ("HASHED", "FAILED"):
            assert time.monotonic() < end, found
            time.sleep(0.05)
        return found

    def delete(self, file_id: str) -> None:
        assert self.data(DELETE, {"id": file_id})["deleteFile"]["id"] == file_id

    def stats(self, **variables: Any) -> dict[str, Any]:
        stats: dict[str, Any] = self.data(STATS, variables)["stats"]
        return stats


def settled(client: Client, expected: dict[str, int], **variables: Any) -> dict[str, Any]:
    """`stats` once its totals are `expected` (the stream is counted behind the writes); else the last answer
    fails the comparison."""
    end = time.monotonic() + SETTLE_S
    while True:
        stats = client.stats(**variables)
        totals = {name: stats[name] for name in expected}
        if totals == expected or time.monotonic() > end:
            assert totals == expected, stats
            return stats
        time.sleep(0.1)


def test_stats_count_each_space_exactly(emulator: Emulator) -> None:
    # GIVEN two signed-in users and the anonymous space
    alice = Client(emulator, token_for(emulator, "alice-analytics"))
    bob = Client(emulator, token_for(emulator, "bob-analytics"))
    anonymous = Client(emulator)
    alpha, beta, gamma = b"alpha " * 1000, b"beta " * 3000, b"gamma"

    # WHEN alice uploads two files, a copy of the first, and a file whose declared sha256 is wrong,
    # deletes one hashed file, and abandons a requested upload (deleted before any byte came)
    assert alice.upload(alpha, "text/plain")["status"] == "HASHED"
    doomed = alice.upload(beta, "application/pdf")
    assert alice.upload(alpha, "text/plain")["status"] == "HASHED"
    wrong = alice.upload(gamma, "image/png", sha256=hashlib.sha256(b"not gamma").hexdigest())
    assert wrong["status"] == "FAILED"
    alice.delete(doomed["id"])
    abandoned = alice.data(REQUEST, {"input": {"name": "never.bin", "size": 10}})["requestUpload"]
    alice.delete(abandoned["file"]["id"])
    # AND bob uploads alice's content once (not a duplicate in his space) and another file twice
    for body in (alpha, beta, beta):
        assert bob.upload(body, "application/octet-stream")["status"] == "HASHED"
    # AND the API key's space uploads one file
    assert anonymous.upload(gamma, "text/plain")["status"] == "HASHED"

    # THEN each caller sees exactly their own space's figures
    alice_bytes = 2 * len(alpha) + len(beta) + len(gamma)
    expected_alice = {"uploads": 4, "bytes": alice_bytes, "hashed": 3, "failed": 1, "duplicates": 1, "deleted": 1}
    stats = settled(alice, expected_alice)
    assert stats["hashedBytes"] == 2 * len(alpha) + len(beta)
    assert stats["latency"] is not None and 0 < stats["latency"]["p50"] <= stats["latency"]["p95"]
    assert stats["latency"]["p95"] <= stats["latency"]["p99"]
    assert stats["throughput"] is not None and stats["throughput"] > 0
    by_type = {c["contentType"]: (c["uploads"], c["bytes"]) for c in stats["contentTypes"]}
    assert by_type == {
        "text/plain": (2, 2 * len(alpha)),
        "application/pdf": (1, len(beta)),
        "image/png": (1, len(gamma)),
    }
    assert stats["contentTypes"][0]["contentType"] == "text/plain"  # most uploads first
    today = datetime.now(UTC).date().isoformat()
    assert len(stats["days"]) == 30 and stats["days"][-1]["date"] == today
    assert {name: stats["days"][-1][name] for name in FIGURES} == expected_alice
    assert all(day[name] == 0 for day in stats["days"][:-1] for name in FIGURES)

    bob_bytes = len(alpha) + 2 * len(beta)
    expected_bob = {"uploads": 3, "bytes": bob_bytes, "hashed": 3, "failed": 0, "duplicates": 1, "deleted": 0}
    settled(bob, expected_bob)
    expected_anonymous = {"uploads": 1, "bytes": len(gamma), "hashed": 1, "failed": 0, "duplicates": 0, "deleted": 0}
    settled(anonymous, expected_anonymous)

    # AND an admin may read everyone's figures, which nobody else may
    admin = Client(emulator, token_for(emulator, "admin-analytics", "--group", "admins"))
    everyone = {name: expected_alice[name] + expected_bob[name] + expected_anonymous[name] for name in FIGURES}
    settled(admin, everyone, everyone=True)
    settled(admin, dict.fromkeys(FIGURES, 0))  # the admin's own space is empty
    refused = alice.post(STATS, {"everyone": True})
    assert refused["data"] is None and refused["errors"][0]["errorType"] == "Unauthorized", refused


def test_stats_window_is_bounded(emulator: Emulator) -> None:
    client = Client(emulator)
    assert len(client.stats(days=1)["days"]) == 1
    for days in (0, 367, -5):
        answer = client.post(STATS, {"days": days})
        assert answer["data"] is None and answer["errors"][0]["errorType"] == "ValidationError", answer


def test_kill_9_mid_stream_loses_nothing_and_counts_nothing_twice(private_emulator: Emulator) -> None:
    # GIVEN a stream of uploads, every fourth one a copy of the one before it
    client = Client(private_emulator)
    bodies: list[bytes] = []
    for i in range(20):
        bodies.append(bodies[-1] if i % 4 == 3 else f"file {i} ".encode() * (100 + i))
    ids = []
    for i, body in enumerate(bodies):
        ticket = client.data(REQUEST, {"input": {"name": f"{i}.bin", "size": len(body)}})["requestUpload"]
        assert send_bytes(ticket, body).status_code == 200
        ids.append(ticket["file"]["id"])
        if i == 9:
            # WHEN the emulator is killed right after an acknowledged upload, with hashing and counting in
            # flight, and started again
            private_emulator.kill9()
            private_emulator.start()
    for file_id in ids:
        client.wait(file_id)

    # THEN every upload is counted once: nothing lost, nothing twice
    expected = {
        "uploads": 20,
        "bytes": sum(map(len, bodies)),
        "hashed": 20,
        "failed": 0,
        "duplicates": sum(1 for i in range(20) if i % 4 == 3),
        "deleted": 0,
    }
    settled(client, expected)

    # AND a clean restart counts nothing again, while what comes after it is counted
    private_emulator.stop()
    private_emulator.start()
    assert {name: client.stats()[name] for name in expected} == expected
    client.upload(b"after the restart", "text/plain")
    settled(client, {**expected, "uploads": 21, "bytes": expected["bytes"] + 17, "hashed": 21})
