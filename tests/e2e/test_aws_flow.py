"""The whole flow with the aws adapters, from requestUpload to the subscriber told the hashes.

resolver -> presigned PUT -> S3 record -> hasher -> DynamoDB -> publishFileHashed (SigV4) -> subscriber.

The two Lambda functions run as they would in AWS: each in a process of its own
(`tests.e2e._aws_flow_worker`) with only the environment template.yaml gives it (LAMBDASHARE_BACKEND=aws,
table, bucket, endpoints), invoked with the event shapes AWS sends (`emulator.events`). Storage is
real: SeaweedFS (which checks every SigV4 signature, presigned ones too) and DynamoDB Local, skipped
with the reason where Java, npm or `weed` is missing (failing under CI=true, as the contract tier does);
the same flow also runs against moto (which checks no signature), so it is proven everywhere. The hasher's
`publishFileHashed` goes, SigV4-signed, to a running emulator, whose subscribers are gql clients.

Credentials: in AWS one execution role signs a function's S3, DynamoDB and AppSync calls alike, and the
adapters take theirs from the standard chain. Here the emulator's local IAM credentials
(`<data_dir>/emulator.json`) play that role for both functions: SeaweedFS is started with an identity
for them (the contract tier's SeaweedFS knows only its own test identity), and the table is created
under them in DynamoDB Local (which keeps one database per access key id and region).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import httpx
import pytest
from boto3.dynamodb.types import TypeDeserializer

from lambdashare.adapters.aws import dynamo_table, s3_blob_store
from lambdashare.emulator.events import appsync_resolver_event, s3_object_created
from tests.contract import _servers
from tests.contract._servers import REGION, Server

# The contract tier's session fixtures, by name (see `backend`): they start the servers or skip/fail.
from tests.contract.conftest import _s3_ready, dynamodb_local, moto_server  # noqa: F401
from tests.e2e.clients import ON_FILE_HASHED, appsync_transport, subscription
from tests.e2e.conftest import Emulator

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
#: More than one hasher chunk (4 MiB), and not a multiple of any block size.
BODY_SIZE = 5 * 1024 * 1024 + 123
REQUEST_UPLOAD_SELECTION = [
    "file",
    "file/id",
    "file/name",
    "file/size",
    "file/contentType",
    "file/status",
    "file/createdAt",
    "expiresAt",
    "url",
    "method",
    "headers",
    "uploadId",
    "parts",
    "parts/number",
]
REQUEST_UPLOAD_GRAPHQL = (
    "{\n  file {\n    id\n    name\n    size\n    contentType\n    status\n    createdAt\n  }\n"
    "  expiresAt\n  url\n  method\n  headers\n  uploadId\n  parts {\n    number\n  }\n}"
)


def expected_digests(body: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, body).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")}


# --- the functions' identity and their S3 / DynamoDB endpoints ----------------------------------
@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key, region_name=REGION
        )


@dataclass(frozen=True, slots=True)
class Backend:
    """Where the aws adapters store: an S3 endpoint and a DynamoDB endpoint, both taking `credentials`."""

    s3_endpoint: str
    dynamodb_endpoint: str
    credentials: Credentials


@pytest.fixture(scope="module")
def role(emulator: Emulator) -> Credentials:
    """The emulator's local IAM credentials: the ones it verifies SigV4 against."""
    stored = json.loads((emulator.data_dir / "emulator.json").read_text())
    return Credentials(stored["access_key_id"], stored["secret_access_key"])


def seaweedfs_for(credentials: Credentials, work_dir: Path) -> contextlib.AbstractContextManager[Server]:
    """`weed mini` whose one identity is `credentials` (the role both functions act as)."""
    return _servers.seaweedfs(work_dir, _s3_ready, credentials.access_key, credentials.secret_key)


@pytest.fixture(scope="module")
def role_seaweedfs(role: Credentials, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with seaweedfs_for(role, tmp_path_factory.mktemp("seaweedfs-role")) as server:
        yield server


@pytest.fixture(params=["seaweedfs+dynamodb-local", "moto"])
def backend(request: pytest.FixtureRequest, role: Credentials) -> Backend:
    if request.param == "moto":
        moto: Server = request.getfixturevalue("moto_server")
        return Backend(moto.endpoint, moto.endpoint, role)
    dynamodb: Server = request.getfixturevalue("dynamodb_local")
    s3: Server = request.getfixturevalue("role_seaweedfs")
    return Backend(s3.endpoint, dynamodb.endpoint, role)


@dataclass(frozen=True, slots=True)
class Storage:
    backend: Backend
    table: str
    bucket: str
    #: Every function's environment names it, as the template's Globals do; only the analytics function uses it.
    stats_table: str = "stats"

    def raw_item(self, item_id: str) -> dict[str, Any] | None:
        """The item as DynamoDB holds it, read with boto3 (not through the adapter)."""
        session = self.backend.credentials.session()
        client = session.client("dynamodb", endpoint_url=self.backend.dynamodb_endpoint)
        answer = client.get_item(TableName=self.table, Key={"id": {"S": item_id}}, ConsistentRead=True)
        raw = answer.get("Item")
        if raw is None:
            return None
        deserializer = TypeDeserializer()
        return {name: deserializer.deserialize(value) for name, value in raw.items()}


@pytest.fixture
def storage(backend: Backend) -> Storage:
    """A new table (the template's keys and GSIs) and a new bucket, created under the functions' identity."""
    session = backend.credentials.session()
    table = f"files-{uuid.uuid4().hex[:12]}"
    dynamodb = dynamo_table.new_client(region=REGION, endpoint_url=backend.dynamodb_endpoint, session=session)
    dynamodb.create_table(**dynamo_table.table_definition(table))
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    bucket = f"lambdashare-{uuid.uuid4().hex[:12]}"
    s3_blob_store.new_client(region=REGION, endpoint_url=backend.s3_endpoint, session=session).create_bucket(
        Bucket=bucket
    )
    return Storage(backend, table, bucket)


# --- the functions, each in a process of its own -------------------------------------------------
def function_environ(storage: Storage, tmp_path: Path, **extra: str) -> dict[str, str]:
    """What template.yaml gives the functions, pointed at the local servers; nothing AWS-ish inherited."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "LAMBDASHARE_", "POWERTOOLS_", "BOTO_"))
    }
    credentials = storage.backend.credentials
    return {
        **inherited,
        # no developer profile, config file or instance metadata can stand in for the role's credentials
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAMBDASHARE_BACKEND": "aws",
        "LAMBDASHARE_TABLE": storage.table,
        "LAMBDASHARE_STATS_TABLE": storage.stats_table,
        "LAMBDASHARE_BUCKET": storage.bucket,
        "LAMBDASHARE_SECRET": "e2e-aws-flow-secret",
        "LAMBDASHARE_DYNAMODB_ENDPOINT": storage.backend.dynamodb_endpoint,
        "LAMBDASHARE_S3_ENDPOINT": storage.backend.s3_endpoint,
        "POWERTOOLS_SERVICE_NAME": "lambdashare",
        "POWERTOOLS_METRICS_NAMESPACE": "lambdashare",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        **extra,
    }


def invoke(function: str, event: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    """One invocation of `function` (resolver|hasher|analytics) in a fresh process: a cold start with `environ`."""
    answer = subprocess.run(
        [sys.executable, "-m", "tests.e2e._aws_flow_worker", function],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=dict(environ),
        cwd=REPO_ROOT,
        timeout=180,
        check=False,
    )
    assert answer.returncode == 0, f"{function} failed ({answer.returncode}):\n{answer.stdout}\n{answer.stderr}"
    return json.loads(answer.stdout)["result"]


def request_upload_event(emulator: Emulator, upload: dict[str, Any]) -> dict[str, Any]:
    """`Mutation.requestUpload` as AppSync hands it to the resolver for an API-key caller."""
    return appsync_resolver_event(
        field_name="requestUpload",
        parent_type_name="Mutation",
        arguments={"input": upload},
        identity=None,
        headers={"content-type": "application/json", "host": emulator.host, "x-api-key": emulator.api_key},
        variables={"input": upload},
        selection_set_list=REQUEST_UPLOAD_SELECTION,
        selection_set_graphql=REQUEST_UPLOAD_GRAPHQL,
    )


def key_of(url: str, bucket: str) -> str:
    """The object key a path-style presigned URL writes to (what S3 then reports in its event)."""
    path = unquote(urlsplit(url).path)
    assert path.startswith(f"/{bucket}/"), url
    return path.removeprefix(f"/{bucket}/")


def put(ticket: Mapping[str, Any], body: bytes) -> httpx.Response:
    """Send the bytes exactly as the ticket says: its method, URL and headers."""
    headers: dict[str, str] = (
        ticket["headers"] if isinstance(ticket["headers"], dict) else json.loads(ticket["headers"])
    )
    return httpx.request(ticket["method"], ticket["url"], headers=headers, content=body, timeout=60)


# --- the flow ------------------------------------------------------------------------------------
async def test_upload_is_hashed_by_the_aws_adapters_and_published_to_subscribers(
    emulator: Emulator, storage: Storage, tmp_path: Path
) -> None:
    # GIVEN random bytes, and the two functions' environments (the hasher's publishes to the emulator)
    body = os.urandom(BODY_SIZE)
    resolver_env = function_environ(storage, tmp_path)
    hasher_env = function_environ(storage, tmp_path, LAMBDASHARE_APPSYNC_URL=emulator.graphql_url)

    # WHEN the resolver handles requestUpload for them
    upload = {"name": "random.bin", "size": len(body), "contentType": "application/octet-stream"}
    ticket = await asyncio.to_thread(invoke, "resolver", request_upload_event(emulator, upload), resolver_env)

    # THEN the file is PENDING in DynamoDB, and the ticket is a presigned PUT to the S3 server
    file_id = ticket["file"]["id"]
    assert ticket["file"]["status"] == "PENDING"
    assert ticket["method"] == "PUT"
    assert ticket["url"].startswith(f"{storage.backend.s3_endpoint}/{storage.bucket}/")
    pending = storage.raw_item(file_id)
    assert pending is not None
    assert pending["status"] == "PENDING"

    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        # WHEN the bytes are PUT as the ticket says (the S3 server checks the presigned signature)
        response = await asyncio.to_thread(put, ticket, body)
        assert response.status_code == 200, response.text

        # AND the hasher gets S3's ObjectCreated record for that object
        record = s3_object_created(
            bucket=storage.bucket,
            key=key_of(ticket["url"], storage.bucket),
            size=len(body),
            etag=response.headers["etag"].strip('"'),
            region=REGION,
        )
        outcome = await asyncio.to_thread(invoke, "hasher", record, hasher_env)

        # THEN the hasher reports the file HASHED, and the subscriber receives it with hashlib's digests
        assert outcome == {"outcomes": [{"fileId": file_id, "status": "HASHED"}]}
        event = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    digests = expected_digests(body)
    assert event["id"] == file_id
    assert event["status"] == "HASHED"
    assert event["hashes"] == digests
    assert event["size"] == len(body)
    assert event["hashedAt"] is not None

    # AND DynamoDB holds the same final state, published, findable by its sha256
    item = storage.raw_item(file_id)
    assert item is not None
    assert item["status"] == "HASHED"
    assert item["hashes"] == digests
    assert item["hashed_at"] == event["hashedAt"]
    assert item["uploaded_at"] == event["uploadedAt"]
    assert item["sha256"] == digests["sha256"]  # the bySha256 index's key
    assert item["published"] is True


def resolver_event(emulator: Emulator, parent: str, field: str, arguments: dict[str, Any], selection: str) -> Any:
    """A field as AppSync hands it to the resolver for an API-key caller; `selection` as space-separated paths."""
    return appsync_resolver_event(
        field_name=field,
        parent_type_name=parent,
        arguments=arguments,
        identity=None,
        headers={"content-type": "application/json", "host": emulator.host, "x-api-key": emulator.api_key},
        variables=arguments,
        selection_set_list=selection.split(),
        selection_set_graphql="",
    )


async def test_a_multipart_upload_resumed_after_listing_parts_is_hashed(
    emulator: Emulator, storage: Storage, tmp_path: Path
) -> None:
    # GIVEN a multipart ticket for 5 MiB + 1 byte from the resolver, and only part 2 sent
    body = os.urandom(5 * 1024 * 1024 + 1)
    resolver_env = function_environ(storage, tmp_path)
    hasher_env = function_environ(storage, tmp_path, LAMBDASHARE_APPSYNC_URL=emulator.graphql_url)

    def resolve(parent: str, field: str, arguments: dict[str, Any], selection: str) -> Any:
        return invoke("resolver", resolver_event(emulator, parent, field, arguments, selection), resolver_env)

    upload = {"name": "parts.bin", "size": len(body), "partSize": 5 * 1024 * 1024}
    ticket = await asyncio.to_thread(resolve, "Mutation", "requestUpload", {"input": upload}, "file file/id parts")
    file_id, parts = ticket["file"]["id"], {p["number"]: p for p in ticket["parts"]}
    assert ticket["url"] is None and sorted(parts) == [1, 2]
    second = await asyncio.to_thread(put, parts[2], body[5 * 1024 * 1024 :])
    assert second.status_code == 200, second.text

    # WHEN the client lists the stored parts, resumes, and sends only the missing one (S3 checks each signature)
    listed = await asyncio.to_thread(resolve, "Query", "uploadedParts", {"id": file_id}, "number etag size")
    assert listed == [{"number": 2, "etag": second.headers["etag"], "size": 1}]
    resumed = await asyncio.to_thread(resolve, "Mutation", "resumeUpload", {"id": file_id}, "parts")
    assert [p["number"] for p in resumed["parts"]] == [1]
    first = await asyncio.to_thread(put, resumed["parts"][0], body[: 5 * 1024 * 1024])
    assert first.status_code == 200, first.text
    # the listed ETag of part 2 is all the client kept of it
    completion = {
        "id": file_id,
        "parts": [{"number": 1, "etag": first.headers["etag"]}, {"number": 2, "etag": listed[0]["etag"]}],
    }
    done = await asyncio.to_thread(resolve, "Mutation", "completeUpload", {"input": completion}, "id status")
    assert done["id"] == file_id

    async with subscription(emulator, appsync_transport(emulator), ON_FILE_HASHED, {"id": file_id}) as events:
        # AND the hasher gets S3's CompleteMultipartUpload record
        head = s3_blob_store.new_client(
            region=REGION, endpoint_url=storage.backend.s3_endpoint, session=storage.backend.credentials.session()
        ).head_object(Bucket=storage.bucket, Key=key_of(parts[1]["url"], storage.bucket))
        assert head["ETag"].endswith('-2"'), head["ETag"]
        record = s3_object_created(
            bucket=storage.bucket,
            key=key_of(parts[1]["url"], storage.bucket),
            size=len(body),
            etag=head["ETag"].strip('"'),
            region=REGION,
            event_name="ObjectCreated:CompleteMultipartUpload",
        )
        outcome = await asyncio.to_thread(invoke, "hasher", record, hasher_env)
        assert outcome == {"outcomes": [{"fileId": file_id, "status": "HASHED"}]}
        event = (await asyncio.wait_for(events.get(), timeout=60))["onFileHashed"]
    # THEN the subscriber receives hashlib's four digests of the whole file
    assert event["hashes"] == expected_digests(body)
