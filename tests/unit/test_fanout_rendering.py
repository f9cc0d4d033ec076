"""Fan-out renders each publication once per distinct subscription (document, variables), however many
subscribers share it, and every subscriber still gets its own message with its own id."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from lambdashare.api.schema import schema
from lambdashare.emulator.pubsub import Broker
from lambdashare.emulator.realtime import RealtimeHandler
from lambdashare.emulator.subscription_filter import ArgumentFilter

MUTATION = "publishFileHashed"
BY_ID = "subscription S($id: ID) { onFileHashed(id: $id) { id name status } }"
NAMES = "subscription { onFileHashed { name } }"


class CountingSchema:
    """The real schema, counting executions."""

    def __init__(self) -> None:
        self.executions = 0

    def execute_sync(self, query: str, **kwargs: Any) -> Any:
        self.executions += 1
        return schema.execute_sync(query, **kwargs)


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))


def file(file_id: str) -> dict[str, Any]:
    return {"id": file_id, "name": f"{file_id}.txt", "status": "HASHED", "size": 3.0, "owner": None}


def test_each_publication_is_rendered_once_per_distinct_subscription() -> None:
    counting = CountingSchema()
    requests = [
        {"query": BY_ID, "variables": {"id": "f1"}},
        {"query": BY_ID, "variables": {"id": "f1"}},
        {"query": BY_ID, "variables": {"id": "f1"}},
        {"query": NAMES},
        {"query": NAMES},
    ]

    async def scenario() -> list[RecordingSocket]:
        # GIVEN five subscribers on their own connections, in two groups that render alike
        broker = Broker()
        runtime = SimpleNamespace(schema=counting)
        sockets = [RecordingSocket() for _ in requests]
        streams = []
        for n, (socket, request) in enumerate(zip(sockets, requests, strict=True)):
            handler = RealtimeHandler(socket, runtime)  # type: ignore[arg-type]
            filters = {"id": "f1"} if "variables" in request else {}
            subscriber = broker.subscribe((MUTATION,), ArgumentFilter(filters))
            streams.append(asyncio.create_task(handler._stream(f"sub-{n}", subscriber, request, None)))  # type: ignore[arg-type]
        # WHEN two files are published
        broker.publish(MUTATION, file("f1"))
        broker.publish(MUTATION, file("f2"))
        for _ in range(1000):
            if sum(len(s.sent) for s in sockets) == 3 + 2 * 2:
                break
            await asyncio.sleep(0)
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        return sockets

    sockets = asyncio.run(scenario())
    # THEN f1 rendered for both groups, f2 only for the group without a filter on id: 3 executions, not 7
    assert counting.executions == 3
    by_id = {"onFileHashed": {"id": "f1", "name": "f1.txt", "status": "HASHED"}}
    for n in range(3):
        assert sockets[n].sent == [{"type": "data", "id": f"sub-{n}", "payload": {"data": by_id}}]
    for n in (3, 4):
        assert sockets[n].sent == [
            {"type": "data", "id": f"sub-{n}", "payload": {"data": {"onFileHashed": {"name": "f1.txt"}}}},
            {"type": "data", "id": f"sub-{n}", "payload": {"data": {"onFileHashed": {"name": "f2.txt"}}}},
        ]
