"""Who receives which onFileHashed events: template.yaml's APPSYNC_JS resolver, run by the emulator,
over both WebSocket protocols (DESIGN.md, "Who sees what").

B with no arguments or with A's id is in test_isolation.py; here: B asking for A as owner, an admin,
the API key's anonymous space, an IAM principal, and a template whose JS is changed (rule and filter limits).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from gql.transport.exceptions import TransportQueryError

from tests.e2e.clients import (
    LOCAL_IAM_ARN,
    REQUEST_UPLOAD,
    appsync_transport,
    file_hashed_input,
    iam_appsync_transport,
    jwt_appsync_transport,
    jwt_transport_ws_transport,
    publish_file_hashed,
    request_upload,
    send_bytes,
    sigv4_graphql,
    subscription,
    token_for,
    transport_ws_transport,
)
from tests.e2e.conftest import Emulator, start_with_template
from tests.templates import TEMPLATE

ON_FILE = "subscription S($id: ID, $owner: String) { onFileHashed(id: $id, owner: $owner) { id name owner status } }"
ON_ANY = "subscription S { onFileHashed { id name owner status } }"
PROTOCOLS: dict[str, tuple[Callable[[Emulator], Any], Callable[[Emulator, str], Any]]] = {
    "appsync": (appsync_transport, jwt_appsync_transport),
    "graphql-transport-ws": (transport_ws_transport, jwt_transport_ws_transport),
}
EVENT_TIMEOUT_S = 60


def user_token(emulator: Emulator, name: str, *extra: str) -> str:
    return token_for(emulator, f"{name}-{uuid.uuid4()}", *extra)


def sub_of(token: str) -> str:
    sub: str = jwt.decode(token, options={"verify_signature": False})["sub"]
    return sub


async def upload_as(emulator: Emulator, token: str, name: str) -> str:
    """Upload a file as the token's user, waiting (as that user) until it is hashed; its id."""
    body = os.urandom(64)
    answer = httpx.post(
        emulator.graphql_url,
        json={"query": REQUEST_UPLOAD, "variables": {"input": {"name": name, "size": len(body)}}},
        headers={"Authorization": token},
        timeout=30,
    ).json()
    ticket = answer["data"]["requestUpload"]
    async with subscription(
        emulator, jwt_appsync_transport(emulator, token), ON_FILE, {"id": ticket["file"]["id"]}
    ) as own:
        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
        assert (await asyncio.wait_for(own.get(), EVENT_TIMEOUT_S))["onFileHashed"]["status"] == "HASHED"
    file_id: str = ticket["file"]["id"]
    return file_id


async def refusal(emulator: Emulator, transport: Any, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    """The error a subscription is refused with (it must be refused)."""
    with pytest.raises(TransportQueryError) as refused:
        async with subscription(emulator, transport, query, variables):
            pass
    errors = refused.value.errors
    assert errors, refused.value
    # gql hands over an AppSync `error` message's payload ({"errors": [...]}), a graphql-transport-ws one's list
    error: dict[str, Any] = errors[0]["errors"][0] if "errors" in errors[0] else errors[0]
    return error


@pytest.fixture(params=list(PROTOCOLS))
def protocol(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


async def test_b_asking_for_a_as_owner_is_unauthorized(emulator: Emulator, protocol: str) -> None:
    # GIVEN users A and B
    alice, bob = user_token(emulator, "alice"), user_token(emulator, "bob")
    # WHEN B subscribes to A's files by owner
    error = await refusal(emulator, PROTOCOLS[protocol][1](emulator, bob), ON_FILE, {"owner": sub_of(alice)})
    # THEN AppSync's Unauthorized for the field is the answer
    assert error["errorType"] == "Unauthorized"
    assert error["message"] == "Not Authorized to access onFileHashed on type Subscription"


async def test_a_user_naming_themselves_as_owner_gets_their_files(emulator: Emulator, protocol: str) -> None:
    # GIVEN A subscribed to owner: A
    alice = user_token(emulator, "alice")
    transport = PROTOCOLS[protocol][1](emulator, alice)
    async with subscription(emulator, transport, ON_FILE, {"owner": sub_of(alice)}) as events:
        # WHEN A uploads a file
        file_id = await upload_as(emulator, alice, "mine.bin")
        # THEN A gets its event
        event = (await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S))["onFileHashed"]
    assert (event["id"], event["owner"]) == (file_id, sub_of(alice))


@pytest.mark.parametrize("arguments", ["none", "owner"])
async def test_an_admin_receives_a_users_events(emulator: Emulator, protocol: str, arguments: str) -> None:
    # GIVEN a member of admins subscribed to everything, or to A's files by owner
    alice, admin = user_token(emulator, "alice"), user_token(emulator, "root", "--group", "admins")
    query, variables = (ON_ANY, None) if arguments == "none" else (ON_FILE, {"owner": sub_of(alice)})
    async with subscription(emulator, PROTOCOLS[protocol][1](emulator, admin), query, variables) as events:
        # WHEN A uploads a file
        file_id = await upload_as(emulator, alice, "watched.bin")
        # THEN the admin gets A's event (the shared emulator may publish others' files first)
        seen: list[dict[str, Any]] = []
        while file_id not in [e["id"] for e in seen]:
            seen.append((await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S))["onFileHashed"])
    assert seen[-1]["owner"] == sub_of(alice)


@pytest.mark.parametrize(("query", "variables"), [(ON_ANY, None), (ON_FILE, {"id": None})], ids=["omitted", "null"])
async def test_an_api_key_subscription_without_an_id_is_refused(
    emulator: Emulator, protocol: str, query: str, variables: dict[str, Any] | None
) -> None:
    # GIVEN / WHEN an API-key client subscribes without naming a file
    error = await refusal(emulator, PROTOCOLS[protocol][0](emulator), query, variables)
    # THEN the resolver's util.error comes back in AppSync's shape
    assert error["errorType"] == "BadRequestException"
    assert error["message"] == "A subscription with an API key must name the id of a file."


async def test_an_api_key_subscriber_with_the_id_gets_the_event(emulator: Emulator, protocol: str) -> None:
    # GIVEN an anonymous upload, and an API-key subscriber to its id
    body = os.urandom(128)
    ticket = request_upload(emulator, name="anonymous.bin", size=len(body))
    file_id = ticket["file"]["id"]
    async with subscription(emulator, PROTOCOLS[protocol][0](emulator), ON_FILE, {"id": file_id}) as events:
        # WHEN the bytes are uploaded
        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200
        # THEN the subscriber gets the file's event
        event = (await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S))["onFileHashed"]
    assert (event["id"], event["owner"], event["status"]) == (file_id, None, "HASHED")


async def test_an_api_key_subscriber_gets_no_event_of_an_owned_file(emulator: Emulator, protocol: str) -> None:
    # GIVEN an API-key subscriber to an id
    file_id = str(uuid.uuid4())
    async with subscription(emulator, PROTOCOLS[protocol][0](emulator), ON_FILE, {"id": file_id}) as events:
        # WHEN that id is published first as a signed-in user's file, then as an anonymous one
        await publish_file_hashed(emulator, file_hashed_input(file_id, name="owned", owner="someone"))
        await publish_file_hashed(emulator, file_hashed_input(file_id, name="anonymous", owner=None))
        # THEN the first event it gets is the anonymous one (one subscription's events come in order)
        event = (await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S))["onFileHashed"]
    assert (event["name"], event["owner"]) == ("anonymous", None)


# --- IAM: a principal is notified about its own files (owner = its ARN), over AppSync's protocol ------


async def test_an_iam_subscriber_gets_its_own_files_event_and_not_anothers(emulator: Emulator) -> None:
    # GIVEN an IAM subscriber with no arguments
    async with subscription(emulator, iam_appsync_transport(emulator), ON_ANY) as events:
        # WHEN a signed-in user's file and an anonymous file are published, then the caller's own upload is hashed
        await publish_file_hashed(emulator, file_hashed_input(str(uuid.uuid4()), name="users", owner="someone"))
        await publish_file_hashed(emulator, file_hashed_input(str(uuid.uuid4()), name="anonymous", owner=None))
        body = os.urandom(256)
        answer = await asyncio.to_thread(
            sigv4_graphql, emulator, REQUEST_UPLOAD, {"input": {"name": "mine.bin", "size": len(body)}}
        )
        ticket = answer["data"]["requestUpload"]
        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200

        # THEN the first event it gets is its own file's (one subscription's events come in order)
        event = (await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S))["onFileHashed"]
    assert (event["id"], event["owner"], event["status"]) == (ticket["file"]["id"], LOCAL_IAM_ARN, "HASHED")


async def test_an_iam_subscriber_asking_for_another_owner_is_unauthorized(emulator: Emulator) -> None:
    # GIVEN a signed-in user
    alice = user_token(emulator, "alice")
    # WHEN an IAM caller subscribes to that user's files by owner
    error = await refusal(emulator, iam_appsync_transport(emulator), ON_FILE, {"owner": sub_of(alice)})
    # THEN AppSync's Unauthorized for the field is the answer
    assert error["errorType"] == "Unauthorized"
    assert error["message"] == "Not Authorized to access onFileHashed on type Subscription"


# --- the emulator runs the template's code: change the code, and the rule changes ------------------

API_KEY_FILTER = "util.transform.toSubscriptionFilter({ id: { eq: id }, owner: { attributeExists: false } })"
#: admins become auditors; an API key's filter asks `in` for six values, one more than AppSync allows
CHANGED_TEMPLATE = TEMPLATE.replace("const ADMINS = 'admins';", "const ADMINS = 'auditors';").replace(
    API_KEY_FILTER, "util.transform.toSubscriptionFilter({ id: { in: [id, id, id, id, id, id] } })"
)


@pytest.fixture(scope="module")
def changed_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator running CHANGED_TEMPLATE."""
    assert TEMPLATE.count(API_KEY_FILTER) == 1 and CHANGED_TEMPLATE.count("'auditors'") == 1
    yield from start_with_template(tmp_path_factory, "changed-rule", CHANGED_TEMPLATE)


async def test_changing_the_templates_code_changes_who_receives_what(changed_emulator: Emulator, protocol: str) -> None:
    # GIVEN the changed template, A, an admin and an auditor
    emulator = changed_emulator
    alice = user_token(emulator, "alice")
    admin, auditor = (
        user_token(emulator, "root", "--group", "admins"),
        user_token(emulator, "eve", "--group", "auditors"),
    )
    _, jwt_transport = PROTOCOLS[protocol]
    # WHEN the admin asks for A's files THEN it is refused, as any user's would be
    error = await refusal(emulator, jwt_transport(emulator, admin), ON_FILE, {"owner": sub_of(alice)})
    assert error["errorType"] == "Unauthorized"
    # AND the auditor, subscribed to everything, receives A's file
    async with subscription(emulator, jwt_transport(emulator, auditor), ON_ANY) as events:
        file_id = await upload_as(emulator, alice, "audited.bin")
        event = (await asyncio.wait_for(events.get(), EVENT_TIMEOUT_S))["onFileHashed"]
    assert event["id"] == file_id


async def test_a_filter_over_appsyncs_limits_is_refused_when_subscribing(
    changed_emulator: Emulator, protocol: str
) -> None:
    # GIVEN the changed template, whose filter for an API key has six values for `in`
    # WHEN an API-key client subscribes with an id
    error = await refusal(changed_emulator, PROTOCOLS[protocol][0](changed_emulator), ON_FILE, {"id": "f1"})
    # THEN the subscription is refused with AppSync's words
    assert error["message"] == "subscription exceeds maximum value limit 5 for operator `in`."
