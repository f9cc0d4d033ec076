"""The `lambdashare` client's commands against a running emulator, each run as a subprocess, as a script would
run them: upload and wait for digests, resume after a kill, check, find, rm, share and download from another
profile, watch another process's upload, and one-line errors with exit status 2."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import Credentials

from tests.e2e.clients import LOCAL_IAM_ARN, REGION, data, file_by_id, iam_credentials, request_upload, send_bytes
from tests.e2e.conftest import Emulator, free_port

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
PASSWORD = "Correct-Horse-9-battery"
INTERRUPTED_UPLOAD = Path(__file__).with_name("_interrupted_upload.py")
UPLOADED_PARTS = "query L($id: ID!) { uploadedParts(id: $id) { number etag size } }"


@dataclass
class Cli:
    """`lambdashare` with its own config dir, run in `cwd` against the emulator."""

    emulator: Emulator
    config_dir: Path
    cwd: Path

    def env(self, **extra: str) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LAMBDASHARE_")}
        return {
            **environ,
            "LAMBDASHARE_CONFIG_DIR": str(self.config_dir),
            "LAMBDASHARE_ENDPOINT": self.emulator.graphql_url,
            "LAMBDASHARE_API_KEY": self.emulator.api_key,
            **extra,
        }

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "lambdashare.cli", *args]

    def __call__(self, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.cwd,
            env=self.env(**env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def interrupted(self, mode: str, at: int, *args: str) -> subprocess.CompletedProcess[str]:
        """`upload *args`, going wrong (see _interrupted_upload.py) before its `at`-th request of bytes."""
        return subprocess.run(
            [sys.executable, str(INTERRUPTED_UPLOAD), mode, str(at), *args],
            cwd=self.cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def write(self, name: str, body: bytes) -> Path:
        path = self.cwd / name
        path.write_bytes(body)
        return path

    def sign_up_and_login(self, profile: str) -> str:
        """A new user of the local user pool, signed in as `profile`; their email."""
        config = httpx.get(f"{self.emulator.url}/config.json").json()
        idp = boto3.client(
            "cognito-idp",
            endpoint_url=config["userPoolEndpoint"],
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED),
        )
        email = f"cli-{uuid.uuid4().hex[:10]}@example.com"
        idp.sign_up(ClientId=config["userPoolClientId"], Username=email, Password=PASSWORD)
        self.ok("config", "set", "endpoint", self.emulator.graphql_url, "--profile", profile)
        self.ok("login", "--profile", profile, "--username", email, "--password-stdin", stdin=PASSWORD + "\n")
        return email


@pytest.fixture
def cli(emulator: Emulator, tmp_path: Path) -> Cli:
    (tmp_path / "work").mkdir()
    return Cli(emulator, tmp_path / "config", tmp_path / "work")


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def digests(body: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, body).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")}


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_upload_wait_json_prints_the_digests_hashlib_computes(cli: Cli) -> None:
    # GIVEN three files, one of them big enough to go in parts
    bodies = {"small.txt": b"hello\n", "medium.bin": os.urandom(300_000), "big.bin": os.urandom(11 * MiB + 5)}
    for name, body in bodies.items():
        cli.write(name, body)

    # WHEN they are uploaded with --wait --json, parts of 5 MiB, 2 at a time
    out = cli.ok("upload", "--wait", "--json", "--part-size", "5", "--parallel", "2", *bodies)

    # THEN each file's line carries the digests hashlib computes for its bytes
    printed = {line["path"]: line for line in json_lines(out)}
    assert set(printed) == set(bodies)
    for name, body in bodies.items():
        assert printed[name]["status"] == "HASHED"
        assert printed[name]["hashes"] == digests(body)
        assert printed[name]["size"] == len(body)


def test_upload_wait_prints_what_sha256sum_checks(cli: Cli) -> None:
    # GIVEN two files
    files = {"a.txt": b"alpha\n", "b.txt": b"beta\n"}
    for name, body in files.items():
        cli.write(name, body)

    # WHEN they are uploaded with --wait, the output kept as a checksum file
    sums = cli.ok("upload", "--wait", "a.txt", "b.txt")
    (cli.cwd / "SHA256SUMS").write_text(sums)

    # THEN it has one coreutils line per file (in the order their digests came), which sha256sum accepts
    expected = {f"{hashlib.sha256(body).hexdigest()}  {name}" for name, body in files.items()}
    assert set(sums.splitlines()) == expected
    if shutil.which("sha256sum"):
        checked = subprocess.run(["sha256sum", "--check", "SHA256SUMS"], cwd=cli.cwd, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_killed_multipart_upload_resumes_and_ends_with_the_right_digests(cli: Cli) -> None:
    # GIVEN a file of 4 parts whose upload is killed (SIGKILL) as it is about to send the third part
    body = os.urandom(3 * 5 * MiB + 123)
    cli.write("resumable.bin", body)
    killed = cli.interrupted("kill", 3, "--part-size", "5", "--parallel", "1", "resumable.bin")
    assert killed.returncode == -9, killed.stderr
    ledger = json.loads((cli.config_dir / "uploads.json").read_text())
    (entry,) = [e for scope in ledger.values() for e in scope.values()]
    stored = data(cli.emulator, UPLOADED_PARTS, {"id": entry["id"]})["uploadedParts"]
    assert [part["number"] for part in stored] == [1, 2]

    # WHEN it is uploaded again with --resume
    out = cli.ok("upload", "--resume", "--wait", "--json", "--parallel", "2", "resumable.bin")

    # THEN the same file completes, hashed as hashlib hashes the whole body
    (line,) = json_lines(out)
    assert line["id"] == entry["id"]
    assert line["status"] == "HASHED"
    assert line["hashes"] == digests(body)

    # and resuming it once more sends nothing: the same file is reported
    (again,) = json_lines(cli.ok("upload", "--resume", "--wait", "--json", "resumable.bin"))
    assert again["id"] == entry["id"]
    assert again["hashes"] == digests(body)


def test_a_file_changed_while_it_is_sent_is_not_completed_and_exits_1(cli: Cli) -> None:
    # GIVEN a file of 3 parts that is edited while its second part is being sent
    cli.write("edited.bin", os.urandom(2 * 5 * MiB + 1))
    done = cli.interrupted("edit", 2, "--part-size", "5", "--parallel", "1", "--wait", "edited.bin")

    # THEN one line says so, exit 1, and the upload was aborted rather than completed
    assert done.returncode == 1, done.stderr
    assert "edited.bin: changed while it was being sent; upload it again" in one_line_error(done)
    assert done.stdout == ""
    ledger = json.loads((cli.config_dir / "uploads.json").read_text())
    (entry,) = [e for scope in ledger.values() for e in scope.values()]
    assert file_by_id(cli.emulator, entry["id"]) is None

    # and --resume refuses to continue it with the new bytes
    resumed = cli("upload", "--resume", "--part-size", "5", "edited.bin")
    assert resumed.returncode == 1
    assert "changed since its upload began" in one_line_error(resumed)


def test_a_file_that_ends_failed_is_reported_and_exits_1(cli: Cli) -> None:
    # GIVEN a good file and one whose body arrives a byte short (the hasher then marks it FAILED)
    cli.write("good.txt", b"good\n")
    cli.write("short.txt", b"one byte goes missing\n")
    done = cli.interrupted("short", 2, "--wait", "--json", "good.txt", "short.txt")

    # THEN both are reported, the FAILED one with its error on one line, and the exit status is 1
    assert done.returncode == 1, done.stderr
    printed = {line["path"]: line for line in json_lines(done.stdout)}
    assert printed["good.txt"]["status"] == "HASHED"
    assert printed["short.txt"]["status"] == "FAILED"
    assert "short.txt: FAILED: " in one_line_error(done)


def test_check_passes_an_unchanged_file_and_fails_a_changed_one(cli: Cli) -> None:
    # GIVEN two uploaded, hashed files
    cli.write("same.txt", b"unchanged\n")
    cli.write("edited.txt", b"first version\n")
    cli.ok("upload", "--wait", "same.txt", "edited.txt")

    # WHEN nothing changed THEN check says OK, exit 0
    assert cli.ok("check", "same.txt", "edited.txt") == "same.txt: OK\nedited.txt: OK\n"

    # WHEN one file changes THEN check says FAILED for it, exit 1
    cli.write("edited.txt", b"second version\n")
    done = cli("check", "same.txt", "edited.txt")
    assert done.returncode == 1
    assert done.stdout == "same.txt: OK\nedited.txt: FAILED\n"


def test_find_locates_a_duplicate_of_a_signed_in_user(cli: Cli) -> None:
    # GIVEN a signed-in user who uploaded the same bytes under two names
    cli.sign_up_and_login("alice")
    body = os.urandom(4096)
    cli.write("one.bin", body)
    cli.write("two.bin", body)
    uploaded = json_lines(cli.ok("upload", "--profile", "alice", "--wait", "--json", "one.bin", "two.bin"))

    # WHEN they look the content up by its SHA-256
    found = json_lines(cli.ok("find", "--profile", "alice", "--json", hashlib.sha256(body).hexdigest()))

    # THEN both copies are found
    assert {f["id"] for f in found} == {f["id"] for f in uploaded}
    # and a content nobody has is not found: exit 1
    assert cli("find", "--profile", "alice", hashlib.sha256(b"nobody has this").hexdigest()).returncode == 1


def test_rm_removes_a_file(cli: Cli) -> None:
    # GIVEN an uploaded file
    cli.write("gone.txt", b"soon gone\n")
    (uploaded,) = json_lines(cli.ok("upload", "--wait", "--json", "gone.txt"))

    # WHEN it is removed
    cli.ok("rm", uploaded["id"])

    # THEN the API no longer has it, and `get` says so with exit 1
    assert file_by_id(cli.emulator, uploaded["id"]) is None
    assert cli("get", uploaded["id"]).returncode == 1


def test_share_then_download_the_token_from_another_profile(cli: Cli) -> None:
    # GIVEN a file uploaded with the API key and shared
    body = os.urandom(200_000)
    cli.write("shared.bin", body)
    (uploaded,) = json_lines(cli.ok("upload", "--wait", "--json", "shared.bin"))
    token = cli.ok("share", uploaded["id"], "--expires", "1h").strip()

    # WHEN a signed-in user of another profile downloads the token
    cli.sign_up_and_login("bob")
    out = cli.ok("download", "--profile", "bob", token, "-o", "received.bin")

    # THEN they get the bytes, verified against the digests
    assert (cli.cwd / "received.bin").read_bytes() == body
    assert out == f"{hashlib.sha256(body).hexdigest()}  received.bin\n"
    # and once the share is revoked, the token gets nothing (exit 1)
    cli.ok("unshare", token)
    assert cli("download", "--profile", "bob", token, "-o", "again.bin").returncode == 1


def test_a_download_whose_bytes_do_not_match_the_digests_is_not_kept(cli: Cli) -> None:
    # GIVEN an uploaded file whose stored bytes are then altered (bit rot, tampering)
    body = os.urandom(100_000)
    cli.write("rotting.bin", body)
    (uploaded,) = json_lines(cli.ok("upload", "--wait", "--json", "rotting.bin"))
    (stored,) = [p for p in (cli.emulator.data_dir / "objects").rglob("*") if p.is_file() and p.read_bytes() == body]
    stored.write_bytes(bytes([body[0] ^ 1]) + body[1:])

    # WHEN it is downloaded
    done = cli("download", uploaded["id"], "-o", "rotten.bin")

    # THEN one line names the digests that do not match, exit 1, and nothing is left behind
    assert done.returncode == 1
    assert "do not match the file's md5, sha1, sha256, sha512" in one_line_error(done)
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["rotting.bin"]


def subscribed_watcher(cli: Cli, *args: str) -> subprocess.Popen[str]:
    """`lambdashare watch ARGS` running in the background, once the emulator counts its subscription."""
    before = httpx.get(f"{cli.emulator.url}/healthz").json()["subscribers"]
    watcher = subprocess.Popen(
        cli.command("watch", *args),
        cwd=cli.cwd,
        env=cli.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while httpx.get(f"{cli.emulator.url}/healthz").json()["subscribers"] <= before:
        if watcher.poll() is not None or time.monotonic() > deadline:
            watcher.kill()
            _, err = watcher.communicate()
            raise AssertionError(f"watch never subscribed: {err}")
        time.sleep(0.05)
    return watcher


def test_watch_prints_an_event_another_process_caused(cli: Cli) -> None:
    # GIVEN a signed-in user watching their files
    cli.sign_up_and_login("carol")
    watcher = subscribed_watcher(cli, "--profile", "carol", "--json", "--count", "1")
    try:
        # WHEN another process uploads a file as that user
        cli.write("watched.txt", b"watch me\n")
        (uploaded,) = json_lines(cli.ok("upload", "--profile", "carol", "--json", "watched.txt"))

        # THEN the watcher prints that file's onFileHashed event and stops
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    (event,) = json_lines(out)
    assert event["event"] == "onFileHashed"
    assert event["id"] == uploaded["id"]
    assert event["hashes"]["sha256"] == hashlib.sha256(b"watch me\n").hexdigest()


def test_watch_with_an_api_key_follows_a_named_file(cli: Cli) -> None:
    # GIVEN a file requested by another client of the API key's space, and a watcher of its id
    body = b"followed by id\n"
    ticket = request_upload(cli.emulator, name="followed.txt", size=len(body))
    file_id = ticket["file"]["id"]
    watcher = subscribed_watcher(cli, file_id, "--count", "1", "--no-progress")
    try:
        # WHEN that client sends the bytes
        assert send_bytes(ticket, body).status_code == 200

        # THEN the watcher prints the HASHED line with the file's SHA-256
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert out == f"HASHED  {file_id}  followed.txt  sha256={hashlib.sha256(body).hexdigest()}\n"


def test_watch_with_an_api_key_and_no_id_is_a_usage_error(cli: Cli) -> None:
    done = cli("watch")
    assert done.returncode == 2
    assert "name the files to watch" in one_line_error(done)


def test_with_an_api_key_ls_shows_the_files_uploaded_from_here_and_find_only_counts(cli: Cli) -> None:
    # GIVEN a file uploaded with the API key
    body = os.urandom(1000)
    cli.write("anonymous.bin", body)
    (uploaded,) = json_lines(cli.ok("upload", "--wait", "--json", "anonymous.bin"))

    # WHEN listing THEN it is there, though the API lists nothing for the key
    assert [f["id"] for f in json_lines(cli.ok("ls", "--json"))] == [uploaded["id"]]

    # WHEN finding its content THEN no id is revealed, only that a copy exists (exit 0)
    done = cli("find", hashlib.sha256(body).hexdigest())
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "1 hashed file holds this content" in done.stderr


def iam_env(cli: Cli, credentials: Credentials | None) -> dict[str, str]:
    """The CLI's environment without an API key, whose only AWS credentials (for the default credential chain)
    are `credentials`, or none at all."""
    aws = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(cli.config_dir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(cli.config_dir / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if credentials is not None:
        aws.update(AWS_ACCESS_KEY_ID=credentials.access_key, AWS_SECRET_ACCESS_KEY=credentials.secret_key)
    return {**{k: v for k, v in cli.env().items() if not k.startswith("AWS_")}, **aws, "LAMBDASHARE_API_KEY": ""}


def run_in(cli: Cli, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli.command(*args), cwd=cli.cwd, env=env, capture_output=True, text=True, timeout=120)


def test_with_iam_upload_wait_and_ls_work_as_the_principal(cli: Cli) -> None:
    # GIVEN the emulator's local IAM credentials as the only AWS credentials in the environment, and no API key
    env = iam_env(cli, iam_credentials(cli.emulator))
    body = os.urandom(5000)
    cli.write("signed.bin", body)

    # WHEN it uploads with --auth iam and waits, then lists its files
    uploaded = run_in(cli, env, "upload", "--auth", "iam", "--wait", "--json", "signed.bin")
    listed = run_in(cli, env, "ls", "--auth", "iam", "--json")

    # THEN the digests are hashlib's, and the API lists the file as the principal's (by its ARN)
    assert uploaded.returncode == 0, uploaded.stderr
    (file,) = json_lines(uploaded.stdout)
    assert file["status"] == "HASHED"
    assert file["hashes"] == digests(body)
    assert listed.returncode == 0, listed.stderr
    mine = [f for f in json_lines(listed.stdout) if f["id"] == file["id"]]
    assert [f["owner"] for f in mine] == [LOCAL_IAM_ARN]


def test_with_iam_and_no_aws_credentials_is_a_one_line_error_with_exit_2(cli: Cli) -> None:
    done = run_in(cli, iam_env(cli, None), "ls", "--auth", "iam")
    assert done.returncode == 2
    assert "no AWS credentials for --auth iam" in one_line_error(done)


def test_a_session_is_kept_private_and_refreshed(cli: Cli) -> None:
    # GIVEN a signed-in profile whose ID token is about to expire
    cli.sign_up_and_login("dave")
    path = cli.config_dir / "sessions" / "dave.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    session = json.loads(path.read_text())
    path.write_text(json.dumps({**session, "expires_at": time.time()}))

    # WHEN a command runs THEN it works, with a refreshed session saved
    cli.ok("ls", "--profile", "dave")
    refreshed = json.loads(path.read_text())
    assert refreshed["expires_at"] > time.time() + 600
    assert refreshed["refresh_token"] == session["refresh_token"]

    # WHEN the session cannot be refreshed THEN a one-line error says to sign in again, exit 2
    path.write_text(json.dumps({**session, "expires_at": time.time(), "refresh_token": "revoked"}))
    done = cli("ls", "--profile", "dave")
    assert done.returncode == 2
    assert "run `lambdashare login`" in one_line_error(done)


def test_a_wrong_api_key_is_a_one_line_error_with_exit_2(cli: Cli) -> None:
    # WHEN a command runs with a wrong key
    done = cli("ls", "--api-key", "da2-wrong")

    # THEN one line says what to fix, and the exit status is 2
    assert done.returncode == 2
    assert "API refused these credentials" in one_line_error(done)
    assert "--api-key" in done.stderr


def test_an_emulator_that_is_not_running_is_a_one_line_error_with_exit_2(cli: Cli) -> None:
    # WHEN the endpoint is a port nothing listens on
    done = cli("ls", "--endpoint", f"http://127.0.0.1:{free_port()}/graphql")

    # THEN one line says the emulator may not be running, exit 2
    assert done.returncode == 2
    assert "Is the emulator running" in one_line_error(done)


def test_a_url_that_is_not_the_api_is_a_one_line_error_with_exit_2(cli: Cli) -> None:
    done = cli("ls", "--endpoint", f"{cli.emulator.url}/not-graphql")
    assert done.returncode == 2
    assert "HTTP 404" in one_line_error(done)


def test_stats_shows_the_uploads_of_today(cli: Cli) -> None:
    # GIVEN a signed-in user who uploaded a file
    cli.sign_up_and_login("erin")
    cli.write("counted.txt", b"count me\n")
    cli.ok("upload", "--profile", "erin", "--wait", "counted.txt")

    # WHEN they ask for their statistics, once the table's stream has been counted
    deadline = time.monotonic() + 60
    while (stats := json.loads(cli.ok("stats", "--profile", "erin", "--json")))["hashed"] < 1:
        assert time.monotonic() < deadline, stats
        time.sleep(0.2)

    # THEN their one upload is counted, and the table renders
    assert (stats["uploads"], stats["bytes"], stats["hashed"]) == (1, len(b"count me\n"), 1)
    assert "total" in cli.ok("stats", "--profile", "erin")
