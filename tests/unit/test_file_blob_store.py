"""FileBlobStore's write-once publish: a hard link that never replaces, and what a crash leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdashare.adapters.local.file_blob_store import FileBlobStore, ObjectExistsError

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
