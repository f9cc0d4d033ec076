"""`lambdashare upload …` with something going wrong just before it sends its N-th request of bytes:

- `kill`: the process is killed (SIGKILL: no clean-up runs, as when the OOM killer strikes or a laptop's lid shuts);
- `edit`: the file being sent gets a byte appended (a person saving it meanwhile);
- `short`: that request sends one byte less than it should (a truncated body the store accepts).

Usage: python tests/e2e/_interrupted_upload.py kill|edit|short N [upload options and files]
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from lambdashare.cli import main
from lambdashare.client.transfer import Advance, LocalFile, Uploader


def go_wrong(mode: str, at: int) -> None:
    sends = 0
    send = Uploader._put

    async def put(
        self: Uploader, request: dict[str, Any], local: LocalFile, offset: int, length: int, advance: Advance
    ) -> str:
        nonlocal sends
        sends += 1
        if sends == at and mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if sends == at and mode == "edit":
            with open(local.path, "ab") as edited:
                edited.write(b"!")
        if sends == at and mode == "short":
            length -= 1
        return await send(self, request, local, offset, length, advance)

    Uploader._put = put  # type: ignore[method-assign]


if __name__ == "__main__":
    go_wrong(sys.argv[1], int(sys.argv[2]))
    sys.exit(main(["upload", *sys.argv[3:]]))
