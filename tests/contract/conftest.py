"""Every adapter of a port behind one fixture, so one suite holds them all to the same contract.

`table` and `stats` run over SQLite, moto and DynamoDB Local; `blobs` over the file store, moto and SeaweedFS.
moto runs as a server (`ThreadedMotoServer`) so that presigned URLs are sent over real HTTP;
it does not check their signatures, which is why the real servers are here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambdashare.adapters.aws import dynamo_stats_store, dynamo_table, s3_blob_store
from lambdashare.adapters.aws.dynamo_stats_store import DynamoStatsStore
from lambdashare.adapters.aws.dynamo_table import DynamoTable
from lambdashare.adapters.aws.s3_blob_store import S3BlobStore
from lambdashare.adapters.local.file_blob_store import STORAGE_PATH, FileBlobStore, ObjectExistsError
from lambdashare.adapters.local.sqlite_stats_store import SqliteStatsStore
from lambdashare.adapters.local.sqlite_table import SqliteTable
from lambdashare.domain.errors import NoSuchUpload, PreconditionFailed
from lambdashare.ports.blob_store import BlobStore, PresignedRequest
from lambdashare.ports.stats_store import StatsStore
from lambdashare.ports.table import Table
from tests.contract import _servers
from tests.contract._servers import REGION, Server


def _session(server: Server) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key, region_name=REGION
    )


def _answers(call: Callable[[], object]) -> bool:
    try:
        call()
    except (BotoCoreError, ClientError):
        return False
    return True


#: Readiness probes fail fast: the adapters' own clients would retry with backoff.
_PROBE = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=2)


def _s3_ready(server: Server) -> bool:
    client = _session(server).client("s3", endpoint_url=server.endpoint, config=_PROBE)
    return _answers(client.list_buckets)


def _dynamodb_ready(server: Server) -> bool:
    client = _session(server).client("dynamodb", endpoint_url=server.endpoint, config=_PROBE)
    return _answers(client.list_tables)


# --- servers (one per session) -----------------------------------------------------------------
@pytest.fixture(scope="session")
def moto_server() -> Iterator[Server]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield Server(f"http://{host}:{port}", access_key="moto", secret_key="moto")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _servers.seaweedfs(tmp_path_factory.mktemp("seaweedfs"), _s3_ready) as server:
        yield server


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _servers.dynamodb_local(tmp_path_factory.mktemp("dynamodb-local"), _dynamodb_ready) as server:
        yield server


# --- Table ---------------------------------------------------------------------------------------
def new_dynamo_table(server: Server) -> DynamoTable:
    client = dynamo_table.new_client(region=REGION, endpoint_url=server.endpoint, session=_session(server))
    name = f"files-{uuid.uuid4().hex[:12]}"
    client.create_table(**dynamo_table.table_definition(name))
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return DynamoTable(name, client=client)


@pytest.fixture(params=["sqlite", "moto", "dynamodb-local"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Table:
    if request.param == "sqlite":
        return SqliteTable(tmp_path)
    server: Server = request.getfixturevalue("moto_server" if request.param == "moto" else "dynamodb_local")
    return new_dynamo_table(server)


# --- StatsStore ----------------------------------------------------------------------------------
class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_750_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_dynamo_stats_store(server: Server, clock: FakeClock) -> DynamoStatsStore:
    client = dynamo_table.new_client(region=REGION, endpoint_url=server.endpoint, session=_session(server))
    name = f"stats-{uuid.uuid4().hex[:12]}"
    client.create_table(**dynamo_stats_store.table_definition(name))
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return DynamoStatsStore(name, client=client, clock=clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "moto", "dynamodb-local"])
def stats(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> StatsStore:
    if request.param == "sqlite":
        return SqliteStatsStore(tmp_path, clock=clock)
    server: Server = request.getfixturevalue("moto_server" if request.param == "moto" else "dynamodb_local")
    return new_dynamo_stats_store(server, clock)


# --- BlobStore -----------------------------------------------------------------------------------
@dataclass
class Blobs:
    """A store and the client side of its presigned requests, as a browser would send them."""

    kind: str
    store: BlobStore
    send: Callable[[PresignedRequest, bytes], int]  # presigned PUT -> S3's HTTP status
    get: Callable[[str], tuple[bytes, str]]  # presigned GET -> (body, Content-Disposition)
    send_part: Callable[[PresignedRequest, bytes], tuple[int, str | None]]  # part PUT -> (status, ETag header)
    complete: Callable[[str, str, list[tuple[int, str]]], str]  # CompleteMultipartUpload -> ETag

    def put(self, request: PresignedRequest, body: bytes) -> None:
        status = self.send(request, body)
        assert status == 200, status


def _file_blobs(tmp_path: Path) -> Blobs:
    """The file store's requests are checked by its own `verify`, as the emulator's storage route does."""
    store = FileBlobStore(tmp_path, bucket="local", public_url="http://127.0.0.1:9", secret="contract")

    def key_and_query(url: str) -> tuple[str, dict[str, str]]:
        parts = urlsplit(url)
        key = unquote(parts.path.removeprefix(f"{STORAGE_PATH}/{store.bucket}/"))
        return key, dict(parse_qsl(parts.query, keep_blank_values=True))

    def send(request: PresignedRequest, body: bytes) -> int:
        """What the storage endpoint answers: 403 for a missing signed header, 412 for an existing key."""
        grant = store.verify(request.method, *key_and_query(request.url))
        if any(request.headers.get(name) != value for name, value in grant.headers.items()):
            return 403
        try:
            writer = store.open_writer(grant.key, grant.max_size)
            writer.write(body)
            writer.commit()
        except ObjectExistsError:
            return 412
        return 200

    def get(url: str) -> tuple[bytes, str]:
        grant = store.verify("GET", *key_and_query(url))
        return b"".join(store.open_chunks(grant.key, 1 << 20)), s3_blob_store.content_disposition(grant.file_name)

    def send_part(request: PresignedRequest, body: bytes) -> tuple[int, str | None]:
        """What the storage endpoint answers a part PUT: its ETag, 404 for a gone upload, 413 for too much."""
        grant = store.verify(request.method, *key_and_query(request.url))
        if len(body) > grant.max_size:
            return 413, None
        try:
            writer, part_dir = store.open_part_writer(grant.key, grant.upload_id, grant.max_size)
            writer.write(body)
            return 200, f'"{writer.commit_part(part_dir, grant.part_number)}"'
        except NoSuchUpload:
            return 404, None

    def complete(key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        """The storage endpoint's side of completion (the store's own `complete_multipart` POSTs to it)."""
        try:
            return f'"{store.assemble_multipart(key, upload_id, parts)[0]}"'
        except ObjectExistsError:
            raise PreconditionFailed(key) from None

    return Blobs("file", store, send, get, send_part, complete)


def http_put(request: PresignedRequest, body: bytes) -> httpx.Response:
    return httpx.request(request.method, request.url, headers=request.headers, content=body, timeout=10)


def new_s3_store(server: Server) -> S3BlobStore:
    client = s3_blob_store.new_client(region=REGION, endpoint_url=server.endpoint, session=_session(server))
    bucket = f"lambdashare-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3BlobStore(bucket, client=client)


def _s3_blobs(kind: str, server: Server) -> Blobs:
    def send(request: PresignedRequest, body: bytes) -> int:
        return http_put(request, body).status_code

    def get(url: str) -> tuple[bytes, str]:
        answer = httpx.get(url, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.content, answer.headers["content-disposition"]

    def send_part(request: PresignedRequest, body: bytes) -> tuple[int, str | None]:
        answer = http_put(request, body)
        return answer.status_code, answer.headers.get("etag")

    store = new_s3_store(server)
    return Blobs(kind, store, send, get, send_part, store.complete_multipart)


@pytest.fixture(params=["file", "moto", "seaweedfs"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Blobs:
    if request.param == "file":
        return _file_blobs(tmp_path)
    server: Server = request.getfixturevalue("moto_server" if request.param == "moto" else "seaweedfs")
    return _s3_blobs(request.param, server)
