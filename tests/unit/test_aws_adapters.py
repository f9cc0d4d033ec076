"""Bad paths of the boto3 adapters, without a network: errors translated, throttling retried.

`Stubber` answers before botocore's retry loop, so it serves the error branches only. Retries are
shown one level lower: a `before-send` handler (moto's own hook) answers each HTTP attempt, so the
real retry policy, error parsing and backoff of the adapter's client run unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from lambdashare.adapters.aws import dynamo_stats_store, dynamo_table, s3_blob_store
from lambdashare.adapters.aws.dynamo_stats_store import DynamoStatsStore
from lambdashare.adapters.aws.dynamo_table import DynamoTable
from lambdashare.adapters.aws.s3_blob_store import S3BlobStore
from lambdashare.backends import build_ports, build_stats_store
from lambdashare.domain.errors import BlobNotFoundError, ConditionFailedError, ItemExistsError
from lambdashare.domain.model import FileRecord
from lambdashare.settings import Settings

REGION = "eu-west-1"
ENDPOINT = "http://dynamodb.invalid"  # never reached: every attempt is answered before sending


def _session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="unit", aws_secret_access_key="unit", region_name=REGION)


def _item() -> dict[str, Any]:
    created_at = "2025-01-01T00:00:00.000Z"
    record = FileRecord(id="f1", name="a.txt", size=3, key="uploads/f1", created_at=created_at)
    return record.to_item()


@pytest.fixture
def dynamo() -> Iterator[tuple[DynamoTable, Stubber]]:
    client = dynamo_table.new_client(region=REGION, endpoint_url=ENDPOINT, session=_session())
    with Stubber(client) as stubber:
        yield DynamoTable("files", client=client), stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def s3() -> Iterator[tuple[S3BlobStore, Stubber]]:
    client = s3_blob_store.new_client(region=REGION, session=_session())
    with Stubber(client) as stubber:
        yield S3BlobStore("bucket", client=client), stubber
        stubber.assert_no_pending_responses()


# --- DynamoDB: conditional-check failures ------------------------------------------------------
def test_put_of_an_existing_id_raises_item_exists(dynamo: tuple[DynamoTable, Stubber]) -> None:
    # GIVEN DynamoDB refuses the put's attribute_not_exists(id) condition
    table, stubber = dynamo
    stubber.add_client_error("put_item", "ConditionalCheckFailedException", http_status_code=400)
    # WHEN the item is put
    with pytest.raises(ItemExistsError) as raised:
        table.put_item(_item())
    # THEN the domain error says which item, and keeps the AWS error as its cause
    assert "f1" in str(raised.value)
    assert isinstance(raised.value.__cause__, ClientError)


def test_failed_update_condition_raises_condition_failed_with_the_state_found(
    dynamo: tuple[DynamoTable, Stubber],
) -> None:
    # GIVEN the item is HASHED, so DynamoDB refuses `#status IN (:s0, :s1)` and returns the old item
    table, stubber = dynamo
    stubber.add_client_error(
        "update_item",
        "ConditionalCheckFailedException",
        http_status_code=400,
        modeled_fields={"Item": {"id": {"S": "f1"}, "status": {"S": "HASHED"}}},
    )
    # WHEN an update requires PENDING or HASHING
    with pytest.raises(ConditionFailedError) as raised:
        table.update_item("f1", {"status": "HASHING"}, status_in={"PENDING", "HASHING"})
    # THEN the error names the state found, as SqliteTable's does
    assert str(raised.value) == "Item f1 is HASHED, not one of ['HASHING', 'PENDING']."
    assert isinstance(raised.value.__cause__, ClientError)


def test_failed_update_of_a_missing_item_says_missing(dynamo: tuple[DynamoTable, Stubber]) -> None:
    table, stubber = dynamo
    stubber.add_client_error("update_item", "ConditionalCheckFailedException", http_status_code=400)
    with pytest.raises(ConditionFailedError, match="is missing"):
        table.update_item("f1", {"status": "HASHING"}, status_in={"PENDING"})


def test_other_dynamodb_errors_are_not_translated(dynamo: tuple[DynamoTable, Stubber]) -> None:
    table, stubber = dynamo
    stubber.add_client_error("put_item", "ResourceNotFoundException", http_status_code=400)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        table.put_item(_item())


def test_reserved_key_attributes_are_refused() -> None:
    table = DynamoTable("files", client=dynamo_table.new_client(region=REGION, session=_session()))
    with pytest.raises(ValueError, match="reserved"):
        table.put_item({**_item(), "ownerKey": "mallory"})
    with pytest.raises(ValueError, match="cannot be changed"):
        table.update_item("f1", {"id": "f2"}, status_in={"PENDING"})


# --- DynamoDB: throttling is retried by the client's retry policy ------------------------------
class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class _Answers:
    """Answers each HTTP attempt in turn: `failures` throttling errors, then a success."""

    def __init__(self, error_code: str, failures: int, success: dict[str, Any]) -> None:
        self.error_code, self.failures, self.success = error_code, failures, success
        self.attempts = 0

    def __call__(self, request: AWSRequest, **_: Any) -> AWSResponse:
        self.attempts += 1
        headers = {"content-type": "application/x-amz-json-1.0"}
        if self.attempts <= self.failures:
            body = {"__type": f"com.amazonaws.dynamodb.v20120810#{self.error_code}", "message": "Slow down"}
            return AWSResponse(request.url, 400, headers, _Raw(json.dumps(body).encode()))
        return AWSResponse(request.url, 200, headers, _Raw(json.dumps(self.success).encode()))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's backoff delays, recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", delays.append)
    return delays


@pytest.mark.parametrize("error_code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttled_calls_are_retried_until_they_succeed(error_code: str, sleeps: list[float]) -> None:
    # GIVEN DynamoDB throttles a get_item three times, then answers
    client = dynamo_table.new_client(region=REGION, endpoint_url=ENDPOINT, session=_session())
    answers = _Answers(error_code, failures=3, success={"Item": {"id": {"S": "f1"}, "size": {"N": "3"}}})
    client.meta.events.register("before-send.dynamodb.GetItem", answers)
    # WHEN the adapter reads the item
    item = DynamoTable("files", client=client).get_item("f1")
    # THEN the call succeeded on the fourth attempt, after backing off three times
    assert item == {"id": "f1", "size": 3}
    assert answers.attempts == 4
    assert len(sleeps) == 3


def test_throttling_gives_up_after_eight_retries(sleeps: list[float]) -> None:
    # GIVEN DynamoDB throttles every attempt
    client = dynamo_table.new_client(region=REGION, endpoint_url=ENDPOINT, session=_session())
    answers = _Answers("ThrottlingException", failures=100, success={})
    client.meta.events.register("before-send.dynamodb.PutItem", answers)
    # WHEN the adapter puts an item
    with pytest.raises(ClientError, match="ThrottlingException"):
        DynamoTable("files", client=client).put_item(_item())
    # THEN it gave up after the first attempt and max_attempts = 8 retries (botocore's Config counts
    # retries in `max_attempts`; `total_max_attempts` would count the first attempt too)
    assert answers.attempts == 9
    assert len(sleeps) == 8


# --- S3 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "status"), [("NoSuchKey", 404), ("404", 404)])
def test_open_chunks_of_a_missing_object_raises_blob_not_found(
    s3: tuple[S3BlobStore, Stubber], code: str, status: int
) -> None:
    store, stubber = s3
    stubber.add_client_error("get_object", code, http_status_code=status)
    with pytest.raises(BlobNotFoundError) as raised:
        store.open_chunks("uploads/gone", 1024)
    assert isinstance(raised.value.__cause__, ClientError)


def test_other_s3_errors_are_not_translated(s3: tuple[S3BlobStore, Stubber]) -> None:
    store, stubber = s3
    stubber.add_client_error("get_object", "AccessDenied", http_status_code=403)
    with pytest.raises(ClientError, match="AccessDenied"):
        store.open_chunks("uploads/secret", 1024)


def test_presigned_put_signs_size_type_checksum_and_write_once() -> None:
    # GIVEN a store (presigning needs no network)
    store = S3BlobStore("bucket", client=s3_blob_store.new_client(region=REGION, session=_session()))
    body = b"hello"
    # WHEN an upload is presigned with a known sha256
    request = store.presign_put(
        "uploads/f1",
        size=5,
        content_type="text/plain",
        expires_in=60,
        sha256=hashlib.sha256(body).hexdigest(),
    )
    # THEN each pinned value is a header the client must send, and part of the signature
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert request.headers == {
        "content-length": "5",
        "content-type": "text/plain",
        "if-none-match": "*",
        "x-amz-checksum-sha256": checksum,
    }
    query = parse_qs(urlsplit(request.url).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host;if-none-match;x-amz-checksum-sha256"]
    assert query["X-Amz-Expires"] == ["60"]


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2", "us-east-1"])
def test_presigned_urls_name_the_buckets_regional_virtual_host(region: str) -> None:
    # GIVEN a store on AWS (no endpoint override) in a region
    client = s3_blob_store.new_client(region=region, session=_session())
    store = S3BlobStore("lambdashare-uploads-123456789012-abcdef", client=client)
    # WHEN an upload and a download are presigned
    urls = [
        store.presign_put("uploads/f1", size=1, content_type=None, expires_in=60).url,
        store.presign_get("uploads/f1", file_name="f", expires_in=60),
    ]
    # THEN both go to the bucket's regional host: the global one answers 307 outside us-east-1,
    # which a browser's CORS preflight does not follow
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname) == (
            "https",
            f"lambdashare-uploads-123456789012-abcdef.s3.{region}.amazonaws.com",
        )
        assert parts.path == "/uploads/f1"


def test_presigned_get_asks_for_an_rfc5987_attachment() -> None:
    store = S3BlobStore("bucket", client=s3_blob_store.new_client(region=REGION, session=_session()))
    url = store.presign_get("uploads/f1", file_name="naïve file.txt", expires_in=60)
    query = parse_qs(urlsplit(url).query)
    assert query["response-content-disposition"] == ["attachment; filename*=UTF-8''na%C3%AFve%20file.txt"]


# --- wiring ------------------------------------------------------------------------------------
def test_the_aws_backend_wires_the_boto3_adapters() -> None:
    # GIVEN the environment of a Lambda pointed at local servers
    settings = Settings.from_env(
        {
            "LAMBDASHARE_BACKEND": "aws",
            "LAMBDASHARE_TABLE": "files-table",
            "LAMBDASHARE_STATS_TABLE": "stats-table",
            "LAMBDASHARE_BUCKET": "files-bucket",
            "LAMBDASHARE_SECRET": "s",
            "AWS_REGION": REGION,
            "LAMBDASHARE_DYNAMODB_ENDPOINT": "http://127.0.0.1:8001",
            "LAMBDASHARE_S3_ENDPOINT": "http://127.0.0.1:8333",
        }
    )
    # WHEN the ports are built
    ports = build_ports(settings)
    stats = build_stats_store(settings)
    # THEN they are the boto3 adapters, on those endpoints
    assert isinstance(ports.table, DynamoTable)
    assert ports.table.table_name == "files-table"
    assert isinstance(ports.blobs, S3BlobStore)
    assert ports.blobs.bucket == "files-bucket"
    assert ports.table._client.meta.endpoint_url == "http://127.0.0.1:8001"
    assert ports.blobs._client.meta.endpoint_url == "http://127.0.0.1:8333"
    assert ports.table._client.meta.region_name == ports.blobs._client.meta.region_name == REGION
    assert isinstance(stats, DynamoStatsStore)
    assert stats.table_name == "stats-table"
    assert stats._client.meta.endpoint_url == "http://127.0.0.1:8001"


# --- the table the template deploys is the table the adapter expects ----------------------------
def test_template_declares_the_table_design_of_dynamo_table() -> None:
    from samtranslator.yaml_helper import yaml_parse

    template_path = Path(__file__).resolve().parents[2] / "template.yaml"
    if not template_path.is_file():
        pytest.skip("no template.yaml in this checkout")
    # GIVEN the DynamoDB table of template.yaml and the adapter's own CreateTable arguments
    resources = yaml_parse(template_path.read_text(encoding="utf-8"))["Resources"]
    declared = resources["FilesTable"]["Properties"]
    expected: dict[str, Any] = dict(dynamo_table.table_definition("files"))

    def indexes(props: dict[str, Any]) -> dict[str, Any]:
        return {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in props["GlobalSecondaryIndexes"]}

    def attributes(props: dict[str, Any]) -> list[tuple[str, str]]:
        return sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"])

    # THEN keys, indexes, attribute types, billing and stream agree
    assert declared["KeySchema"] == expected["KeySchema"]
    assert indexes(declared) == indexes(expected)
    assert attributes(declared) == attributes(expected)
    assert declared["BillingMode"] == expected["BillingMode"]
    assert declared["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_template_declares_the_stats_table_design_of_dynamo_stats_store() -> None:
    from samtranslator.yaml_helper import yaml_parse

    template_path = Path(__file__).resolve().parents[2] / "template.yaml"
    if not template_path.is_file():
        pytest.skip("no template.yaml in this checkout")
    # GIVEN the stats table of template.yaml and the adapter's own CreateTable arguments
    declared = yaml_parse(template_path.read_text(encoding="utf-8"))["Resources"]["StatsTable"]["Properties"]
    expected: dict[str, Any] = dict(dynamo_stats_store.table_definition("stats"))
    # THEN keys, attribute types and billing agree, and the markers' `ttl` is the table's TTL
    assert declared["KeySchema"] == expected["KeySchema"]
    assert declared["AttributeDefinitions"] == expected["AttributeDefinitions"]
    assert declared["BillingMode"] == expected["BillingMode"]
    assert declared["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_a_transaction_conflict_is_retried_and_a_counted_record_refused() -> None:
    # GIVEN a stats store whose first transaction meets a concurrent one, and whose third finds the marker
    client = dynamo_table.new_client(region=REGION, endpoint_url=ENDPOINT, session=_session())
    store = DynamoStatsStore("stats", client=client, clock=lambda: 1000.0)

    def cancelled(*codes: str) -> dict[str, Any]:
        return {
            "service_error_code": "TransactionCanceledException",
            "service_message": "Transaction cancelled",
            "modeled_fields": {"CancellationReasons": [{"Code": code} for code in codes]},
        }

    increments = {("2025-01-01", "#all"): {"uploads": 1}}
    with Stubber(client) as stubber:
        # the day is registered once, before its first counters, outside the transactions
        stubber.add_response(
            "put_item", {}, {"TableName": "stats", "Item": {"day": {"S": "#days"}, "space": {"S": "2025-01-01"}}}
        )
        stubber.add_client_error("transact_write_items", **cancelled("None", "TransactionConflict"))
        stubber.add_response("transact_write_items", {})
        stubber.add_client_error("transact_write_items", **cancelled("ConditionalCheckFailed", "None"))
        stubber.add_client_error("transact_write_items", **cancelled("None", "ValidationError"))
        # WHEN the record is added, then added again, then a broken one
        first = store.add_once("e1", increments, marker_expires=2000)
        again = store.add_once("e1", increments, marker_expires=2000)
        # THEN the conflict was retried, the redelivery refused, and any other cancellation raised
        assert (first, again) == (True, False)
        with pytest.raises(ClientError):
            store.add_once("e2", increments, marker_expires=2000)
        stubber.assert_no_pending_responses()
