"""FileBlobStore's write-once publish: a hard link that never replaces, a completed multipart upload
published by renaming its parts' directory (no bytes copied), and what a crash leaves behind."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lambdashare.adapters.local.file_blob_store import FileBlobStore, ObjectExistsError
from lambdashare.domain.errors import BlobNotFoundError

KEY = "uploads/0b7f5b1e-4a57-4d6b-9a43-3d1a8d0c8d11"


def new_store(data_dir: Path) -> FileBlobStore:
    return FileBlobStore(data_dir, bucket="local", public_url="http://127.0.0.1:1", secret="unit")


def leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "tmp").iterdir())


def test_the_second_of_two_open_writers_cannot_replace_the_first(tmp_path: Path) -> None:
    # GIVEN two uploads to one key, both received in full before either is published
    store = new_store(tmp_path)
    first, second = store.open_writer(KEY, 10), store.open_writer(KEY, 10)
    first.write(b"first")
    second.write(b"later")
    # WHEN both are committed
    first.commit()
    with pytest.raises(ObjectExistsError):
        second.commit()
    # THEN the object holds the first upload's bytes, and neither left a temp file
    assert b"".join(store.open_chunks(KEY, 1024)) == b"first"
    assert leftovers(tmp_path) == []
    # AND a later upload is refused before it sends its body
    with pytest.raises(ObjectExistsError):
        store.open_writer(KEY, 10)


def test_a_crash_between_publish_and_cleanup_keeps_the_object(tmp_path: Path) -> None:
    # GIVEN an upload published by its link, whose temp name a crash left behind (its lock died with it)
    store = new_store(tmp_path)
    writer = store.open_writer(KEY, 10)
    writer.write(b"durable")
    writer.abort = writer._close  # type: ignore[method-assign]  # the crash: the temp name is not removed
    writer.commit()
    assert len(leftovers(tmp_path)) == 1
    # WHEN the store is opened again, as at start-up
    reopened = new_store(tmp_path)
    # THEN the temp name is swept and the acknowledged object is whole
    assert leftovers(tmp_path) == []
    assert b"".join(reopened.open_chunks(KEY, 1024)) == b"durable"


PART = 5 * 1024 * 1024


def multipart(store: FileBlobStore, parts: list[bytes], key: str = KEY) -> tuple[str, list[tuple[int, str]]]:
    """An upload of `key` whose parts are stored; its id and the (number, ETag) list that completes it."""
    upload_id = store.create_multipart(key, content_type=None)
    listed = []
    for number, body in enumerate(parts, start=1):
        writer, part_dir = store.open_part_writer(key, upload_id, len(body))
        writer.write(body)
        listed.append((number, f'"{writer.commit_part(part_dir, number)}"'))
    return upload_id, listed


def test_a_completed_upload_is_published_without_copying_and_reads_whole_and_by_range(tmp_path: Path) -> None:
    # GIVEN an upload of three parts
    store = new_store(tmp_path)
    parts = [os.urandom(PART), os.urandom(PART), b"tail"]
    upload_id, listed = multipart(store, parts)
    stored = sorted((p.name, p.stat().st_ino) for p in (tmp_path / "multipart" / upload_id).glob("0*"))
    # WHEN it is completed
    store.assemble_multipart(KEY, upload_id, listed)
    # THEN the object is the parts' own files, moved, not copied (the same inodes), and reads as one
    body = b"".join(parts)
    assert [(path.name, path.stat().st_ino) for path, _ in store.pieces(KEY)] == stored
    assert b"".join(store.open_chunks(KEY, 1 << 20)) == body
    # AND any byte range reads across the parts' borders
    for start, stop in ((0, 1), (PART - 3, PART + 3), (PART - 1, 2 * PART + 2), (2 * PART, len(body))):
        assert b"".join(store.open_range(KEY, start, stop, 4096)) == body[start:stop]


def test_of_two_concurrent_completions_of_one_upload_exactly_one_wins(tmp_path: Path) -> None:
    # GIVEN an upload whose parts are stored
    store = new_store(tmp_path)
    upload_id, listed = multipart(store, [os.urandom(PART), b"end"])
    # WHEN it is completed from two threads at once
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: _outcome(store.assemble_multipart, KEY, upload_id, listed), range(2)))
    # THEN one completion answers the ETag, the other NoSuchUpload, as S3 answers a completed upload
    assert sorted(type(o).__name__ for o in outcomes) == ["NoSuchUpload", "tuple"]


def test_of_two_uploads_completed_to_one_key_the_second_is_refused(tmp_path: Path) -> None:
    # GIVEN two uploads of one key, and a third key that holds a single PUT's object
    store = new_store(tmp_path)
    first, first_parts = multipart(store, [os.urandom(PART), b"one"])
    second, second_parts = multipart(store, [os.urandom(PART), b"two"])
    store.assemble_multipart(KEY, first, first_parts)
    other = KEY + "-put"
    writer = store.open_writer(other, 10)
    writer.write(b"put")
    writer.commit()
    third, third_parts = multipart(store, [os.urandom(PART), b"three"], key=other)
    # THEN neither kind of object is replaced by a completion, nor a completed one by a PUT
    with pytest.raises(ObjectExistsError):
        store.assemble_multipart(KEY, second, second_parts)
    with pytest.raises(ObjectExistsError):
        store.assemble_multipart(other, third, third_parts)
    with pytest.raises(ObjectExistsError):
        store.open_writer(KEY, 10)
    assert b"".join(store.open_chunks(KEY, 1 << 20)).endswith(b"one")
    assert b"".join(store.open_chunks(other, 1 << 20)) == b"put"


def test_a_crash_before_the_completed_upload_is_published_shows_nothing_and_loses_no_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an upload whose completion dies after writing its manifest, just before the publishing rename
    store = new_store(tmp_path)
    parts = [os.urandom(PART), b"end"]
    upload_id, listed = multipart(store, parts)
    real_rename = os.rename

    def crash_on_publish(source: object, target: object) -> None:
        if Path(str(target)).parent.parent == tmp_path / "objects":
            raise SystemExit("killed")
        real_rename(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", crash_on_publish)
    with pytest.raises(SystemExit):
        store.assemble_multipart(KEY, upload_id, listed)
    monkeypatch.setattr(os, "rename", real_rename)
    # WHEN the store is opened again, as at start-up
    reopened = new_store(tmp_path)
    # THEN there is no object, every acknowledged part is still listed, and completing again publishes it whole
    with pytest.raises(BlobNotFoundError):
        reopened.open_chunks(KEY, 1024)
    assert [(p.number, p.etag) for p in reopened.list_parts(KEY, upload_id)] == listed
    reopened.assemble_multipart(KEY, upload_id, listed)
    assert b"".join(reopened.open_chunks(KEY, 1 << 20)) == b"".join(parts)


def test_deleting_a_completed_upload_removes_every_part_and_is_idempotent(tmp_path: Path) -> None:
    # GIVEN a completed upload, one part of which was sent twice (the older copy is not the object's)
    store = new_store(tmp_path)
    upload_id, listed = multipart(store, [os.urandom(PART), b"end"])
    writer, part_dir = store.open_part_writer(KEY, upload_id, 3)
    writer.write(b"END")
    listed[1] = (2, f'"{writer.commit_part(part_dir, 2)}"')
    store.assemble_multipart(KEY, upload_id, listed)
    # WHEN it is deleted, twice
    store.delete_blob(KEY)
    store.delete_blob(KEY)
    # THEN no file is left anywhere in the store
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    with pytest.raises(BlobNotFoundError):
        store.pieces(KEY)


def _outcome(call: Callable[..., object], *args: object) -> object:
    try:
        return call(*args)
    except Exception as exc:
        return exc


def test_concurrent_puts_of_one_part_leave_exactly_one_stored_the_last_writer_wins(tmp_path: Path) -> None:
    # GIVEN an upload, and four writers of its part 1, each with other bytes, all ready to commit at once
    store = new_store(tmp_path)
    upload_id = store.create_multipart(KEY, content_type=None)
    for _ in range(50):
        bodies = [os.urandom(1024) for _ in range(4)]
        barrier = threading.Barrier(len(bodies))

        def put(body: bytes, barrier: threading.Barrier = barrier) -> str:
            writer, part_dir = store.open_part_writer(KEY, upload_id, len(body))
            writer.write(body)
            barrier.wait()
            return writer.commit_part(part_dir, 1)

        # WHEN they all commit
        with ThreadPoolExecutor(len(bodies)) as pool:
            etags = list(pool.map(put, bodies))
        # THEN one copy of part 1 is stored, and it is one that was acknowledged
        stored = store.list_parts(KEY, upload_id)
        assert len(stored) == 1
        assert stored[0].etag.strip('"') in etags
