"""The `lambdashare` command: `serve` runs the local emulator, `run-schedule` fires one of its schedules,
`export-schema` writes schema.graphql; the client's commands (upload, check, ls, ..., login, config) are
wired in `lambdashare.client.arguments`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lambdashare import settings
from lambdashare.client.arguments import add_commands
from lambdashare.durations import seconds
from lambdashare.emulator.config import API_KEY_ENV, DEFAULT_DATA_DIR, TLS_CA_ENV


def serve(args: argparse.Namespace) -> int:
    """Run the emulator in the foreground until interrupted.

    Example
    -------
    ``lambdashare serve --port 8000 --data-dir .lambdashare``; with ``--reload``, changes to the template and
    the code are served as they are saved (see `lambdashare.emulator.reload`).
    """
    import functools

    import uvicorn

    from lambdashare.emulator.app import create_app
    from lambdashare.emulator.config import EmulatorConfig
    from lambdashare.emulator.identity_provider import UserPool
    from lambdashare.emulator.runtime import check_template
    from lambdashare.emulator.template import TemplateError

    public_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    data_dir = Path(args.data_dir).resolve()
    tls: dict[str, str] = {}
    if args.tls or args.tls_cert:
        if bool(args.tls_cert) != bool(args.tls_key):
            raise SystemExit("--tls-cert and --tls-key go together")
        if args.tls_cert:
            tls = {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
        else:
            from lambdashare.tls import ensure_certificate

            cert, key = ensure_certificate(data_dir, [public_host])
            tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
            os.environ[TLS_CA_ENV] = str(cert)  # our own functions call back over https and must trust it
    scheme = "https" if tls else "http"
    os.environ[settings.DATA_DIR_ENV] = str(data_dir)
    os.environ[settings.PUBLIC_URL_ENV] = args.public_url or f"{scheme}://{public_host}:{args.port}"
    if args.api_key:
        os.environ[API_KEY_ENV] = args.api_key
    try:
        config = EmulatorConfig.from_env()
        check_template()
    except (settings.ConfigError, TemplateError) as exc:
        print(f"lambdashare: {exc}", file=sys.stderr)
        return 2
    pool = UserPool.load_or_create(config.data_dir, config.region)
    ws_url = config.public_url.replace("http", "ws", 1)
    certificate = f"\n  TLS cert   {tls['ssl_certfile']}" if tls else ""
    reloading = (
        "\n  Reload     on: changes to the template and the code are served as they are saved" if args.reload else ""
    )
    print(
        f"lambdashare emulator\n"
        f"  GraphQL    POST {config.graphql_url}   (explorer: GET in a browser)\n"
        f"  Real-time  {ws_url}/graphql  and  {ws_url}/graphql/realtime\n"
        f"  User pool  POST {config.public_url}/cognito-idp/   (pool {pool.pool_id}, app client {pool.client_id})\n"
        f"  Web app    {config.public_url}/\n"
        f"  API key    {config.api_key}\n"
        f"  Data dir   {config.data_dir}{certificate}{reloading}",
        flush=True,
    )
    uvicorn.run(
        functools.partial(create_app, reload=args.reload),
        factory=True,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        ws_max_size=256 * 1024,
        timeout_graceful_shutdown=5,
        **tls,  # type: ignore[arg-type]
    )
    return 0


def token(args: argparse.Namespace) -> int:
    """Print a Cognito-style RS256 JWT for a local user, alone on stdout, signed by the data dir's key pair.

    Parameters
    ----------
    args.user, args.group, args.ttl
        ``cognito:username`` (``username`` in an access token), ``cognito:groups``, lifetime in seconds.
    args.token_use
        ``id`` (an ID token: ``aud`` is the app client) or ``access`` (what Amplify sends: ``client_id``).
    args.data_dir
        The data dir ``serve`` uses, whose user pool the emulator trusts.

    Example
    -------
    ``lambdashare token --user alice --group admins --ttl 1h``
    """
    from lambdashare.emulator.identity_provider import UserPool

    region = os.environ.get(settings.REGION_ENV) or "us-east-1"
    try:
        pool = UserPool.load_or_create(Path(args.data_dir).resolve(), region)
    except (OSError, ValueError) as exc:
        print(f"lambdashare token: cannot use the user pool in {args.data_dir}: {exc}", file=sys.stderr)
        return 1
    print(pool.issue(args.user, groups=args.group, ttl_s=args.ttl, token_use=args.token_use))
    return 0


def add_to_group(args: argparse.Namespace) -> int:
    """Put a user of the local user pool into one of the template's groups (Cognito's AdminAddUserToGroup).

    Members of ``admins`` read every file; the user's next sign-in or token refresh carries the group.

    Example
    -------
    ``lambdashare add-to-group alice@example.com admins``
    """
    from lambdashare.adapters.local.sqlite_user_store import SqliteUserStore
    from lambdashare.emulator.identity_provider import UserPool
    from lambdashare.emulator.pool_settings import load_pool_settings
    from lambdashare.emulator.runtime import template_path
    from lambdashare.emulator.user_pool_api import CognitoError, UserPoolApi

    data_dir = Path(args.data_dir).resolve()
    region = os.environ.get(settings.REGION_ENV) or "us-east-1"
    api = UserPoolApi(
        UserPool.load_or_create(data_dir, region), load_pool_settings(template_path()), SqliteUserStore(data_dir)
    )
    try:
        api.add_user_to_group(args.username, args.group)
    except CognitoError as exc:
        print(f"lambdashare add-to-group: {exc.error_type}: {exc.message}", file=sys.stderr)
        return 1
    return 0


def run_schedule(args: argparse.Namespace) -> int:
    """Fire one schedule of the template now, against a data dir, and print the handler's result as JSON.

    NAME is the function's logical id (if it has one schedule) or ``Function.Event``. The event is the one
    the scheduler sends (the Input, its scheduled time now); a failing handler is not retried here.

    Example
    -------
    ``lambdashare run-schedule AnalyticsFunction.DailyRollup --data-dir .lambdashare``
    """
    import asyncio
    import json
    from datetime import UTC, datetime

    from lambdashare.emulator.config import EmulatorConfig
    from lambdashare.emulator.lambda_runtime import LambdaError, WorkerPoolFunction
    from lambdashare.emulator.runtime import (
        AWS_ONLY_SCHEDULES,
        DEFAULT_AUTH_MODE,
        function_environ,
        local_timetables,
        template_path,
    )
    from lambdashare.emulator.scheduler import schedule_event
    from lambdashare.emulator.schema_rules import SchemaRules
    from lambdashare.emulator.template import TemplateError, load_wiring
    from lambdashare.schema_export import appsync_sdl

    os.environ[settings.DATA_DIR_ENV] = str(Path(args.data_dir).resolve())
    try:
        config = EmulatorConfig.from_env()
        wiring = load_wiring(template_path(), SchemaRules.from_sdl(appsync_sdl(), DEFAULT_AUTH_MODE))
    except (settings.ConfigError, TemplateError) as exc:
        print(f"lambdashare run-schedule: {exc}", file=sys.stderr)
        return 2
    named = [s for s in wiring.schedules if args.name in (s.name, s.function)]
    if len(named) != 1:
        known = ", ".join(s.name for s in wiring.schedules) or "none"
        why = "names more than one schedule" if named else "is not a schedule of the template"
        print(f"lambdashare run-schedule: {args.name!r} {why} (schedules: {known})", file=sys.stderr)
        return 2
    (schedule,) = named
    if schedule.function in AWS_ONLY_SCHEDULES:
        print(
            f"lambdashare run-schedule: {schedule.name} runs on AWS only: {AWS_ONLY_SCHEDULES[schedule.function]}",
            file=sys.stderr,
        )
        return 2
    try:
        local_timetables([schedule])  # refuses what the emulator's scheduler would refuse
    except TemplateError as exc:
        print(f"lambdashare run-schedule: {exc}", file=sys.stderr)
        return 2
    spec = wiring.functions[schedule.function]
    function = WorkerPoolFunction(
        spec.logical_id, spec.handler, environ=function_environ(spec, config), workers=1, timeout_s=spec.timeout_s
    )
    try:
        result = asyncio.run(function.invoke(schedule_event(schedule, datetime.now(UTC), 1)))
    except LambdaError as exc:
        print(json.dumps({"errorType": exc.error_type, "errorMessage": exc.message}))
        return 1
    finally:
        function.close()
    print(json.dumps(result))
    return 0


def _username(name: str) -> str:
    if not name.strip():
        raise argparse.ArgumentTypeError("the user name must not be empty")
    return name


def export_schema(args: argparse.Namespace) -> int:
    """Print or write the AppSync SDL; with --check, fail when the file differs."""
    from lambdashare.schema_export import appsync_sdl

    sdl = appsync_sdl()
    if args.check:
        current = Path(args.output).read_text(encoding="utf-8") if Path(args.output).exists() else ""
        if current != sdl:
            print(f"{args.output} is out of date: run `make schema`.", file=sys.stderr)
            return 1
        return 0
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambdashare")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the local AppSync emulator")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--data-dir", default=os.environ.get(settings.DATA_DIR_ENV, DEFAULT_DATA_DIR))
    run.add_argument("--api-key", default=os.environ.get(API_KEY_ENV), help="default: generated once per data dir")
    run.add_argument("--public-url", default=os.environ.get(settings.PUBLIC_URL_ENV), help="base URL clients reach")
    run.add_argument("--tls", action="store_true", help="serve https/wss with a certificate made once per data dir")
    run.add_argument("--tls-cert", help="serve https/wss with this certificate (PEM) ...")
    run.add_argument("--tls-key", help="... and this key (PEM)")
    run.add_argument("--log-level", default="warning")
    run.add_argument(
        "--reload", action="store_true", help="serve changes to the template and the code as they are saved"
    )
    run.set_defaults(func=serve)

    issue = commands.add_parser("token", help="print a Cognito-style JWT for a local user")
    issue.add_argument("--user", required=True, type=_username)
    issue.add_argument("--group", action="append", default=[], help="a Cognito group; repeatable")
    issue.add_argument("--ttl", type=seconds, default="1h", help="lifetime: 90s, 15m, 1h, 2d")
    issue.add_argument("--token-use", choices=["id", "access"], default="id")
    issue.add_argument("--data-dir", default=os.environ.get(settings.DATA_DIR_ENV, DEFAULT_DATA_DIR))
    issue.set_defaults(func=token)

    grouping = commands.add_parser("add-to-group", help="put a local user pool user into a group, e.g. admins")
    grouping.add_argument("username", help="the user's sign-in name (their email)")
    grouping.add_argument("group", help="a group the template declares (AWS::Cognito::UserPoolGroup)")
    grouping.add_argument("--data-dir", default=os.environ.get(settings.DATA_DIR_ENV, DEFAULT_DATA_DIR))
    grouping.set_defaults(func=add_to_group)

    fire = commands.add_parser("run-schedule", help="fire one of the template's schedules now")
    fire.add_argument("name", help="the function's logical id, or Function.EventName")
    fire.add_argument("--data-dir", default=os.environ.get(settings.DATA_DIR_ENV, DEFAULT_DATA_DIR))
    fire.set_defaults(func=run_schedule)

    schema = commands.add_parser("export-schema", help="write schema.graphql from the code")
    schema.add_argument("--output", default="schema.graphql", help="a path, or - for stdout")
    schema.add_argument("--check", action="store_true", help="fail if the file differs")
    schema.set_defaults(func=export_schema)

    add_commands(commands)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
