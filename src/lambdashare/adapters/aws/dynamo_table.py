"""The file table in DynamoDB, with the same conditions, order and cursors as `SqliteTable`.

Not responsible for business rules: callers say which states an update requires.
Spec: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html

Table design (template.yaml declares exactly this; `table_definition()` builds it for tests):

- ``BillingMode: PAY_PER_REQUEST``; ``StreamSpecification: NEW_AND_OLD_IMAGES`` (analytics);
  point-in-time recovery on, and TTL on ``ttl`` (template only: not part of CreateTable).
  ``ttl`` is a Number (epoch seconds) on PENDING files and NULL once their bytes have arrived,
  so DynamoDB deletes only PENDING files whose upload never came (typically within days of expiry).
- Primary key: ``id`` (S, HASH).
- GSI ``bySha256``: ``sha256`` (S, HASH) + ``createdAt`` (S, RANGE), projection ALL.
  Sparse: only items whose ``hashes`` has a sha256 carry ``sha256`` (HASHED files, and FAILED ones
  whose content did not match the declared sha256) — the same rows SqliteTable indexes; the
  domain keeps only HASHED ones. The adapter orders files created in the same millisecond by id.
- GSI ``byOwner``: ``ownerKey`` (S, HASH) + ``createdAtId`` (S, RANGE), projection ALL.
  ``ownerKey`` is the owner (a Cognito ``sub`` or an IAM ARN), or the literal ``#public`` for
  API-key files (owner None), since key attributes cannot be null.
- ``createdAt`` is the item's ``created_at``; ``createdAtId`` is ``<created_at>#<id>``.
  ``created_at`` is a fixed-width AWSDateTime (``aws_datetime``), so ``createdAtId`` sorts exactly
  as SqliteTable's ``(created_at, id)``, ties included.

An item is ``FileRecord.to_item()`` (snake_case, as the port gives it) plus the four derived
key attributes above, which this adapter writes on every put/update and strips on every read
(`lambdashare.adapters.dynamo_item`, which also shapes the images of the emulator's stream records).
Numbers come back from DynamoDB as ``Decimal`` and leave this module as ``int`` or ``float``.
GSI reads are eventually consistent on AWS (a just-written file may miss one listing);
``get_item`` reads consistently.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdashare.adapters.dynamo_item import (
    KEY_ATTRIBUTES,
    created_at_id,
    item_in,
    item_out,
    owner_key,
    serialize,
    sha256_of,
)
from lambdashare.domain.errors import ConditionFailedError, ItemExistsError
from lambdashare.ports.table import ANY_OWNER, AnyOwner, Cursor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        CreateTableInputTypeDef,
        QueryInputTypeDef,
    )

BY_SHA256 = "bySha256"
BY_OWNER = "byOwner"
#: Throttling (ProvisionedThroughputExceeded, ThrottlingException) and 5xx are retried with jittered
#: exponential backoff (at most 20 s a wait); `max_attempts` counts retries: 1 + 8 attempts in all.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


def new_client(
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.session.Session | None = None,
) -> DynamoDBClient:
    """A DynamoDB client with the retry policy this adapter relies on."""
    factory = session or boto3.session.Session()
    client: DynamoDBClient = factory.client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=RETRY_CONFIG
    )
    return client


def table_definition(table_name: str) -> CreateTableInputTypeDef:
    """CreateTable arguments for the design in this module's docstring (tests, local servers)."""
    projection: Any = {"ProjectionType": "ALL"}
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "sha256", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "S"},
            {"AttributeName": "ownerKey", "AttributeType": "S"},
            {"AttributeName": "createdAtId", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": BY_SHA256,
                "KeySchema": [
                    {"AttributeName": "sha256", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"},
                ],
                "Projection": projection,
            },
            {
                "IndexName": BY_OWNER,
                "KeySchema": [
                    {"AttributeName": "ownerKey", "KeyType": "HASH"},
                    {"AttributeName": "createdAtId", "KeyType": "RANGE"},
                ],
                "Projection": projection,
            },
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoTable:
    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.table_name = table_name
        self._client = client or new_client(region=region, endpoint_url=endpoint_url)

    def put_item(self, item: Mapping[str, Any]) -> None:
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=item_in(item),
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise ItemExistsError(f"Item {item['id']} already exists.") from exc
            raise

    def get_item(self, item_id: str) -> dict[str, Any] | None:
        answer = self._client.get_item(TableName=self.table_name, Key={"id": {"S": item_id}}, ConsistentRead=True)
        raw = answer.get("Item")
        return item_out(raw) if raw is not None else None

    def update_item(self, item_id: str, changes: Mapping[str, Any], *, status_in: Collection[str]) -> dict[str, Any]:
        if not status_in:
            raise ConditionFailedError(f"Item {item_id} cannot be in any of [] states.")
        expression, names, values = _update_expression(item_id, changes, status_in)
        try:
            answer = self._client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": item_id}},
                UpdateExpression=expression,
                ConditionExpression=f"#status IN ({', '.join(f':s{i}' for i in range(len(status_in)))})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = cast("Mapping[str, Any] | None", exc.response.get("Item"))
            state = "missing" if not old else item_out(old).get("status")
            raise ConditionFailedError(f"Item {item_id} is {state}, not one of {sorted(status_in)}.") from exc
        return item_out(answer.get("Attributes", {}))

    def delete_item(self, item_id: str) -> dict[str, Any] | None:
        answer = self._client.delete_item(TableName=self.table_name, Key={"id": {"S": item_id}}, ReturnValues="ALL_OLD")
        raw = answer.get("Attributes")
        return item_out(raw) if raw else None

    def query_by_sha256(
        self, sha256: str, limit: int, owner: str | AnyOwner | None = ANY_OWNER
    ) -> list[dict[str, Any]]:
        values: dict[str, AttributeValueTypeDef] = {":sha256": {"S": sha256}}
        query: QueryInputTypeDef = {
            "TableName": self.table_name,
            "IndexName": BY_SHA256,
            "KeyConditionExpression": "sha256 = :sha256",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": True,
        }
        if owner is not ANY_OWNER:
            # a filter applies after each page is read: _query keeps reading until `limit` items match
            query["FilterExpression"] = "ownerKey = :owner"
            values[":owner"] = {"S": owner_key(owner)}
        # the index orders by createdAt alone: order ties by id, as SqliteTable does
        return sorted(self._query(query, limit), key=lambda item: (item["created_at"], item["id"]))

    def list_items(self, owner: str | None, limit: int, after: Cursor | None) -> list[dict[str, Any]]:
        """Newest first. `after` is a key condition (`createdAtId < cursor`), not an ExclusiveStartKey,
        so a cursor stays valid when its item has been deleted meanwhile, as in SqliteTable."""
        values: dict[str, AttributeValueTypeDef] = {":owner": {"S": owner_key(owner)}}
        condition = "ownerKey = :owner"
        if after is not None:
            condition += " AND createdAtId < :after"
            values[":after"] = {"S": created_at_id(*after)}
        query: QueryInputTypeDef = {
            "TableName": self.table_name,
            "IndexName": BY_OWNER,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        return list(self._query(query, limit))

    def _query(self, query: QueryInputTypeDef, limit: int) -> Iterator[dict[str, Any]]:
        return (item_out(raw) for raw in query_items(self._client, query, limit))


def query_items(client: DynamoDBClient, query: QueryInputTypeDef, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The raw items a Query matches (up to `limit`), following LastEvaluatedKey when a 1 MB page cuts the
    answer short."""
    remaining = limit
    while remaining is None or remaining > 0:
        if remaining is not None:
            query["Limit"] = remaining
        page = client.query(**query)
        items = page.get("Items", [])
        yield from items
        if remaining is not None:
            remaining -= len(items)
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        query["ExclusiveStartKey"] = last


def _update_expression(
    item_id: str, changes: Mapping[str, Any], status_in: Collection[str]
) -> tuple[str, dict[str, str], dict[str, AttributeValueTypeDef]]:
    """SET every changed attribute (and the key attributes derived from it) through placeholders."""
    if "id" in changes:
        raise ValueError("An item's id cannot be changed.")
    if KEY_ATTRIBUTES & changes.keys():
        raise ValueError(f"Item attributes {sorted(KEY_ATTRIBUTES & changes.keys())} are reserved for keys.")
    names = {"#status": "status"}
    values: dict[str, AttributeValueTypeDef] = {f":s{i}": {"S": status} for i, status in enumerate(sorted(status_in))}
    sets: list[str] = []
    removes: list[str] = []

    def set_(name: str, value: Any) -> None:
        index = len(sets)
        names[f"#a{index}"] = name
        values[f":a{index}"] = serialize(value)
        sets.append(f"#a{index} = :a{index}")

    for name, value in changes.items():
        if name == "status":
            values[":status"] = serialize(value)
            sets.append("#status = :status")
        else:
            set_(name, value)
    if "owner" in changes:
        set_("ownerKey", owner_key(changes["owner"]))
    if "created_at" in changes:
        set_("createdAt", changes["created_at"])
        set_("createdAtId", created_at_id(changes["created_at"], item_id))
    if "hashes" in changes:
        sha256 = sha256_of(changes["hashes"])
        if sha256:
            set_("sha256", sha256)
        else:
            names["#sha256"] = "sha256"
            removes.append("#sha256")
    if not sets and not removes:
        sets.append("#status = #status")  # nothing to change, but the condition must still be checked
    expression = f"SET {', '.join(sets)}" if sets else ""
    if removes:
        expression += f" REMOVE {', '.join(removes)}"
    return expression.strip(), names, values
