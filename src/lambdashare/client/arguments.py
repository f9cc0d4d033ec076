"""The client's commands on the command line (argparse, as `serve` and `token` use: one parser for the whole
`lambdashare` program, whose exit status 2 for a usage error is the one the client documents). Every command has
an example in its --help.

Only argparse here: a command's module (`commands`, with gql, aiohttp, rich) is imported when it runs, so `lambdashare
serve` and `lambdashare token` start as fast as before.
"""

from __future__ import annotations

import argparse
from typing import Any

from lambdashare.client.config import AUTH_MODES, SETTABLE
from lambdashare.domain.model import ALGORITHMS
from lambdashare.domain.multipart import DEFAULT_MIN_PART, MIN_PART, MiB
from lambdashare.durations import seconds

EXIT_STATUS_HELP = (
    "exit status: 0 ok, 1 a file FAILED, mismatched or is missing, 2 usage, credential or connection error"
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _part_size(text: str) -> int:
    value = int(text)
    if value * MiB < MIN_PART:
        raise argparse.ArgumentTypeError(f"parts are at least {MIN_PART // MiB} MiB")
    return value


def add_commands(commands: Any) -> None:
    """Add the client's commands to `lambdashare`'s sub-command parser."""
    common = argparse.ArgumentParser(add_help=False)
    target = common.add_argument_group("target and credentials")
    target.add_argument(
        "--endpoint",
        help="the GraphQL URL (default: $LAMBDASHARE_ENDPOINT, the profile's, or http://127.0.0.1:8000/graphql)",
    )
    target.add_argument(
        "--api-key", help="use this API key (default: $LAMBDASHARE_API_KEY, the profile's, or a local emulator's)"
    )
    target.add_argument("--profile", help="a profile of the config file (default: $LAMBDASHARE_PROFILE or default)")
    target.add_argument(
        "--auth",
        choices=AUTH_MODES,
        help="force a way to sign requests (default: the profile's; else a `login` session; else an API key)",
    )
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="one JSON object per line")
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    def command(name: str, function: str, summary: str, example: str, *parents: argparse.ArgumentParser) -> Any:
        parser = commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=f"example:\n  {example}\n\n{EXIT_STATUS_HELP}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common, *parents],
        )
        parser.set_defaults(func=lambda args: _run(function, args))
        return parser

    up = command(
        "upload",
        "upload",
        "upload files; with --wait, print their digests as they are computed",
        "lambdashare upload --wait *.iso > SHA256SUMS && sha256sum --check SHA256SUMS",
        json_flag,
        quiet,
    )
    up.add_argument("files", nargs="+", metavar="FILE")
    up.add_argument("--wait", action="store_true", help="wait for each file's digests and print them")
    up.add_argument("--algo", choices=ALGORITHMS, default="sha256", help="the digest --wait prints (default sha256)")
    up.add_argument("--parallel", type=_positive, default=4, help="parts sent at once (default 4)")
    up.add_argument(
        "--part-size",
        type=_part_size,
        default=DEFAULT_MIN_PART // MiB,
        metavar="MIB",
        help="bytes per part in MiB, at least 5; a bigger file goes in parts (default %(default)s)",
    )
    up.add_argument("--resume", action="store_true", help="continue an interrupted multipart upload of these files")

    checked = command(
        "check",
        "check",
        "hash files here and compare with the server's record of their upload (OK/FAILED)",
        "lambdashare check report.pdf photos/*.jpg",
    )
    checked.add_argument("files", nargs="+", metavar="FILE")
    checked.add_argument("--algo", choices=ALGORITHMS, default="sha256", help="the digest compared (default sha256)")

    listed = command(
        "ls", "ls", "list your files (with an API key: those uploaded from here)", "lambdashare ls --json", json_flag
    )
    listed.add_argument("--limit", type=_positive, default=100, help="at most this many (default 100)")

    command("get", "get", "show one file", "lambdashare get 2f1c…-…", json_flag).add_argument("id", metavar="ID")

    command(
        "find",
        "find",
        "find hashed files with this SHA-256 (duplicates)",
        "lambdashare find $(sha256sum big.iso | cut -c1-64)",
        json_flag,
    ).add_argument("sha256", metavar="SHA256")

    command("rm", "rm", "delete files", "lambdashare rm 2f1c…-…").add_argument("ids", nargs="+", metavar="ID")

    shared = command(
        "share", "share", "make a download link token for a file", "lambdashare share 2f1c…-… --expires 1h", json_flag
    )
    shared.add_argument("id", metavar="ID")
    shared.add_argument("--expires", type=seconds, help="lifetime: 90s, 15m, 1h, 2d (default a day, at most 7 days)")

    command("unshare", "unshare", "revoke a share token", "lambdashare unshare X7p…").add_argument(
        "token", metavar="TOKEN"
    )

    fetched = command(
        "download",
        "download_command",
        "download a file by id or share token, checking its digests as it arrives",
        "lambdashare download X7p… -o report.pdf",
        quiet,
    )
    fetched.add_argument("what", metavar="ID|TOKEN")
    fetched.add_argument(
        "-o", "--output", metavar="FILE", help="where to write it, or a directory (default: its name, here)"
    )

    counted = command(
        "stats",
        "stats",
        "upload and hashing statistics: a table and a chart per day",
        "lambdashare stats --days 7",
        json_flag,
    )
    counted.add_argument("--days", type=_positive, help="how many days back (default: the server's)")
    counted.add_argument("--everyone", action="store_true", help="every user's (admins only)")

    watched = command(
        "watch",
        "watch",
        "print onFileHashed / onFileProgress events as they happen",
        "lambdashare watch 2f1c…-… --count 1",
        json_flag,
    )
    watched.add_argument("ids", nargs="*", metavar="ID", help="files to follow (needed with an API key)")
    watched.add_argument("--count", type=_positive, help="stop after this many events")
    watched.add_argument("--no-progress", dest="progress", action="store_false", help="only the final events")

    signed = command(
        "login",
        "login",
        "sign in to the profile's user pool (USER_PASSWORD_AUTH)",
        "lambdashare login --username alice@example.com",
    )
    signed.add_argument("--username", help="the email you signed up with (asked if missing)")
    signed.add_argument("--password-stdin", action="store_true", help="read the password from stdin, not a prompt")

    command("logout", "logout", "forget the profile's session", "lambdashare logout --profile work")

    configure = command(
        "config",
        "config_show",
        "show or change profiles (default: show the one in use)",
        "lambdashare config set endpoint https://abc.appsync-api.eu-west-1.amazonaws.com/graphql",
    )
    steps = configure.add_subparsers(dest="step", metavar="{show,list,set,unset,from-stack}")

    def step(name: str, function: str, summary: str, example: str) -> Any:
        parser = steps.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )
        parser.set_defaults(func=lambda args: _run(function, args))
        return parser

    step("show", "config_show", "the profile in use, as resolved", "lambdashare config show --profile work")
    step("list", "config_list", "the stored profiles", "lambdashare config list")
    setting = step(
        "set", "config_set", f"set one of: {', '.join(SETTABLE)}", "lambdashare config set auth iam --profile work"
    )
    setting.add_argument("key")
    setting.add_argument("value")
    step("unset", "config_unset", "remove a setting", "lambdashare config unset api_key").add_argument("key")
    stack = step(
        "from-stack",
        "config_from_stack",
        "fill the profile from a deployed stack's outputs",
        "lambdashare config from-stack lambdashare --region eu-west-1 --profile prod",
    )
    stack.add_argument("stack", metavar="STACK")
    stack.add_argument("--region", help="the stack's region (default: the AWS configuration's)")


def _run(function: str, args: argparse.Namespace) -> int:
    from lambdashare.client import commands

    return commands.run(getattr(commands, function), args)
