"""S3's part-size rules, and the local store's sweep of abandoned multipart uploads."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lambdashare.adapters.local.file_blob_store import FileBlobStore
from lambdashare.domain.errors import NoSuchUpload, ValidationError
from lambdashare.domain.multipart import (
    MAX_OBJECT,
    MAX_PARTS,
    MIN_PART,
    MiB,
    check_part_size,
    choose_part_size,
    part_count,
    part_length,
)


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, 8 * MiB), (6 * 1024**3, 8 * MiB), (100 * 1024**3, 11 * MiB), (MAX_OBJECT, 525 * MiB)],
)
def test_the_chosen_part_size_is_whole_mib_at_least_8_and_within_10000_parts(size: int, expected: int) -> None:
    chosen = choose_part_size(size)
    assert chosen == expected
    assert part_count(size, chosen) <= MAX_PARTS
    assert chosen == 8 * MiB or part_count(size, chosen - MiB) > MAX_PARTS  # the smallest that fits


def test_part_lengths_add_up_to_the_size() -> None:
    size = 3 * MIN_PART + 17
    lengths = [part_length(size, MIN_PART, n) for n in range(1, part_count(size, MIN_PART) + 1)]
    assert lengths == [MIN_PART, MIN_PART, MIN_PART, 17]


@pytest.mark.parametrize("part_size", [MIN_PART - 1, 5 * 1024**3 + 1])
def test_a_part_size_outside_5_mib_to_5_gib_is_refused(part_size: int) -> None:
    with pytest.raises(ValidationError):
        check_part_size(10 * MIN_PART, part_size)


def test_abort_stale_multipart_drops_old_uploads_only(tmp_path: Path) -> None:
    # GIVEN two uploads with a part each, one started an hour ago
    store = FileBlobStore(tmp_path, bucket="local", public_url="http://127.0.0.1:9", secret="s")
    old = store.create_multipart("uploads/old", content_type=None)
    new = store.create_multipart("uploads/new", content_type=None)
    for key, upload_id in (("uploads/old", old), ("uploads/new", new)):
        writer, part_dir = store.open_part_writer(key, upload_id, 10)
        writer.write(b"part")
        writer.commit_part(part_dir, 1)
    meta = tmp_path / "multipart" / old / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "createdAt": time.time() - 3600}))
    # WHEN the sweeper aborts uploads older than a minute
    aborted = store.abort_stale_multipart(older_than=60)
    # THEN only the old one is gone, with its parts; the new one keeps its part
    assert aborted == [old]
    with pytest.raises(NoSuchUpload):
        store.list_parts("uploads/old", old)
    assert [p.number for p in store.list_parts("uploads/new", new)] == [1]
    assert list((tmp_path / "tmp").iterdir()) == []
