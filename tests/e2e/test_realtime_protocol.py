"""AppSync's real-time protocol on the wire, checked message by message with a raw WebSocket client.

Spec: https://docs.aws.amazon.com/appsync/latest/devguide/real-time-websocket-client.html, and
/work/shared/appsync-notes.md §1 and §8. Every message the server sends must be in AppSync's
catalogue; gql's AppSync transport closes the connection on anything else.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from botocore.credentials import Credentials
from gql import Client, GraphQLRequest
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication, AppSyncIAMAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.clients import file_hashed_input, publish_file_hashed, subscriber_count
from tests.e2e.conftest import Emulator

#: What AppSync may send (server -> client); anything else makes gql close the transport.
SERVER_MESSAGE_TYPES = {"connection_ack", "ka", "start_ack", "data", "error", "complete", "connection_error"}
#: A safety net against hangs, not an assertion about speed.
RECEIVE_TIMEOUT_S = 20
ACK = {"type": "connection_ack", "payload": {"connectionTimeoutMs": 300000}}
SUBSCRIPTION = "subscription S($id: ID) { onFileHashed(id: $id) { id name status hashes { sha256 } } }"
BAD_KEY = "da2-not-the-key"
REALTIME_PATHS = ["/graphql", "/graphql/realtime"]


# --- encoding the header object as Amplify JS and gql do ---------------------------------------


def header_object(emulator: Emulator, api_key: str | None = None) -> dict[str, str]:
    """The API_KEY header object, padded so that its base64 has '+' and '/' and needs '=' padding,
    i.e. its base64url has '-' and '_' and loses characters when the padding is stripped."""
    header = {"host": emulator.host, "x-api-key": api_key or emulator.api_key}
    for size in range(64):
        candidate = {**header, "x-amz-user-agent": "~~~???" + "x" * size}
        encoded = b64(candidate)
        if "+" in encoded and "/" in encoded and encoded.endswith("="):
            return candidate
    raise AssertionError("no padding gives the characters we want")


def b64(value: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def b64url_unpadded(value: dict[str, Any]) -> str:
    """As Amplify JS encodes the `header-` subprotocol: base64url, no padding."""
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def connect_args(emulator: Emulator, how: str, api_key: str | None = None) -> dict[str, Any]:
    """URL suffix, subprotocols and headers for one way of passing auth (§1.2)."""
    header = header_object(emulator, api_key)
    if how == "header-subprotocol":  # Amplify JS
        token = f"header-{b64url_unpadded(header)}"
        return {"query": "", "subprotocols": ["graphql-ws", token], "headers": {}}
    if how == "query-string":  # gql: base64 with '+', '/' and '=' put in the URL unencoded
        return {"query": f"?header={b64(header)}&payload=e30=", "subprotocols": ["graphql-ws"], "headers": {}}
    if how == "http-headers":
        return {"query": "", "subprotocols": ["graphql-ws"], "headers": {"x-api-key": header["x-api-key"]}}
    raise AssertionError(how)


AUTH_WAYS = ["header-subprotocol", "query-string", "http-headers"]


# --- a raw client that records everything ---------------------------------------------------------


class RawClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    async def receive(self, *, skip_ka: bool = True) -> dict[str, Any]:
        """The next message (by default the next one that is not `ka`), checked against the catalogue."""
        async with asyncio.timeout(RECEIVE_TIMEOUT_S):  # for the whole wait: ka keeps coming
            return await self._receive(skip_ka)

    async def _receive(self, skip_ka: bool) -> dict[str, Any]:
        while True:
            raw = await self.ws.recv()
            assert isinstance(raw, str), f"binary frame from the server: {raw!r}"
            message = json.loads(raw)
            assert isinstance(message, dict), message
            assert message.get("type") in SERVER_MESSAGE_TYPES, message
            assert set(message) <= {"type", "id", "payload"}, message
            self.received.append(message)
            if not (skip_ka and message["type"] == "ka"):
                return message

    async def receive_until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while not predicate(message := await self.receive()):
            pass
        return message

    async def init(self, message: dict[str, Any] | None = None) -> None:
        await self.send(message or {"type": "connection_init", "payload": {}})
        assert await self.receive() == ACK

    async def start(
        self,
        subscription_id: str,
        query: str = SUBSCRIPTION,
        variables: dict[str, Any] | None = None,
        authorization: dict[str, str] | None = None,
    ) -> None:
        data: dict[str, Any] = {"query": query}
        if variables is not None:
            data["variables"] = variables
        payload: dict[str, Any] = {"data": json.dumps(data)}
        if authorization is not None:
            payload["extensions"] = {"authorization": authorization}
        await self.send({"id": subscription_id, "type": "start", "payload": payload})

    def ids_received(self, kind: str) -> list[str | None]:
        return [m.get("id") for m in self.received if m["type"] == kind]


@asynccontextmanager
async def raw_client(
    emulator: Emulator,
    *,
    path: str = "/graphql",
    query: str | None = None,
    subprotocols: tuple[str, ...] | list[str] = ("graphql-ws",),
    headers: dict[str, str] | None = None,
) -> AsyncIterator[RawClient]:
    """A raw connection; by default authorised as gql does it (`?header=…&payload=e30=`)."""
    if query is None:
        query = f"?header={b64(header_object(emulator))}&payload=e30="
    async with connect(
        f"ws://{emulator.host}{path}{query}",
        subprotocols=list(subprotocols) or None,  # an empty list would send an empty, invalid header
        additional_headers=headers or {},
        open_timeout=RECEIVE_TIMEOUT_S,
    ) as ws:
        yield RawClient(ws)


def new_id() -> str:
    return f"file-{uuid.uuid4()}"


# --- handshake --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", REALTIME_PATHS)
@pytest.mark.parametrize("how", AUTH_WAYS)
async def test_each_way_of_passing_auth_is_accepted_and_graphql_ws_is_selected(
    emulator: Emulator, how: str, path: str
) -> None:
    # GIVEN the API key passed one of AppSync's three ways, on either real-time path
    args = connect_args(emulator, how)

    # WHEN the client connects and initialises
    async with raw_client(
        emulator, path=path, query=args["query"], subprotocols=args["subprotocols"], headers=args["headers"]
    ) as client:
        selected = client.ws.subprotocol
        await client.send({"type": "connection_init"})
        ack = await client.receive()

        # THEN graphql-ws is selected (never the header- token) and the connection is acknowledged
        assert selected == "graphql-ws"
        assert ack == ACK
        # AND subscriptions start on it
        await client.start("1", variables={"id": new_id()})
        assert await client.receive() == {"type": "start_ack", "id": "1"}


async def test_graphql_ws_is_selected_when_the_header_token_is_offered_first(emulator: Emulator) -> None:
    # GIVEN the header- token offered before graphql-ws
    header = header_object(emulator)

    # WHEN connecting
    token = f"header-{b64url_unpadded(header)}"
    async with raw_client(emulator, subprotocols=[token, "graphql-ws"]) as client:
        # THEN graphql-ws is selected and the connection is acknowledged
        assert client.ws.subprotocol == "graphql-ws"
        await client.init()


@pytest.mark.parametrize("how", AUTH_WAYS)
async def test_a_bad_key_at_connect_gets_connection_error_then_close(emulator: Emulator, how: str) -> None:
    # GIVEN a wrong API key passed one of the three ways
    args = connect_args(emulator, how, api_key=BAD_KEY)

    # WHEN the client connects
    async with raw_client(
        emulator, query=args["query"], subprotocols=args["subprotocols"], headers=args["headers"]
    ) as client:
        refusal = await client.receive()

        # THEN it is told it is not authorized, in AppSync's shape, and the server closes
        assert refusal["type"] == "connection_error"
        assert "id" not in refusal
        [error] = refusal["payload"]["errors"]
        assert error["errorType"] == "UnauthorizedException"
        assert error["errorCode"] == 401
        assert error["message"]
        with pytest.raises(ConnectionClosed):
            await client.receive()


@pytest.mark.parametrize(
    "offered",
    [["graphql-foo"], [], [f"header-{b64url_unpadded({'x': 1})}"]],
    ids=["unknown", "none", "only-header-token"],
)
@pytest.mark.parametrize("path", REALTIME_PATHS)
async def test_a_subprotocol_other_than_graphql_ws_is_refused(
    emulator: Emulator, offered: list[str], path: str
) -> None:
    # GIVEN a client that does not offer graphql-ws (but does send a valid key)
    query = f"?header={b64(header_object(emulator))}&payload=e30="

    # WHEN it connects
    async with raw_client(emulator, path=path, query=query, subprotocols=offered) as client:
        selected = client.ws.subprotocol
        refusal = await client.receive()

        # THEN nothing it offered is selected, it gets AppSync's refusal, and the server closes
        assert selected is None
        assert refusal == {
            "type": "connection_error",
            "payload": {"errors": [{"message": "SubProtocolNotSupportedError", "errorCode": 400}]},
        }
        with pytest.raises(ConnectionClosed):
            await client.receive()


@pytest.mark.parametrize(
    "init",
    [{"type": "connection_init"}, {"type": "connection_init", "payload": {}}],
    ids=["amplify-no-payload", "gql-empty-payload"],
)
async def test_connection_init_is_acknowledged_with_the_timeout(emulator: Emulator, init: dict[str, Any]) -> None:
    # GIVEN a connected client
    async with raw_client(emulator) as client:
        # WHEN it sends connection_init, with or without a payload
        await client.send(init)

        # THEN the first message is exactly AppSync's connection_ack
        assert await client.receive(skip_ka=False) == ACK


async def test_keep_alives_arrive_after_the_ack(emulator: Emulator) -> None:
    # GIVEN an acknowledged connection (the test emulator sends ka every 2 s)
    async with raw_client(emulator) as client:
        await client.init()

        # WHEN the client waits
        first = await client.receive(skip_ka=False)
        second = await client.receive(skip_ka=False)

        # THEN ka messages arrive, bare
        assert first == {"type": "ka"}
        assert second == {"type": "ka"}


async def test_start_without_connection_init_still_works(emulator: Emulator) -> None:
    # GIVEN a connected client that never sends connection_init
    file_id = new_id()
    async with raw_client(emulator) as client:
        # WHEN it starts a subscription straight away and the file is then published
        await client.start("7", variables={"id": file_id})
        ack = await client.receive_until(lambda m: m["type"] != "connection_ack")
        await publish_file_hashed(emulator, file_hashed_input(file_id))
        event = await client.receive()

        # THEN the subscription is acknowledged and gets the event
        assert ack == {"type": "start_ack", "id": "7"}
        assert event["type"] == "data"
        assert event["id"] == "7"
        assert event["payload"]["data"]["onFileHashed"]["id"] == file_id


# --- one subscription's life ----------------------------------------------------------------------


@pytest.mark.parametrize("path", REALTIME_PATHS)
async def test_start_data_stop_complete(emulator: Emulator, path: str) -> None:
    # GIVEN an acknowledged connection with two subscriptions to the same file
    file_id = new_id()
    async with raw_client(emulator, path=path) as client:
        await client.init()
        await client.start("sub-1", variables={"id": file_id}, authorization=header_object(emulator))
        first_ack = await client.receive()
        await client.start("sub-2", variables={"id": file_id})
        second_ack = await client.receive()

        # WHEN the file is published (right after start_ack: the subscription is live from then on)
        await publish_file_hashed(emulator, file_hashed_input(file_id, name="report.pdf"))
        events = [await client.receive(), await client.receive()]

        # THEN each subscription gets one data message with the mutation's result
        assert first_ack == {"type": "start_ack", "id": "sub-1"}
        assert second_ack == {"type": "start_ack", "id": "sub-2"}
        assert sorted(e["id"] for e in events) == ["sub-1", "sub-2"]
        for event in events:
            assert event["type"] == "data"
            assert event["payload"] == {
                "data": {
                    "onFileHashed": {
                        "id": file_id,
                        "name": "report.pdf",
                        "status": "HASHED",
                        "hashes": {"sha256": f"sha256-of-{file_id}"},
                    }
                }
            }

        # WHEN sub-1 is stopped and the file is published again
        await client.send({"type": "stop", "id": "sub-1"})
        complete = await client.receive()
        await publish_file_hashed(emulator, file_hashed_input(file_id, name="again.pdf"))
        after = await client.receive()

        # THEN sub-1 is completed and gets nothing more, while sub-2 still gets the event
        assert complete == {"type": "complete", "id": "sub-1"}
        assert after["id"] == "sub-2"
        assert after["payload"]["data"]["onFileHashed"]["name"] == "again.pdf"
        messages_for_sub_1 = [m["type"] for m in client.received if m.get("id") == "sub-1"]
        assert messages_for_sub_1 == ["start_ack", "data", "complete"]


async def test_a_stop_right_after_start_leaves_no_subscription_behind(private_emulator: Emulator) -> None:
    # GIVEN an acknowledged connection to an emulator of this test's own
    emulator = private_emulator
    async with raw_client(emulator) as client:
        await client.init()

        # WHEN the client sends start and stop back to back, many times, without waiting in between
        for n in range(20):
            await client.start(f"s{n}", variables={"id": new_id()})
            await client.send({"type": "stop", "id": f"s{n}"})
        replies = [await client.receive() for _ in range(40)]

        # THEN each is acknowledged then completed, and once completed nothing is subscribed any more
        for n in range(20):
            mine = [m["type"] for m in replies if m.get("id") == f"s{n}"]
            assert mine == ["start_ack", "complete"]
        assert await subscriber_count(emulator) == 0


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["subscribe", "ping", "next", "bogus"])
async def test_an_unknown_message_type_gets_an_error_without_id(emulator: Emulator, kind: str) -> None:
    # GIVEN an acknowledged connection
    async with raw_client(emulator) as client:
        await client.init()

        # WHEN the client sends a message type AppSync does not have
        await client.send({"type": kind, "id": "1", "payload": {}})
        error = await client.receive()

        # THEN it gets an error that names no subscription
        assert error["type"] == "error"
        assert "id" not in error
        [entry] = error["payload"]["errors"]
        assert entry["errorType"] == "UnsupportedOperation"
        assert entry["message"]


@pytest.mark.parametrize(
    "frame",
    ["not json", "[1, 2]", '{"id": "1"}', '"start"', b"\xff\xfe not json"],
    ids=["text", "array", "no-type", "string", "binary"],
)
async def test_a_frame_that_is_not_a_message_gets_an_error_without_id(emulator: Emulator, frame: str | bytes) -> None:
    # GIVEN an acknowledged connection
    async with raw_client(emulator) as client:
        await client.init()

        # WHEN the client sends something that is not a JSON text message with a type
        await client.send(frame)
        error = await client.receive()

        # THEN it gets an error without id, and the connection keeps working
        assert error["type"] == "error"
        assert "id" not in error
        assert error["payload"]["errors"][0]["message"]
        await client.start("after", variables={"id": new_id()})
        assert await client.receive() == {"type": "start_ack", "id": "after"}


@pytest.mark.parametrize(
    "query",
    ["query Q { files { items { id } } }", 'mutation M { deleteFile(id: "x") { id } }'],
    ids=["query", "mutation"],
)
async def test_a_start_with_a_query_or_mutation_gets_an_error_with_its_id(emulator: Emulator, query: str) -> None:
    # GIVEN an acknowledged connection
    async with raw_client(emulator) as client:
        await client.init()

        # WHEN the client starts an operation that is not a subscription
        await client.start("op-1", query=query)
        error = await client.receive()

        # THEN it gets an error for that id: only subscriptions go over the real-time channel
        assert error["type"] == "error"
        assert error["id"] == "op-1"
        [entry] = error["payload"]["errors"]
        assert entry["errorType"] == "UnsupportedOperation"
        assert "not supported through the realtime channel" in entry["message"]
        assert "start_ack" not in [m["type"] for m in client.received]


@pytest.mark.parametrize(
    "query",
    [
        "subscription {",
        "subscription S { onFileHashed { nope } }",
        "subscription S($id: Int) { onFileHashed(id: $id) { id } }",
        "",
    ],
    ids=["syntax", "unknown-field", "wrong-variable-type", "empty"],
)
async def test_a_start_with_invalid_graphql_gets_an_error_with_its_id(emulator: Emulator, query: str) -> None:
    # GIVEN an acknowledged connection
    async with raw_client(emulator) as client:
        await client.init()

        # WHEN the client starts a subscription that is not valid GraphQL
        await client.start("bad-1", query=query)
        error = await client.receive()

        # THEN it gets an error for that id, and no start_ack
        assert error["type"] == "error"
        assert error["id"] == "bad-1"
        assert error["payload"]["errors"]
        assert all(entry["message"] for entry in error["payload"]["errors"])
        assert "start_ack" not in [m["type"] for m in client.received]


@pytest.mark.parametrize(
    "payload",
    [{}, {"data": {"query": SUBSCRIPTION}}, {"data": "not json"}, "x"],
    ids=["no-data", "data-not-a-string", "data-not-json", "payload-not-an-object"],
)
async def test_a_start_without_a_json_string_in_data_gets_an_error_with_its_id(
    emulator: Emulator, payload: Any
) -> None:
    # GIVEN an acknowledged connection
    async with raw_client(emulator) as client:
        await client.init()

        # WHEN a start's payload.data is not a JSON string
        await client.send({"id": "d-1", "type": "start", "payload": payload})
        error = await client.receive()

        # THEN it gets an error for that id
        assert error["type"] == "error"
        assert error["id"] == "d-1"
        assert error["payload"]["errors"][0]["message"]


async def test_a_duplicate_id_gets_duplicated_operation_error_and_the_first_keeps_running(
    emulator: Emulator,
) -> None:
    # GIVEN a live subscription "dup"
    file_id = new_id()
    async with raw_client(emulator) as client:
        await client.init()
        await client.start("dup", variables={"id": file_id})
        assert await client.receive() == {"type": "start_ack", "id": "dup"}

        # WHEN another start uses the same id
        await client.start("dup", variables={"id": new_id()})
        error = await client.receive()

        # THEN it gets DuplicatedOperationError with the id
        assert error["type"] == "error"
        assert error["id"] == "dup"
        [entry] = error["payload"]["errors"]
        assert entry["errorType"] == "DuplicatedOperationError"
        assert "dup" in entry["message"]

        # AND the first subscription still gets its file's event, once
        await publish_file_hashed(emulator, file_hashed_input(file_id))
        event = await client.receive()
        assert event["id"] == "dup"
        assert event["payload"]["data"]["onFileHashed"]["id"] == file_id


async def test_an_id_can_be_reused_after_its_complete(emulator: Emulator) -> None:
    # GIVEN a subscription "again" that was stopped
    file_id = new_id()
    async with raw_client(emulator) as client:
        await client.init()
        await client.start("again", variables={"id": new_id()})
        assert await client.receive() == {"type": "start_ack", "id": "again"}
        await client.send({"type": "stop", "id": "again"})
        assert await client.receive() == {"type": "complete", "id": "again"}

        # WHEN the id is used for a new subscription
        await client.start("again", variables={"id": file_id})
        ack = await client.receive()
        await publish_file_hashed(emulator, file_hashed_input(file_id))
        event = await client.receive()

        # THEN the new one is acknowledged and live
        assert ack == {"type": "start_ack", "id": "again"}
        assert event["payload"]["data"]["onFileHashed"]["id"] == file_id


async def test_a_start_with_a_wrong_key_in_its_authorization_gets_unauthorized(emulator: Emulator) -> None:
    # GIVEN a connection authorised with the right key
    file_id = new_id()
    async with raw_client(emulator) as client:
        await client.init()

        # WHEN a start carries a wrong key in extensions.authorization
        wrong = header_object(emulator, BAD_KEY)
        await client.start("auth-1", variables={"id": file_id}, authorization=wrong)
        error = await client.receive()

        # THEN that start is refused with UnauthorizedException, and nothing is delivered for it
        assert error["type"] == "error"
        assert error["id"] == "auth-1"
        [entry] = error["payload"]["errors"]
        assert entry["errorType"] == "UnauthorizedException"
        assert entry["message"] == "You are not authorized to make this call."
        await client.start("auth-2", variables={"id": file_id}, authorization=header_object(emulator))
        assert await client.receive() == {"type": "start_ack", "id": "auth-2"}
        await publish_file_hashed(emulator, file_hashed_input(file_id))
        assert (await client.receive())["id"] == "auth-2"
        assert client.ids_received("data") == ["auth-2"]


async def test_a_stop_for_an_unknown_id_changes_nothing(emulator: Emulator) -> None:
    # GIVEN a live subscription
    file_id = new_id()
    async with raw_client(emulator) as client:
        await client.init()
        await client.start("live", variables={"id": file_id})
        assert await client.receive() == {"type": "start_ack", "id": "live"}

        # WHEN the client stops an id it never started
        await client.send({"type": "stop", "id": "never-started"})
        await publish_file_hashed(emulator, file_hashed_input(file_id))
        event = await client.receive()

        # THEN the live subscription is untouched and nothing names the unknown id
        assert event["id"] == "live"
        assert "never-started" not in [m.get("id") for m in client.received]


# --- IAM (SigV4) header objects, signed as gql signs them -----------------------------------------------


def iam_auth(emulator: Emulator, secret: str | None = None) -> AppSyncIAMAuthentication:
    stored = json.loads((emulator.data_dir / "emulator.json").read_text())
    credentials = Credentials(stored["access_key_id"], secret or stored["secret_access_key"])
    return AppSyncIAMAuthentication(host=emulator.host, region_name="us-east-1", credentials=credentials)


@pytest.mark.parametrize(("secret", "accepted"), [(None, True), ("not-the-secret", False)], ids=["right", "wrong"])
async def test_an_iam_header_object_at_connect_is_verified(
    emulator: Emulator, secret: str | None, accepted: bool
) -> None:
    # GIVEN a header object signed with SigV4 for POST /graphql/connect with body {} (gql's IAM auth),
    # with the emulator's local secret or with another
    header = iam_auth(emulator, secret).get_headers()

    # WHEN the client connects with it (and initialises, unless refused: the server closes at once then)
    async with raw_client(emulator, query=f"?header={b64(header)}&payload=e30=") as client:
        if accepted:
            await client.send({"type": "connection_init"})
        reply = await client.receive()

        # THEN the right signature is acknowledged and the wrong one refused
        if accepted:
            assert reply == ACK
        else:
            assert reply["type"] == "connection_error"
            assert reply["payload"]["errors"][0]["errorType"] == "UnauthorizedException"
            with pytest.raises(ConnectionClosed):
                await client.receive()


async def test_a_start_signed_over_other_data_is_refused(emulator: Emulator) -> None:
    # GIVEN an acknowledged connection, and a start whose SigV4 authorization signs another data string
    async with raw_client(emulator) as client:
        await client.init()
        data = json.dumps({"query": SUBSCRIPTION, "variables": {"id": new_id()}})
        signed_for_other_data = iam_auth(emulator).get_headers(data.replace("file-", "evil-"))

        # WHEN it is sent
        await client.send(
            {
                "id": "sig-1",
                "type": "start",
                "payload": {"data": data, "extensions": {"authorization": signed_for_other_data}},
            }
        )
        error = await client.receive()

        # THEN that start is refused: the signature covers payload.data exactly
        assert error["type"] == "error"
        assert error["id"] == "sig-1"
        [entry] = error["payload"]["errors"]
        assert entry["errorType"] == "BadRequestException"
        assert "signature" in entry["message"]


# --- gql's AppSync transport -------------------------------------------------------------------------


async def test_gql_closes_cleanly_with_subscriptions_running(private_emulator: Emulator) -> None:
    # GIVEN gql's AppSync transport with two subscriptions running on one connection (on an emulator of
    # this test's own, so that the subscriber count is this test's alone)
    emulator = private_emulator
    file_id = new_id()
    auth = AppSyncApiKeyAuthentication(host=emulator.host, api_key=emulator.api_key)
    transport = AppSyncWebsocketsTransport(url=emulator.ws_url, auth=auth, keep_alive_timeout=30)
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    before = await subscriber_count(emulator)

    async def listen(session: Any, variables: dict[str, Any]) -> int:
        count = 0
        async for result in session.subscribe(GraphQLRequest(SUBSCRIPTION, variable_values=variables)):
            await received.put(result)
            count += 1
        return count  # reached only when the server completes the subscription

    async with Client(transport=transport) as session:
        listeners = [
            asyncio.create_task(listen(session, {"id": file_id})),
            asyncio.create_task(listen(session, {"id": file_id})),
        ]
        for _ in range(200):
            if await subscriber_count(emulator) >= before + 2 or any(t.done() for t in listeners):
                break
            await asyncio.sleep(0.05)
        await publish_file_hashed(emulator, file_hashed_input(file_id))
        got = [await asyncio.wait_for(received.get(), RECEIVE_TIMEOUT_S) for _ in listeners]

        # WHEN the client is closed while both subscriptions are still being iterated (gql sends stop for
        # each and waits for complete)

    # THEN each subscription ends normally, not with a TransportError after the close timeout
    outcomes = await asyncio.gather(*listeners, return_exceptions=True)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    assert outcomes == [1, 1]
    assert [r["onFileHashed"]["id"] for r in got] == [file_id, file_id]
    # AND the server has dropped both subscriptions by the time it said complete
    assert before == 0
    assert await subscriber_count(emulator) == 0
