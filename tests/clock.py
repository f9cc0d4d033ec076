"""Shift botocore's clock, to sign requests as if from the past or the future."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import botocore.auth


@contextmanager
def botocore_clock(offset: timedelta) -> Iterator[None]:
    """botocore (and so gql's IAM auth) signs as if its clock were `offset` away from now."""
    original = botocore.auth.get_current_datetime

    def shifted(remove_tzinfo: bool = True) -> datetime:
        moved: datetime = original(remove_tzinfo) + offset
        return moved

    botocore.auth.get_current_datetime = shifted
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = original
