"""Sample events in the shapes AWS sends to Lambda, for comparing the emulator's events against.

- `s3_object_created.json`: an S3 `ObjectCreated:Put` notification (AWS S3 user guide,
  "Event message structure"), for an unversioned bucket: no `versionId`, as S3 sends it then.
- `appsync_direct_resolver.json`: the context object AppSync passes to a Direct Lambda resolver
  (AWS AppSync "Resolver mapping template context reference"), API-key caller (`identity` null).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent


def load_event(name: str) -> dict[str, Any]:
    """The sample `<name>.json` from this directory."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return event
