"""The uploads this client started, per profile: a local path's file id, size, mtime and part size, so `upload
--resume` continues a multipart upload where it stopped and `check` finds a file's record. The API key's space
lists nothing (a file id is the capability), so this is also how `ls` finds that space's files, as the web app
keeps them in localStorage.

Kept in `<config dir>/uploads.json` (mode 0600), read and written under an exclusive lock so two commands do not
lose each other's entries. Not responsible for the uploads themselves (`transfer`).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

from lambdashare.client.config import Profile


class Entry(TypedDict):
    id: str
    size: int
    mtime_ns: int
    #: bytes per part of a multipart upload; None for a single PUT
    part_size: int | None
    #: every byte sent (and, for multipart, the upload completed)
    sent: bool


class Ledger:
    def __init__(self, directory: Path, profile: Profile) -> None:
        self._path = directory / "uploads.json"
        self._scope = f"{profile.name} {profile.endpoint}"

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The whole file's entries, written back when the block ends."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self._path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                everything: dict[str, dict[str, Any]] = json.loads(self._path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                everything = {}
            yield everything
            temporary = self._path.with_suffix(".tmp")
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
                json.dump(everything, out, indent=1)
            os.replace(temporary, self._path)
        finally:
            os.close(lock)

    def get(self, path: Path) -> Entry | None:
        with self._locked() as everything:
            found: Entry | None = everything.get(self._scope, {}).get(str(path.resolve()))
        return found

    def record(self, path: Path, entry: Entry) -> None:
        with self._locked() as everything:
            everything.setdefault(self._scope, {})[str(path.resolve())] = entry

    def file_ids(self) -> list[str]:
        """The ids of the files uploaded through this profile, the latest last."""
        with self._locked() as everything:
            return [entry["id"] for entry in everything.get(self._scope, {}).values()]
