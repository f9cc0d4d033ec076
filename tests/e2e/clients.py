"""What a client of the API does, written with real clients: httpx for HTTP, gql for subscriptions."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from botocore.credentials import Credentials
from gql import Client, GraphQLRequest
from gql.transport.appsync_auth import (
    AppSyncApiKeyAuthentication,
    AppSyncIAMAuthentication,
    AppSyncJWTAuthentication,
)
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.websockets import WebsocketsTransport

from lambdashare.domain.model import FILE_SELECTION
from tests.e2e.conftest import Emulator

FILE_FIELDS = FILE_SELECTION
REQUEST_UPLOAD = f"""
mutation Request($input: RequestUploadInput!) {{
  requestUpload(input: $input) {{ file {{ {FILE_FIELDS} }} expiresAt url method headers uploadId parts {{ number }} }}
}}"""
ON_FILE_HASHED = f"subscription OnHashed($id: ID) {{ onFileHashed(id: $id) {{ {FILE_FIELDS} }} }}"
#: The emulator's region, and the ARN its local IAM credentials sign as (an IAM caller owns by it).
REGION = "us-east-1"
LOCAL_IAM_ARN = "arn:aws:iam::000000000000:user/lambdashare-local"


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
    found: dict[str, Any] | None = data(
        emulator, f"query F($id: ID!) {{ file(id: $id) {{ {FILE_FIELDS} }} }}", {"id": file_id}
    )["file"]
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


def token_for(emulator: Emulator, user: str, *extra: str) -> str:
    """A user-pool JWT from `lambdashare token` (extra options, e.g. "--group", "admins")."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambdashare.cli",
            "token",
            "--user",
            user,
            "--data-dir",
            str(emulator.data_dir),
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def jwt_appsync_transport(emulator: Emulator, token: str) -> AppSyncWebsocketsTransport:
    auth = AppSyncJWTAuthentication(host=emulator.host, jwt=token)
    return AppSyncWebsocketsTransport(url=emulator.ws_url, auth=auth, keep_alive_timeout=30)


def iam_credentials(emulator: Emulator) -> Credentials:
    """The emulator's local IAM credentials, kept in its data dir."""
    stored = json.loads((emulator.data_dir / "emulator.json").read_text())
    return Credentials(stored["access_key_id"], stored["secret_access_key"])


def iam_appsync_transport(emulator: Emulator) -> AppSyncWebsocketsTransport:
    auth = AppSyncIAMAuthentication(host=emulator.host, credentials=iam_credentials(emulator), region_name=REGION)
    return AppSyncWebsocketsTransport(url=emulator.ws_url, auth=auth, keep_alive_timeout=30)


def jwt_transport_ws_transport(emulator: Emulator, token: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=emulator.ws_url,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": token},
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


# --- helpers for the bad-input and durability tests -------------------------------------------------

FINAL_STATUSES = ("HASHED", "FAILED")


def admin_token(emulator: Emulator) -> str:
    """A token of the `admins` group, from the emulator's local user pool (made once per data dir)."""
    if emulator.data_dir not in _ADMIN_TOKENS:
        done = subprocess.run(
            [sys.executable, "-m", "lambdashare.cli", "token", "--data-dir", str(emulator.data_dir), *ADMIN],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        _ADMIN_TOKENS[emulator.data_dir] = done.stdout.strip()
    return _ADMIN_TOKENS[emulator.data_dir]


_ADMIN_TOKENS: dict[Path, str] = {}
ADMIN = ("--user", "e2e-admin", "--group", "admins", "--ttl", "6h")


def admin_data(emulator: Emulator, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """`data` as an admin, who sees every file (the API key's space lists and finds none)."""
    response = httpx.post(
        emulator.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": admin_token(emulator)},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def all_files(emulator: Emulator) -> list[dict[str, Any]]:
    """Every file of the API key's space, newest first, as `file(id)` shows them, read from the emulator's
    table: nothing on the API lists that space (a file id is the capability)."""
    from lambdashare.adapters.local.sqlite_table import SqliteTable
    from lambdashare.domain.model import FileRecord

    items = SqliteTable(emulator.data_dir).list_items(None, 1_000_000, None)
    return [FileRecord.from_item(item).to_graphql() for item in items]


def files_by_hash(emulator: Emulator, sha256: str) -> list[str]:
    """Ids of the hashed files with this content, as an admin finds them."""
    query = "query H($h: String!) { filesByHash(sha256: $h) { id } }"
    return [f["id"] for f in admin_data(emulator, query, {"h": sha256})["filesByHash"]]


def duplicate_count(emulator: Emulator, sha256: str, *, api_key: str | None = None) -> int:
    response = graphql(emulator, "query C($h: String!) { duplicateCount(sha256: $h) }", {"h": sha256}, api_key=api_key)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    count: int = response.json()["data"]["duplicateCount"]
    return count


def wait_for_file(
    emulator: Emulator, file_id: str, statuses: tuple[str, ...] = FINAL_STATUSES, *, deadline_s: float = 60
) -> dict[str, Any]:
    """Poll `file(id)` until its status is one of `statuses`; fail with the last state after the deadline."""
    import time

    end = time.monotonic() + deadline_s
    while True:
        found = file_by_id(emulator, file_id)
        if found is not None and found["status"] in statuses:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"file {file_id} never reached {statuses}: {found}")
        time.sleep(0.05)


# --- helpers for the real-time protocol and subscription semantics tests ---------------------------


def sigv4_graphql(emulator: Emulator, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST signed with SigV4 as the hasher signs (the emulator's local IAM credentials, service appsync)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    body = json.dumps({"query": query, "variables": variables or {}})
    signed = AWSRequest(
        method="POST", url=emulator.graphql_url, data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(iam_credentials(emulator), "appsync", REGION).add_auth(signed)
    response = httpx.post(emulator.graphql_url, content=body.encode(), headers=dict(signed.headers), timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


PUBLISHED_FIELDS = "id name size contentType owner status hashes { md5 sha1 sha256 sha512 } error createdAt"


def file_hashed_input(file_id: str, **fields: Any) -> dict[str, Any]:
    """A `FileHashedInput` for a made-up HASHED file (publishFileHashed does not read the table)."""
    digests = {name: f"{name}-of-{file_id}" for name in ("md5", "sha1", "sha256", "sha512")}
    return {
        "id": file_id,
        "name": f"{file_id}.bin",
        "size": 3,
        "status": "HASHED",
        "createdAt": "2024-01-02T03:04:05.678Z",
        "hashes": digests,
        "error": None,
        **fields,
    }


async def publish_file_hashed(
    emulator: Emulator, fields: dict[str, Any], selection: str = PUBLISHED_FIELDS
) -> dict[str, Any] | None:
    """Call `publishFileHashed` as the hasher does (SigV4), selecting `selection`; its result."""
    query = f"mutation P($input: FileHashedInput!) {{ publishFileHashed(input: $input) {{ {selection} }} }}"
    answer = await asyncio.to_thread(sigv4_graphql, emulator, query, {"input": fields})
    assert "errors" not in answer, answer
    result: dict[str, Any] | None = answer["data"]["publishFileHashed"]
    return result
