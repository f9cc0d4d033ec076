"""A local stand-in for a Cognito user pool: RS256 tokens shaped like Cognito's, and their JWKS.

The key pair, the pool id and the app client id live in the data dir, so `lambdashare token` and
`lambdashare serve` agree without talking to each other. Verification uses PyJWT: signature,
`exp`, `iss`, `token_use`, and `aud` (ID tokens) or `client_id` (access tokens), as AppSync checks a
Cognito token. Not responsible for per-field rules.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import string
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE = "idp-key.pem"
POOL_FILE = "idp.json"
ALGORITHM = "RS256"
LEEWAY_S = 5


class InvalidJwtError(Exception):
    """The JWT is not one this user pool issued, or no longer valid."""


def _create_once(path: Path, data: bytes) -> None:
    """Write `path` (mode 0600) unless it exists, atomically: `serve` and `token` may both be first, and
    neither may read a half-written file or overwrite the other's."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


@dataclass(frozen=True, slots=True)
class UserPool:
    pool_id: str
    client_id: str
    region: str
    kid: str
    private_key: RSAPrivateKey

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @classmethod
    def load_or_create(cls, data_dir: Path, region: str = "us-east-1") -> UserPool:
        data_dir.mkdir(parents=True, exist_ok=True)
        pool_path, key_path = data_dir / POOL_FILE, data_dir / KEY_FILE
        if not key_path.exists():
            generated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _create_once(
                key_path,
                generated.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
        if not pool_path.exists():  # names only: whichever pool and key won, they work together
            alphabet = string.ascii_lowercase + string.digits
            pool = {
                "pool_id": f"{region}_" + "".join(secrets.choice(string.ascii_letters) for _ in range(9)),
                "client_id": "".join(secrets.choice(alphabet) for _ in range(26)),
                "region": region,
                "kid": secrets.token_urlsafe(16),
            }
            _create_once(pool_path, json.dumps(pool, indent=2).encode())
        stored = json.loads(pool_path.read_text())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"{key_path} does not hold an RSA private key")
        return cls(stored["pool_id"], stored["client_id"], stored["region"], stored["kid"], key)

    @property
    def name(self) -> str:
        """The pool id without its region: what Cognito's SRP hashes with the user's id."""
        return self.pool_id.split("_", 1)[1]

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte secret key for one purpose, derived (HKDF) from the pool's signing key: the pool's other
        secrets need no file of their own, and last as long as the pool does."""
        material = self.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(material)

    def sub_for(self, username: str) -> str:
        """The same user gets the same `sub` from every token of this pool."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.issuer}/{username}"))

    def issue(
        self,
        username: str,
        *,
        groups: list[str] | None = None,
        ttl_s: int = 3600,
        token_use: str = "id",
        sub: str | None = None,
        id_claims: dict[str, Any] | None = None,
        origin_jti: str | None = None,
        auth_time: int | None = None,
    ) -> str:
        """A token for `username`; `sub` defaults to one derived from the name (`lambdashare token`).

        A sign-in passes the user's own `sub`, the attributes an ID token carries (`email`,
        `email_verified`), and the `origin_jti` and `auth_time` its refreshed tokens keep.
        """
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": sub or self.sub_for(username),
            "iss": self.issuer,
            "token_use": token_use,
            "auth_time": auth_time or now,
            "iat": now,
            "exp": now + ttl_s,
            "jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
        }
        if origin_jti:
            claims["origin_jti"] = origin_jti
        if token_use == "id":
            claims.update({"aud": self.client_id, "cognito:username": username, "email_verified": False})
            claims.update(id_claims or {})
        else:
            claims.update({"client_id": self.client_id, "username": username, "scope": "aws.cognito.signin.user.admin"})
        if groups:
            claims["cognito:groups"] = list(groups)
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}]}

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or InvalidJwtError: never trust a token by decoding alone."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM or header.get("kid") != self.kid:
                raise InvalidJwtError("unexpected signing algorithm or key id")
            claims: dict[str, Any] = jwt.decode(
                token,
                self.private_key.public_key(),
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "iss", "sub", "token_use"], "verify_aud": False},
                leeway=LEEWAY_S,
            )
        except jwt.PyJWTError as exc:
            raise InvalidJwtError(str(exc)) from None
        use = claims.get("token_use")
        audience = claims.get("aud") if use == "id" else claims.get("client_id") if use == "access" else None
        if audience != self.client_id:
            raise InvalidJwtError("token was issued for another app client, or has no valid token_use")
        return claims
