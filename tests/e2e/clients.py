"""What a client of the API does, written with real clients: httpx for HTTP, gql for subscriptions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.conftest import Emulator

FILE_FIELDS = "id name size contentType status error createdAt uploadedAt hashedAt hashes { md5 sha1 sha256 sha512 }"
REQUEST_UPLOAD = f"""
mutation Request($input: RequestUploadInput!) {{
  requestUpload(input: $input) {{ file {{ {FILE_FIELDS} }} expiresAt url method headers uploadId parts {{ number }} }}
}}"""
ON_FILE_HASHED = f"subscription OnHashed($id: ID) {{ onFileHashed(id: $id) {{ {FILE_FIELDS} }} }}"


def graphql(
    emulator: Emulator, query: str, variables: dict[str, Any] | None = None, *, api_key: str | None = None
) -> httpx.Response:
    return httpx.post(
        emulator.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers={"x-api-key": emulator.api_key if api_key is None else api_key},
        timeout=30,
    )


def data(emulator: Emulator, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = graphql(emulator, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def request_upload(emulator: Emulator, **fields: Any) -> dict[str, Any]:
    ticket: dict[str, Any] = data(emulator, REQUEST_UPLOAD, {"input": fields})["requestUpload"]
    return ticket


def send_bytes(ticket: dict[str, Any], body: bytes, **overrides: Any) -> httpx.Response:
    """Send exactly as the ticket says: its method, its URL, its headers, the raw bytes."""
    return httpx.request(
        overrides.get("method", ticket["method"]),
        overrides.get("url", ticket["url"]),
        headers=overrides.get("headers", json.loads(ticket["headers"] or "{}")),
        content=body,
        timeout=60,
    )


def file_by_id(emulator: Emulator, file_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = data(emulator, f"query F($id: ID!) {{ file(id: $id) {{ {FILE_FIELDS} }} }}", {"id": file_id})["file"]
    return found


def appsync_transport(emulator: Emulator, api_key: str | None = None) -> AppSyncWebsocketsTransport:
    auth = AppSyncApiKeyAuthentication(host=emulator.host, api_key=api_key or emulator.api_key)
    return AppSyncWebsocketsTransport(url=emulator.ws_url, auth=auth, keep_alive_timeout=30)


def transport_ws_transport(emulator: Emulator, api_key: str | None = None) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=emulator.ws_url,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"x-api-key": api_key or emulator.api_key},
    )


async def subscriber_count(emulator: Emulator) -> int:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{emulator.url}/healthz")
    return int(response.json()["subscribers"])


@asynccontextmanager
async def subscription(
    emulator: Emulator, transport: Any, query: str, variables: dict[str, Any] | None = None
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Subscribe and yield a queue of results once the server has registered the subscription."""
    results: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    before = await subscriber_count(emulator)
    async with Client(transport=transport) as session:

        async def listen() -> None:
            async for result in session.subscribe(GraphQLRequest(query, variable_values=variables)):
                await results.put(result)

        task = asyncio.create_task(listen())
        try:
            for _ in range(200):
                if await subscriber_count(emulator) > before or task.done():
                    break
                await asyncio.sleep(0.05)
            if task.done():
                task.result()
            yield results
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
