"""Configuration, read once from an injectable mapping (Lambda's environment, or the emulator's).

`read_config` is the one reader of settings, here and in the emulator's `EmulatorConfig`: a missing or
unusable value is a `ConfigError` that names the variable. Not responsible for choosing adapters:
`backends` does that from these values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

BACKEND_ENV = "LAMBDASHARE_BACKEND"
DATA_DIR_ENV = "LAMBDASHARE_DATA_DIR"
TABLE_ENV = "LAMBDASHARE_TABLE"
STATS_TABLE_ENV = "LAMBDASHARE_STATS_TABLE"
#: Days of analytics the daily rollup keeps (template.yaml's StatsRetentionDays).
STATS_RETENTION_DAYS_ENV = "LAMBDASHARE_STATS_RETENTION_DAYS"
DEFAULT_STATS_RETENTION_DAYS = 400
BUCKET_ENV = "LAMBDASHARE_BUCKET"
APPSYNC_URL_ENV = "LAMBDASHARE_APPSYNC_URL"
PUBLIC_URL_ENV = "LAMBDASHARE_PUBLIC_URL"
SECRET_ENV = "LAMBDASHARE_SECRET"
UPLOAD_EXPIRES_ENV = "LAMBDASHARE_UPLOAD_EXPIRES"
DOWNLOAD_EXPIRES_ENV = "LAMBDASHARE_DOWNLOAD_EXPIRES"
MAX_UPLOAD_SIZE_ENV = "LAMBDASHARE_MAX_UPLOAD_SIZE"
PENDING_GRACE_ENV = "LAMBDASHARE_PENDING_GRACE"
#: The template's MaxUploadSize default (its comment derives it): 32 GiB, what one hasher run can hash.
DEFAULT_MAX_UPLOAD_SIZE = 32 * 1024**3
#: The template's PendingGracePeriod default: a PENDING file expires 15 days after its upload URL, once
#: a failed S3 event can no longer be redriven from HasherFailureQueue (14 days) to hash it.
DEFAULT_PENDING_GRACE = 15 * 86400
REGION_ENV = "AWS_REGION"
#: Only for S3/DynamoDB-compatible servers (tests, SeaweedFS, DynamoDB Local); unset on AWS.
DYNAMODB_ENDPOINT_ENV = "LAMBDASHARE_DYNAMODB_ENDPOINT"
S3_ENDPOINT_ENV = "LAMBDASHARE_S3_ENDPOINT"

_MISSING = object()
T = TypeVar("T")


class ConfigError(Exception):
    pass


def read_config(environ: Mapping[str, str], name: str, cast: Callable[[str], T], default: object = _MISSING) -> T:
    """`environ[name]` through `cast` (which raises ValueError for a bad value); unset or empty: `default`."""
    raw = environ.get(name)
    if raw is None or raw == "":
        if default is _MISSING:
            raise ConfigError(f"Config '{name}' is missing, and has no default.")
        return default  # type: ignore[return-value]
    try:
        return cast(raw)
    except ValueError as exc:
        raise ConfigError(f"Config '{name}' has an invalid value: {exc}") from None


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{raw!r} is not a whole number greater than 0")
    return value


def positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{raw!r} is not a number greater than 0")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    backend: str
    data_dir: Path | None
    table: str
    bucket: str
    appsync_url: str | None
    public_url: str
    secret: str
    region: str
    upload_expires: int
    download_expires: int
    max_upload_size: int
    pending_grace: int = DEFAULT_PENDING_GRACE
    stats_table: str = "stats"
    stats_retention_days: int = DEFAULT_STATS_RETENTION_DAYS
    dynamodb_endpoint: str | None = None
    s3_endpoint: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        backend = read_config(environ, BACKEND_ENV, str, "local")
        if backend not in ("local", "aws"):
            raise ConfigError(f"Config '{BACKEND_ENV}' must be 'local' or 'aws', not {backend!r}.")
        local = backend == "local"
        return cls(
            backend=backend,
            data_dir=read_config(environ, DATA_DIR_ENV, Path) if local else None,
            table=read_config(environ, TABLE_ENV, str, "files" if local else _MISSING),
            bucket=read_config(environ, BUCKET_ENV, str, "local" if local else _MISSING),
            appsync_url=read_config(environ, APPSYNC_URL_ENV, str, None),
            public_url=read_config(environ, PUBLIC_URL_ENV, str, "http://127.0.0.1:8000").rstrip("/"),
            secret=read_config(environ, SECRET_ENV, str),
            region=read_config(environ, REGION_ENV, str, "us-east-1"),
            upload_expires=read_config(environ, UPLOAD_EXPIRES_ENV, int, 900),
            download_expires=read_config(environ, DOWNLOAD_EXPIRES_ENV, int, 300),
            max_upload_size=read_config(environ, MAX_UPLOAD_SIZE_ENV, int, DEFAULT_MAX_UPLOAD_SIZE),
            pending_grace=read_config(environ, PENDING_GRACE_ENV, positive_int, DEFAULT_PENDING_GRACE),
            stats_table=read_config(environ, STATS_TABLE_ENV, str, "stats" if local else _MISSING),
            stats_retention_days=read_config(
                environ, STATS_RETENTION_DAYS_ENV, positive_int, DEFAULT_STATS_RETENTION_DAYS
            ),
            dynamodb_endpoint=read_config(environ, DYNAMODB_ENDPOINT_ENV, str, None),
            s3_endpoint=read_config(environ, S3_ENDPOINT_ENV, str, None),
        )
