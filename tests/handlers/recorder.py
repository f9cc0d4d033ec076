"""A stand-in Lambda handler for tests of the emulator's stream and scheduler: it appends every event it
gets to a file, one JSON line each (fsynced), and answers as a stream consumer or a scheduled job would.

`LAMBDASHARE_TEST_SINK` names the file. While `<sink>.hold` exists, a batch holding a file named
`hold*` waits (after touching `<sink>.waiting`), so a test can kill the emulator with it in flight.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def _names(event: dict[str, Any]) -> list[str]:
    images = [record.get("dynamodb", {}).get("NewImage") or {} for record in event.get("Records", [])]
    return [image.get("name", {}).get("S", "") for image in images]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sink = Path(os.environ["LAMBDASHARE_TEST_SINK"])
    hold = sink.with_name(sink.name + ".hold")
    if hold.exists() and any(name.startswith("hold") for name in _names(event)):
        sink.with_name(sink.name + ".waiting").touch()
        deadline = time.monotonic() + 120
        while hold.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    with open(sink, "a", encoding="utf-8") as out:
        out.write(json.dumps(event) + "\n")
        out.flush()
        os.fsync(out.fileno())
    if "Records" in event:
        return {"batchItemFailures": []}
    return {"handled": event}
