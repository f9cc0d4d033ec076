"""AppSync's subscription semantics, over both protocols the emulator speaks.

- argument filters compare with the fields of the mutation's *result*; an omitted argument filters
  nothing, an explicit null matches only null (notes §3.4). They apply to a subscription field without
  a resolver (or whose resolver sets no filter): this module's emulator runs a copy of template.yaml
  without onFileHashed's resolver (its access rule is tested in test_subscription_access.py);
- a subscriber gets only what the triggering mutation selected: other fields are null, or an
  error if they are non-null in the schema (notes §3.5);
- fan-out reaches every matching subscription on every connection, once.

Negative cases never wait for "nothing": a connection's results arrive in publish order, so a later
event that a subscription (or another one on the same connection) does get proves that an earlier
one was not delivered.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from graphql import ExecutionResult

from tests.e2e.clients import (
    appsync_transport,
    file_hashed_input,
    publish_file_hashed,
    request_upload,
    send_bytes,
    subscriber_count,
    transport_ws_transport,
)
from tests.e2e.conftest import Emulator, start_with_template
from tests.templates import without_resolver

PROTOCOLS = {"appsync": appsync_transport, "graphql-transport-ws": transport_ws_transport}
#: A safety net against hangs, not an assertion about speed.
EVENT_TIMEOUT_S = 60

BY_ID = "subscription S($id: ID) { onFileHashed(id: $id) { id name owner } }"
NAMES_BY_ID = "subscription S($id: ID) { onFileHashed(id: $id) { name owner } }"
NAMES_BY_ID_NULL = "subscription S { onFileHashed(id: null) { name owner } }"
ALL = "subscription S { onFileHashed { id name owner } }"
OWNER_NULL = "subscription S { onFileHashed(owner: null) { id name owner } }"
OWNER_SOMEONE = 'subscription S { onFileHashed(owner: "someone") { id name owner } }'
BY_OWNER_VARIABLE = "subscription S($owner: String) { onFileHashed(owner: $owner) { id name owner } }"

Request = tuple[str, dict[str, Any] | None]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator whose onFileHashed has no resolver: plain argument filtering."""
    yield from start_with_template(tmp_path_factory, "arguments", without_resolver("onFileHashed"))


Results = asyncio.Queue[ExecutionResult | BaseException]


@asynccontextmanager
async def connection(emulator: Emulator, protocol: str, requests: list[Request]) -> AsyncIterator[list[Results]]:
    """One connection carrying these subscriptions: one queue of results each, yielded once the server
    has registered them all. Results with errors are queued like any other."""
    before = await subscriber_count(emulator)
    queues: list[Results] = [asyncio.Queue() for _ in requests]
    async with Client(transport=PROTOCOLS[protocol](emulator)) as session:

        async def listen(request: Request, queue: Results) -> None:
            query, variables = request
            try:
                # the transport's own generator: gql's session would raise on the first result with
                # errors and stop the subscription, and we want to see those results and carry on
                graphql_request = GraphQLRequest(query, variable_values=variables)
                async for result in session.transport.subscribe(graphql_request):
                    await queue.put(result)
            except Exception as exc:  # surfaced by next_result
                await queue.put(exc)

        tasks = [asyncio.create_task(listen(r, q)) for r, q in zip(requests, queues, strict=True)]
        try:
            for _ in range(400):
                if await subscriber_count(emulator) >= before + len(requests) or any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.05)
            assert await subscriber_count(emulator) >= before + len(requests), "subscriptions not registered"
            yield queues
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def next_result(queue: Results) -> ExecutionResult:
    item = await asyncio.wait_for(queue.get(), EVENT_TIMEOUT_S)
    if isinstance(item, BaseException):
        raise item
    return item


async def next_event(queue: Results) -> dict[str, Any]:
    result = await next_result(queue)
    assert not result.errors, result
    assert result.data is not None
    event: dict[str, Any] = result.data["onFileHashed"]
    return event


def new_id() -> str:
    return f"file-{uuid.uuid4()}"


@pytest.fixture(params=list(PROTOCOLS))
def protocol(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


# --- argument filters -----------------------------------------------------------------------------


async def test_an_id_argument_gets_only_that_files_events(emulator: Emulator, protocol: str) -> None:
    # GIVEN one subscriber to file X and one to file Y
    x, y = new_id(), new_id()
    async with connection(emulator, protocol, [(BY_ID, {"id": x}), (BY_ID, {"id": y})]) as (for_x, for_y):
        # WHEN X, then Y, then X again are published
        await publish_file_hashed(emulator, file_hashed_input(x, name="x-first"))
        await publish_file_hashed(emulator, file_hashed_input(y, name="y"))
        await publish_file_hashed(emulator, file_hashed_input(x, name="x-second"))

        # THEN X's subscriber gets both X events and not Y's; Y's subscriber gets Y's
        assert [(await next_event(for_x))["name"] for _ in range(2)] == ["x-first", "x-second"]
        assert (await next_event(for_y))["id"] == y


async def test_omitted_arguments_filter_nothing(emulator: Emulator, protocol: str) -> None:
    # GIVEN a subscriber without arguments, and ones whose `id` or `owner` variable is declared but not given
    x, y = new_id(), new_id()
    requests: list[Request] = [(ALL, None), (BY_ID, {}), (BY_OWNER_VARIABLE, {})]
    async with connection(emulator, protocol, requests) as queues:
        # WHEN two different files are published (owner null in the first's input, absent from the second's)
        await publish_file_hashed(emulator, file_hashed_input(x, owner=None))
        await publish_file_hashed(emulator, file_hashed_input(y))

        # THEN every subscriber gets both, in order
        for queue in queues:
            assert [(await next_event(queue))["id"] for _ in range(2)] == [x, y]


@pytest.mark.parametrize(
    "null_id", [(NAMES_BY_ID_NULL, None), (NAMES_BY_ID, {"id": None})], ids=["literal-null", "variable-null"]
)
async def test_an_explicit_null_matches_only_a_null_result_field(
    emulator: Emulator, protocol: str, null_id: Request
) -> None:
    # GIVEN a subscriber to `id: null` (selecting only fields that may be null or are always published)
    x, y = new_id(), new_id()
    async with connection(emulator, protocol, [null_id]) as (null_ids,):
        # WHEN X is published with `id` in the mutation's selection, then Y without (so null for subscribers)
        await publish_file_hashed(emulator, file_hashed_input(x, name="x.txt"))
        await publish_file_hashed(emulator, file_hashed_input(y, name="y.txt"), selection="name status")

        # THEN its first event is Y's: explicit null is not "any id", it matches only a null id
        assert await next_event(null_ids) == {"name": "y.txt", "owner": None}


@pytest.mark.parametrize(
    "null_owner",
    [(OWNER_NULL, None), (BY_OWNER_VARIABLE, {"owner": None})],
    ids=["literal-null", "variable-null"],
)
async def test_an_explicit_null_owner_gets_api_key_uploads_and_someone_gets_none(
    emulator: Emulator, protocol: str, null_owner: Request
) -> None:
    # GIVEN a file to be uploaded with the API key (owner null), and subscribers on one connection: to it
    # by id, to owner null and to owner "someone"
    body = os.urandom(1024)
    ticket = request_upload(emulator, name="public.bin", size=len(body))
    file_id = ticket["file"]["id"]
    requests: list[Request] = [(BY_ID, {"id": file_id}), null_owner, (OWNER_SOMEONE, None)]
    async with connection(emulator, protocol, requests) as (by_id, owner_null, owner_someone):
        # WHEN the bytes are uploaded (the hasher publishes the file), then alice's file, then another file
        # without owner
        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
        hashed = await next_event(by_id)
        alices, ownerless = new_id(), new_id()
        await publish_file_hashed(emulator, file_hashed_input(alices, owner="alice"))
        await publish_file_hashed(emulator, file_hashed_input(ownerless, owner=None))

        # THEN the owner-null subscriber gets the uploaded file and the other ownerless one, not alice's
        assert hashed["owner"] is None
        assert [(await next_event(owner_null))["id"] for _ in range(2)] == [file_id, ownerless]
        # AND the "someone" subscriber got neither the upload nor alice's file: on one connection results
        # arrive in publish order, so anything for it from those earlier publishes would be in its queue by
        # the time the last event reached owner_null's
        assert owner_someone.empty()


# --- only what the mutation selected --------------------------------------------------------------


async def test_a_subscriber_gets_only_the_fields_the_mutation_selected(emulator: Emulator, protocol: str) -> None:
    # GIVEN a subscriber selecting nullable fields (hashes, error) and one selecting non-null `name`
    x = new_id()
    nullable = "subscription S($id: ID) { onFileHashed(id: $id) { id status hashes { md5 } error } }"
    non_null = "subscription S($id: ID) { onFileHashed(id: $id) { id name } }"
    async with connection(emulator, protocol, [(nullable, {"id": x}), (non_null, {"id": x})]) as (
        wants_hashes,
        wants_name,
    ):
        # WHEN the file is published with hashes, an error and a name in its input, but a selection
        # that omits all three
        published = await publish_file_hashed(
            emulator,
            file_hashed_input(x, name="secret.txt", error="not for subscribers"),
            selection="id size status createdAt owner",
        )

        # THEN the first subscriber gets null for what the mutation did not select, not the input's values
        assert published == {
            "id": x,
            "size": 3,
            "status": "HASHED",
            "createdAt": "2024-01-02T03:04:05.678Z",
            "owner": None,
        }
        assert await next_event(wants_hashes) == {"id": x, "status": "HASHED", "hashes": None, "error": None}

        # AND the second gets AppSync's non-null error: the whole onFileHashed is null, the path names `name`
        result = await next_result(wants_name)
        assert result.data == {"onFileHashed": None}
        assert result.errors is not None
        [error] = result.errors
        assert error["path"] == ["onFileHashed", "name"]
        assert "null" in error["message"]

        # AND that subscription is still alive: a publish that selects `name` reaches it
        await publish_file_hashed(emulator, file_hashed_input(x, name="visible.txt"))
        assert await next_event(wants_name) == {"id": x, "name": "visible.txt"}


async def test_a_field_selected_twice_by_the_mutation_is_published_with_all_its_subfields(
    emulator: Emulator, protocol: str
) -> None:
    # GIVEN a subscriber to all four digests
    x = new_id()
    query = "subscription S($id: ID) { onFileHashed(id: $id) { id hashes { md5 sha1 sha256 sha512 } } }"
    async with connection(emulator, protocol, [(query, {"id": x})]) as (subscriber,):
        # WHEN the mutation selects `hashes` three times, once through an inline fragment
        await publish_file_hashed(
            emulator,
            file_hashed_input(x),
            selection="id hashes { md5 } hashes { sha1 } ... on File { hashes { sha256 sha512 } }",
        )

        # THEN the subscriber gets all four: selections of one field merge, as in GraphQL
        event = await next_event(subscriber)
        assert event["hashes"] == {name: f"{name}-of-{x}" for name in ("md5", "sha1", "sha256", "sha512")}


# --- fan-out --------------------------------------------------------------------------------------


async def test_many_subscribers_on_many_connections_each_get_one_event(emulator: Emulator, protocol: str) -> None:
    # GIVEN 20 connections with three subscriptions each that all match file X
    x = new_id()
    requests: list[Request] = [(ALL, None), (BY_ID, {"id": x}), (OWNER_NULL, None)]
    async with AsyncExitStack() as stack:
        queues: list[Results] = []
        for _ in range(20):
            queues += await stack.enter_async_context(connection(emulator, protocol, requests))

        # WHEN X is published, then X again as a marker
        await publish_file_hashed(emulator, file_hashed_input(x, name="event"))
        await publish_file_hashed(emulator, file_hashed_input(x, name="marker"))

        # THEN every subscription gets the event exactly once, followed by the marker
        received = await asyncio.gather(*[_two_names(q) for q in queues])
        assert len(received) == 60
        assert set(received) == {("event", "marker")}


async def _two_names(queue: Results) -> tuple[str, str]:
    return (await next_event(queue))["name"], (await next_event(queue))["name"]
