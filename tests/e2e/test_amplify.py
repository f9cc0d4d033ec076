"""The real AWS Amplify JS v6 client (in Node) against `lambdashare serve --tls`.

Amplify dials `wss://<host>/graphql/realtime` for any non-AppSync endpoint, so this is the only
way to run it against the emulator: a mutation (`requestUpload`) and a query (`file`) over HTTPS,
and an `onFileHashed` subscription over the AppSync real-time protocol on wss; with the API key, and
as a user whom Amplify Auth signed up and signed in against the local user pool (`userPoolEndpoint`)
with its default `signIn` (USER_SRP_AUTH).

The Node side is tests/amplify/amplify-e2e.mjs; its dependencies are pinned by
tests/amplify/package-lock.json and installed once with `npm ci` into tests/amplify/node_modules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import httpx
import jwt
import pytest

from tests.e2e.conftest import Emulator, free_port
from tests.npm import NPM_TIMEOUT_S, installed_node

AMPLIFY_DIR = Path(__file__).resolve().parents[1] / "amplify"
SCRIPT = AMPLIFY_DIR / "amplify-e2e.mjs"
PASSWORD = "Amplify-Test-9-password"  # the user's, in userPool mode
CERT_FILE = "tls-cert.pem"  # what `serve --tls` writes into the data dir (lambdashare.tls.CERT_FILE)

# Failure guards only: nothing below asserts on how long anything takes.
NODE_TIMEOUT_S = 90  # the Node script's own deadline; it exits 3 when it passes
STEP_TIMEOUT_S = NODE_TIMEOUT_S + 15  # ours, should the Node process hang regardless


class TlsEmulator(Emulator):
    """`lambdashare serve --tls`: https/wss with the certificate it makes in the data dir."""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/graphql"

    @property
    def cert_path(self) -> Path:
        return self.data_dir / CERT_FILE

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the emulator's self-signed certificate, and nothing else."""
        return ssl.create_default_context(cafile=self.cert_path)

    def serve_args(self) -> list[str]:
        return ["--tls"]

    def healthy(self) -> bool:
        try:  # the certificate is written before the server listens
            return httpx.get(f"{self.url}/healthz", timeout=1, verify=self.ssl_context()).status_code == 200
        except (OSError, ssl.SSLError, httpx.HTTPError):
            return False  # no (complete) certificate yet, or not listening yet


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsEmulator]:
    emulator = TlsEmulator(
        data_dir=tmp_path_factory.mktemp("tls") / "data", port=free_port(), api_key="da2-testamplifykey"
    )
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()
        if os.environ.get("LAMBDASHARE_E2E_SHOW_LOGS"):
            print(emulator.logs(), file=sys.stderr)


@pytest.fixture(scope="session")
def amplify_node() -> str:
    """The `node` executable, with tests/amplify/node_modules installed from the lock file (once)."""
    return installed_node(AMPLIFY_DIR, "the Amplify JS client test")


class NodeProcess:
    """The Amplify script's stdout as JSON lines read with a deadline; stderr kept in a file."""

    def __init__(self, process: subprocess.Popen[str], stderr_path: Path) -> None:
        self.process = process
        self.stderr_path = stderr_path
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.pump = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        self.pump.start()

    def _pump(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def step(self, name: str) -> dict[str, Any]:
        """The next {"step": …} line, which must be `name`'s; other stdout lines (a library's console.log)
        are kept for the failure message only. Fails with everything known if it does not come."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.fail(f"no '{name}' line from the Amplify script within {STEP_TIMEOUT_S} s")
            if line is None:
                self.process.wait(timeout=10)
                self.fail(f"the Amplify script exited ({self.process.returncode}) before printing '{name}'")
            self.seen.append(line)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if not isinstance(message, dict) or "step" not in message:
                continue
            if message["step"] != name:
                self.fail(f"expected the '{name}' step, got {line!r}")
            result: dict[str, Any] = message.get(name, message)
            return result

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def wire(self) -> list[dict[str, Any]]:
        """The wire log: one {"wire": kind, …} per WebSocket frame/event and HTTP request."""
        entries = []
        for line in self.stderr().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "wire" in entry:
                entries.append(entry)
        return entries

    def fail(self, why: str) -> NoReturn:
        pytest.fail(f"{why}\n--- stdout so far:\n{''.join(self.seen)}--- stderr (wire log):\n{self.stderr()}")

    def kill(self) -> None:
        """Make sure the process is gone and its stdout closed (the pump sees EOF once it is gone)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.pump.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def expected_digests(body: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, body).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")}


@pytest.mark.timeout(NPM_TIMEOUT_S + 4 * STEP_TIMEOUT_S)  # a first, cold `npm ci` happens in setup
@pytest.mark.parametrize("auth_mode", ["apiKey", "userPool"])
def test_amplify_js_mutation_subscription_and_query_over_tls(
    amplify_node: str, tls_emulator: TlsEmulator, tmp_path: Path, auth_mode: str
) -> None:
    # GIVEN random bytes, and the Amplify script: (as a user it signs up and in with Amplify Auth,) it
    # requests an upload for them (mutation), subscribes to onFileHashed(id) and prints the ticket once
    # the subscription is acknowledged
    body = os.urandom(1024 * 1024)
    pool = httpx.get(f"{tls_emulator.url}/config.json", verify=tls_emulator.ssl_context()).json()
    stderr_path = tmp_path / "amplify-stderr.jsonl"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [
                amplify_node,
                str(SCRIPT),
                tls_emulator.graphql_url,
                tls_emulator.api_key,
                str(len(body)),
                str(NODE_TIMEOUT_S * 1000),
            ],
            cwd=AMPLIFY_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={
                **os.environ,
                "NODE_EXTRA_CA_CERTS": str(tls_emulator.cert_path),
                "LAMBDASHARE_AUTH_MODE": auth_mode,
                "LAMBDASHARE_PASSWORD": PASSWORD,
            },
        )
    node = NodeProcess(process, stderr_path)
    try:
        if auth_mode == "userPool":
            # the local pool confirms at once, so Amplify's sign-up is complete and its sign-in DONE
            signed_in = node.step("signedIn")
            assert signed_in["isSignUpComplete"] is True
            assert signed_in["isSignedIn"] is True
            assert signed_in["signInStep"] == "DONE"
            assert signed_in["sub"] == signed_in["userId"]
            assert signed_in["email"] == signed_in["username"]
            assert signed_in["refreshedSub"] == signed_in["sub"]
            assert signed_in["refreshedNewToken"] is True
        ticket = node.step("ticket")
        file_id = ticket["file"]["id"]
        assert ticket["file"]["status"] == "PENDING"

        # WHEN the bytes are sent as the ticket says
        response = httpx.request(
            ticket["method"],
            ticket["url"],
            headers=json.loads(ticket["headers"] or "{}"),
            content=body,
            timeout=60,
            verify=tls_emulator.ssl_context(),
        )
        assert response.status_code == 200, response.text

        # THEN Amplify's subscription is told HASHED with hashlib's digests
        event = node.step("event")
        assert event["id"] == file_id
        assert event["status"] == "HASHED", event
        assert event["hashes"] == expected_digests(body)
        assert event["size"] == len(body)

        # AND Amplify's query finds the same file
        assert node.step("file") == event

        # AND the script unsubscribes and exits cleanly
        node.step("stopped")
        assert process.wait(timeout=STEP_TIMEOUT_S) == 0, node.stderr()
    finally:
        node.kill()

    # AND it really went the way Amplify goes: HTTPS for operations, wss://…/graphql/realtime for the socket
    wire = node.wire()
    opened = [e for e in wire if e["wire"] == "open"]
    assert [e["url"] for e in opened] == [f"wss://127.0.0.1:{tls_emulator.port}/graphql/realtime"], wire
    assert opened[0]["protocols"][0] == "graphql-ws"
    assert opened[0]["protocols"][1].startswith("header-")
    assert [e["protocol"] for e in wire if e["wire"] == "opened"] == ["graphql-ws"]
    requests = [e for e in wire if e["wire"] == "http"]
    api_calls = [e for e in requests if e["url"] == tls_emulator.graphql_url]
    pool_calls = [e for e in requests if e["url"] == pool["userPoolEndpoint"]]
    assert len(api_calls) + len(pool_calls) == len(requests), requests
    if auth_mode == "apiKey":
        assert not pool_calls
        assert all(e["headers"].get("x-api-key") == tls_emulator.api_key for e in api_calls)
    else:
        # signed up, in (SRP: the password never sent) and refreshed over the cognito-idp protocol; the API then
        # called with the session's access token
        targets = [e["headers"]["x-amz-target"] for e in pool_calls]
        assert targets[:4] == [
            "AWSCognitoIdentityProviderService.SignUp",
            "AWSCognitoIdentityProviderService.InitiateAuth",
            "AWSCognitoIdentityProviderService.RespondToAuthChallenge",
            "AWSCognitoIdentityProviderService.GetTokensFromRefreshToken",
        ]
        assert pool_calls[1]["body"]["AuthFlow"] == "USER_SRP_AUTH"
        assert pool_calls[2]["body"]["ChallengeName"] == "PASSWORD_VERIFIER"
        assert pool_calls[2]["body"]["ChallengeResponses"]["USERNAME"] == signed_in["sub"]
        assert all(PASSWORD not in json.dumps(call["body"]) for call in pool_calls[1:])
        socket_header = json.loads(base64.urlsafe_b64decode(opened[0]["protocols"][1].removeprefix("header-") + "=="))
        for headers in [*(call["headers"] for call in api_calls), {k.lower(): v for k, v in socket_header.items()}]:
            assert "x-api-key" not in headers
            claims = jwt.decode(headers["authorization"], options={"verify_signature": False})
            assert (claims["token_use"], claims["sub"]) == ("access", signed_in["sub"])
