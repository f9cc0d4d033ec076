"""Where the single-page web app lives: `web/` beside the package sources, or LAMBDASHARE_WEB_DIR."""

from __future__ import annotations

import os
from pathlib import Path

WEB_DIR_ENV = "LAMBDASHARE_WEB_DIR"
WEB_DIR = Path(os.environ.get(WEB_DIR_ENV) or Path(__file__).resolve().parents[3] / "web")
