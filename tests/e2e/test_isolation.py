"""Two users, A and B: each sees only their own files, over HTTP and both WebSocket protocols;
a share link lets B download one of A's files until it is revoked or expires."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from gql.transport.appsync_auth import AppSyncJWTAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.clients import FILE_FIELDS, REQUEST_UPLOAD, send_bytes, subscription, token_for
from tests.e2e.conftest import Emulator

ON_ANY = "subscription { onFileHashed { id owner status } }"
ON_ONE = "subscription One($id: ID) { onFileHashed(id: $id) { id owner status } }"


@dataclass
class User:
    emulator: Emulator
    name: str
    token: str

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            self.emulator.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": self.token},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(query, variables)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]
        return result

    def appsync(self) -> AppSyncWebsocketsTransport:
        auth = AppSyncJWTAuthentication(host=self.emulator.host, jwt=self.token)
        return AppSyncWebsocketsTransport(url=self.emulator.ws_url, auth=auth)

    def transport_ws(self) -> WebsocketsTransport:
        return WebsocketsTransport(
            url=self.emulator.ws_url,
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            init_payload={"Authorization": self.token},
        )

    async def upload(self, body: bytes, name: str = "file.bin") -> dict[str, Any]:
        """Upload and wait, as the user's own subscriber, for the final state."""
        ticket = self.data(REQUEST_UPLOAD, {"input": {"name": name, "size": len(body)}})["requestUpload"]
        file_id = ticket["file"]["id"]
        async with subscription(self.emulator, self.appsync(), ON_ONE, {"id": file_id}) as events:
            assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
            event: dict[str, Any] = (await asyncio.wait_for(events.get(), 60))["onFileHashed"]
        assert event["status"] == "HASHED"
        return event


@pytest.fixture
def alice(emulator: Emulator) -> User:
    return User(emulator, "alice", token_for(emulator, f"alice-{time.monotonic_ns()}"))


@pytest.fixture
def bob(emulator: Emulator) -> User:
    return User(emulator, "bob", token_for(emulator, f"bob-{time.monotonic_ns()}"))


async def test_b_cannot_read_list_find_or_delete_a_files(alice: User, bob: User) -> None:
    # GIVEN a file of A's
    body = os.urandom(4096)
    mine = await alice.upload(body)
    sha256 = hashlib.sha256(body).hexdigest()

    # WHEN B looks for it every way the API offers
    by_id = bob.data(f"query F($id: ID!) {{ file(id: $id) {{ {FILE_FIELDS} downloadUrl }} }}", {"id": mine["id"]})
    listed = bob.data("{ files(limit: 100) { items { id } } }")
    by_hash = bob.data("query H($h: String!) { filesByHash(sha256: $h) { id owner } }", {"h": sha256})
    deleted = bob.data("mutation D($id: ID!) { deleteFile(id: $id) { id } }", {"id": mine["id"]})

    # THEN B learns nothing, and A's file is untouched
    assert by_id["file"] is None
    assert mine["id"] not in [f["id"] for f in listed["files"]["items"]]
    assert by_hash["filesByHash"] == []
    assert deleted["deleteFile"] is None
    assert alice.data("query F($id: ID!) { file(id: $id) { id status } }", {"id": mine["id"]})["file"] == {
        "id": mine["id"],
        "status": "HASHED",
    }
    assert [
        f["id"]
        for f in alice.data("query H($h: String!) { filesByHash(sha256: $h) { id } }", {"h": sha256})["filesByHash"]
    ] == [mine["id"]]


@pytest.mark.parametrize("protocol", ["appsync", "transport_ws"])
@pytest.mark.parametrize("query", [ON_ANY, ON_ONE], ids=["no-filter", "a-file-id"])
async def test_b_receives_no_event_for_a_files(alice: User, bob: User, protocol: str, query: str) -> None:
    # GIVEN A's pending file, and B subscribed (to everything, or to A's file id)
    a_ticket = alice.data(REQUEST_UPLOAD, {"input": {"name": "a.bin", "size": 10}})["requestUpload"]
    b_ticket = bob.data(REQUEST_UPLOAD, {"input": {"name": "b.bin", "size": 10}})["requestUpload"]
    variables = {"id": a_ticket["file"]["id"]} if query == ON_ONE else None
    transport = bob.appsync() if protocol == "appsync" else bob.transport_ws()
    async with (
        subscription(bob.emulator, transport, query, variables) as b_events,
        subscription(bob.emulator, bob.appsync(), ON_ONE, {"id": b_ticket["file"]["id"]}) as b_own,
    ):
        # WHEN A's file is hashed, and after it B's own
        async with subscription(alice.emulator, alice.appsync(), ON_ONE, {"id": a_ticket["file"]["id"]}) as a_events:
            assert (await asyncio.to_thread(send_bytes, a_ticket, os.urandom(10))).status_code == 200
            assert (await asyncio.wait_for(a_events.get(), 60))["onFileHashed"]["owner"] is not None
        assert (await asyncio.to_thread(send_bytes, b_ticket, os.urandom(10))).status_code == 200
        await asyncio.wait_for(b_own.get(), 60)

        # THEN B's subscription never carried A's event: for the unfiltered one, B's own came first
        if query == ON_ANY:
            first = (await asyncio.wait_for(b_events.get(), 60))["onFileHashed"]
            assert first["id"] == b_ticket["file"]["id"]
        assert b_events.empty()


async def test_share_link_lets_b_download_until_revoked(alice: User, bob: User) -> None:
    # GIVEN A's file and a share link for it
    body = os.urandom(2048)
    mine = await alice.upload(body, name="report.pdf")
    share = alice.data(
        "mutation S($id: ID!) { shareFile(id: $id, expiresIn: 600) { token fileId expiresAt } }",
        {"id": mine["id"]},
    )["shareFile"]
    assert share["fileId"] == mine["id"]
    shared = "query S($t: String!) { sharedFile(token: $t) { id name downloadUrl } }"

    # WHEN B opens the link
    seen = bob.data(shared, {"t": share["token"]})["sharedFile"]

    # THEN B can download exactly A's bytes
    assert seen["id"] == mine["id"] and seen["name"] == "report.pdf"
    download = httpx.get(seen["downloadUrl"], timeout=30)
    assert download.status_code == 200 and download.content == body

    # WHEN A revokes it THEN the link shows nothing any more; B cannot revoke A's links
    assert bob.data("mutation R($t: String!) { revokeShare(token: $t) }", {"t": share["token"]})["revokeShare"] is False
    assert (
        alice.data("mutation R($t: String!) { revokeShare(token: $t) }", {"t": share["token"]})["revokeShare"] is True
    )
    assert bob.data(shared, {"t": share["token"]})["sharedFile"] is None


async def test_share_link_expires_and_cannot_be_forged(alice: User, bob: User) -> None:
    # GIVEN a one-second share of A's file
    mine = await alice.upload(os.urandom(64))
    share = alice.data("mutation S($id: ID!) { shareFile(id: $id, expiresIn: 1) { token } }", {"id": mine["id"]})
    token = share["shareFile"]["token"]
    shared = "query S($t: String!) { sharedFile(token: $t) { id } }"
    # WHEN it has expired, or is altered
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert bob.data(shared, {"t": forged})["sharedFile"] is None
    deadline = time.monotonic() + 10
    while bob.data(shared, {"t": token})["sharedFile"] is not None:
        assert time.monotonic() < deadline, "the share never expired"
        await asyncio.sleep(0.2)
    # THEN B sees nothing; and B cannot share A's file at all
    refused = bob.post("mutation S($id: ID!) { shareFile(id: $id) { token } }", {"id": mine["id"]})
    assert refused["data"] is None and refused["errors"][0]["errorType"] == "NotFoundError"


async def test_admins_see_every_file(alice: User, emulator: Emulator) -> None:
    # GIVEN A's file and an admin
    mine = await alice.upload(os.urandom(32))
    admin = User(emulator, "root", token_for(emulator, f"root-{time.monotonic_ns()}", "--group", "admins"))
    # WHEN the admin asks for it THEN it is there
    assert admin.data("query F($id: ID!) { file(id: $id) { id } }", {"id": mine["id"]})["file"] == {"id": mine["id"]}


@pytest.fixture
def admin(emulator: Emulator) -> User:
    return User(emulator, "root", token_for(emulator, f"root-{time.monotonic_ns()}", "--group", "admins"))


DELETE = "mutation D($id: ID!) { deleteFile(id: $id) { id } }"
SHARE = "mutation S($id: ID!) { shareFile(id: $id) { token } }"
REVOKE = "mutation R($t: String!) { revokeShare(token: $t) }"


async def test_an_admin_reads_but_cannot_delete_or_share_anothers_file(alice: User, bob: User, admin: User) -> None:
    # GIVEN A's file, shared
    mine = await alice.upload(os.urandom(32))
    token = alice.data(SHARE, {"id": mine["id"]})["shareFile"]["token"]
    # WHEN an admin reads it THEN it is there
    assert admin.data("query F($id: ID!) { file(id: $id) { id } }", {"id": mine["id"]})["file"] == {"id": mine["id"]}
    # WHEN the admin deletes it, shares it or revokes its link THEN each answer is a stranger's (B's): no such file
    for query, variables in ((DELETE, {"id": mine["id"]}), (SHARE, {"id": mine["id"]}), (REVOKE, {"t": token})):
        assert admin.post(query, variables) == bob.post(query, variables)
    assert admin.data(REVOKE, {"t": token})["revokeShare"] is False
    assert admin.post(SHARE, {"id": mine["id"]})["errors"][0]["errorType"] == "NotFoundError"
    # AND the file and its link are untouched: A still revokes the link and deletes the file
    assert alice.data(REVOKE, {"t": token})["revokeShare"] is True
    assert alice.data(DELETE, {"id": mine["id"]})["deleteFile"] == {"id": mine["id"]}


MULTIPART_TICKET = "file { id } uploadId parts { number url method headers }"
REQUEST_MULTIPART = (
    f"mutation R($input: RequestUploadInput!) {{ requestUpload(input: $input) {{ {MULTIPART_TICKET} }} }}"
)
PARTS = "query L($id: ID!) { uploadedParts(id: $id) { number etag } }"
ABORT = "mutation A($id: ID!) { abortUpload(id: $id) { id } }"
RESUME = "mutation S($id: ID!) { resumeUpload(id: $id) { uploadId } }"
COMPLETE = "mutation C($input: CompleteUploadInput!) { completeUpload(input: $input) { id status } }"


def test_an_admin_lists_but_cannot_finish_or_abort_anothers_upload(alice: User, bob: User, admin: User) -> None:
    # GIVEN A's multipart upload of one 5 MiB part, its part sent
    size = 5 * 1024**2
    ticket = alice.data(REQUEST_MULTIPART, {"input": {"name": "big.bin", "size": size, "partSize": size}})
    file_id, part = ticket["requestUpload"]["file"]["id"], ticket["requestUpload"]["parts"][0]
    sent = httpx.request(
        part["method"], part["url"], headers=json.loads(part["headers"] or "{}"), content=os.urandom(size), timeout=60
    )
    assert sent.status_code == 200, sent.text
    etag = sent.headers["etag"]
    # WHEN an admin lists its parts THEN it sees them, as it reads any file
    assert admin.data(PARTS, {"id": file_id})["uploadedParts"] == [{"number": 1, "etag": etag}]
    # WHEN the admin resumes, completes or aborts it THEN each answer is a stranger's (B's): NoSuchUpload
    completion = {"input": {"id": file_id, "parts": [{"number": 1, "etag": etag}]}}
    for query, variables in ((RESUME, {"id": file_id}), (COMPLETE, completion), (ABORT, {"id": file_id})):
        refused = admin.post(query, variables)
        assert refused == bob.post(query, variables)
        assert refused["errors"][0]["errorType"] == "NoSuchUpload"
    # AND the upload is untouched: A completes it
    assert alice.data(COMPLETE, completion)["completeUpload"]["id"] == file_id


def test_token_command_prints_one_token(emulator: Emulator) -> None:
    # GIVEN / WHEN a token is issued THEN it is one JWT on one line
    token = token_for(emulator, "carol")
    assert token.count(".") == 2 and "\n" not in token
    header = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "RS256"


def test_a_forged_next_token_is_refused_with_its_own_error_type(alice: User) -> None:
    # GIVEN a nextToken the API never issued
    forged = "eyJub3QiOiAib3VycyJ9.AAAAAAAAAAAAAAAAAAAAAA"

    # WHEN a signed-in user pages with it
    body = alice.post("query L($t: String) { files(limit: 1, nextToken: $t) { nextToken } }", {"t": forged})

    # THEN the resolver's error class name is the errorType, as a direct Lambda resolver reports it on AWS
    [error] = body["errors"]
    assert error["errorType"] == "InvalidTokenError"
    assert error["message"] == "nextToken is invalid or was not issued for this listing."
    assert error["path"] == ["files"]


def test_b_cannot_list_resume_complete_or_abort_a_multipart_upload(alice: User, bob: User) -> None:
    # GIVEN alice's multipart upload with its first part sent
    upload = {"name": "parts.bin", "size": 5 * 1024 * 1024 + 1, "partSize": 5 * 1024 * 1024}
    query = "mutation R($input: RequestUploadInput!) { requestUpload(input: $input) { file { id } parts { url } } }"
    ticket = alice.data(query, {"input": upload})["requestUpload"]
    file_id = ticket["file"]["id"]
    etag = httpx.put(ticket["parts"][0]["url"], content=b"\0" * (5 * 1024 * 1024), timeout=30).headers["etag"]
    parts = [{"number": 1, "etag": etag}]
    # WHEN bob tries each multipart field on it
    attempts = {
        "uploadedParts": ("query L($id: ID!) { uploadedParts(id: $id) { number } }", {"id": file_id}),
        "resumeUpload": ("mutation S($id: ID!) { resumeUpload(id: $id) { uploadId } }", {"id": file_id}),
        "completeUpload": (
            "mutation C($input: CompleteUploadInput!) { completeUpload(input: $input) { id } }",
            {"input": {"id": file_id, "parts": parts}},
        ),
        "abortUpload": ("mutation A($id: ID!) { abortUpload(id: $id) { id } }", {"id": file_id}),
    }
    # THEN each answers as for an upload that does not exist, and alice's upload is intact
    for field, (text, variables) in attempts.items():
        assert bob.post(text, variables)["errors"][0]["errorType"] == "NoSuchUpload", field
    listed = alice.data("query L($id: ID!) { uploadedParts(id: $id) { number etag } }", {"id": file_id})
    assert listed["uploadedParts"] == [{"number": 1, "etag": etag}]
