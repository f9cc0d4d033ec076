"""A file item as DynamoDB stores it: DynamoDB JSON, with the key attributes derived from the item.

Shared by the DynamoDB adapter (what it writes and reads) and the SQLite table (the images of its
stream records), so an item has one stored shape in both homes. Not responsible for reading or
writing a table. Spec: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

#: The key of a file's owner for API-key files (owner None): key attributes cannot be null.
PUBLIC_OWNER = "#public"
#: Attributes derived from the item for the table's keys; never returned to callers.
KEY_ATTRIBUTES = frozenset({"sha256", "createdAt", "ownerKey", "createdAtId"})

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def owner_key(owner: str | None) -> str:
    return PUBLIC_OWNER if owner is None else owner


def created_at_id(created_at: str, item_id: str) -> str:
    return f"{created_at}#{item_id}"


def sha256_of(hashes: Any) -> str | None:
    return hashes.get("sha256") if isinstance(hashes, Mapping) else None


def _to_dynamo_value(value: Any) -> Any:
    """Floats become Decimals (boto3 refuses floats); containers are converted recursively."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _to_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo_value(v) for v in value]
    return value


def _from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo_value(v) for v in value]
    return value


def serialize(value: Any) -> AttributeValueTypeDef:
    """One value as a DynamoDB AttributeValue."""
    return cast("AttributeValueTypeDef", _serializer.serialize(_to_dynamo_value(value)))


def item_out(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item as the port gives it: plain values, without the derived key attributes."""
    return {
        name: _from_dynamo_value(_deserializer.deserialize(value))
        for name, value in raw.items()
        if name not in KEY_ATTRIBUTES
    }


def item_in(item: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    """The item as stored: every attribute, plus the key attributes derived from it."""
    if KEY_ATTRIBUTES & item.keys():
        raise ValueError(f"Item attributes {sorted(KEY_ATTRIBUTES & item.keys())} are reserved for keys.")
    raw = {name: serialize(value) for name, value in item.items()}
    raw["ownerKey"] = serialize(owner_key(item["owner"]))
    raw["createdAt"] = serialize(item["created_at"])
    raw["createdAtId"] = serialize(created_at_id(item["created_at"], item["id"]))
    sha256 = sha256_of(item.get("hashes"))
    if sha256:
        raw["sha256"] = serialize(sha256)
    return raw
