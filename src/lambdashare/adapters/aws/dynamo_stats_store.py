"""The analytics counters in DynamoDB (template.yaml's StatsTable: ``day`` S HASH, ``space`` S RANGE, TTL ``ttl``).

Not responsible for what the counters mean (see `lambdashare.domain.analytics`).
Spec: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html

Items (keys that cannot collide: a day is ``YYYY-MM-DD``, other partitions start with ``#``, and no
owner id, the sort key of counters, is ``#summary``):

- counters: ``day`` = the day, ``space`` = the space, one Number attribute per counter (added with ``ADD``);
- summary: ``day`` = the day, ``space`` = ``#summary``, ``summary`` = the rollup as a JSON string;
- marker of a counted stream record: ``day`` = ``#event#<eventID>``, ``space`` = ``#event``, ``ttl``;
- the days that hold anything: ``day`` = ``#days``, ``space`` = the day, so pruning queries one
  partition rather than scanning the table.

A stream record's marker and its counters go in one TransactWriteItems: the marker's condition (absent, or
expired) failing cancels the whole transaction, and means "counted already". A day is registered in ``#days``
before its first counters, once per process (an idempotent Put outside the transaction, so concurrent
records do not all write that one item).
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from lambdashare.adapters.aws.dynamo_table import new_client, query_items
from lambdashare.ports.stats_store import Increments

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        CreateTableInputTypeDef,
        KeysAndAttributesTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
        WriteRequestTypeDef,
    )

SUMMARY = "#summary"
DAYS = "#days"
EVENT = "#event"
KEY_NAMES = ("day", "space")
#: TransactWriteItems' limit on actions; BatchGetItem's on keys, BatchWriteItem's on requests.
MAX_TRANSACTION = 100
MAX_BATCH_GET = 100
MAX_BATCH_WRITE = 25
#: Transactions cancelled by a concurrent one touching the same item (TransactionConflict) are retried.
CONFLICT_ATTEMPTS = 5


def table_definition(table_name: str) -> CreateTableInputTypeDef:
    """CreateTable arguments for the design in this module's docstring (tests, local servers)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "day", "AttributeType": "S"},
            {"AttributeName": "space", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "day", "KeyType": "HASH"},
            {"AttributeName": "space", "KeyType": "RANGE"},
        ],
    }


def _key(day: str, space: str) -> dict[str, AttributeValueTypeDef]:
    return {"day": {"S": day}, "space": {"S": space}}


def _backoff(attempt: int) -> None:
    """Jittered exponential wait before retrying what DynamoDB left unprocessed or cancelled on a conflict."""
    time.sleep(random.uniform(0, 0.05 * 2 ** min(attempt, 6)))


def _counters_of(raw: Mapping[str, Any]) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in raw.items() if name not in KEY_NAMES}


class DynamoStatsStore:
    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self._client = client or new_client(region=region, endpoint_url=endpoint_url)
        self._clock = clock
        #: Days this process has registered in ``#days`` already.
        self._registered: set[str] = set()

    def add_once(self, event_id: str, increments: Increments, *, marker_expires: int) -> bool:
        for day in sorted({day for day, _ in increments} - self._registered):
            self._client.put_item(TableName=self.table_name, Item=_key(DAYS, day))
            self._registered.add(day)
        actions = self._add_actions(event_id, increments, marker_expires)
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=actions)
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                if "TransactionConflict" not in reasons or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                _backoff(attempt)
        raise AssertionError("unreachable")

    def _add_actions(
        self, event_id: str, increments: Increments, marker_expires: int
    ) -> list[TransactWriteItemTypeDef]:
        marker: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table_name,
                "Item": {**_key(f"{EVENT}#{event_id}", EVENT), "ttl": {"N": str(marker_expires)}},
                # an expired marker the TTL has not deleted yet is forgotten all the same
                "ConditionExpression": "attribute_not_exists(#day) OR #ttl < :now",
                "ExpressionAttributeNames": {"#day": "day", "#ttl": "ttl"},
                "ExpressionAttributeValues": {":now": {"N": str(int(self._clock()))}},
            }
        }
        actions = [marker]
        for (day, space), counters in increments.items():
            names = {f"#c{i}": name for i, name in enumerate(counters)}
            values: dict[str, AttributeValueTypeDef] = {
                f":c{i}": {"N": str(amount)} for i, amount in enumerate(counters.values())
            }
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _key(day, space),
                        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        if len(actions) > MAX_TRANSACTION:
            raise ValueError(f"Stream record {event_id} adds to more items than one transaction may write.")
        return actions

    def counters(self, space: str, days: Collection[str]) -> dict[str, dict[str, int]]:
        return {item["day"]["S"]: _counters_of(item) for item in self._batch_get([_key(day, space) for day in days])}

    def day_spaces(self, day: str) -> dict[str, dict[str, int]]:
        query: QueryInputTypeDef = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#day = :day",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": day}},
            "ConsistentRead": True,
        }
        return {item["space"]["S"]: _counters_of(item) for item in self._query(query) if item["space"]["S"] != SUMMARY}

    def put_summary(self, day: str, summary: Mapping[str, Any]) -> None:
        self._client.put_item(TableName=self.table_name, Item=_key(DAYS, day))  # first: pruning must find it
        self._client.put_item(
            TableName=self.table_name, Item={**_key(day, SUMMARY), "summary": {"S": json.dumps(summary)}}
        )

    def summaries(self, days: Collection[str]) -> dict[str, dict[str, Any]]:
        items = self._batch_get([_key(day, SUMMARY) for day in days])
        return {item["day"]["S"]: json.loads(item["summary"]["S"]) for item in items}

    def prune_before(self, day: str) -> int:
        query: QueryInputTypeDef = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#day = :days AND #space < :before",
            "ExpressionAttributeNames": {"#day": "day", "#space": "space"},
            "ExpressionAttributeValues": {":days": {"S": DAYS}, ":before": {"S": day}},
            "ConsistentRead": True,
        }
        pruned = 0
        for registered in list(self._query(query)):
            old_day = registered["space"]["S"]
            day_query: QueryInputTypeDef = {
                "TableName": self.table_name,
                "KeyConditionExpression": "#day = :day",
                "ExpressionAttributeNames": {"#day": "day", "#space": "space"},
                "ExpressionAttributeValues": {":day": {"S": old_day}},
                "ProjectionExpression": "#day, #space",
                "ConsistentRead": True,
            }
            keys = [_key(old_day, item["space"]["S"]) for item in self._query(day_query)]
            self._batch_delete(keys)
            self._batch_delete([_key(DAYS, old_day)])  # last: a crash before it leaves the day to the next prune
            pruned += len(keys)
        return pruned

    # --- paging ---------------------------------------------------------------------------------------
    def _query(self, query: QueryInputTypeDef) -> Iterator[dict[str, Any]]:
        return query_items(self._client, query)

    def _batch_get(self, keys: list[dict[str, AttributeValueTypeDef]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), MAX_BATCH_GET):
            request: dict[str, KeysAndAttributesTypeDef] = {
                self.table_name: {"Keys": keys[start : start + MAX_BATCH_GET], "ConsistentRead": True}
            }
            for attempt in itertools.count():
                if not request:
                    break
                if attempt:
                    _backoff(attempt)
                answer = self._client.batch_get_item(RequestItems=request)
                items.extend(answer.get("Responses", {}).get(self.table_name, []))
                request = cast("dict[str, KeysAndAttributesTypeDef]", answer.get("UnprocessedKeys") or {})
        return items

    def _batch_delete(self, keys: list[dict[str, AttributeValueTypeDef]]) -> None:
        for start in range(0, len(keys), MAX_BATCH_WRITE):
            requests: list[WriteRequestTypeDef] = [
                {"DeleteRequest": {"Key": key}} for key in keys[start : start + MAX_BATCH_WRITE]
            ]
            for attempt in itertools.count():
                if not requests:
                    break
                if attempt:
                    _backoff(attempt)
                answer = self._client.batch_write_item(RequestItems={self.table_name: requests})
                unprocessed = (answer.get("UnprocessedItems") or {}).get(self.table_name, [])
                requests = cast("list[WriteRequestTypeDef]", unprocessed)
