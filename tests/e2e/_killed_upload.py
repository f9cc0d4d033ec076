"""`lambdashare upload …` killed with SIGKILL (no clean-up runs, as when a laptop's lid shuts or the OOM killer
strikes) just before it sends its KILL_AT-th request of bytes.

Usage: python tests/e2e/_killed_upload.py KILL_AT [upload options and files]
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from lambdashare.cli import main
from lambdashare.client.transfer import Uploader


def killed_at(kill_at: int) -> None:
    sends = 0
    send = Uploader._put

    async def put_or_die(self: Uploader, *args: Any, **kwargs: Any) -> str:
        nonlocal sends
        sends += 1
        if sends == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return await send(self, *args, **kwargs)

    Uploader._put = put_or_die  # type: ignore[method-assign]


if __name__ == "__main__":
    killed_at(int(sys.argv[1]))
    sys.exit(main(["upload", *sys.argv[2:]]))
