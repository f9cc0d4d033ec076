"""The limits AppSync has: subscription payload size, request size, query depth and aliases."""

from __future__ import annotations

import asyncio

import httpx

from tests.e2e.clients import (
    file_hashed_input,
    graphql,
    jwt_appsync_transport,
    publish_file_hashed,
    subscription,
    token_for,
)
from tests.e2e.conftest import Emulator

ON_ANY = "subscription { onFileHashed { id name } }"


async def test_a_subscription_message_over_240_kb_is_dropped(emulator: Emulator) -> None:
    # GIVEN a subscriber to every file (a member of admins)
    admin = jwt_appsync_transport(emulator, token_for(emulator, "root", "--group", "admins"))
    async with subscription(emulator, admin, ON_ANY) as events:
        # WHEN a file whose message would exceed 240 KB is published, then a small one
        big = file_hashed_input("big-" + "0" * 8, name="n" * (250 * 1024))
        small = file_hashed_input("small-" + "0" * 6)
        await publish_file_hashed(emulator, big, selection="id name")
        await publish_file_hashed(emulator, small, selection="id name")
        # THEN only the small one arrives (AppSync drops the oversized message silently)
        first = (await asyncio.wait_for(events.get(), 30))["onFileHashed"]
    assert first["id"] == small["id"]


def test_a_request_body_over_the_limit_is_refused(emulator: Emulator) -> None:
    # GIVEN a 6 MB request body
    body = b'{"query": "{ files { items { id } } }", "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    # WHEN it is posted
    response = httpx.post(emulator.graphql_url, content=body, headers={"x-api-key": emulator.api_key}, timeout=30)
    # THEN it is refused before any GraphQL runs, in AppSync's error shape
    assert response.status_code == 413
    assert response.json()["errors"][0]["errorType"]


def test_queries_deeper_than_the_bound_are_refused(emulator: Emulator) -> None:
    # GIVEN a query nested deeper than the depth bound (the schema itself is never that deep)
    nested = "{ id }"
    for _ in range(12):
        nested = "{ items " + nested + " }"
    query = "query { files " + nested + " }"
    # WHEN it is sent
    body = graphql(emulator, query).json()
    # THEN it is a validation error and nothing ran
    assert body["data"] is None
    assert any("exceeds maximum operation depth" in error["message"] for error in body["errors"])


def test_too_many_aliases_are_refused(emulator: Emulator) -> None:
    # GIVEN one request asking for the same field under 60 aliases
    query = "{ " + " ".join(f'a{i}: file(id: "x{i}") {{ id }}' for i in range(60)) + " }"
    # WHEN it is sent
    body = graphql(emulator, query).json()
    # THEN it is refused as a whole
    assert body["data"] is None
    assert "aliases" in body["errors"][0]["message"].lower()
