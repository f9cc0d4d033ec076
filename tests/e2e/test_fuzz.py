"""Fuzzing the running emulator: whatever a client sends, it gets an answer in AppSync's (or S3's) shape.

For every generated input: no 5xx, no hang (each request, frame or handshake is answered within
REQUEST_DEADLINE_S, a guard against hangs, not a speed test), and after each test the emulator
process is alive, `/healthz` answers and its log shows no traceback. Covered:
- `POST /graphql`: queries and mutations generated from schema.graphql (valid, and with one schema
  violation) under every auth mode; known operations with random variables and tampered nextTokens;
  garbage bodies (bytes, JSON of every shape, wrong types, huge strings, deep nesting, unicode);
  random and forged credentials;
- the AppSync real-time socket: random handshakes, random frames after a valid connection (answered
  from the protocol's catalogue, the connection stays usable), random `start` payloads;
- the `graphql-transport-ws` socket: random frames after `connection_ack`;
- presigned storage URLs: tampered query strings, paths, methods, headers and bodies.

Budget and seed: tests/fuzz_budget.py (`make fuzz` runs these with a bigger budget).
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import httpx
import pytest
from hypothesis import assume, example, given
from hypothesis import note as _note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis_graphql import Mode, from_schema, nodes
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.sync.connection import Connection
from websockets.typing import Subprotocol

from tests.e2e.clients import REQUEST_UPLOAD
from tests.e2e.conftest import Emulator, _start
from tests.fuzz_budget import REQUEST_DEADLINE_S, F, fuzz
from tests.unit.test_schema import APPSYNC_BUILTINS, SCHEMA

pytestmark = [
    pytest.mark.e2e,
    # hypothesis warns when the repr of an example is large (deep JSON, oversized frames): the failing
    # example is still shown by how it was built, e.g. `deep(1000, '[', ']', '1')`
    pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"),
]

SDL = APPSYNC_BUILTINS + SCHEMA.read_text(encoding="utf-8")
REALTIME_PATHS = ("/graphql", "/graphql/realtime")
#: What AppSync may send on its real-time socket (server -> client).
APPSYNC_SERVER_TYPES = {"connection_ack", "ka", "start_ack", "data", "error", "complete", "connection_error"}
#: What a graphql-transport-ws server may send.
TRANSPORT_WS_SERVER_TYPES = {"connection_ack", "ping", "pong", "next", "error", "complete"}
VALID_SUBSCRIPTION = "subscription S($id: ID) { onFileHashed(id: $id) { id status } }"
STATUS_FIELDS = "id name size status"


# --- the emulator under fuzz ------------------------------------------------------------------------


@dataclass
class Target:
    """The emulator the fuzz tests share (of their own: fuzzing fills its table), with its credentials."""

    emulator: Emulator
    http: httpx.Client
    user_token: str
    admin_token: str
    access_key_id: str
    secret_access_key: str
    next_token: str
    put_url: str
    put_content_type: str
    put_max_size: int
    get_url: str
    log_mark: int = 0

    def headers(self, mode: str) -> dict[str, str]:
        if mode == "API_KEY":
            return {"x-api-key": self.emulator.api_key}
        if mode == "COGNITO":
            return {"authorization": self.user_token}
        if mode == "COGNITO_ADMIN":
            return {"authorization": self.admin_token}
        raise AssertionError(mode)

    def post(self, body: bytes, headers: dict[str, str] | None = None, *, mode: str = "API_KEY") -> httpx.Response:
        """POST /graphql; `mode` IAM signs the body with SigV4 as the hasher does."""
        base = {"content-type": "application/json"}
        if headers is not None:
            sent = {**base, **headers}
        elif mode == "IAM":
            sent = self.sigv4_headers(body)
        else:
            sent = {**base, **self.headers(mode)}
        return answered(lambda: self.http.post(self.emulator.graphql_url, content=body, headers=sent))

    def sigv4_headers(self, body: bytes) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(
            method="POST",
            url=self.emulator.graphql_url,
            data=body,
            headers={"content-type": "application/json"},
        )
        credentials = Credentials(self.access_key_id, self.secret_access_key)
        SigV4Auth(credentials, "appsync", "us-east-1").add_auth(request)
        return dict(request.headers)


def note(text: str) -> None:
    """Shown with a failing example; nothing outside one."""
    if currently_in_test_context():
        _note(text)


def answered(send: Any) -> httpx.Response:
    """Run one request; a request left unanswered past the deadline is a hang, reported as such."""
    try:
        response: httpx.Response = send()
    except httpx.TimeoutException as exc:
        raise AssertionError(f"no answer within {REQUEST_DEADLINE_S} s (a hang): {exc!r}") from exc
    note(f"-> {response.status_code} {response.text[:500]!r}")
    return response


def _cli_token(emulator: Emulator, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lambdashare.cli", "token", "--data-dir", str(emulator.data_dir), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def fuzz_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from _start(tmp_path_factory, "fuzz")


@pytest.fixture(scope="module")
def target(fuzz_emulator: Emulator) -> Iterator[Target]:
    emulator = fuzz_emulator
    stored = json.loads((emulator.data_dir / "emulator.json").read_text())
    # a connection per request: after a failed one the server may close its connection, and the next request
    # must not fail for having reused it
    user_token = _cli_token(emulator, "--user", "fuzzer")
    with httpx.Client(timeout=REQUEST_DEADLINE_S, limits=httpx.Limits(max_keepalive_connections=0)) as http:

        def data(query: str, variables: dict[str, Any], auth: str = "x-api-key") -> dict[str, Any]:
            response = http.post(
                emulator.graphql_url,
                json={"query": query, "variables": variables},
                headers={auth: emulator.api_key if auth == "x-api-key" else user_token},
            )
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            result: dict[str, Any] = response.json()["data"]
            return result

        # a stored object, and a user's listing long enough for a nextToken (the API key lists nothing)
        content_type = "application/octet-stream"
        upload = {"name": "fuzz.bin", "size": 16, "contentType": content_type}
        ticket = data(REQUEST_UPLOAD, {"input": upload})["requestUpload"]
        headers = json.loads(ticket["headers"] or "{}")
        put = http.put(ticket["url"], content=b"0123456789abcdef", headers=headers)
        assert put.status_code == 200, put.text
        for _ in range(2):
            data(REQUEST_UPLOAD, {"input": {"name": "more.bin", "size": 1}}, auth="authorization")
        page = data("query { files(limit: 1) { items { id } nextToken } }", {}, auth="authorization")["files"]
        assert page["nextToken"], page
        view = "query F($id: ID!) { file(id: $id) { status downloadUrl } }"
        deadline = time.monotonic() + 60
        while (found := data(view, {"id": ticket["file"]["id"]})["file"])["downloadUrl"] is None:
            assert time.monotonic() < deadline, found
            time.sleep(0.05)
        yield Target(
            emulator=emulator,
            http=http,
            user_token=user_token,
            admin_token=_cli_token(emulator, "--user", "fuzz-admin", "--group", "admins"),
            access_key_id=stored["access_key_id"],
            secret_access_key=stored["secret_access_key"],
            next_token=page["nextToken"],
            put_url=ticket["url"],
            put_content_type=content_type,
            put_max_size=16,
            get_url=found["downloadUrl"],
        )


FAILURE_MARKERS = (
    "Traceback (most recent call last)",
    " ERROR ",
    "Exception in ASGI application",
    "never awaited",
)
#: Known noise, not a failure (see the fuzz report): with graphql-core 3.2, when a mutation's root field fails
#: with a non-null error, the coroutines of the root fields after it are created but never awaited; Python
#: warns about them when the garbage collector frees them, i.e. at some later, unrelated request. The
#: answer itself is right (`data: null` and the error) and the later mutations do not run.
ABANDONED_ROOT_FIELDS = (
    "ExecutionContext.execute_field.<locals>.await_result",
    "GraphQLCoreConverter.from_resolver.<locals>._async_resolver",
)


def log_failures(log: str) -> list[str]:
    """The lines of a log that show a failure: a traceback, an ERROR line, a coroutine never awaited."""
    lines = log.splitlines()
    failures = []
    for index, line in enumerate(lines):
        if not any(marker in line for marker in FAILURE_MARKERS):
            continue
        context = line if "never awaited" in line else lines[index - 1] if index else ""
        if any(name in context for name in ABANDONED_ROOT_FIELDS) and (
            "never awaited" in line or context.startswith("Exception ignored in: <coroutine object")
        ):
            continue
        failures.append(line)
    return failures


def new_log_failures(target: Target) -> None:
    """Fail on what the emulator logged since the last check: a traceback, an ERROR line.

    A `/healthz` round trip first: uvicorn logs a request's exception before it serves the next one."""
    emulator = target.emulator
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"{emulator.url}/healthz", timeout=REQUEST_DEADLINE_S)
    new = read_log(emulator, target.log_mark)
    target.log_mark += len(new)
    text = new.decode(errors="replace")
    assert not log_failures(text), f"the emulator logged a failure:\n{text[-20000:]}"


def read_log(emulator: Emulator, offset: int) -> bytes:
    assert emulator.log_path is not None
    with open(emulator.log_path, "rb") as log:
        log.seek(offset)
        return log.read()


def begin(target: Target) -> None:
    """An example starts: what the emulator logged before it (already judged) is not its doing."""
    assert target.emulator.log_path is not None
    target.log_mark = target.emulator.log_path.stat().st_size


@contextmanager
def survives(target: Target) -> Iterator[None]:
    """Around a whole fuzz test: afterwards the process is alive, /healthz answers, the log is clean."""
    emulator = target.emulator
    begin(target)
    test_start = target.log_mark
    yield
    alive = emulator.process is not None and emulator.process.poll() is None
    assert alive, f"the emulator died:\n{emulator.logs()}"
    health = answered(lambda: httpx.get(f"{emulator.url}/healthz", timeout=REQUEST_DEADLINE_S))
    assert health.status_code == 200, health.text
    target.log_mark = test_start
    new_log_failures(target)


def always_trying(argument: str, values: Iterable[Any], **others: Any) -> Callable[[F], F]:
    """Explicit examples, tried whatever the budget: `argument` set to each of `values` (`others` fixed)."""

    def decorate(test: F) -> F:
        for value in reversed(list(values)):
            test = example(**{argument: value}, **others)(test)
        return test

    return decorate


#: Bodies that a parser or a framework often gets wrong.
EDGE_BODIES = [
    b"",
    b" ",
    b"{}",
    b"null",
    b"[]",
    b'""',
    b"0",
    b"\xff\xfe",
    b'{"query":"{ __typename }"',
    b'{"query":""}',
    b'{"query":null}',
    b'{"query":" "}',
    b'{"query":"\\ud800"}',
    b'{"query":"{ __typename }","variables":[]}',
    b'{"query":"{ __typename }","variables":"x"}',
    b'{"query":"{ __typename }","variables":0}',
    b'{"query":"{ __typename }","operationName":0}',
    b'{"query":"{ __typename }","operationName":{}}',
    b'{"query":"{ __typename }","operationName":"Nope"}',
    b'{"query":"{ __typename }","variables":null,"operationName":null}',
    b'{"query":"query A { __typename } query B { __typename }"}',
    b'{"query":"subscription { onFileHashed { id } }"}',
]
#: Frames that a protocol handler often gets wrong (for both WebSocket protocols).
EDGE_FRAMES = [
    "",
    " ",
    "null",
    "[]",
    "0",
    '"start"',
    "{}",
    '{"type": null}',
    '{"type": 0}',
    '{"type": ["start"]}',
    '{"type": "\\ud800"}',
    '{"type": "start"}',
    '{"type": "start", "id": "x"}',
    '{"type": "start", "id": "x", "payload": null}',
    '{"type": "start", "id": "x", "payload": {"data": null}}',
    '{"type": "stop"}',
    '{"type": "stop", "id": {}}',
    '{"type": "subscribe", "id": "1"}',
    '{"type": "subscribe", "id": "1", "payload": null}',
    '{"type": "subscribe", "id": "1", "payload": {}}',
    '{"type": "connection_init", "payload": null}',
    '{"type": "connection_init", "payload": []}',
    '{"type": "ping", "payload": []}',
    '{"type": "complete", "id": null}',
    '{"type": "complete", "id": []}',
    '{"type": "subscribe", "id": {}, "payload": {"query": "{ __typename }"}}',
    '{"id": "\\ud800", "type": "stop"}',
]


_SUBSCRIBE = json.dumps({"query": VALID_SUBSCRIPTION})
#: `start` payloads that a handler often gets wrong. In the last ones `data` holds a raw lone surrogate (the
#: frame carries it as a "\\ud800" escape): valid JSON, but text no UTF-8 encoder takes.
EDGE_START_PAYLOADS: list[Any] = [
    None,
    [],
    {},
    {"data": None},
    {"data": ""},
    {"data": "{}"},
    {"data": '{"query": null}'},
    {"data": '{"query": ""}'},
    {"data": '{"query": "subscription { onFileHashed { id } }", "variables": []}'},
    {"data": _SUBSCRIBE, "extensions": None},
    {"data": _SUBSCRIBE, "extensions": {"authorization": None}},
    {"data": _SUBSCRIBE, "extensions": {"authorization": {}}},
    {"data": _SUBSCRIBE, "extensions": {"authorization": {"x-api-key": "\ud800"}}},
    {"data": _SUBSCRIBE, "extensions": {"authorization": {"Authorization": "\ud800"}}},
    {"data": '{"query": "\ud800"}'},
    {"data": '{"query": "", "variables": {"\ud800": null}}', "extensions": {"authorization": {}}},
]


# --- values -----------------------------------------------------------------------------------------

#: Any code point, lone surrogates included (JSON can carry them escaped).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
SHORT_TEXT = st.one_of(st.text(max_size=20), ANY_TEXT, st.sampled_from(["", " ", "null", "\x00", "\ud800", "é", "🙂"]))
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    SHORT_TEXT,  # floats: NaN and ±Infinity too
    st.sampled_from([0, -1, 2**31, 2**53 + 1, 10**30, -0.0, 1e308]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(SHORT_TEXT, inner, max_size=4)),
    max_leaves=12,
)


def dumps(value: Any, *, ascii_only: bool = True) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


def deep(depth: int, opening: str, closing: str, inner: str = "1") -> str:
    return opening * depth + inner + closing * depth


DEPTHS = st.one_of(st.sampled_from([64, 1_000, 10_000, 100_000]), st.integers(1, 200_000))
NESTINGS = st.sampled_from([("[", "]", "1"), ('{"a":', "}", "1"), ('{"query":', "}", '"{ __typename }"')])
DEEP_JSON = st.builds(lambda depth, nest: deep(depth, *nest), DEPTHS, NESTINGS)
#: `lambdashare serve` takes WebSocket messages up to this size (uvicorn's ws_max_size), and closes with 1009
#: (message too big) on a larger one.
WS_MAX_MESSAGE = 256 * 1024
#: Deeply nested JSON that still fits in one WebSocket message.
FRAME_DEPTHS = st.one_of(st.sampled_from([64, 1_000, 10_000, 15_000]), st.integers(1, 15_000))
DEEP_JSON_FRAMES = st.builds(lambda depth, nest: deep(depth, *nest), FRAME_DEPTHS, NESTINGS)
#: Any text a text frame can carry (UTF-8: no lone surrogates).
FRAME_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)


def oversized_frame(size: int) -> str:
    return "x" * size


OVERSIZED_FRAMES = st.builds(oversized_frame, st.integers(WS_MAX_MESSAGE + 1, 2 * WS_MAX_MESSAGE))


def _datetime(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


HEX_64 = st.text("0123456789abcdef", min_size=64, max_size=64)
AWS_DATETIMES = st.one_of(st.datetimes(timezones=st.just(UTC)).map(_datetime), SHORT_TEXT)
CUSTOM_SCALARS = {
    "AWSDateTime": AWS_DATETIMES.map(nodes.String),
    "AWSDate": st.one_of(st.dates().map(str), SHORT_TEXT).map(nodes.String),
    "AWSTime": st.one_of(st.times().map(str), SHORT_TEXT).map(nodes.String),
    "AWSTimestamp": st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
    "AWSEmail": st.one_of(st.emails(), SHORT_TEXT).map(nodes.String),
    "AWSJSON": st.one_of(JSON_VALUES.map(dumps), SHORT_TEXT).map(nodes.String),
    "AWSURL": st.one_of(st.just("https://example.com/x"), SHORT_TEXT).map(nodes.String),
    "AWSPhone": st.one_of(st.just("+15555550100"), SHORT_TEXT).map(nodes.String),
    "AWSIPAddress": st.one_of(st.just("127.0.0.1"), SHORT_TEXT).map(nodes.String),
}
VALID_OPERATIONS = from_schema(SDL, custom_scalars=CUSTOM_SCALARS)
INVALID_OPERATIONS = from_schema(SDL, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE)

FILE_SELECTIONS = st.lists(
    st.sampled_from(
        [
            "id",
            "name",
            "size",
            "contentType",
            "owner",
            "status",
            "error",
            "createdAt",
            "uploadedAt",
            "hashedAt",
            "downloadUrl",
            "hashes { md5 sha1 sha256 sha512 }",
            "__typename",
        ]
    ),
    min_size=1,
    max_size=6,
).map(" ".join)
SUBSCRIPTION_ARGUMENTS = st.lists(
    st.tuples(
        st.sampled_from(["id", "owner"]),
        st.one_of(SHORT_TEXT.map(dumps), st.just("null"), st.sampled_from(["$id", "$owner"])),
    ),
    max_size=2,
    unique_by=lambda pair: pair[0],
).map(lambda pairs: f"({', '.join(f'{k}: {v}' for k, v in pairs)})" if pairs else "")
SUBSCRIPTIONS = st.builds(
    lambda args, fields: f"subscription S($id: ID, $owner: String) {{ onFileHashed{args} {{ {fields} }} }}",
    SUBSCRIPTION_ARGUMENTS,
    FILE_SELECTIONS,
)
QUERY_TEXTS = st.one_of(
    VALID_OPERATIONS,
    INVALID_OPERATIONS,
    SUBSCRIPTIONS,
    SHORT_TEXT,
    st.builds(lambda d: deep(d, "{ a ", "}", "b"), st.integers(1, 3000)),
)


# --- checks on what comes back -----------------------------------------------------------------------


def check_graphql_response(response: httpx.Response, allowed: set[int]) -> dict[str, Any]:
    """AppSync's HTTP shapes: 200 with data and/or errors[], or a 4xx with errors[0].errorType."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:2000]}"
    assert response.status_code in allowed, f"{response.status_code}: {response.text[:2000]}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    if response.status_code == 200:
        assert body.keys() & {"data", "errors"} and body.keys() <= {"data", "errors"}, body
        assert body.get("data") is None or isinstance(body["data"], dict), body
        for error in body.get("errors") or []:
            assert isinstance(error, dict) and isinstance(error.get("message"), str), body
            # an exception no resolver expected: the emulator logs it and answers InternalFailure
            assert error.get("errorType") != "InternalFailure", body
    else:
        [error] = body["errors"]
        assert isinstance(error["errorType"], str) and isinstance(error["message"], str), body
        assert response.headers.get("x-amzn-errortype") == error["errorType"], response.headers
    return body


def request_body(query: str, variables: Any = None, operation_name: Any = None) -> bytes:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    if operation_name is not None:
        payload["operationName"] = operation_name
    return dumps(payload).encode()


# --- POST /graphql: operations from the schema -----------------------------------------------------

AUTH_MODES = st.sampled_from(["API_KEY", "COGNITO", "COGNITO_ADMIN", "IAM"])


def test_operations_generated_from_the_schema(target: Target) -> None:
    @fuzz(60)
    @given(query=st.one_of(VALID_OPERATIONS, INVALID_OPERATIONS), mode=AUTH_MODES)
    def run(query: str, mode: str) -> None:
        begin(target)
        # GIVEN an operation built from schema.graphql (valid, or with one violation) and valid credentials
        # WHEN it is posted
        response = target.post(request_body(query), mode=mode)
        # THEN AppSync's 200 shape, and no resolver failed unexpectedly
        check_graphql_response(response, {200})
        new_log_failures(target)

    with survives(target):
        run()


def _tampered_token(target: Target) -> st.SearchStrategy[str]:
    token = target.next_token
    return st.one_of(
        st.just(token),
        st.builds(lambda i, c: token[:i] + c + token[i + 1 :], st.integers(0, len(token) - 1), SHORT_TEXT),
        st.integers(0, len(token)).map(lambda i: token[:i]),
        SHORT_TEXT.map(lambda extra: token + extra),
        st.binary(max_size=64).map(lambda raw: base64.b64encode(raw).decode()),
        JSON_VALUES.map(lambda value: base64.urlsafe_b64encode(dumps(value).encode()).decode()),
    )


def test_known_operations_with_random_variables(target: Target) -> None:
    numbers = st.one_of(st.integers(), st.floats(), st.sampled_from([0, 1, 100, 101, -1, 2**31, 2**63, 1e308]))
    anything = JSON_VALUES
    upload_input = st.fixed_dictionaries(
        {"name": st.one_of(SHORT_TEXT, anything), "size": st.one_of(numbers, anything)},
        optional={
            "contentType": st.one_of(SHORT_TEXT, anything),
            "sha256": st.one_of(SHORT_TEXT, anything),
            "partSize": st.one_of(numbers, anything),
            "extra": anything,
        },
    )
    hashed_input = st.fixed_dictionaries(
        {
            "id": SHORT_TEXT,
            "name": SHORT_TEXT,
            "size": numbers,
            "createdAt": AWS_DATETIMES,
            "status": st.one_of(st.sampled_from(["PENDING", "HASHING", "HASHED", "FAILED"]), SHORT_TEXT),
        },
        optional={"owner": SHORT_TEXT, "error": SHORT_TEXT, "hashedAt": AWS_DATETIMES, "hashes": anything},
    )
    operations = {
        "file": (
            "query Q($id: ID!) { file(id: $id) { " + STATUS_FIELDS + " downloadUrl } }",
            st.fixed_dictionaries({"id": st.one_of(SHORT_TEXT, anything)}),
        ),
        "files": (
            "query Q($limit: Int, $nextToken: String) { files(limit: $limit, nextToken: $nextToken) "
            "{ items { id } nextToken } }",
            st.fixed_dictionaries(
                {},
                optional={
                    "limit": st.one_of(numbers, anything),
                    "nextToken": st.one_of(_tampered_token(target), anything),
                },
            ),
        ),
        "filesByHash": (
            "query Q($h: String!) { filesByHash(sha256: $h) { id } }",
            st.fixed_dictionaries({"h": st.one_of(SHORT_TEXT, HEX_64, anything)}),
        ),
        "requestUpload": (
            REQUEST_UPLOAD,
            st.fixed_dictionaries({"input": st.one_of(upload_input, anything)}),
        ),
        "deleteFile": (
            "mutation D($id: ID!) { deleteFile(id: $id) { id status } }",
            st.fixed_dictionaries({"id": st.one_of(SHORT_TEXT, anything)}),
        ),
        "publishFileHashed": (
            "mutation P($input: FileHashedInput!) { publishFileHashed(input: $input) "
            "{ " + STATUS_FIELDS + " hashes { sha256 } } }",
            st.fixed_dictionaries({"input": st.one_of(hashed_input, anything)}),
        ),
    }
    name = st.sampled_from(sorted(operations))
    chosen = name.flatmap(lambda n: st.tuples(st.just(operations[n][0]), operations[n][1] | anything))

    @fuzz(80)
    @given(operation=chosen, operation_name=st.one_of(st.none(), st.just("Q"), anything), mode=AUTH_MODES)
    def run(operation: tuple[str, Any], operation_name: Any, mode: str) -> None:
        begin(target)
        # GIVEN a known operation with random variables (right-shaped or not) and valid credentials
        query, variables = operation
        # WHEN it is posted
        response = target.post(request_body(query, variables, operation_name), mode=mode)
        # THEN 200 with errors, or 400 for a body AppSync cannot use, never anything else
        check_graphql_response(response, {200, 400})
        new_log_failures(target)

    with survives(target):
        run()


# --- POST /graphql: garbage ------------------------------------------------------------------------

REQUEST_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(QUERY_TEXTS, JSON_VALUES),
        "variables": JSON_VALUES,
        "operationName": JSON_VALUES,
        "extensions": JSON_VALUES,
    },
)


def huge_query(size: int, char: str) -> bytes:
    """A request whose query is `size` times `char` (5 MiB is AppSync's limit on the body)."""
    return dumps({"query": char * size}, ascii_only=False).encode()


def deep_variables(nested: str) -> bytes:
    return f'{{"query": "{{ __typename }}", "variables": {{"v": {nested}}}}}'.encode()


def long_number(digits: int) -> bytes:
    """A number longer than Python's int parser takes (4300 digits)."""
    return f'{{"query": "{{ __typename }}", "x": {"9" * digits}}}'.encode()


def encoded(fields: dict[str, Any], codec: str) -> bytes:
    """JSON in another encoding, lone surrogates and all (UTF-8 with them is not valid UTF-8)."""
    return dumps(fields, ascii_only=codec != "utf-8").encode(codec, "surrogatepass")


GARBAGE_BODIES = st.one_of(
    st.binary(max_size=2_000),
    JSON_VALUES.map(dumps).map(str.encode),
    REQUEST_FIELDS.map(dumps).map(str.encode),
    st.builds(encoded, REQUEST_FIELDS, st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig"])),
    st.builds(
        huge_query,
        st.sampled_from([1_000, 100_000, 1_000_000, 5 * 1024 * 1024 - 20, 5 * 1024 * 1024 + 1]),
        st.sampled_from(["{", "a", " ", "é", "☃", "#"]),
    ),
    DEEP_JSON.map(str.encode),
    st.builds(deep_variables, DEEP_JSON),
    st.builds(long_number, st.integers(4_000, 20_000)),
)


def test_garbage_bodies(target: Target) -> None:
    @fuzz(100)
    @given(
        body=GARBAGE_BODIES,
        content_type=st.sampled_from(
            ["application/json", "text/plain", "application/graphql", "multipart/form-data; boundary=x", ""]
        ),
    )
    @always_trying("body", EDGE_BODIES, content_type="application/json")
    def run(body: bytes, content_type: str) -> None:
        begin(target)
        # GIVEN any body at all, with the right API key
        note(f"body ({len(body)} bytes): {body[:300]!r}")
        # WHEN it is posted
        response = target.post(body, {"x-api-key": target.emulator.api_key, "content-type": content_type})
        # THEN a GraphQL answer, or AppSync's refusal of the body: never a 5xx, never a 401
        check_graphql_response(response, {200, 400, 413})
        new_log_failures(target)

    with survives(target):
        run()


# --- POST /graphql: credentials --------------------------------------------------------------------

HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=120
).map(str.strip)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt_like(target: Target) -> st.SearchStrategy[str]:
    real_header, real_claims, real_signature = target.user_token.split(".")
    header = st.one_of(
        st.just(real_header),
        st.fixed_dictionaries(
            {"alg": st.sampled_from(["none", "HS256", "RS256", "ES256", ""]) | SHORT_TEXT},
            optional={"kid": SHORT_TEXT, "typ": SHORT_TEXT},
        ).map(lambda value: _b64url(dumps(value).encode())),
        JSON_VALUES.map(lambda value: _b64url(dumps(value).encode())),
    )
    claims = st.one_of(
        st.just(real_claims),
        st.fixed_dictionaries(
            {},
            optional={
                "sub": JSON_VALUES,
                "iss": JSON_VALUES,
                "exp": JSON_VALUES,
                "token_use": st.sampled_from(["id", "access"]),
                "aud": JSON_VALUES,
                "client_id": JSON_VALUES,
                "cognito:groups": JSON_VALUES,
            },
        ).map(lambda value: _b64url(dumps(value).encode())),
        HEADER_TEXT,
    )
    signature = st.one_of(st.just(real_signature), st.just(""), st.binary(max_size=300).map(_b64url), HEADER_TEXT)
    return st.builds(lambda h, c, s, n: ".".join([h, c, s][:n]), header, claims, signature, st.integers(1, 4))


def _sigv4_like(target: Target) -> st.SearchStrategy[dict[str, str]]:
    now = datetime.now(UTC)
    dates = st.one_of(
        st.integers(-600, 600).map(lambda s: (now + timedelta(seconds=s)).strftime("%Y%m%dT%H%M%SZ")),
        HEADER_TEXT,
    )
    signed_names = st.lists(
        st.one_of(
            st.sampled_from(["host", "x-amz-date", "content-type", "x-api-key", "content-length"]),
            st.from_regex(r"[!-+\--:<-~]{0,12}", fullmatch=True),
        ),
        max_size=5,
    ).map(";".join)

    def build(
        key: str,
        date: str,
        scope_date: str | None,
        region: str,
        service: str,
        names: str,
        signature: str,
        garbage: str,
    ) -> dict[str, str]:
        credential = f"{key}/{scope_date or date[:8]}/{region}/{service}/aws4_request"
        authorization = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={names}, Signature={signature}"
        return {"authorization": authorization + garbage, "x-amz-date": date}

    return st.builds(
        build,
        st.one_of(st.just(target.access_key_id), HEADER_TEXT),
        dates,
        st.one_of(st.none(), HEADER_TEXT),
        st.sampled_from(["us-east-1", "eu-west-1", ""]),
        st.sampled_from(["appsync", "s3", ""]),
        signed_names,
        HEX_64,
        st.one_of(st.just(""), HEADER_TEXT),
    )


def test_random_and_forged_credentials(target: Target) -> None:
    key = target.emulator.api_key
    api_keys = st.one_of(
        HEADER_TEXT,
        st.just(key.upper()),
        st.just(key + " "),
        st.just(key[:-1]),
        st.just(" " + key),
        HEADER_TEXT.map(lambda extra: key + extra),
    )
    header_sets = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "x-api-key": api_keys,
                "authorization": HEADER_TEXT,
                "x-amz-date": HEADER_TEXT,
                "x-amz-security-token": HEADER_TEXT,
            },
        ),
        st.fixed_dictionaries({"authorization": _jwt_like(target)}, optional={"x-api-key": api_keys}),
        st.fixed_dictionaries({"authorization": _jwt_like(target).map(lambda t: "Bearer " + t)}),
        _sigv4_like(target),
    )

    @fuzz(100)
    @given(
        headers=header_sets,
        query=st.sampled_from(["query { files(limit: 1) { nextToken } }", "{ __typename }"]),
    )
    def run(headers: dict[str, str], query: str) -> None:
        begin(target)
        # GIVEN credentials that are random, almost right, or forged
        sent = {name.encode(): value.strip().encode("latin-1") for name, value in headers.items()}
        # WHEN a query is posted with them
        response = answered(
            lambda: target.http.post(target.emulator.graphql_url, content=request_body(query), headers=sent)
        )
        # THEN 401 UnauthorizedException (or, when they happen to be valid, 200): never anything else
        body = check_graphql_response(response, {200, 401})
        if response.status_code == 401:
            assert body["errors"][0]["errorType"] == "UnauthorizedException", body
        new_log_failures(target)

    with survives(target):
        run()


# --- the AppSync real-time socket ------------------------------------------------------------------


def _b64(value: Any) -> str:
    return base64.b64encode(dumps(value).encode()).decode()


def appsync_connect(
    target: Target,
    *,
    path: str = "/graphql",
    query: str | None = None,
    subprotocols: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Connection:
    """A connection authorised as gql does it (`?header=…&payload=e30=`), unless told otherwise."""
    if query is None:
        header = {"host": target.emulator.host, "x-api-key": target.emulator.api_key}
        query = f"?header={_b64(header)}&payload=e30="
    offered = ["graphql-ws"] if subprotocols is None else subprotocols
    return connect(
        f"ws://{target.emulator.host}{path}{query}",
        subprotocols=[Subprotocol(p) for p in offered] or None,  # an empty list would send an empty header
        additional_headers=headers or {},
        open_timeout=REQUEST_DEADLINE_S,
        close_timeout=REQUEST_DEADLINE_S,
        max_size=None,
    )


def receive(ws: Connection) -> Any:
    try:
        raw = ws.recv(timeout=REQUEST_DEADLINE_S)
    except TimeoutError as exc:
        raise AssertionError(f"no message within {REQUEST_DEADLINE_S} s (a hang)") from exc
    assert isinstance(raw, str), f"binary frame from the server: {raw!r}"
    message = json.loads(raw)
    note(f"<- {message}")
    return message


def check_appsync_message(message: Any) -> dict[str, Any]:
    """A message from AppSync's catalogue, in its shape."""
    assert isinstance(message, dict), message
    assert message.get("type") in APPSYNC_SERVER_TYPES, message
    assert set(message) <= {"type", "id", "payload"}, message
    kind = message["type"]
    if kind in ("start_ack", "complete", "data"):
        assert isinstance(message.get("id"), str), message
    if kind in ("error", "connection_error"):
        errors = message["payload"]["errors"]
        assert isinstance(errors, list) and errors, message
        for error in errors:
            assert isinstance(error, dict) and isinstance(error.get("message"), str), message
    if kind == "connection_ack":
        assert isinstance(message["payload"]["connectionTimeoutMs"], int), message
    return message


def appsync_until(ws: Connection, predicate: Any) -> list[dict[str, Any]]:
    """Messages up to and including the first that `predicate` accepts, each checked; `ka` skipped."""
    received = []
    while True:
        message = check_appsync_message(receive(ws))
        if message["type"] == "ka":
            continue
        received.append(message)
        assert message["type"] != "connection_error", message
        if predicate(message):
            return received


def still_usable(ws: Connection) -> list[dict[str, Any]]:
    """A fresh subscription starts and stops on the connection: it survived whatever came before."""
    sentinel = f"sentinel-{uuid.uuid4()}"
    ws.send(
        dumps(
            {
                "id": sentinel,
                "type": "start",
                "payload": {"data": dumps({"query": VALID_SUBSCRIPTION, "variables": {"id": sentinel}})},
            }
        )
    )
    before = appsync_until(ws, lambda m: m.get("id") == sentinel)
    assert before[-1] == {"type": "start_ack", "id": sentinel}, before[-1]
    ws.send(dumps({"id": sentinel, "type": "stop"}))
    after = appsync_until(ws, lambda m: m.get("id") == sentinel)
    assert after[-1] == {"type": "complete", "id": sentinel}, after[-1]
    return before + after


def auth_objects(target: Target) -> st.SearchStrategy[Any]:
    """What a `start` may carry in extensions.authorization, a connection in its header object, or
    graphql-transport-ws in its connection_init payload: JSON, so any code point, lone surrogates included."""
    key = target.emulator.api_key
    nasty = st.sampled_from(["\ud800", key + "\udfff", "Bearer \ud800", "", "\x00", "é"])
    credentials = st.one_of(
        st.builds(lambda value: {"x-api-key": value}, st.one_of(nasty, st.just(key), SHORT_TEXT)),
        st.builds(
            lambda value: {"Authorization": value},
            st.one_of(nasty, st.just(target.user_token), _jwt_like(target), SHORT_TEXT),
        ),
    )
    extras = st.fixed_dictionaries(
        {},
        optional={
            "host": st.one_of(st.just(target.emulator.host), nasty, SHORT_TEXT),
            "x-amz-date": SHORT_TEXT,
        },
    )
    return st.one_of(
        st.builds(lambda credential, extra: {**extra, **credential}, credentials, extras),
        JSON_VALUES,
        _sigv4_like(target),
    )


def start_payloads(target: Target) -> st.SearchStrategy[Any]:
    requests = st.fixed_dictionaries(
        {"query": st.one_of(SUBSCRIPTIONS, QUERY_TEXTS, JSON_VALUES)},
        optional={
            "variables": st.one_of(
                JSON_VALUES, st.fixed_dictionaries({}, optional={"id": JSON_VALUES, "owner": JSON_VALUES})
            ),
            "operationName": JSON_VALUES,
        },
    )
    data = st.one_of(
        st.builds(dumps, requests, ascii_only=st.booleans()),  # raw (unescaped) unicode inside the string too
        SHORT_TEXT,
        JSON_VALUES,
        DEEP_JSON_FRAMES,
    )
    return st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"data": data},
            optional={
                "extensions": st.one_of(JSON_VALUES, st.fixed_dictionaries({"authorization": auth_objects(target)}))
            },
        ),
    )


def appsync_frames(target: Target) -> st.SearchStrategy[str | bytes]:
    types = st.one_of(
        st.sampled_from(
            [
                "connection_init",
                "start",
                "stop",
                "ka",
                "data",
                "complete",
                "connection_ack",
                "error",
                "start_ack",
                "subscribe",
                "ping",
                "pong",
                "connection_terminate",
                "CONNECTION_INIT",
            ]
        ),
        SHORT_TEXT,
        JSON_VALUES,
    )
    messages = st.fixed_dictionaries(
        {"type": types},
        optional={
            "id": st.one_of(SHORT_TEXT, JSON_VALUES),
            "payload": st.one_of(JSON_VALUES, start_payloads(target)),
        },
    )
    return st.one_of(
        messages.map(dumps),
        st.text(max_size=200),
        FRAME_TEXT,
        st.binary(max_size=200),
        JSON_VALUES.map(dumps),
        DEEP_JSON_FRAMES,
        OVERSIZED_FRAMES,
    )


def is_oversized(frame: str | bytes) -> bool:
    return len(frame.encode() if isinstance(frame, str) else frame) > WS_MAX_MESSAGE


def send_frames(
    ws: Connection, frames: list[str | bytes], still_open: Callable[[], object], too_big_sent: list[bool]
) -> None:
    """Send the frames. At one larger than the server takes, check that the connection survived the ones
    before, send it (noting that in `too_big_sent`), and wait for the server to close (a ConnectionClosed,
    for `closed_with`)."""
    for frame in frames:
        note(f"-> {frame[:300]!r}")
        if is_oversized(frame):
            still_open()
            too_big_sent.append(True)
            ws.send(frame)
            deadline = time.monotonic() + REQUEST_DEADLINE_S
            while time.monotonic() < deadline:
                receive(ws)
            raise AssertionError(f"the server took a message larger than {WS_MAX_MESSAGE} bytes")
        ws.send(frame)


def refused_as_too_big(code: int | None) -> bool:
    """1009 (message too big); or no close frame: the server closes while the client is still sending the
    message, and the client's TCP stack may drop the close frame it had received."""
    return code in (1009, NO_CLOSE_FRAME)


#: RFC 6455's code for a connection that ended without a close frame (the server's handler died).
NO_CLOSE_FRAME = 1006


def closed_with(interaction: Callable[[], object]) -> int | None:
    """Run the interaction: None if the connection stayed open, else the code the server closed it with."""
    try:
        interaction()
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else NO_CLOSE_FRAME
        note(f"closed by the server with {code}")
        return code
    return None


def test_random_frames_on_the_appsync_socket(target: Target) -> None:
    @fuzz(30)
    @given(frames=st.lists(appsync_frames(target), min_size=1, max_size=6), path=st.sampled_from(REALTIME_PATHS))
    @always_trying("frames", [[frame] for frame in EDGE_FRAMES], path="/graphql")
    def run(frames: list[str | bytes], path: str) -> None:
        begin(target)
        # GIVEN an acknowledged AppSync real-time connection
        with appsync_connect(target, path=path) as ws:
            ws.send(dumps({"type": "connection_init"}))
            appsync_until(ws, lambda m: m["type"] == "connection_ack")

            def interaction() -> None:
                # WHEN random frames are sent on it
                send_frames(ws, frames, lambda: still_usable(ws), too_big_sent)
                # THEN every answer is from the catalogue and the connection still serves subscriptions
                still_usable(ws)

            too_big_sent: list[bool] = []
            code = closed_with(interaction)
        # ... unless a frame was larger than the server takes: then it closes
        too_big = bool(too_big_sent)
        assert code is None or (too_big and refused_as_too_big(code)), f"connection closed with {code}"
        new_log_failures(target)

    with survives(target):
        run()


def test_random_start_payloads(target: Target) -> None:
    @fuzz(30)
    @given(payloads=st.lists(start_payloads(target), min_size=1, max_size=5), init=st.booleans())
    @always_trying("payloads", [[payload] for payload in EDGE_START_PAYLOADS], init=True)
    def run(payloads: list[Any], init: bool) -> None:
        begin(target)
        ids = [f"start-{i}" for i in range(len(payloads))]
        frames = [dumps({"id": i, "type": "start", "payload": p}) for i, p in zip(ids, payloads, strict=True)]
        assume(not any(is_oversized(frame) for frame in frames))  # test_random_frames_… sends those
        received: list[dict[str, Any]] = []
        with appsync_connect(target) as ws:

            def interaction() -> None:
                # GIVEN a connection, with or without connection_init (a client may skip it)
                if init:
                    ws.send(dumps({"type": "connection_init"}))
                    appsync_until(ws, lambda m: m["type"] == "connection_ack")
                # WHEN starts with random payloads arrive, each with its own id
                for frame in frames:
                    note(f"-> {frame[:500]!r}")
                    ws.send(frame)
                received.extend(still_usable(ws))

            code = closed_with(interaction)
        # THEN the connection goes on, and each start is answered, with its id, by start_ack or error
        assert code is None, f"connection closed with {code}"
        answers = {m["id"]: m["type"] for m in received if m["type"] in ("start_ack", "error") and "id" in m}
        for start_id in ids:
            assert answers.get(start_id) in ("start_ack", "error"), (start_id, received)
        new_log_failures(target)

    with survives(target):
        run()


@dataclass(frozen=True)
class Handshake:
    path: str
    query: str
    subprotocols: list[str]
    headers: dict[str, str]
    init: dict[str, Any]


def handshakes(target: Target) -> st.SearchStrategy[Handshake]:
    """AppSync's three ways of passing the header object, graphql-transport-ws' connection_init payload,
    and random subprotocol offers: each with valid, random or nasty credentials."""
    key, host = target.emulator.api_key, target.emulator.host
    header_objects = st.one_of(auth_objects(target), st.just({"host": host, "x-api-key": key}))
    tokens = st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}", fullmatch=True)
    known = st.sampled_from(["graphql-ws", "graphql-transport-ws", "graphql-ws-x"])
    extra_protocols = st.lists(st.one_of(known, tokens), max_size=2)
    ascii_text = HEADER_TEXT.filter(str.isascii)
    http_headers = st.fixed_dictionaries(
        {}, optional={"x-api-key": st.one_of(st.just(key), ascii_text), "authorization": ascii_text}
    )
    plain_init = st.just({"type": "connection_init"})
    valid_query = f"?header={_b64({'host': host, 'x-api-key': key})}&payload=e30="

    @st.composite
    def build(draw: st.DrawFn) -> Handshake:
        path = draw(st.sampled_from(REALTIME_PATHS))
        how = draw(st.sampled_from(["header-subprotocol", "query-string", "http-headers", "transport-ws", "random"]))
        extra = draw(extra_protocols)
        if how == "header-subprotocol":  # Amplify JS
            header = "header-" + _b64url(dumps(draw(header_objects)).encode())
            return Handshake(path, "", ["graphql-ws", header, *extra], {}, draw(plain_init))
        if how == "query-string":  # gql
            query = draw(
                st.one_of(
                    st.builds(
                        lambda h, p: f"?header={h}&payload={p}",
                        header_objects.map(_b64),
                        st.sampled_from(["e30=", "", "x"]),
                    ),
                    st.builds(
                        lambda h: f"?header={quote(h, errors='surrogatepass')}",
                        st.one_of(SHORT_TEXT, header_objects.map(_b64)),
                    ),
                    HEADER_TEXT.map(lambda text: "?" + quote(text, safe="=&", errors="surrogatepass")),
                )
            )
            return Handshake(path, query, ["graphql-ws", *extra], {}, draw(plain_init))
        if how == "http-headers":
            return Handshake(path, "", ["graphql-ws", *extra], draw(http_headers), draw(plain_init))
        if how == "transport-ws":
            init = draw(
                st.one_of(
                    st.fixed_dictionaries({"type": st.just("connection_init"), "payload": header_objects}),
                    plain_init,
                )
            )
            return Handshake(path, "", ["graphql-transport-ws", *extra], draw(http_headers), init)
        offered = draw(
            st.lists(
                st.one_of(
                    st.sampled_from(["graphql-ws", "graphql-transport-ws"]),
                    tokens,
                    header_objects.map(lambda value: "header-" + _b64url(dumps(value).encode())),
                ),
                max_size=3,
            )
        )
        query = draw(st.sampled_from(["", valid_query]))
        init = draw(
            st.one_of(
                plain_init,
                st.fixed_dictionaries({"type": st.just("connection_init"), "payload": header_objects}),
            )
        )
        return Handshake(path, query, offered, draw(http_headers), init)

    return build()


def test_random_handshakes(target: Target) -> None:
    @fuzz(60)
    @given(handshake=handshakes(target))
    def run(handshake: Handshake) -> None:
        begin(target)
        # GIVEN a random handshake (subprotocols, header object, query string, HTTP headers)
        try:
            ws = appsync_connect(
                target,
                path=handshake.path,
                query=handshake.query,
                subprotocols=handshake.subprotocols,
                headers=handshake.headers,
            )
        except InvalidStatus as exc:  # refused during the upgrade: fine, unless the server failed
            status = exc.response.status_code
        else:
            status = 101
        assert status < 500, f"the upgrade failed with {status}"
        if status != 101:
            new_log_failures(target)
            return
        with ws:
            selected = ws.subprotocol
            note(f"selected {selected!r}")
            first: list[Any] = []

            def interaction() -> None:
                # WHEN it says connection_init
                ws.send(dumps(handshake.init))
                first.append(receive(ws))

            code = closed_with(interaction)
        # THEN it is acknowledged or refused in the selected protocol's terms, never dropped
        assert code not in (NO_CLOSE_FRAME, 1011), f"connection closed with {code}"
        if first and selected == "graphql-ws":
            check_appsync_message(first[0])
            assert first[0]["type"] in ("connection_ack", "connection_error", "ka"), first
        elif first and selected == "graphql-transport-ws":
            check_transport_ws_message(first[0])
        elif first:
            assert first[0]["type"] == "connection_error", first
            assert first[0]["payload"]["errors"][0]["message"] == "SubProtocolNotSupportedError", first
        new_log_failures(target)

    with survives(target):
        run()


# --- the graphql-transport-ws socket ---------------------------------------------------------------


def check_transport_ws_message(message: Any) -> dict[str, Any]:
    assert isinstance(message, dict) and message.get("type") in TRANSPORT_WS_SERVER_TYPES, message
    if message["type"] == "error":
        errors = message["payload"]
        assert isinstance(errors, list) and all(isinstance(e.get("message"), str) for e in errors), message
    return message


def test_random_frames_on_the_transport_ws_socket(target: Target) -> None:
    types = st.one_of(
        st.sampled_from(
            [
                "connection_init",
                "subscribe",
                "complete",
                "ping",
                "pong",
                "next",
                "error",
                "connection_ack",
                "start",
                "stop",
            ]
        ),
        SHORT_TEXT,
        JSON_VALUES,
    )
    payloads = st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"query": QUERY_TEXTS},
            optional={"variables": JSON_VALUES, "operationName": JSON_VALUES, "extensions": JSON_VALUES},
        ),
    )
    messages = st.fixed_dictionaries(
        {"type": types}, optional={"id": st.one_of(SHORT_TEXT, JSON_VALUES), "payload": payloads}
    )
    frames = st.one_of(
        messages.map(dumps),
        FRAME_TEXT,
        st.binary(max_size=100),
        JSON_VALUES.map(dumps),
        DEEP_JSON_FRAMES,
        OVERSIZED_FRAMES,
    )

    @fuzz(30)
    @given(frames=st.lists(frames, min_size=1, max_size=5))
    @always_trying("frames", [[frame] for frame in EDGE_FRAMES])
    def run(frames: list[str | bytes]) -> None:
        begin(target)
        # GIVEN an acknowledged graphql-transport-ws connection
        with connect(
            target.emulator.ws_url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            open_timeout=REQUEST_DEADLINE_S,
            close_timeout=REQUEST_DEADLINE_S,
            max_size=None,
        ) as ws:
            ws.send(dumps({"type": "connection_init", "payload": {"x-api-key": target.emulator.api_key}}))
            ack = receive(ws)
            assert ack.get("type") == "connection_ack" and set(ack) <= {"type", "payload"}, ack

            def ping() -> None:
                ws.send(dumps({"type": "ping"}))
                while check_transport_ws_message(receive(ws))["type"] != "pong":
                    pass

            def interaction() -> None:
                # WHEN random frames are sent, then a ping
                send_frames(ws, frames, ping, too_big_sent)
                # THEN answers are the protocol's, up to the pong
                ping()

            too_big_sent: list[bool] = []
            code = closed_with(interaction)
        # ... or the server closes with the protocol's own codes for a message it rejects (4400 invalid
        # message, 4409 duplicate id, 4429 second init ...) or for a message too big: never dropped
        too_big = bool(too_big_sent)
        refused = code is not None and (4400 <= code < 4500 or (too_big and refused_as_too_big(code)))
        assert code is None or refused, f"connection closed with {code}"
        new_log_failures(target)

    with survives(target):
        run()


# --- presigned storage URLs --------------------------------------------------------------------------

SIGNED_PARAMS = ("expires", "max-size", "content-type", "name", "signature")
METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class StorageRequest:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def url(self, base: str) -> str:
        query = urlencode(self.params, quote_via=quote, errors="surrogatepass")
        return f"{base}{self.path}?{query}" if self.params else f"{base}{self.path}"


#: Query-string values: random, and the kinds that break parsers and comparisons.
PARAM_VALUES = st.one_of(
    st.sampled_from(["", "é", "\x80", "%", "0", "-1", "9" * 30, "\ud800", " ", "1e3"]),
    SHORT_TEXT,
    st.integers().map(str),
)


def _tamper(draw: st.DrawFn, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    params = list(params)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["drop", "set", "add", "duplicate", "bump-expiry", "forge-signature"]))
        index = draw(st.integers(0, len(params) - 1)) if params else None
        if op == "drop" and index is not None:
            del params[index]
        elif op == "set" and index is not None:
            params[index] = (params[index][0], draw(PARAM_VALUES))
        elif op == "add":
            params.append((draw(st.one_of(st.sampled_from(SIGNED_PARAMS), SHORT_TEXT)), draw(PARAM_VALUES)))
        elif op == "duplicate" and index is not None:
            params.insert(draw(st.integers(0, len(params))), (params[index][0], draw(PARAM_VALUES)))
        elif op == "forge-signature":
            forged = draw(st.one_of(HEX_64, PARAM_VALUES))
            params = [(k, forged if k == "signature" else v) for k, v in params]
        elif op == "bump-expiry":
            shift = draw(st.integers(-(10**6), 10**6))
            params = [(k, str(int(v) + shift) if k == "expires" and v.isdigit() else v) for k, v in params]
    return params


def storage_requests(target: Target) -> st.SearchStrategy[StorageRequest]:
    @st.composite
    def build(draw: st.DrawFn) -> StorageRequest:
        which = draw(st.sampled_from(["put", "get", "nowhere"]))
        url = {"put": target.put_url, "get": target.get_url, "nowhere": target.put_url}[which]
        parts = urlsplit(url)
        path = unquote(parts.path)
        params = parse_qsl(parts.query, keep_blank_values=True)
        if which == "nowhere":
            names = st.one_of(st.sampled_from(SIGNED_PARAMS), SHORT_TEXT)
            params = draw(st.lists(st.tuples(names, PARAM_VALUES), max_size=6))
        params = _tamper(draw, params)
        segment = st.one_of(SHORT_TEXT, st.sampled_from(["..", ".", "%2e%2e", "%00", "%ff", "a%2Fb", "local"]))
        path = draw(
            st.one_of(
                st.just(path),
                st.builds(lambda bucket: "/".join(["", "_storage", bucket, *path.split("/")[3:]]), segment),
                st.builds(lambda key: f"/_storage/local/{key}", st.lists(segment, max_size=4).map("/".join)),
                st.builds(lambda extra: path + extra, st.sampled_from(["/", "/x", "%20", "/..", "?"])),
            )
        )
        method = draw(st.one_of(st.just("PUT" if which == "put" else "GET"), st.sampled_from(METHODS)))
        headers = draw(
            st.one_of(
                st.just({"content-type": target.put_content_type, "if-none-match": "*"}),
                st.fixed_dictionaries(
                    {},
                    optional={
                        "content-type": HEADER_TEXT.filter(str.isascii),
                        "range": st.sampled_from(["bytes=0-1", "bytes=5-2", "bytes=x"]),
                        "x-amz-date": HEADER_TEXT.filter(str.isascii),
                    },
                ),
            )
        )
        body = draw(
            st.one_of(
                st.binary(max_size=target.put_max_size),
                st.integers(target.put_max_size + 1, 4 * 1024 * 1024).map(lambda n: b"x" * n),
            )
        )
        return StorageRequest(method, quote(path, safe="/%", errors="surrogatepass"), params, headers, body)

    return build()


def test_tampered_storage_requests(target: Target) -> None:
    put_parts, get_parts = urlsplit(target.put_url), urlsplit(target.get_url)
    genuine = {
        ("PUT", unquote(put_parts.path)): dict(parse_qsl(put_parts.query, keep_blank_values=True)),
        ("GET", unquote(get_parts.path)): dict(parse_qsl(get_parts.query, keep_blank_values=True)),
    }
    base = target.emulator.url

    @fuzz(80)
    @given(request=storage_requests(target))
    def run(request: StorageRequest) -> None:
        begin(target)
        # GIVEN a presigned URL with its query string, path, method, headers or body tampered with
        url = request.url(base)
        note(f"{request.method} {url} headers={request.headers} body={len(request.body)} bytes")
        # WHEN it is sent
        response = answered(
            lambda: target.http.request(
                request.method,
                url,
                headers=request.headers,
                content=request.body if request.method not in ("GET", "HEAD", "OPTIONS") else None,
            )
        )
        # THEN S3's refusals (or 405 for a method storage has not), never a 5xx
        status = response.status_code
        assert status < 500, f"{status}: {response.text[:2000]}"
        # (the client resolves `..`: a request may leave /_storage, and meet the router's redirects or the
        # web app instead)
        sent = urlsplit(str(response.request.url))
        storage = unquote(sent.path).startswith("/_storage/")
        ranged = "range" in request.headers
        allowed = {200, 307, 403, 404, 405, 412, 413} | ({206, 416} if ranged else set())
        assert status in allowed, f"{status}: {response.text[:2000]}"
        # S3's refusals are XML (a 404 may also be the router's: no such path)
        xml = "xml" in response.headers.get("content-type", "")
        if request.method != "HEAD" and (status in (403, 412, 413) or (xml and status == 404)):
            code = ET.fromstring(response.text).findtext("Code")
            assert code, response.text
        if storage and status in (200, 206, 416):
            # only a request that is, in every signed part, the one the URL was signed for
            method = "GET" if request.method == "HEAD" else request.method
            signed = genuine.get((method, unquote(sent.path)))
            assert signed is not None, f"accepted an unsigned method or path: {request}"
            params = dict(parse_qsl(sent.query, keep_blank_values=True))
            tampered = [name for name in SIGNED_PARAMS if params.get(name) != signed[name]]
            assert not tampered, f"accepted a URL whose {tampered} were changed: {params}"
        new_log_failures(target)

    with survives(target):
        run()
