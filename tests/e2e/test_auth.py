"""Authentication end to end: API key, Cognito user pool JWTs and SigV4 (IAM), checked for real by the
running emulator, over HTTP and over AppSync's real-time WebSocket, with the clients users have.

Refused credentials get AppSync's request-level refusal: HTTP 401 with `UnauthorizedException` (body
and `x-amzn-ErrorType`), `connection_error` when a socket connects with them, an `error` for the id
when a `start` carries them. Valid ones are accepted in every place a client may put them. Tokens are
issued by `lambdashare token` on the emulator's data dir, or crafted with PyJWT from the data dir's key
(`idp-key.pem`, `idp.json`) to be wrong in exactly one way.
Spec: /work/shared/appsync-notes.md §1.3, §2, §3.3; https://docs.aws.amazon.com/appsync/latest/devguide/security-authz.html
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import websockets
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from gql import Client
from gql.transport.appsync_auth import (
    AppSyncApiKeyAuthentication,
    AppSyncAuthentication,
    AppSyncIAMAuthentication,
    AppSyncJWTAuthentication,
)
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.exceptions import TransportConnectionFailed, TransportServerError

from tests.clock import botocore_clock
from tests.e2e.clients import (
    LOCAL_IAM_ARN,
    ON_FILE_HASHED,
    REGION,
    REQUEST_UPLOAD,
    file_hashed_input,
    iam_credentials,
    send_bytes,
    subscriber_count,
    subscription,
)
from tests.e2e.conftest import Emulator

FILES = "query Files { files(limit: 1) { items { id } nextToken } }"
PUBLISH = "mutation P($input: FileHashedInput!) { publishFileHashed(input: $input) { id status } }"
UNAUTHORIZED = {"errorType": "UnauthorizedException", "message": "You are not authorized to make this call."}
#: A safety net against hangs, not an assertion about speed.
TIMEOUT_S = 30
_DROP = object()


# --- the emulator's identity provider and IAM credentials, read from its data dir ------------------


def pool_of(emulator: Emulator) -> dict[str, Any]:
    pool: dict[str, Any] = json.loads((emulator.data_dir / "idp.json").read_text())
    pool["issuer"] = f"https://cognito-idp.{pool['region']}.amazonaws.com/{pool['pool_id']}"
    return pool


def pool_key(emulator: Emulator) -> RSAPrivateKey:
    key = serialization.load_pem_private_key((emulator.data_dir / "idp-key.pem").read_bytes(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


def cli_token(emulator: Emulator, *args: str) -> str:
    """`lambdashare token ... --data-dir <the emulator's>`: exactly one line on stdout, nothing on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "lambdashare.cli", "token", *args, "--data-dir", str(emulator.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.count("\n") == 1 and done.stdout.endswith("\n"), repr(done.stdout)
    return done.stdout.strip()


def claims(emulator: Emulator, token_use: str = "id", user: str = "mallory", **overrides: Any) -> dict[str, Any]:
    """Cognito-shaped claims for the emulator's pool; an override of `_DROP` removes a claim."""
    pool, now = pool_of(emulator), int(time.time())
    made: dict[str, Any] = {
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{pool['issuer']}/{user}")),
        "iss": pool["issuer"],
        "token_use": token_use,
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }
    if token_use == "id":
        made.update({"aud": pool["client_id"], "cognito:username": user})
    else:
        made.update({"client_id": pool["client_id"], "username": user})
    made.update(overrides)
    return {name: value for name, value in made.items() if value is not _DROP}


def signed(emulator: Emulator, payload: dict[str, Any], key: RSAPrivateKey | None = None) -> str:
    """RS256 under the pool's kid, with the pool's key unless another is given."""
    return jwt.encode(payload, key or pool_key(emulator), algorithm="RS256", headers={"kid": pool_of(emulator)["kid"]})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}.{b64url(signature)}"


def alg_confusion(emulator: Emulator) -> str:
    """HS256 with the pool's *public* key as the HMAC secret: accepted only by a verifier trusting `alg`."""
    header, payload = {"alg": "HS256", "typ": "JWT", "kid": pool_of(emulator)["kid"]}, claims(emulator)
    public_pem = (
        pool_key(emulator)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = unsigned(header, payload).rsplit(".", 1)[0]
    return unsigned(header, payload, hmac.digest(public_pem, signing_input.encode(), "sha256"))


def _forged(emulator: Emulator) -> str:
    return signed(emulator, claims(emulator), rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _ago(seconds: int) -> int:
    return int(time.time()) - seconds


#: case -> a JWT the emulator must refuse, wrong in that one way
BAD_TOKENS: dict[str, Callable[[Emulator], str]] = {
    "forged signature": _forged,
    "alg none": lambda e: unsigned({"alg": "none", "typ": "JWT"}, claims(e)),
    "alg confusion HS256": alg_confusion,
    "expired": lambda e: signed(e, claims(e, iat=_ago(3600), exp=_ago(60))),
    "expired access token": lambda e: signed(e, claims(e, "access", iat=_ago(3600), exp=_ago(60))),
    "wrong audience": lambda e: signed(e, claims(e, aud="1example23456789")),
    "wrong client_id": lambda e: signed(e, claims(e, "access", client_id="1example23456789")),
    "wrong issuer": lambda e: signed(e, claims(e, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")),
    "wrong token_use": lambda e: signed(e, claims(e, token_use="refresh")),
    "id claims as token_use access": lambda e: signed(e, claims(e, token_use="access", client_id=_DROP)),
    "garbage": lambda e: "garbage.not-a.jwt",
}


@pytest.fixture(scope="module")
def bad_tokens(emulator: Emulator) -> dict[str, str]:
    return {case: make(emulator) for case, make in BAD_TOKENS.items()}


# --- HTTP -------------------------------------------------------------------------------------------


def post(
    emulator: Emulator, headers: dict[str, str], query: str = FILES, variables: dict[str, Any] | None = None
) -> httpx.Response:
    body = {"query": query, "variables": variables or {}}
    return httpx.post(emulator.graphql_url, json=body, headers=headers, timeout=TIMEOUT_S)


def assert_refused(response: httpx.Response, message: str | None = UNAUTHORIZED["message"]) -> None:
    """AppSync's request-level refusal: 401, UnauthorizedException in the body and in x-amzn-ErrorType."""
    assert response.status_code == 401, response.text
    assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    [error] = response.json()["errors"]
    assert error["errorType"] == "UnauthorizedException"
    if message is not None:
        assert error["message"] == message


def assert_ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def sigv4_headers(
    emulator: Emulator, body: bytes, credentials: Credentials | None = None, offset: timedelta = timedelta(0)
) -> dict[str, str]:
    request = AWSRequest(
        method="POST", url=emulator.graphql_url, data=body, headers={"content-type": "application/json"}
    )
    with botocore_clock(offset):
        SigV4Auth(credentials or iam_credentials(emulator), "appsync", REGION).add_auth(request)
    return dict(request.headers)


def post_signed(
    emulator: Emulator,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    credentials: Credentials | None = None,
    offset: timedelta = timedelta(0),
) -> httpx.Response:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    headers = sigv4_headers(emulator, body, credentials, offset)
    return httpx.post(emulator.graphql_url, content=body, headers=headers, timeout=TIMEOUT_S)


# --- WebSocket --------------------------------------------------------------------------------------


def jwt_auth(emulator: Emulator, token: str) -> AppSyncJWTAuthentication:
    return AppSyncJWTAuthentication(host=emulator.host, jwt=token)


def iam_auth(emulator: Emulator, credentials: Credentials | None = None) -> AppSyncIAMAuthentication:
    return AppSyncIAMAuthentication(
        host=emulator.host, credentials=credentials or iam_credentials(emulator), region_name=REGION
    )


def key_auth(emulator: Emulator, api_key: str | None = None) -> AppSyncApiKeyAuthentication:
    return AppSyncApiKeyAuthentication(host=emulator.host, api_key=api_key or emulator.api_key)


async def first_message(emulator: Emulator, auth: AppSyncAuthentication) -> dict[str, Any]:
    """Connect exactly as gql does (`?header=<auth's header object>&payload=e30=`) and return the server's
    first message; after a connection_error, check that the server closes."""
    async with websockets.connect(
        auth.get_auth_url(emulator.ws_url),
        subprotocols=[websockets.Subprotocol("graphql-ws")],
        open_timeout=TIMEOUT_S,
    ) as ws:
        async with asyncio.timeout(TIMEOUT_S):
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == "connection_error":
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()  # the server closes after connection_error
        return message


async def assert_socket_refused(emulator: Emulator, auth: AppSyncAuthentication) -> None:
    """Refused at connect: AppSync's connection_error then a close (raw), and gql's transport never opens."""
    assert await first_message(emulator, auth) == {
        "type": "connection_error",
        "payload": {"errors": [{**UNAUTHORIZED, "errorCode": 401}]},
    }
    subscribers = await subscriber_count(emulator)
    transport = AppSyncWebsocketsTransport(url=emulator.ws_url, auth=auth, connect_timeout=TIMEOUT_S)
    # gql meets either the connection_error or the close that follows it, whichever comes first
    with pytest.raises((TransportServerError, TransportConnectionFailed)) as refused:
        async with Client(transport=transport):
            pass  # pragma: no cover - the connection must not open
    if isinstance(refused.value, TransportServerError):
        assert "UnauthorizedException" in str(refused.value)
    assert await subscriber_count(emulator) == subscribers


async def assert_socket_accepted(emulator: Emulator, auth: AppSyncAuthentication) -> None:
    async with websockets.connect(
        auth.get_auth_url(emulator.ws_url),
        subprotocols=[websockets.Subprotocol("graphql-ws")],
        open_timeout=TIMEOUT_S,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        async with asyncio.timeout(TIMEOUT_S):
            assert json.loads(await ws.recv()) == {
                "type": "connection_ack",
                "payload": {"connectionTimeoutMs": 300000},
            }


@asynccontextmanager
async def api_key_socket(emulator: Emulator) -> AsyncIterator[websockets.ClientConnection]:
    """A raw AppSync connection authorised with the API key, acknowledged."""
    async with websockets.connect(
        key_auth(emulator).get_auth_url(emulator.ws_url),
        subprotocols=[websockets.Subprotocol("graphql-ws")],
        open_timeout=TIMEOUT_S,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await receive(ws))["type"] == "connection_ack"
        yield ws


async def receive(ws: websockets.ClientConnection) -> dict[str, Any]:
    """The next message that is not a keep-alive."""
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] != "ka":
                return message


async def start(ws: websockets.ClientConnection, subscription_id: str, authorization: dict[str, Any]) -> None:
    data = json.dumps({"query": ON_FILE_HASHED, "variables": {"id": f"file-{uuid.uuid4()}"}})
    await ws.send(
        json.dumps(
            {
                "id": subscription_id,
                "type": "start",
                "payload": {"data": data, "extensions": {"authorization": authorization}},
            }
        )
    )


# --- JWTs refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD_TOKENS))
@pytest.mark.parametrize("scheme", ["", "Bearer "], ids=["raw", "bearer"])
def test_a_bad_jwt_is_refused_over_http(emulator: Emulator, bad_tokens: dict[str, str], case: str, scheme: str) -> None:
    # GIVEN a JWT that is wrong in one way, in the Authorization header
    headers = {"Authorization": f"{scheme}{bad_tokens[case]}"}

    # WHEN it is used for a query any signed-in user may run
    response = post(emulator, headers)

    # THEN AppSync's 401 UnauthorizedException comes back (its message for a bad Cognito token varies,
    # "Valid authorization header not provided." among others: appsync-notes §2, so it is not pinned)
    assert_refused(response, message=None)


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_a_bad_jwt_is_refused_at_socket_connect(
    emulator: Emulator, bad_tokens: dict[str, str], case: str
) -> None:
    # GIVEN gql's AppSync JWT auth holding a bad token
    auth = jwt_auth(emulator, bad_tokens[case])

    # WHEN it connects  # THEN connection_error UnauthorizedException, and the connection never opens
    await assert_socket_refused(emulator, auth)


async def test_a_bad_jwt_in_a_start_is_refused_for_that_start(emulator: Emulator, bad_tokens: dict[str, str]) -> None:
    # GIVEN a connection authorised with the API key
    async with api_key_socket(emulator) as ws:
        for number, case in enumerate(BAD_TOKENS):
            # WHEN a start carries a bad JWT in extensions.authorization
            await start(ws, f"bad-{number}", jwt_auth(emulator, bad_tokens[case]).get_headers("{}"))

            # THEN that start gets an error for its id: UnauthorizedException, and no start_ack
            assert await receive(ws) == {
                "type": "error",
                "id": f"bad-{number}",
                "payload": {"errors": [UNAUTHORIZED]},
            }, case
        # AND the connection still serves a start with valid credentials
        await start(ws, "good", jwt_auth(emulator, cli_token(emulator, "--user", "alice")).get_headers("{}"))
        assert await receive(ws) == {"type": "start_ack", "id": "good"}


def test_a_token_from_another_data_dir_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    # GIVEN a valid token of another data dir's user pool (another key, pool and client)
    done = subprocess.run(
        [sys.executable, "-m", "lambdashare.cli", "token", "--user", "alice", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    # WHEN / THEN this emulator refuses it
    assert_refused(post(emulator, {"Authorization": done.stdout.strip()}))


# --- JWTs accepted --------------------------------------------------------------------------------


@pytest.mark.parametrize("token_use", ["id", "access"])
@pytest.mark.parametrize("scheme", ["", "Bearer "], ids=["raw", "bearer"])
def test_a_valid_jwt_is_accepted_over_http(emulator: Emulator, token_use: str, scheme: str) -> None:
    # GIVEN a token from `lambdashare token` (an ID token, or the access token Amplify sends)
    token = cli_token(emulator, "--user", "alice", "--token-use", token_use)

    # WHEN it is used, bare or after a Bearer scheme
    body = assert_ok(post(emulator, {"Authorization": f"{scheme}{token}"}))

    # THEN the query runs
    assert isinstance(body["data"]["files"]["items"], list)


@pytest.mark.parametrize("token_use", ["id", "access", "bearer access"])
async def test_a_valid_jwt_subscribes_and_receives_its_upload_hashed(emulator: Emulator, token_use: str) -> None:
    # GIVEN a user's token, an upload ticket requested with it, and a gql AppSync subscription with it
    token = cli_token(emulator, "--user", f"subscriber-{uuid.uuid4()}", "--token-use", token_use.split()[-1])
    authorization = f"Bearer {token}" if token_use.startswith("bearer") else token
    body = os.urandom(4096)
    response = post(
        emulator,
        {"Authorization": authorization},
        REQUEST_UPLOAD,
        {"input": {"name": "mine.bin", "size": len(body)}},
    )
    ticket = assert_ok(response)["data"]["requestUpload"]
    file_id = ticket["file"]["id"]
    transport = AppSyncWebsocketsTransport(
        url=emulator.ws_url, auth=jwt_auth(emulator, authorization), keep_alive_timeout=TIMEOUT_S
    )
    async with subscription(emulator, transport, ON_FILE_HASHED, {"id": file_id}) as events:
        # WHEN the bytes are uploaded
        assert (await asyncio.to_thread(send_bytes, ticket, body)).status_code == 200

        # THEN the subscriber receives the file's HASHED event
        event = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    assert event["id"] == file_id
    assert event["status"] == "HASHED"


@pytest.mark.parametrize("token_use", ["id", "access"])
async def test_a_valid_jwt_in_a_start_is_accepted(emulator: Emulator, token_use: str) -> None:
    # GIVEN a connection authorised with the API key
    token = cli_token(emulator, "--user", "alice", "--token-use", token_use)
    async with api_key_socket(emulator) as ws:
        # WHEN a start carries a valid JWT in extensions.authorization
        await start(ws, "1", jwt_auth(emulator, token).get_headers("{}"))

        # THEN it is acknowledged
        assert await receive(ws) == {"type": "start_ack", "id": "1"}


# --- IAM (SigV4) ----------------------------------------------------------------------------------


def test_a_valid_sigv4_request_is_accepted(emulator: Emulator) -> None:
    # GIVEN publishFileHashed (an @aws_iam field) signed with the local IAM credentials
    file_id = f"file-{uuid.uuid4()}"

    # WHEN it is posted
    body = assert_ok(post_signed(emulator, PUBLISH, {"input": file_hashed_input(file_id)}))

    # THEN it runs
    assert body["data"]["publishFileHashed"] == {"id": file_id, "status": "HASHED"}


@pytest.mark.parametrize("case", ["stale date", "date ahead", "wrong secret", "unknown access key"])
def test_a_bad_sigv4_request_is_refused_over_http(emulator: Emulator, case: str) -> None:
    # GIVEN publishFileHashed signed stale (6 min old), ahead (6 min), with a wrong secret, or an unknown key
    good = iam_credentials(emulator)
    credentials, offset = good, timedelta(0)
    if case == "stale date":
        offset = timedelta(minutes=-6)
    elif case == "date ahead":
        offset = timedelta(minutes=6)
    elif case == "wrong secret":
        credentials = Credentials(good.access_key, good.secret_key[::-1])
    else:
        credentials = Credentials("AKIAUNKNOWN000000000", good.secret_key)
    file_id = f"file-{uuid.uuid4()}"

    # WHEN it is posted
    response = post_signed(
        emulator, PUBLISH, {"input": file_hashed_input(file_id)}, credentials=credentials, offset=offset
    )

    # THEN it is refused with 401 UnauthorizedException
    assert_refused(response, message=None)
    message = response.json()["errors"][0]["message"]
    if case == "stale date":
        assert message.startswith("Signature expired: "), message
    elif case == "wrong secret":
        assert message.startswith("The request signature we calculated does not match"), message


def test_a_sigv4_request_whose_body_was_swapped_is_refused(emulator: Emulator) -> None:
    # GIVEN a request signed for one publishFileHashed, then sent with another body
    signed_body = json.dumps({"query": PUBLISH, "variables": {"input": file_hashed_input("a")}}).encode()
    other_body = json.dumps({"query": PUBLISH, "variables": {"input": file_hashed_input("b")}}).encode()
    headers = sigv4_headers(emulator, signed_body)

    # WHEN it is posted
    response = httpx.post(emulator.graphql_url, content=other_body, headers=headers, timeout=TIMEOUT_S)

    # THEN it is refused
    assert_refused(response, message=None)


@pytest.mark.parametrize("case", ["stale date", "wrong secret", "unknown access key"])
async def test_a_bad_sigv4_header_object_is_refused_at_socket_connect(emulator: Emulator, case: str) -> None:
    # GIVEN gql's AppSync IAM auth, with stale signing, a wrong secret or an unknown key
    good = iam_credentials(emulator)
    offset = timedelta(minutes=-6) if case == "stale date" else timedelta(0)
    credentials = {
        "stale date": good,
        "wrong secret": Credentials(good.access_key, good.secret_key[::-1]),
        "unknown access key": Credentials("AKIAUNKNOWN000000000", good.secret_key),
    }[case]

    # WHEN it connects
    # THEN connection_error UnauthorizedException, and gql's transport never opens
    with botocore_clock(offset):
        await assert_socket_refused(emulator, iam_auth(emulator, credentials))


async def test_a_valid_sigv4_header_object_is_accepted_at_socket_connect(emulator: Emulator) -> None:
    # GIVEN / WHEN gql's AppSync IAM auth with the local credentials connects
    # THEN the connection is acknowledged
    await assert_socket_accepted(emulator, iam_auth(emulator))


async def test_a_stale_sigv4_start_is_refused_for_that_start(emulator: Emulator) -> None:
    # GIVEN a connection authorised with the API key
    async with api_key_socket(emulator) as ws:
        # WHEN a start carries a SigV4 header object signed 6 minutes ago over its data
        data = json.dumps({"query": ON_FILE_HASHED, "variables": {"id": "x"}})
        with botocore_clock(timedelta(minutes=-6)):
            authorization = iam_auth(emulator).get_headers(data)
        await ws.send(
            json.dumps(
                {
                    "id": "stale",
                    "type": "start",
                    "payload": {"data": data, "extensions": {"authorization": authorization}},
                }
            )
        )

        # THEN that start is refused (AppSync answers a bad signature on start with BadRequestException)
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["id"] == "stale"
        [entry] = error["payload"]["errors"]
        assert entry["errorType"] == "BadRequestException"
        assert entry["message"].startswith("Signature expired: ")


# --- API key --------------------------------------------------------------------------------------


async def test_a_valid_api_key_is_accepted(emulator: Emulator) -> None:
    # GIVEN / WHEN the emulator's API key is used over HTTP and at socket connect
    # THEN both are accepted
    assert_ok(post(emulator, {"x-api-key": emulator.api_key}))
    await assert_socket_accepted(emulator, key_auth(emulator))


async def test_an_expired_api_key_is_refused(private_emulator: Emulator) -> None:
    # GIVEN an emulator whose API key expired (AWSDateTime in the past)
    private_emulator.stop()
    private_emulator.start(LAMBDASHARE_API_KEY_EXPIRES="2020-01-01T00:00:00Z")

    # WHEN the key is used over HTTP, at socket connect, and in a start on a connection opened with a JWT
    response = post(private_emulator, {"x-api-key": private_emulator.api_key})

    # THEN each is refused as AppSync refuses an expired key
    assert response.status_code == 401
    assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert response.json() == {"errors": [UNAUTHORIZED]}
    await assert_socket_refused(private_emulator, key_auth(private_emulator))
    token = cli_token(private_emulator, "--user", "alice")
    async with websockets.connect(
        jwt_auth(private_emulator, token).get_auth_url(private_emulator.ws_url),
        subprotocols=[websockets.Subprotocol("graphql-ws")],
        open_timeout=TIMEOUT_S,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await receive(ws))["type"] == "connection_ack"
        await start(ws, "1", key_auth(private_emulator).get_headers("{}"))
        assert await receive(ws) == {"type": "error", "id": "1", "payload": {"errors": [UNAUTHORIZED]}}
    # AND the other modes still work
    assert_ok(post(private_emulator, {"Authorization": token}))


async def test_an_api_key_before_its_expiry_is_accepted(private_emulator: Emulator) -> None:
    # GIVEN an emulator whose API key expires in an hour (epoch seconds, as AppSync's `expires`)
    private_emulator.stop()
    private_emulator.start(LAMBDASHARE_API_KEY_EXPIRES=str(int(time.time()) + 3600))

    # WHEN / THEN the key works over HTTP and at socket connect
    assert_ok(post(private_emulator, {"x-api-key": private_emulator.api_key}))
    await assert_socket_accepted(private_emulator, key_auth(private_emulator))


# --- per-field rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cognito", "api key"])
def test_publish_file_hashed_is_iam_only(emulator: Emulator, mode: str) -> None:
    # GIVEN publishFileHashed, an @aws_iam field, called by a signed-in user or with the API key
    headers = (
        {"Authorization": cli_token(emulator, "--user", "alice")}
        if mode == "cognito"
        else {"x-api-key": emulator.api_key}
    )
    file_id = f"file-{uuid.uuid4()}"

    # WHEN it is posted
    response = post(emulator, headers, PUBLISH, {"input": file_hashed_input(file_id)})

    # THEN AppSync's field-level Unauthorized comes back with HTTP 200, and the field is null
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == {"publishFileHashed": None}
    [error] = body["errors"]
    assert error["errorType"] == "Unauthorized"
    assert error["message"] == "Not Authorized to access publishFileHashed on type Mutation"
    assert error["path"] == ["publishFileHashed"]


# --- an IAM principal is a user of its own space ----------------------------------------------------

FILE_OWNER = "query F($id: ID!) { file(id: $id) { id owner status } }"
OWN_FILES = "query Files { files(limit: 100) { items { id owner } } }"
BY_HASH = "query H($h: String!) { filesByHash(sha256: $h) { id owner } }"


def signed_data(emulator: Emulator, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = assert_ok(post_signed(emulator, query, variables))["data"]
    return data


def test_an_iam_caller_requests_uploads_and_lists_its_own_file(emulator: Emulator) -> None:
    # GIVEN an upload requested with SigV4
    body = os.urandom(2048)
    ticket = signed_data(emulator, REQUEST_UPLOAD, {"input": {"name": "iam.bin", "size": len(body)}})["requestUpload"]
    file_id = ticket["file"]["id"]

    # WHEN its bytes are sent and hashed
    assert send_bytes(ticket, body).status_code == 200
    deadline = time.monotonic() + 60
    while (found := signed_data(emulator, FILE_OWNER, {"id": file_id})["file"])["status"] != "HASHED":
        assert time.monotonic() < deadline, found
        time.sleep(0.05)

    # THEN the file is the caller's, by its ARN, and it lists and finds it
    assert ticket["file"]["owner"] == found["owner"] == LOCAL_IAM_ARN
    listed = signed_data(emulator, OWN_FILES)["files"]["items"]
    assert {"id": file_id, "owner": LOCAL_IAM_ARN} in listed
    assert {f["owner"] for f in listed} == {LOCAL_IAM_ARN}
    sha256 = hashlib.sha256(body).hexdigest()
    assert signed_data(emulator, BY_HASH, {"h": sha256})["filesByHash"] == [{"id": file_id, "owner": LOCAL_IAM_ARN}]


@pytest.mark.parametrize("other", ["cognito user", "api key"])
def test_an_iam_caller_does_not_find_another_principals_file(emulator: Emulator, other: str) -> None:
    # GIVEN a file of a signed-in user, or of the API key's anonymous space
    headers = (
        {"Authorization": cli_token(emulator, "--user", f"owner-{uuid.uuid4()}")}
        if other == "cognito user"
        else {"x-api-key": emulator.api_key}
    )
    ticket = assert_ok(post(emulator, headers, REQUEST_UPLOAD, {"input": {"name": "theirs.bin", "size": 1}}))
    file_id = ticket["data"]["requestUpload"]["file"]["id"]

    # WHEN an IAM caller asks for it by id, lists its files, and tries to delete it
    found = signed_data(emulator, FILE_OWNER, {"id": file_id})["file"]
    listed = signed_data(emulator, OWN_FILES)["files"]["items"]
    deleted = post_signed(emulator, "mutation D($id: ID!) { deleteFile(id: $id) { id } }", {"id": file_id})

    # THEN it is not found anywhere, and it is still there for its owner
    assert found is None
    assert file_id not in [f["id"] for f in listed]
    assert deleted.status_code == 200
    assert deleted.json()["data"] == {"deleteFile": None}
    still = assert_ok(post(emulator, headers, FILE_OWNER, {"id": file_id}))["data"]["file"]
    assert still is not None and still["id"] == file_id


def test_an_iam_caller_is_not_an_admin(emulator: Emulator) -> None:
    # GIVEN / WHEN an IAM caller asks for its own stats, then for everyone's
    own = post_signed(emulator, "query { stats(days: 1) { uploads } }")
    everyone = post_signed(emulator, "query { stats(days: 1, everyone: true) { uploads } }")

    # THEN its own space's figures come back, and everyone's are Unauthorized
    assert isinstance(assert_ok(own)["data"]["stats"]["uploads"], int)
    assert everyone.status_code == 200, everyone.text
    [error] = everyone.json()["errors"]
    assert error["errorType"] == "Unauthorized"
    assert error["path"] == ["stats"]


# --- lambdashare token ----------------------------------------------------------------------------


def test_lambdashare_token_prints_a_token_the_emulator_accepts(emulator: Emulator) -> None:
    # GIVEN / WHEN `lambdashare token --user alice --group admins --ttl 1h --data-dir <the emulator's>`
    token = cli_token(emulator, "--user", "alice", "--group", "admins", "--ttl", "1h")

    # THEN it is one RS256 JWT for alice, and the emulator accepts it
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert jwt.decode(token, options={"verify_signature": False})["cognito:groups"] == ["admins"]
    assert_ok(post(emulator, {"Authorization": token}))


def test_the_published_jwks_verifies_a_token_with_pyjwkclient(emulator: Emulator) -> None:
    # GIVEN a token, and the emulator's JWKS where Cognito publishes it: <issuer>/.well-known/jwks.json
    token = cli_token(emulator, "--user", "alice")
    pool = pool_of(emulator)
    client = jwt.PyJWKClient(f"{emulator.url}/{pool['pool_id']}/.well-known/jwks.json", cache_keys=False)

    # WHEN a standard client fetches the signing key for the token's kid and verifies the token with it
    key = client.get_signing_key_from_jwt(token)
    verified = jwt.decode(token, key.key, algorithms=["RS256"], audience=pool["client_id"], issuer=pool["issuer"])

    # THEN the token verifies, and a forged one does not
    assert verified["cognito:username"] == "alice"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(_forged(emulator), key.key, algorithms=["RS256"], audience=pool["client_id"])


def test_lambdashare_token_reads_the_data_dir_from_the_environment(emulator: Emulator) -> None:
    # GIVEN LAMBDASHARE_DATA_DIR set to the emulator's data dir, and no --data-dir
    environ = {**os.environ, "LAMBDASHARE_DATA_DIR": str(emulator.data_dir)}

    # WHEN a token is asked for
    done = subprocess.run(
        [sys.executable, "-m", "lambdashare.cli", "token", "--user", "alice"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        check=False,
    )

    # THEN the emulator accepts it
    assert done.returncode == 0, done.stderr
    assert_ok(post(emulator, {"Authorization": done.stdout.strip()}))


@pytest.mark.parametrize("ttl", ["soon", "1.5h", "0", "-1h"])
def test_lambdashare_token_refuses_a_bad_ttl(emulator: Emulator, ttl: str) -> None:
    # GIVEN / WHEN a token is asked for with a --ttl that is not a positive duration
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambdashare.cli",
            "token",
            "--user",
            "alice",
            f"--ttl={ttl}",
            "--data-dir",
            str(emulator.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # THEN it exits non-zero, with the reason on stderr and nothing on stdout
    assert done.returncode != 0
    assert done.stdout == ""
    assert "--ttl" in done.stderr
