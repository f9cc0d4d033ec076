"""The API-key space is anonymous: a file id is the capability. Whoever holds an id may read, share and
delete that file; nothing lists or reveals ids the caller did not get (DESIGN.md, "Who sees what")."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.clients import FILE_FIELDS, data, duplicate_count, graphql, request_upload, send_bytes, wait_for_file
from tests.e2e.conftest import Emulator
from tests.e2e.test_isolation import User, token_for

FILE = f"query F($id: ID!) {{ file(id: $id) {{ {FILE_FIELDS} downloadUrl }} }}"
FILES = "{ files(limit: 100) { items { id } nextToken } }"
BY_HASH = "query H($h: String!) { filesByHash(sha256: $h) { id } }"
COUNT = "query C($h: String!) { duplicateCount(sha256: $h) }"
DELETE = "mutation D($id: ID!) { deleteFile(id: $id) { id } }"
SHARE = "mutation S($id: ID!) { shareFile(id: $id) { fileId } }"


@dataclass
class Anonymous:
    """Someone with the web app's API key, and the ids they were given."""

    emulator: Emulator

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return data(self.emulator, query, variables)

    def upload(self, body: bytes) -> dict[str, Any]:
        ticket = request_upload(self.emulator, name="anonymous.bin", size=len(body))
        assert send_bytes(ticket, body).status_code == 200
        hashed = wait_for_file(self.emulator, ticket["file"]["id"])
        assert hashed["status"] == "HASHED", hashed
        return hashed


@pytest.fixture
def carol(emulator: Emulator) -> Anonymous:
    return Anonymous(emulator)


@pytest.fixture
def dave(emulator: Emulator) -> Anonymous:
    return Anonymous(emulator)


@pytest.fixture
def erin(emulator: Emulator) -> User:
    return User(emulator, "erin", token_for(emulator, f"erin-{time.monotonic_ns()}"))


def test_two_anonymous_uploaders_cannot_discover_each_others_files(carol: Anonymous, dave: Anonymous) -> None:
    # GIVEN a file Carol uploaded with the API key, and Dave, who has the same key but not its id
    body = os.urandom(2048)
    carols = carol.upload(body)
    sha256 = hashlib.sha256(body).hexdigest()

    # WHEN Dave lists the space and looks the content up by its hash
    listed = dave.data(FILES)["files"]
    found = dave.data(BY_HASH, {"h": sha256})["filesByHash"]
    counted = dave.data(COUNT, {"h": sha256})["duplicateCount"]

    # THEN the listing is empty, the lookup names no id, and he learns only that the content is stored
    assert listed == {"items": [], "nextToken": None}
    assert found == []
    assert counted == 1
    # AND Carol, with the id, still reads her file and downloads it
    view = carol.data(FILE, {"id": carols["id"]})["file"]
    assert {k: v for k, v in view.items() if k != "downloadUrl"} == carols
    assert view["downloadUrl"]


def test_whoever_holds_an_anonymous_id_may_share_and_delete_it(carol: Anonymous, dave: Anonymous) -> None:
    # GIVEN Carol's file, and its id handed to Dave
    carols = carol.upload(os.urandom(100))
    # WHEN Dave shares it, then deletes it
    shared = dave.data(SHARE, {"id": carols["id"]})["shareFile"]
    deleted = dave.data(DELETE, {"id": carols["id"]})["deleteFile"]
    # THEN both work: the id is the capability
    assert shared == {"fileId": carols["id"]}
    assert deleted == {"id": carols["id"]}
    assert carol.data(FILE, {"id": carols["id"]})["file"] is None


def test_a_user_cannot_reach_anonymous_files_by_id(carol: Anonymous, erin: User) -> None:
    # GIVEN an anonymous file, whose id a signed-in user knows
    body = os.urandom(300)
    carols = carol.upload(body)
    sha256 = hashlib.sha256(body).hexdigest()
    # WHEN she asks for it every way the API offers
    by_id = erin.data(FILE, {"id": carols["id"]})["file"]
    found = erin.data(BY_HASH, {"h": sha256})["filesByHash"]
    counted = erin.data(COUNT, {"h": sha256})["duplicateCount"]
    deleted = erin.data(DELETE, {"id": carols["id"]})["deleteFile"]
    shared = erin.post(SHARE, {"id": carols["id"]})
    # THEN it is not in her space: not found, not counted, not deleted, not shared
    assert (by_id, found, counted, deleted) == (None, [], 0, None)
    assert shared["data"] is None and shared["errors"][0]["errorType"] == "NotFoundError"
    assert carol.data(FILE, {"id": carols["id"]})["file"] is not None


async def test_the_api_key_cannot_reach_a_users_files_by_id(carol: Anonymous, erin: User) -> None:
    # GIVEN a signed-in user's file, whose id leaked to someone with the API key
    body = os.urandom(400)
    erins = await erin.upload(body)
    sha256 = hashlib.sha256(body).hexdigest()
    # WHEN the API key asks for it every way the API offers
    by_id = carol.data(FILE, {"id": erins["id"]})["file"]
    counted = duplicate_count(carol.emulator, sha256)
    deleted = carol.data(DELETE, {"id": erins["id"]})["deleteFile"]
    share_answer = graphql(carol.emulator, SHARE, {"id": erins["id"]})
    assert share_answer.status_code == 200, share_answer.text
    shared = share_answer.json()
    # THEN the anonymous space does not hold it
    assert (by_id, counted, deleted) == (None, 0, None)
    assert shared["data"] is None and shared["errors"][0]["errorType"] == "NotFoundError"
    # AND the user counts and finds her own copy
    assert erin.data(COUNT, {"h": sha256})["duplicateCount"] == 1
    assert [f["id"] for f in erin.data(BY_HASH, {"h": sha256})["filesByHash"]] == [erins["id"]]


def test_an_admin_counts_every_copy(carol: Anonymous, emulator: Emulator) -> None:
    # GIVEN the same content stored twice in the anonymous space
    body = os.urandom(64)
    first, second = carol.upload(body), carol.upload(body)
    admin = User(emulator, "root", token_for(emulator, f"root-{time.monotonic_ns()}", "--group", "admins"))
    # WHEN an admin counts and finds it THEN both copies are there
    sha256 = hashlib.sha256(body).hexdigest()
    assert admin.data(COUNT, {"h": sha256})["duplicateCount"] == 2
    assert sorted(f["id"] for f in admin.data(BY_HASH, {"h": sha256})["filesByHash"]) == sorted(
        [first["id"], second["id"]]
    )
