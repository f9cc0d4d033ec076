"""onFileProgress: the hasher publishes how far it has read a file while hashing it, and subscribers get
it under the same access rule as onFileHashed (the template's one pipeline function), over both
WebSocket protocols."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from tests.e2e import test_multipart as multipart
from tests.e2e.clients import (
    FILE_FIELDS,
    REQUEST_UPLOAD,
    appsync_transport,
    jwt_appsync_transport,
    jwt_transport_ws_transport,
    send_bytes,
    sigv4_graphql,
    subscriber_count,
    subscription,
    token_for,
    transport_ws_transport,
)
from tests.e2e.conftest import Emulator, _start

MIB = 1024 * 1024
#: progress every MiB with no interval to speak of, so a file of a few 4 MiB chunks shows several
PROGRESS_ENV = {"LAMBDASHARE_PROGRESS_STEP": str(MIB), "LAMBDASHARE_PROGRESS_INTERVAL": "0.001"}
FILE_SIZE = 24 * MIB + 5  # seven reads of the hasher's 4 MiB chunks
ON_PROGRESS = "subscription P($id: ID!) { onFileProgress(id: $id) { id hashedBytes size owner } }"
ON_HASHED = f"subscription H($id: ID) {{ onFileHashed(id: $id) {{ {FILE_FIELDS} }} }}"
PUBLISH_PROGRESS = (
    "mutation P($input: FileProgressInput!) { publishFileProgress(input: $input) { id hashedBytes size owner } }"
)
PROTOCOLS = {
    "appsync": (appsync_transport, jwt_appsync_transport),
    "graphql-transport-ws": (transport_ws_transport, jwt_transport_ws_transport),
}
EVENT_TIMEOUT_S = 120  # a failure guard under load, not a timing assertion


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator whose hasher reports progress every MiB."""
    yield from _start(tmp_path_factory, "progress", **PROGRESS_ENV)


@pytest.fixture(params=list(PROTOCOLS))
def protocol(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@asynccontextmanager
async def progress_then_hashed(emulator: Emulator, transport: Any, file_id: str) -> AsyncIterator[asyncio.Queue[Any]]:
    """onFileProgress and onFileHashed for one id on ONE connection, so events arrive in publish order;
    yields a queue of (field, value) once the server has registered both."""
    events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    before = await subscriber_count(emulator)
    async with Client(transport=transport) as session:

        async def listen(query: str, field: str) -> None:
            async for result in session.subscribe(GraphQLRequest(query, variable_values={"id": file_id})):
                await events.put((field, result[field]))

        tasks = [
            asyncio.create_task(listen(ON_PROGRESS, "onFileProgress")),
            asyncio.create_task(listen(ON_HASHED, "onFileHashed")),
        ]
        try:
            for _ in range(400):
                if await subscriber_count(emulator) >= before + 2 or any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.05)
            for task in tasks:
                if task.done():
                    task.result()
            yield events
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def request_upload_as(emulator: Emulator, headers: dict[str, str], size: int) -> dict[str, Any]:
    answer = httpx.post(
        emulator.graphql_url,
        json={"query": REQUEST_UPLOAD, "variables": {"input": {"name": "big.bin", "size": size}}},
        headers=headers,
        timeout=30,
    ).json()
    assert "errors" not in answer, answer
    ticket: dict[str, Any] = answer["data"]["requestUpload"]
    return ticket


@pytest.mark.parametrize("caller", ["cognito-user", "api-key"])
async def test_progress_events_come_before_the_hashed_event(emulator: Emulator, protocol: str, caller: str) -> None:
    # GIVEN a signed-in user (or an API-key client) who asked to upload a file of several chunks
    if caller == "cognito-user":
        token = token_for(emulator, f"alice-{uuid.uuid4()}")
        ticket = request_upload_as(emulator, {"Authorization": token}, FILE_SIZE)
        transport = PROTOCOLS[protocol][1](emulator, token)
    else:
        ticket = request_upload_as(emulator, {"x-api-key": emulator.api_key}, FILE_SIZE)
        transport = PROTOCOLS[protocol][0](emulator)
    file_id = ticket["file"]["id"]
    body = os.urandom(FILE_SIZE)
    async with progress_then_hashed(emulator, transport, file_id) as events:
        # WHEN the bytes are uploaded
        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
        # THEN progress events arrive, then the hashed event
        progress: list[dict[str, Any]] = []
        while True:
            field, value = await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S)
            if field == "onFileHashed":
                break
            progress.append(value)
    assert value["id"] == file_id and value["status"] == "HASHED"
    assert len(progress) >= 2, progress
    assert {(p["id"], p["size"]) for p in progress} == {(file_id, FILE_SIZE)}
    hashed = [p["hashedBytes"] for p in progress]
    assert hashed == sorted(set(hashed)) and hashed[-1] <= FILE_SIZE


async def test_a_file_uploaded_in_several_parts_reports_progress_before_it_is_hashed(
    emulator: Emulator, protocol: str
) -> None:
    # GIVEN an API-key client uploading a file in five parts, subscribed to its progress and its result
    ticket = multipart.request_multipart(emulator, FILE_SIZE)
    assert ticket["url"] is None and len(ticket["parts"]) == 5
    file_id = ticket["file"]["id"]
    body = os.urandom(FILE_SIZE)
    async with progress_then_hashed(emulator, PROTOCOLS[protocol][0](emulator), file_id) as events:
        # WHEN every part is sent and the upload completed
        etags = await asyncio.to_thread(multipart.send_parts, ticket, body)
        completed = await asyncio.to_thread(multipart.complete, emulator, file_id, sorted(etags.items()))
        assert "errors" not in completed.json(), completed.text
        # THEN at least two progress events arrive before the hashed event, which has the right digest
        progress: list[dict[str, Any]] = []
        while True:
            field, value = await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S)
            if field == "onFileHashed":
                break
            progress.append(value)
    assert len(progress) >= 2, progress
    assert [p["hashedBytes"] for p in progress] == sorted({p["hashedBytes"] for p in progress})
    assert value["status"] == "HASHED"
    assert value["hashes"]["sha256"] == hashlib.sha256(body).hexdigest()


def sub_of(token: str) -> str:
    sub: str = jwt.decode(token, options={"verify_signature": False})["sub"]
    return sub


async def publish_progress(emulator: Emulator, file_id: str, owner: str | None, hashed_bytes: int) -> None:
    fields = {"id": file_id, "hashedBytes": hashed_bytes, "size": 100, "owner": owner}
    answer = await asyncio.to_thread(sigv4_graphql, emulator, PUBLISH_PROGRESS, {"input": fields})
    assert answer == {"data": {"publishFileProgress": fields}}, answer


async def test_a_user_gets_none_of_another_users_progress(emulator: Emulator, protocol: str) -> None:
    # GIVEN B subscribed to the progress of a file id
    bob = token_for(emulator, f"bob-{uuid.uuid4()}")
    file_id = str(uuid.uuid4())
    async with subscription(emulator, PROTOCOLS[protocol][1](emulator, bob), ON_PROGRESS, {"id": file_id}) as events:
        # WHEN progress of that id is published as A's file, then as an anonymous one, then as B's
        await publish_progress(emulator, file_id, "alice-sub", 10)
        await publish_progress(emulator, file_id, None, 20)
        await publish_progress(emulator, file_id, sub_of(bob), 30)
        # THEN the first event B gets is B's own (one subscription's events come in order)
        event = (await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S))["onFileProgress"]
    assert (event["owner"], event["hashedBytes"]) == (sub_of(bob), 30)


async def test_an_api_key_subscriber_gets_only_an_anonymous_files_progress(emulator: Emulator, protocol: str) -> None:
    # GIVEN an API-key subscriber to an id
    file_id = str(uuid.uuid4())
    async with subscription(emulator, PROTOCOLS[protocol][0](emulator), ON_PROGRESS, {"id": file_id}) as events:
        # WHEN that id's progress is published as a signed-in user's file, then as an anonymous one
        await publish_progress(emulator, file_id, "someone", 10)
        await publish_progress(emulator, file_id, None, 20)
        # THEN the first event it gets is the anonymous one
        event = (await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S))["onFileProgress"]
    assert (event["owner"], event["hashedBytes"]) == (None, 20)


@pytest.mark.parametrize("variables", [None, {"id": None}], ids=["omitted", "null"])
async def test_an_api_key_subscription_must_name_the_id(
    emulator: Emulator, protocol: str, variables: dict[str, Any] | None
) -> None:
    # GIVEN / WHEN an API-key client subscribes to progress without naming a file
    query = "subscription P($id: ID) { onFileProgress(id: $id) { id } }"
    if variables is None:
        query = "subscription P { onFileProgress { id } }"
    with pytest.raises(TransportQueryError) as refused:
        async with subscription(emulator, PROTOCOLS[protocol][0](emulator), query, variables):
            pass
    # THEN it is refused (the schema requires the id, as the rule does for an API key)
    assert refused.value.errors
