"""A light AppSync real-time client for the benchmarks (aiohttp): connect, `start` a subscription, read `data`.

Speaks AppSync's `graphql-ws` dialect as Amplify does: the auth header object base64 in `?header=`,
`payload=e30=`, `connection_init`, then `start` with the query as a JSON string. Works against our
emulator and the Node reference alike. Not a test client: it checks only what a benchmark needs.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp

ON_FILE_HASHED = "subscription S($id: ID) { onFileHashed(id: $id) { id name size status hashes { sha256 } } }"


def _header(url: str, api_key: str) -> dict[str, str]:
    return {"host": urlsplit(url).netloc, "x-api-key": api_key}


async def connect(session: aiohttp.ClientSession, url: str, api_key: str) -> aiohttp.ClientWebSocketResponse:
    """An acknowledged connection to `<url>/graphql/realtime` (url is the HTTP endpoint's base)."""
    header = base64.b64encode(json.dumps(_header(url, api_key)).encode()).decode()
    ws_url = url.replace("http", "ws", 1) + f"/graphql/realtime?header={header}&payload=e30="
    ws = await session.ws_connect(ws_url, protocols=("graphql-ws",), max_msg_size=0)
    await ws.send_str(json.dumps({"type": "connection_init"}))
    await expect(ws, "connection_ack")
    return ws


async def start(
    ws: aiohttp.ClientWebSocketResponse, url: str, api_key: str, subscription_id: str, variables: dict[str, Any]
) -> None:
    """Start onFileHashed with `variables` and wait for its start_ack."""
    data = json.dumps({"query": ON_FILE_HASHED, "variables": variables})
    message = {
        "id": subscription_id,
        "type": "start",
        "payload": {"data": data, "extensions": {"authorization": _header(url, api_key)}},
    }
    await ws.send_str(json.dumps(message))
    await expect(ws, "start_ack")


async def stop(ws: aiohttp.ClientWebSocketResponse, subscription_id: str) -> None:
    await ws.send_str(json.dumps({"id": subscription_id, "type": "stop"}))


async def expect(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of type `kind`, skipping keep-alives; any other message is a failure."""
    while True:
        message = await ws.receive()
        if message.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"the connection ended waiting for {kind}: {message}")
        decoded: dict[str, Any] = json.loads(message.data)
        if decoded.get("type") == "ka" or (kind != "complete" and decoded.get("type") == "complete"):
            continue
        if decoded.get("type") != kind:
            raise RuntimeError(f"expected {kind}, got {decoded}")
        return decoded
