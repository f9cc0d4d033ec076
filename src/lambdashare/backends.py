"""Builds the ports a handler needs from `Settings`: local adapters or AWS ones.

Read once at cold start (or emulator start-up); handlers never construct adapters themselves. Both
backends' adapters are imported with this module, so a handler's import (Lambda's init phase) pays
for them, not its first event.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lambdashare.adapters.aws.appsync_publisher import AppSyncPublisher
from lambdashare.adapters.aws.dynamo_stats_store import DynamoStatsStore
from lambdashare.adapters.aws.dynamo_table import DynamoTable
from lambdashare.adapters.aws.s3_blob_store import S3BlobStore
from lambdashare.adapters.local.file_blob_store import FileBlobStore
from lambdashare.adapters.local.sqlite_stats_store import SqliteStatsStore
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.ports.blob_store import BlobStore
from lambdashare.ports.publisher import Publisher
from lambdashare.ports.stats_store import StatsStore
from lambdashare.ports.table import Table
from lambdashare.settings import ConfigError, Settings


@dataclass(frozen=True, slots=True)
class Ports:
    settings: Settings
    table: Table
    blobs: BlobStore


def build_ports(settings: Settings) -> Ports:
    if settings.backend == "local":
        assert settings.data_dir is not None
        table: Table = SqliteTable(settings.data_dir, table_name=settings.table, region=settings.region)
        blobs: BlobStore = FileBlobStore(
            settings.data_dir, bucket=settings.bucket, public_url=settings.public_url, secret=settings.secret
        )
        return Ports(settings, table, blobs)
    if settings.backend == "aws":
        table = DynamoTable(settings.table, region=settings.region, endpoint_url=settings.dynamodb_endpoint)
        blobs = S3BlobStore(settings.bucket, region=settings.region, endpoint_url=settings.s3_endpoint)
        return Ports(settings, table, blobs)
    raise ConfigError(f"Config 'LAMBDASHARE_BACKEND' must be 'local' or 'aws', not {settings.backend!r}.")


def build_publisher(settings: Settings) -> Publisher:
    if not settings.appsync_url:
        raise ConfigError("Config 'LAMBDASHARE_APPSYNC_URL' is missing, and has no default.")
    return AppSyncPublisher(settings.appsync_url, settings.region)


def build_stats_store(settings: Settings) -> StatsStore:
    """The analytics counters: in the local database file, or in the stats table."""
    if settings.backend == "local":
        assert settings.data_dir is not None
        return SqliteStatsStore(settings.data_dir)
    if settings.backend == "aws":
        return DynamoStatsStore(settings.stats_table, region=settings.region, endpoint_url=settings.dynamodb_endpoint)
    raise ConfigError(f"Config 'LAMBDASHARE_BACKEND' must be 'local' or 'aws', not {settings.backend!r}.")


@cache
def ports_from_env() -> Ports:
    """The process's ports, built on first use (a Lambda cold start) from os.environ."""
    return build_ports(Settings.from_env())


@cache
def stats_store_from_env() -> StatsStore:
    """The process's analytics store, built on first use from os.environ."""
    return build_stats_store(ports_from_env().settings)
