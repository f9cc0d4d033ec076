"""Objects are write-once: an upload URL cannot replace bytes that exist, so the recorded hashes always
describe the stored bytes (S3's `If-None-Match: *`, answered 412 PreconditionFailed)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.e2e.clients import ON_FILE_HASHED, appsync_transport, request_upload, send_bytes, subscription, wait_for_file
from tests.e2e.conftest import Emulator
from tests.e2e.test_bad_input import s3_error

PRECONDITION_FAILED = {
    "Code": "PreconditionFailed",
    "Message": "At least one of the pre-conditions you specified did not hold",
    "Condition": "If-None-Match",
}


def digests(body: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, body).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")}


def download(emulator: Emulator, file_id: str) -> bytes:
    """The stored bytes, through the downloadUrl the API hands out."""
    query = "query F($id: ID!) { file(id: $id) { downloadUrl } }"
    response = httpx.post(
        emulator.graphql_url,
        json={"query": query, "variables": {"id": file_id}},
        headers={"x-api-key": emulator.api_key},
        timeout=30,
    )
    url = response.json()["data"]["file"]["downloadUrl"]
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.content


async def test_a_put_replayed_after_hashing_is_412_and_the_hashes_still_hold(emulator: Emulator) -> None:
    # GIVEN a file uploaded and hashed
    body = os.urandom(64 * 1024)
    ticket = request_upload(emulator, name="original.bin", size=len(body))
    file_id = ticket["file"]["id"]
    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
        hashed = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    assert hashed["hashes"] == digests(body)

    # WHEN the same upload request is sent again, with other bytes of the same size
    replay = await asyncio.to_thread(send_bytes, ticket, os.urandom(len(body)))

    # THEN storage answers as S3 does for `If-None-Match: *` on an existing key
    assert replay.status_code == 412, replay.text
    assert {k: v for k, v in s3_error(replay).items() if k in PRECONDITION_FAILED} == PRECONDITION_FAILED
    # AND the downloaded bytes still match the recorded hashes
    assert digests(download(emulator, file_id)) == hashed["hashes"]
    assert wait_for_file(emulator, file_id) == hashed


def test_of_two_concurrent_puts_to_one_url_exactly_one_is_accepted(emulator: Emulator) -> None:
    # GIVEN one upload ticket, and two different bodies of its size
    size = 4 * 1024 * 1024
    ticket = request_upload(emulator, name="raced.bin", size=size)
    bodies = [os.urandom(size), os.urandom(size)]
    start = threading.Barrier(2)

    def put(body: bytes) -> httpx.Response:
        start.wait()
        return send_bytes(ticket, body)

    # WHEN both are sent at the same time
    with ThreadPoolExecutor(2) as pool:
        answers: list[Any] = list(pool.map(put, bodies))

    # THEN one is accepted and the other gets 412 PreconditionFailed
    statuses = [a.status_code for a in answers]
    assert sorted(statuses) == [200, 412], [a.text for a in answers]
    loser = answers[statuses.index(412)]
    assert s3_error(loser)["Code"] == "PreconditionFailed"
    assert list((emulator.data_dir / "tmp").iterdir()) == []  # the loser left nothing behind
    # AND the file is hashed once, from the winner's bytes, which are exactly what is downloaded
    final = wait_for_file(emulator, ticket["file"]["id"])
    assert final["status"] == "HASHED", final
    assert final["hashes"] == digests(bodies[statuses.index(200)])
    assert digests(download(emulator, ticket["file"]["id"])) == final["hashes"]
