"""The client's commands (their options are in `arguments`).

Each command is an async function of its parsed arguments returning an exit status; `run` turns any `CliError`
into one line on stderr and its status (0 ok, 1 a file FAILED / mismatched / missing, 2 usage, credentials,
connection). Not responsible for the emulator's commands (`lambdashare.cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
import uuid
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from lambdashare.client import api as ops
from lambdashare.client import output
from lambdashare.client.api import Api
from lambdashare.client.auth import authentication, load_session, save_session, session_path, sign_in, user_pool
from lambdashare.client.config import (
    AUTH_MODES,
    SETTABLE,
    Profile,
    config_dir,
    resolve_profile,
    save_profile,
    stored_profiles,
)
from lambdashare.client.errors import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    AuthError,
    CliError,
    FileFailedError,
    NotFoundError,
    UsageError,
    first_error,
)
from lambdashare.client.ledger import Ledger
from lambdashare.client.transfer import LocalFile, Uploader, digest_of, download, wait_until_final
from lambdashare.domain.multipart import MiB

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
HTTP_TIMEOUT = httpx.Timeout(120, connect=10)
SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def run(command: Command, args: argparse.Namespace) -> int:
    """Run one command; whatever stops it is one line on stderr, never a traceback."""
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        hint = "; `lambdashare upload --resume FILE` continues a multipart upload" if args.command == "upload" else ""
        output.note(f"{args.command}: interrupted{hint}")
        return 130
    except Exception as exc:
        reason = first_error(exc)
        if isinstance(reason, CliError):
            output.note(f"{args.command}: {reason}")
            return reason.exit_code
        # the last resort: a bug or an unforeseen failure is still one line
        output.note(f"{args.command}: unexpected error: {type(reason).__name__}: {reason}")
        return EXIT_ERROR


def _target(args: argparse.Namespace, *, create: bool = False) -> tuple[Path, Profile]:
    directory = config_dir()
    profile = resolve_profile(
        directory, profile=args.profile, endpoint=args.endpoint, api_key=args.api_key, auth=args.auth, create=create
    )
    return directory, profile


def _api(args: argparse.Namespace) -> tuple[Api, Ledger]:
    directory, profile = _target(args)
    return Api(profile, authentication(directory, profile)), Ledger(directory, profile)


# --- uploads -----------------------------------------------------------------------------------------------


async def upload(args: argparse.Namespace) -> int:
    """Upload files, multipart with `--parallel` parts when bigger than `--part-size`; with --wait, print each
    file's digest (coreutils style, or one JSON object per file with --json) as the hasher publishes it."""
    files = [LocalFile.of(Path(name)) for name in args.files]
    api, ledger = _api(args)
    status = EXIT_OK
    async with api, httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http, AsyncExitStack() as stack:
        session = await stack.enter_async_context(api.subscriptions()) if args.wait else None
        uploader = Uploader(
            api, http, ledger, part_size=args.part_size * MiB, parallel=args.parallel, resume=args.resume
        )
        waiting: list[asyncio.Task[int]] = []
        with output.progress_bars(not args.quiet) as progress:
            for local, name in zip(files, args.files, strict=True):
                try:
                    file = await uploader.upload(local, output.tracker(progress, name, local.size))
                except (FileFailedError, NotFoundError) as exc:
                    output.note(str(exc))
                    status = EXIT_FAILED
                    continue
                if session is None:
                    _print_file(file, name, args.json, f"{file['id']}  {name}")
                else:
                    waiting.append(asyncio.create_task(_report_when_final(api, session, file, name, args)))
            for task in asyncio.as_completed(waiting):
                status = max(status, await task)
    return status


async def _report_when_final(api: Api, session: Any, file: dict[str, Any], name: str, args: argparse.Namespace) -> int:
    final = await wait_until_final(api, session, file["id"])
    if final["status"] == "HASHED":
        _print_file(final, name, args.json, output.digest_line(final, args.algo, name))
        return EXIT_OK
    if args.json:
        output.json_line({"path": name, **final})
    output.note(f"{name}: FAILED: {final.get('error') or 'no reason given'}")
    return EXIT_FAILED


def _print_file(file: dict[str, Any], name: str, as_json: bool, text: str) -> None:
    if as_json:
        output.json_line({"path": name, **file})
    else:
        output.line(text)


async def check(args: argparse.Namespace) -> int:
    """Hash each file here and compare with the server's record of its last upload, as `sha256sum --check` does."""
    api, ledger = _api(args)
    failed = 0
    async with api:
        for name in args.files:
            verdict = await _verdict(api, ledger, Path(name), args.algo)
            output.line(f"{name}: {verdict}")
            failed += verdict != "OK"
    if failed:
        output.note(f"WARNING: {failed} computed checksum{'s' if failed > 1 else ''} did NOT match")
    return EXIT_FAILED if failed else EXIT_OK


async def _verdict(api: Api, ledger: Ledger, path: Path, algorithm: str) -> str:
    entry = ledger.get(path)
    if entry is None:
        return "FAILED (no upload of it is recorded for this profile)"
    file = (await api.call(ops.GET_FILE, id=entry["id"]))["file"]
    if file is None:
        return f"FAILED (its file {entry['id']} is gone)"
    if file["status"] != "HASHED":
        return f"FAILED (the server's record is {file['status']})"
    try:
        local = await asyncio.to_thread(digest_of, path, algorithm)
    except OSError:
        return "FAILED open or read"
    return "OK" if local == file["hashes"][algorithm] else "FAILED"


# --- files -------------------------------------------------------------------------------------------------


async def ls(args: argparse.Namespace) -> int:
    """A signed-in user's files (an admin's: everyone's); with an API key, the files uploaded from here."""
    api, ledger = _api(args)
    async with api:
        files: list[dict[str, Any]] = []
        token = None
        while len(files) < args.limit:
            page = (await api.call(ops.LIST_FILES, limit=min(100, args.limit - len(files)), nextToken=token))["files"]
            files.extend(page["items"])
            token = page["nextToken"]
            if token is None:
                break
        if api.anonymous:  # `files` shows none of the space's files: read the ones uploaded from here
            for file_id in reversed(ledger.file_ids()[-args.limit :]):
                file = (await api.call(ops.GET_FILE, id=file_id))["file"]
                if file is not None:
                    files.append(file)
    if args.json:
        for file in files:
            output.json_line(file)
    else:
        output.stdout.print(output.files_table(files))
    return EXIT_OK


async def get(args: argparse.Namespace) -> int:
    api, _ = _api(args)
    async with api:
        file = (await api.call(ops.GET_FILE, id=args.id))["file"]
    if file is None:
        raise NotFoundError(f"no file {args.id} for these credentials")
    if args.json:
        output.json_line(file)
    else:
        output.stdout.print(output.file_details(file))
    return EXIT_OK


async def find(args: argparse.Namespace) -> int:
    """Hashed files with this content; the API key's space says only how many there are."""
    if not SHA256.fullmatch(args.sha256):
        raise UsageError(f"not a SHA-256: {args.sha256!r} (64 hexadecimal characters)")
    api, _ = _api(args)
    async with api:
        files = (await api.call(ops.FILES_BY_HASH, sha256=args.sha256.lower()))["filesByHash"]
        count = (await api.call(ops.DUPLICATE_COUNT, sha256=args.sha256.lower()))["duplicateCount"]
    for file in files:
        _print_file(file, file["name"], args.json, f"{file['id']}  {file['name']}")
    if not files and count:
        held = "1 hashed file holds" if count == 1 else f"{count} hashed files hold"
        output.note(f"{held} this content; an API key is not told their ids")
    return EXIT_OK if files or count else EXIT_FAILED


async def rm(args: argparse.Namespace) -> int:
    api, _ = _api(args)
    status = EXIT_OK
    async with api:
        for file_id in args.ids:
            file = (await api.call(ops.DELETE_FILE, id=file_id))["deleteFile"]
            if file is None:
                output.note(f"no file {file_id} for these credentials")
                status = EXIT_FAILED
            else:
                output.line(f"removed {file_id}  {file['name']}")
    return status


async def share(args: argparse.Namespace) -> int:
    api, _ = _api(args)
    async with api:
        made = (await api.call(ops.SHARE_FILE, id=args.id, expiresIn=args.expires))["shareFile"]
    if args.json:
        output.json_line(made)
    else:
        output.line(made["token"])
        output.note(f"anyone holding that token can download {made['fileId']} until {made['expiresAt']}")
    return EXIT_OK


async def unshare(args: argparse.Namespace) -> int:
    api, _ = _api(args)
    async with api:
        revoked = (await api.call(ops.REVOKE_SHARE, token=args.token))["revokeShare"]
    if not revoked:
        raise NotFoundError("no such share (revoked or expired already?)")
    return EXIT_OK


async def download_command(args: argparse.Namespace) -> int:
    """A file by id, or by share token, kept only if its digests match the record."""
    api, _ = _api(args)
    async with api, httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        if _is_file_id(args.what):
            file = (await api.call(ops.GET_FILE_WITH_URL, id=args.what))["file"]
        else:
            file = (await api.call(ops.SHARED_FILE, token=args.what))["sharedFile"]
        if file is None:
            raise NotFoundError(f"no file or share {args.what} for these credentials")
        name = Path(file["name"]).name or file["id"]  # never a path the server chose
        target = Path(args.output or name)
        if target.is_dir():
            target /= name
        with output.progress_bars(not args.quiet) as progress:
            await download(http, file, target, output.tracker(progress, str(target), int(file["size"])))
    output.line(output.digest_line(file, "sha256", str(target)))
    return EXIT_OK


def _is_file_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def stats(args: argparse.Namespace) -> int:
    api, _ = _api(args)
    async with api:
        found = (await api.call(ops.STATS, days=args.days, everyone=args.everyone or None))["stats"]
    render_stats(found, args.json)
    return EXIT_OK


def render_stats(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output.json_line(found)
        return
    output.stdout.print(output.stats_table(found))
    if found["days"]:
        output.stdout.print()
        output.stdout.print(output.day_chart(found["days"]))


async def watch(args: argparse.Namespace) -> int:
    """Print onFileHashed (and, for named files, onFileProgress) events as they happen."""
    api, _ = _api(args)
    if api.anonymous and not args.ids:
        raise UsageError("with an API key, name the files to watch: `lambdashare watch ID…`")
    events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    async with api, api.subscriptions() as session, asyncio.TaskGroup() as group:

        async def follow(field: str, document: str, **variables: Any) -> None:
            async for result in api.events(session, document, **variables):
                if result.get(field):
                    await events.put((field, result[field]))

        followers = [group.create_task(follow("onFileHashed", ops.ON_FILE_HASHED, id=i)) for i in args.ids or [None]]
        if args.progress:
            followers += [group.create_task(follow("onFileProgress", ops.ON_FILE_PROGRESS, id=i)) for i in args.ids]
        output.note(f"watching {', '.join(args.ids) if args.ids else 'your files'} (Ctrl-C stops)")
        seen = 0
        while args.count is None or seen < args.count:
            field, event = await events.get()
            seen += 1
            if args.json:
                output.json_line({"event": field, **event})
            else:
                output.line(_event_text(field, event))
        for follower in followers:
            follower.cancel()
    return EXIT_OK


def _event_text(field: str, event: dict[str, Any]) -> str:
    if field == "onFileProgress":
        share = event["hashedBytes"] / event["size"] * 100 if event["size"] else 100
        return f"HASHING  {event['id']}  {event['hashedBytes']:.0f}/{event['size']:.0f} ({share:.0f}%)"
    detail = f"sha256={event['hashes']['sha256']}" if event.get("hashes") else (event.get("error") or "")
    return f"{event['status']}  {event['id']}  {event['name']}  {detail}".rstrip()


# --- sign-in and configuration -----------------------------------------------------------------------------


async def login(args: argparse.Namespace) -> int:
    """USER_PASSWORD_AUTH against the profile's user pool (a local emulator's, found in its /config.json)."""
    directory, profile = _target(args)
    username = args.username or input("Email: ").strip()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    if not username or not password:
        raise UsageError("a user name and a password are needed")
    session = await asyncio.to_thread(sign_in, user_pool(profile), username, password)
    save_session(session_path(directory, profile), session)
    output.note(f"signed in as {username} (profile {profile.name!r})")
    return EXIT_OK


async def logout(args: argparse.Namespace) -> int:
    """Forget the profile's session (its tokens stay valid at AppSync until they expire, as on AWS)."""
    directory, profile = _target(args)
    path = session_path(directory, profile)
    if load_session(path) is None:
        output.note(f"profile {profile.name!r} was not signed in")
    path.unlink(missing_ok=True)
    return EXIT_OK


async def config_show(args: argparse.Namespace) -> int:
    directory, profile = _target(args)
    session = load_session(session_path(directory, profile))
    shown = {
        "profile": profile.name,
        "config file": str(directory / "config.ini"),
        **{key: getattr(profile, key) for key in SETTABLE},
        "signed in as": session["username"] if session else None,
    }
    if shown["api_key"]:
        shown["api_key"] = str(shown["api_key"])[:8] + "…"
    for key, value in shown.items():
        if value is not None:
            output.line(f"{key:20} {value}")
    return EXIT_OK


async def config_list(args: argparse.Namespace) -> int:
    for name, values in stored_profiles(config_dir()).items():
        output.line(f"{name:20} {values.get('endpoint', '')}")
    return EXIT_OK


async def config_set(args: argparse.Namespace) -> int:
    key = args.key.replace("-", "_")
    if key not in SETTABLE:
        raise UsageError(f"no setting {args.key!r}; settings: {', '.join(SETTABLE)}")
    if key == "auth" and args.value not in AUTH_MODES:
        raise UsageError(f"auth is one of {', '.join(AUTH_MODES)}")
    directory, profile = _target(args, create=True)
    save_profile(directory, profile.name, {key: args.value})
    return EXIT_OK


async def config_unset(args: argparse.Namespace) -> int:
    key = args.key.replace("-", "_")
    if key not in SETTABLE:
        raise UsageError(f"no setting {args.key!r}; settings: {', '.join(SETTABLE)}")
    directory, profile = _target(args)
    save_profile(directory, profile.name, {key: None})
    return EXIT_OK


#: the stack outputs `sam deploy` leaves (template.yaml's Outputs) and the profile fields they fill
STACK_OUTPUTS = {
    "GraphQLUrl": "endpoint",
    "ApiKey": "api_key",
    "Region": "region",
    "UserPoolId": "user_pool_id",
    "UserPoolClientId": "user_pool_client_id",
}


async def config_from_stack(args: argparse.Namespace) -> int:
    """Fill the profile from a deployed stack's outputs (CloudFormation DescribeStacks, default AWS credentials)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    directory, profile = _target(args, create=True)
    try:
        client = boto3.client("cloudformation", region_name=args.region)
        stacks = await asyncio.to_thread(client.describe_stacks, StackName=args.stack)
    except ClientError as exc:
        raise UsageError(f"stack {args.stack}: {exc.response.get('Error', {}).get('Message')}") from exc
    except BotoCoreError as exc:
        raise AuthError(f"cannot ask CloudFormation: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}
    if "GraphQLUrl" not in outputs:
        raise UsageError(f"stack {args.stack} has no GraphQLUrl output: is it lambdashare's?")
    save_profile(
        directory, profile.name, {field: outputs[key] for key, field in STACK_OUTPUTS.items() if key in outputs}
    )
    output.note(f"profile {profile.name!r} now targets {outputs['GraphQLUrl']}")
    return EXIT_OK
