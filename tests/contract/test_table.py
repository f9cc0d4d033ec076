"""The Table port's contract, held by SqliteTable and by DynamoTable on moto and on DynamoDB Local."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdashare.domain.errors import ConditionFailedError, ItemExistsError
from lambdashare.domain.model import HASHABLE, FileRecord, FileStatus, aws_datetime
from lambdashare.ports.table import Table

T0 = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "b" * 64


def new_item(
    *, owner: str | None = "alice", created_at: str | None = None, file_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    file_id = file_id or str(uuid.uuid4())
    record = FileRecord(
        id=file_id,
        name="report ü.pdf",
        size=1234,
        key=f"uploads/{file_id}",
        created_at=created_at or aws_datetime(T0),
        content_type="application/pdf",
        owner=owner,
    )
    return {**record.to_item(), **fields}


def hashes(sha256: str) -> dict[str, str]:
    return {"md5": "1" * 32, "sha1": "2" * 40, "sha256": sha256, "sha512": "3" * 128}


def at(seconds: int) -> str:
    return aws_datetime(T0 + timedelta(seconds=seconds))


# --- put / get -----------------------------------------------------------------------------------
def test_put_then_get_returns_the_item_as_given(table: Table) -> None:
    # GIVEN a new file's item
    item = new_item()
    # WHEN it is put and read back
    table.put_item(item)
    # THEN it comes back equal, with no attribute added or lost (None values included)
    assert table.get_item(item["id"]) == item


def test_get_of_a_missing_item_is_none(table: Table) -> None:
    assert table.get_item(str(uuid.uuid4())) is None


def test_a_second_put_with_the_same_id_raises_and_keeps_the_first(table: Table) -> None:
    # GIVEN a stored item
    first = new_item()
    table.put_item(first)
    # WHEN another item with the same id is put
    with pytest.raises(ItemExistsError):
        table.put_item({**first, "name": "other.bin"})
    # THEN the first one is untouched
    assert table.get_item(first["id"]) == first


def test_numbers_come_back_as_int_and_float(table: Table) -> None:
    # GIVEN an item with a 5 TiB size and a fractional number
    item = new_item(size=5 * 1024**4, ratio=0.25)
    # WHEN it is stored and read
    table.put_item(item)
    got = table.get_item(item["id"])
    # THEN the numbers have their Python types, not Decimal
    assert got is not None
    assert (got["size"], type(got["size"])) == (5 * 1024**4, int)
    assert (got["ratio"], type(got["ratio"])) == (0.25, float)


def test_the_pending_expiry_is_a_number_until_the_bytes_clear_it(table: Table) -> None:
    # GIVEN a PENDING file that expires at an epoch second (DynamoDB's TTL reads only Number attributes)
    item = new_item(ttl=1_900_000_123)
    table.put_item(item)
    got = table.get_item(item["id"])
    assert got is not None and (got["ttl"], type(got["ttl"])) == (1_900_000_123, int)
    # WHEN its bytes arrive and the hasher clears the expiry
    new = table.update_item(item["id"], {"status": FileStatus.HASHING.value, "ttl": None}, status_in=HASHABLE)
    # THEN it no longer expires (None: no Number for the TTL to act on)
    assert new["ttl"] is None
    assert table.get_item(item["id"]) == {**item, "status": "HASHING", "ttl": None}


# --- conditional update --------------------------------------------------------------------------
def test_update_returns_the_new_item(table: Table) -> None:
    # GIVEN a PENDING file
    item = new_item()
    table.put_item(item)
    changes = {"status": FileStatus.HASHED.value, "hashes": hashes(SHA_A), "hashed_at": at(5), "error": None}
    # WHEN it is updated from a state it is in (states given as the domain gives them: FileStatus)
    new = table.update_item(item["id"], changes, status_in=HASHABLE)
    # THEN the whole new item is returned, and stored
    assert new == {**item, **changes}
    assert table.get_item(item["id"]) == new


def test_update_in_another_state_raises_and_writes_nothing(table: Table) -> None:
    # GIVEN a HASHED file
    item = new_item(status=FileStatus.HASHED.value, hashes=hashes(SHA_A))
    table.put_item(item)
    # WHEN an update requires it to be PENDING or HASHING
    with pytest.raises(ConditionFailedError, match=r"is HASHED, not one of \['HASHING', 'PENDING'\]"):
        table.update_item(item["id"], {"status": "FAILED", "error": "late"}, status_in={"PENDING", "HASHING"})
    # THEN nothing changed
    assert table.get_item(item["id"]) == item


def test_update_of_a_missing_item_raises_and_creates_nothing(table: Table) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ConditionFailedError, match="is missing"):
        table.update_item(missing, {"status": "HASHING"}, status_in={"PENDING"})
    assert table.get_item(missing) is None


def test_update_without_changes_still_checks_the_condition(table: Table) -> None:
    item = new_item()
    table.put_item(item)
    assert table.update_item(item["id"], {}, status_in={"PENDING"}) == item
    with pytest.raises(ConditionFailedError):
        table.update_item(item["id"], {}, status_in={"HASHED"})


# --- delete --------------------------------------------------------------------------------------
def test_delete_returns_the_old_item_once(table: Table) -> None:
    # GIVEN a stored item
    item = new_item()
    table.put_item(item)
    # WHEN it is deleted twice
    first, second = table.delete_item(item["id"]), table.delete_item(item["id"])
    # THEN the first delete returns it as it was, the second finds nothing
    assert first == item
    assert second is None
    assert table.get_item(item["id"]) is None


# --- lookups -------------------------------------------------------------------------------------
def test_query_by_sha256_finds_every_item_with_that_hash_oldest_first(table: Table) -> None:
    # GIVEN items with sha256 A (one HASHED, one FAILED on a mismatch, one hashed by a later update),
    # one with sha256 B, and one not hashed yet
    hashed = new_item(created_at=at(2), status="HASHED", hashes=hashes(SHA_A))
    failed = new_item(created_at=at(1), status="FAILED", hashes=hashes(SHA_A), error="sha256 mismatch")
    later = new_item(created_at=at(3))
    other = new_item(created_at=at(0), status="HASHED", hashes=hashes(SHA_B))
    pending = new_item(created_at=at(4))
    for item in (hashed, failed, later, other, pending):
        table.put_item(item)
    later = table.update_item(later["id"], {"status": "HASHED", "hashes": hashes(SHA_A)}, status_in={"PENDING"})
    # WHEN looking up A
    found = table.query_by_sha256(SHA_A, 10)
    # THEN all three come back, oldest first, and `limit` cuts the list
    assert found == [failed, hashed, later]
    assert table.query_by_sha256(SHA_A, 2) == [failed, hashed]
    assert table.query_by_sha256("c" * 64, 10) == []


def test_query_by_sha256_orders_files_of_the_same_millisecond_by_id(table: Table) -> None:
    same = [new_item(created_at=at(1), status="HASHED", hashes=hashes(SHA_A)) for _ in range(4)]
    for item in same:
        table.put_item(item)
    assert table.query_by_sha256(SHA_A, 10) == sorted(same, key=lambda item: item["id"])


def test_query_by_sha256_forgets_a_hash_an_update_removes(table: Table) -> None:
    item = new_item(status="HASHING", hashes=hashes(SHA_A))
    table.put_item(item)
    table.update_item(item["id"], {"status": "FAILED", "hashes": None}, status_in={"HASHING"})
    assert table.query_by_sha256(SHA_A, 10) == []


def _ids(pages: list[list[str]]) -> list[str]:
    return [item_id for page in pages for item_id in page]


def _page_through(table: Table, owner: str | None, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        page = table.list_items(owner, limit, after)
        if not page:
            return pages
        pages.append([item["id"] for item in page])
        after = (page[-1]["created_at"], page[-1]["id"])


def test_list_items_pages_newest_first_per_owner(table: Table) -> None:
    # GIVEN alice's five files (two created in the same millisecond), bob's one and two public ones
    alice = [new_item(owner="alice", created_at=at(n)) for n in (1, 2, 2, 3, 4)]
    bob = [new_item(owner="bob", created_at=at(5))]
    public = [new_item(owner=None, created_at=at(n)) for n in (0, 6)]
    for item in alice + bob + public:
        table.put_item(item)

    def newest_first(items: list[dict[str, Any]]) -> list[str]:
        return [i["id"] for i in sorted(items, key=lambda i: (i["created_at"], i["id"]), reverse=True)]

    # WHEN paging through each owner's files two at a time
    # THEN each owner sees only their own, newest first (ties broken by id), across pages
    alice_pages = _page_through(table, "alice", 2)
    assert [len(page) for page in alice_pages] == [2, 2, 1]
    assert _ids(alice_pages) == newest_first(alice)
    assert _ids(_page_through(table, "bob", 2)) == newest_first(bob)
    assert _ids(_page_through(table, None, 2)) == newest_first(public)
    assert table.list_items("carol", 10, None) == []
    # AND items come back whole
    assert table.list_items("bob", 10, None) == bob


def test_a_cursor_stays_valid_when_its_item_is_deleted(table: Table) -> None:
    # GIVEN three files and a cursor on the middle one
    items = [new_item(created_at=at(n)) for n in (1, 2, 3)]
    for item in items:
        table.put_item(item)
    cursor = (items[1]["created_at"], items[1]["id"])
    # WHEN that item is deleted before the next page is asked for
    table.delete_item(items[1]["id"])
    # THEN the next page still starts strictly after the cursor
    assert [i["id"] for i in table.list_items("alice", 10, cursor)] == [items[0]["id"]]


def test_query_by_sha256_for_one_owner_is_not_crowded_out_by_other_owners_copies(table: Table) -> None:
    # GIVEN three older copies of A in other spaces (a user's and the anonymous one), then two of alice's
    others = [
        new_item(created_at=at(n), status="HASHED", hashes=hashes(SHA_A), owner=o)
        for n, o in ((1, "bob"), (2, None), (3, "bob"))
    ]
    alices = [new_item(created_at=at(n), status="HASHED", hashes=hashes(SHA_A), owner="alice") for n in (4, 5)]
    for item in (*others, *alices):
        table.put_item(item)
    # WHEN alice's copies are asked for with a limit smaller than the number of copies
    # THEN only hers come back, oldest first, whatever the other owners hold
    assert table.query_by_sha256(SHA_A, 2, "alice") == alices
    assert table.query_by_sha256(SHA_A, 10, None) == [others[1]]
    assert table.query_by_sha256(SHA_A, 10) == [*others, *alices]
