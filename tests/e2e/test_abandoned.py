"""Nothing abandoned stays: a PENDING file whose bytes never came expires (the sweeper, as DynamoDB's TTL
does on AWS), and an object whose file record is gone is deleted by the hasher, never hashed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import (
    ON_FILE_HASHED,
    appsync_transport,
    data,
    file_by_id,
    request_upload,
    send_bytes,
    subscription,
)
from tests.e2e.conftest import Emulator, _start
from tests.e2e.test_durability import DELETE, wait_until_idle


@pytest.fixture(scope="module")
def expiring_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Upload URLs valid 1 s, PENDING files kept 1 s more, a sweep every 0.2 s."""
    yield from _start(
        tmp_path_factory,
        "expiring",
        LAMBDASHARE_UPLOAD_EXPIRES="1",
        LAMBDASHARE_PENDING_GRACE="1",
        LAMBDASHARE_SWEEP_INTERVAL="0.2",
    )


def object_path(emulator: Emulator, key: str) -> Path:
    """Where the emulator's storage keeps the object of `key` (bucket "local")."""
    digest = hashlib.sha256(f"local/{key}".encode()).hexdigest()
    return emulator.data_dir / "objects" / digest[:2] / digest


def test_a_pending_file_whose_bytes_never_came_expires(expiring_emulator: Emulator) -> None:
    # GIVEN a file requested, whose bytes are never sent
    emulator = expiring_emulator
    file = request_upload(emulator, name="abandoned.bin", size=10)["file"]
    assert file_by_id(emulator, file["id"]) is not None

    # WHEN its upload URL and the grace period have passed, and the sweeper has run
    end = time.monotonic() + 60
    while file_by_id(emulator, file["id"]) is not None:
        assert time.monotonic() < end, "the PENDING file never expired"
        time.sleep(0.2)

    # THEN it is gone for good, as DynamoDB's TTL would delete it
    assert data(emulator, "query F($id: ID!) { file(id: $id) { id } }", {"id": file["id"]}) == {"file": None}


async def test_bytes_sent_for_a_deleted_file_are_deleted_not_hashed(emulator: Emulator) -> None:
    # GIVEN a file uploaded as usual, whose object is where `object_path` says
    body = os.urandom(100_000)
    kept = request_upload(emulator, name="kept.bin", size=len(body))
    assert (await asyncio.to_thread(send_bytes, kept, body)).status_code == 200
    await asyncio.to_thread(wait_until_idle, emulator)
    assert object_path(emulator, f"uploads/{kept['file']['id']}").is_file()
    # AND a PENDING file, deleted before its bytes were sent, watched by a subscriber
    ticket = request_upload(emulator, name="deleted-first.bin", size=len(body))
    file_id = ticket["file"]["id"]
    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        assert data(emulator, DELETE, {"id": file_id})["deleteFile"] == {"id": file_id}

        # WHEN its bytes are PUT to the old upload URL, which storage accepts
        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
        await asyncio.to_thread(wait_until_idle, emulator)

        # THEN the hasher deleted the object instead of hashing it: nothing stored, no record, no event
        assert not object_path(emulator, f"uploads/{file_id}").exists()
        assert file_by_id(emulator, file_id) is None
        assert events.empty()
    # AND the storage refuses nothing as "already written": the key is free, as the object is gone
    assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
    await asyncio.to_thread(wait_until_idle, emulator)
    assert not object_path(emulator, f"uploads/{file_id}").exists()
