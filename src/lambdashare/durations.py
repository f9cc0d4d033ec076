"""Durations as people type them on a command line: '90', '90s', '15m', '1h', '2d'."""

from __future__ import annotations

import argparse
import re

_DURATION = re.compile(r"(?P<number>[0-9]+)(?P<unit>[smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    """'90', '90s', '15m', '1h', '2d' -> seconds (an argparse `type`)."""
    match = _DURATION.fullmatch(duration)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {duration!r} (try 90s, 15m, 1h)")
    value = int(match["number"]) * _UNIT_SECONDS[match["unit"]]
    if value <= 0:
        raise argparse.ArgumentTypeError("the duration must be positive")
    return value
