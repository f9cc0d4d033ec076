"""`schema.graphql` in AppSync's dialect, printed from the strawberry schema.

AppSync declares its own scalars and directives, so their definitions are left out.
"""

from __future__ import annotations

import re

from lambdashare.api.schema import schema

_AWS_SCALAR = re.compile(r"^scalar AWS\w+\n\n?", re.MULTILINE)


def appsync_sdl() -> str:
    return _AWS_SCALAR.sub("", schema.as_str()).strip() + "\n"
