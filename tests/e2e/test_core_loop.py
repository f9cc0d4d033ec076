"""Upload -> hash -> real-time notification, end to end, with the clients users have."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.clients import (
    ON_FILE_HASHED,
    appsync_transport,
    data,
    duplicate_count,
    file_by_id,
    files_by_hash,
    request_upload,
    send_bytes,
    subscription,
    transport_ws_transport,
)
from tests.e2e.conftest import Emulator

TEN_MIB = 10 * 1024 * 1024


def expected_digests(body: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, body).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")}


@pytest.mark.parametrize(
    "transport", [appsync_transport, transport_ws_transport], ids=["appsync", "graphql-transport-ws"]
)
async def test_subscriber_is_told_the_hashes_of_an_upload(
    emulator: Emulator, transport: Callable[[Emulator], Any]
) -> None:
    # GIVEN 10 MiB of random bytes, an upload ticket for them, and a subscriber to that file
    body = os.urandom(TEN_MIB)
    ticket = request_upload(emulator, name="random.bin", size=len(body), contentType="application/octet-stream")
    file_id = ticket["file"]["id"]
    assert ticket["file"]["status"] == "PENDING"
    async with subscription(emulator, transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        # WHEN the bytes are sent as the ticket says
        response = await asyncio.to_thread(send_bytes, ticket, body)
        assert response.status_code == 200, response.text

        # THEN the subscriber receives HASHED with hashlib's digests
        event = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    assert event["id"] == file_id
    assert event["status"] == "HASHED"
    assert event["hashes"] == expected_digests(body)
    assert event["size"] == TEN_MIB
    assert event["uploadedAt"] <= event["hashedAt"]

    # AND the file is found by id, and its content is counted (the anonymous space reveals no ids)
    assert file_by_id(emulator, file_id) == event
    assert duplicate_count(emulator, event["hashes"]["sha256"]) == 1


async def test_second_upload_of_same_bytes_is_counted_by_the_same_hash(emulator: Emulator) -> None:
    # GIVEN the same bytes uploaded twice, under two names
    body = os.urandom(256 * 1024)
    ids = []
    for name in ("first.bin", "second copy.bin"):
        ticket = request_upload(emulator, name=name, size=len(body))
        async with subscription(
            emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": ticket["file"]["id"]}
        ) as events:
            assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
            assert (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]["status"] == "HASHED"
        ids.append(ticket["file"]["id"])

    # WHEN looking the content up by its sha256, with the API key and as an admin
    sha256 = hashlib.sha256(body).hexdigest()
    count = duplicate_count(emulator, sha256)
    found = data(emulator, "query H($h: String!) { filesByHash(sha256: $h) { id name } }", {"h": sha256})["filesByHash"]

    # THEN the API key learns that two copies are stored, and no id; an admin finds both, and nothing else
    assert count == 2
    assert found == []
    assert sorted(files_by_hash(emulator, sha256)) == sorted(ids)


async def test_zero_byte_file_is_hashed(emulator: Emulator) -> None:
    # GIVEN an empty file
    ticket = request_upload(emulator, name="empty", size=0)
    async with subscription(
        emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": ticket["file"]["id"]}
    ) as events:
        # WHEN it is uploaded
        assert (await asyncio.to_thread(send_bytes, ticket, b"")).status_code == 200
        event = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    # THEN it has the digests of nothing
    assert event["status"] == "HASHED"
    assert event["hashes"] == expected_digests(b"")


def test_the_explorer_is_served_with_the_api_key_for_a_local_browser(emulator: Emulator) -> None:
    # WHEN a browser on this machine opens the GraphQL URL
    response = httpx.get(emulator.graphql_url, headers={"accept": "text/html"})
    # THEN it gets GraphiQL, its HTTP and subscription headers pre-filled with the API key
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'{{"headers": {{"x-api-key": "{emulator.api_key}"}}}}' in response.text
    # AND its scripts are the bundle built from npm (web/dist), served by the emulator: no CDN
    assert '<script type="module" src="/web/dist/explorer.js">' in response.text
    assert "unpkg" not in response.text and "https://" not in response.text
