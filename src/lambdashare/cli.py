"""The `lambdashare` command: `serve` runs the local emulator, `export-schema` writes schema.graphql."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lambdashare import settings
from lambdashare.emulator.config import API_KEY_ENV, DEFAULT_DATA_DIR


def serve(args: argparse.Namespace) -> int:
    """Run the emulator in the foreground until interrupted.

    Example
    -------
    ``lambdashare serve --port 8000 --data-dir .lambdashare``
    """
    import uvicorn

    from lambdashare.emulator.config import EmulatorConfig

    public_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    os.environ[settings.DATA_DIR_ENV] = str(Path(args.data_dir).resolve())
    os.environ[settings.PUBLIC_URL_ENV] = args.public_url or f"http://{public_host}:{args.port}"
    if args.api_key:
        os.environ[API_KEY_ENV] = args.api_key
    config = EmulatorConfig.from_env()
    ws_url = config.public_url.replace("http", "ws", 1)
    print(
        f"lambdashare emulator\n"
        f"  GraphQL    POST {config.graphql_url}   (explorer: GET in a browser)\n"
        f"  Real-time  {ws_url}/graphql  and  {ws_url}/graphql/realtime\n"
        f"  Web app    {config.public_url}/\n"
        f"  API key    {config.api_key}\n"
        f"  Data dir   {config.data_dir}",
        flush=True,
    )
    uvicorn.run(
        "lambdashare.emulator.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        ws_max_size=256 * 1024,
        timeout_graceful_shutdown=5,
    )
    return 0


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
    run.add_argument("--log-level", default="warning")
    run.set_defaults(func=serve)

    schema = commands.add_parser("export-schema", help="write schema.graphql from the code")
    schema.add_argument("--output", default="schema.graphql", help="a path, or - for stdout")
    schema.add_argument("--check", action="store_true", help="fail if the file differs")
    schema.set_defaults(func=export_schema)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
