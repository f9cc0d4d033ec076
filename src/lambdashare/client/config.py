"""Which API the client talks to, and how it signs in: flags first, then the environment, then a named profile
of `config.ini` in the user's config directory (platformdirs; `LAMBDASHARE_CONFIG_DIR` overrides it).

Not responsible for credentials (`auth` keeps the signed-in sessions next to this file).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from lambdashare.client.errors import UsageError

CONFIG_DIR_ENV = "LAMBDASHARE_CONFIG_DIR"
ENDPOINT_ENV = "LAMBDASHARE_ENDPOINT"
PROFILE_ENV = "LAMBDASHARE_PROFILE"
#: the same variable `lambdashare serve` reads its key from
API_KEY_ENV = "LAMBDASHARE_API_KEY"
DEFAULT_ENDPOINT = "http://127.0.0.1:8000/graphql"
DEFAULT_PROFILE = "default"
AUTH_MODES = ("api-key", "cognito", "iam")


@dataclass(frozen=True)
class Profile:
    """One target: a GraphQL endpoint and what the client needs to sign in to it (unset fields are found later:
    a local emulator's `/config.json` names its user pool and, to this machine, its API key)."""

    name: str = DEFAULT_PROFILE
    endpoint: str = DEFAULT_ENDPOINT
    auth: str | None = None
    api_key: str | None = None
    region: str | None = None
    user_pool_id: str | None = None
    user_pool_client_id: str | None = None
    user_pool_endpoint: str | None = None

    @property
    def base_url(self) -> str:
        """The endpoint without its `/graphql` path: where a local emulator serves `/config.json`."""
        return self.endpoint.removesuffix("/").removesuffix("/graphql")

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc

    @property
    def loopback(self) -> bool:
        return urlsplit(self.endpoint).hostname in ("127.0.0.1", "localhost", "::1")

    @property
    def realtime_url(self) -> str:
        """gql's AppSync transport turns https:// into wss:// (and appsync-api into appsync-realtime-api) itself,
        not http:// into ws://, which a local emulator without TLS needs."""
        if self.endpoint.startswith("http://"):
            return "ws://" + self.endpoint.removeprefix("http://")
        return self.endpoint


SETTABLE = tuple(f.name for f in fields(Profile) if f.name != "name")


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get(CONFIG_DIR_ENV) or platformdirs.user_config_dir("lambdashare"))


def _config_file(directory: Path) -> Path:
    return directory / "config.ini"


def _read(directory: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(_config_file(directory), encoding="utf-8")
    return parser


def stored_profiles(directory: Path) -> dict[str, dict[str, str]]:
    parser = _read(directory)
    return {name: dict(parser[name]) for name in parser.sections()}


def save_profile(directory: Path, name: str, values: Mapping[str, str | None]) -> None:
    """Set (or, with None, remove) fields of a profile; the file is private to the user (it may hold an API key)."""
    parser = _read(directory)
    if not parser.has_section(name):
        parser.add_section(name)
    for key, value in values.items():
        if value is None:
            parser.remove_option(name, key)
        else:
            parser.set(name, key, value)
    directory.mkdir(parents=True, exist_ok=True)
    path = _config_file(directory)
    temporary = path.with_suffix(".tmp")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        parser.write(out)
    os.replace(temporary, path)


def resolve_profile(
    directory: Path,
    *,
    profile: str | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    auth: str | None = None,
    create: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> Profile:
    """The target of one command: explicit flags, then LAMBDASHARE_ENDPOINT / LAMBDASHARE_API_KEY, then the profile
    (`--profile`, LAMBDASHARE_PROFILE, or `default`), then the local emulator's default URL. A profile named with
    --profile must exist, unless it is being `create`d."""
    name = profile or environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    stored = stored_profiles(directory)
    if profile and name not in stored and not create:
        raise UsageError(f"no profile {name!r} in {_config_file(directory)} (see `lambdashare config set --help`)")
    chosen = Profile(name=name, **{k: v for k, v in stored.get(name, {}).items() if k in SETTABLE})
    overrides = {
        "endpoint": endpoint or environ.get(ENDPOINT_ENV),
        "api_key": api_key or environ.get(API_KEY_ENV),
        "auth": auth or ("api-key" if api_key else None),
    }
    return replace(chosen, **{k: v for k, v in overrides.items() if v})
