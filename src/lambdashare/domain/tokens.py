"""Opaque, tamper-evident pagination tokens.

A token names the last item a page returned and is bound, by an HMAC, to the listing it came
from; it carries nothing a client may rely on. Not responsible for the query itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from lambdashare.domain.errors import InvalidTokenError
from lambdashare.ports.table import Cursor

_MAC_BYTES = 16


def _mac(secret: str, scope: str, body: bytes) -> bytes:
    message = scope.encode() + b"\0" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(cursor: Cursor, *, secret: str, scope: str) -> str:
    body = json.dumps(list(cursor), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_mac(secret, scope, body) + body).decode().rstrip("=")


def decode_cursor(token: str, *, secret: str, scope: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if not hmac.compare_digest(mac, _mac(secret, scope, body)):
            raise ValueError("bad signature")
        created_at, item_id = json.loads(body)
        return str(created_at), str(item_id)
    except (ValueError, TypeError) as exc:
        raise InvalidTokenError("nextToken is invalid or was not issued for this listing.") from exc
