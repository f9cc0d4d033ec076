"""A stand-in Lambda handler that marks its module's import (Lambda's init phase): importing it creates
`<LAMBDASHARE_TEST_SINK>/imported-<pid>`; the handler answers with its process id."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

Path(os.environ["LAMBDASHARE_TEST_SINK"], f"imported-{os.getpid()}").touch()


def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"pid": os.getpid()}
