"""Cognito's SRP-6a (`USER_SRP_AUTH`) for the local user pool: password verifiers, the server's side of the
`PASSWORD_VERIFIER` challenge, and the SECRET_BLOCK that carries a challenge from `InitiateAuth` to
`RespondToAuthChallenge` through the client.

The numbers are Cognito's, as its clients compute them (Amplify JS's `AuthenticationHelper`, pycognito's
`AWSSRP`): RFC 5054's 3072-bit group with g = 2, SHA-256, `pad()` = Java's `BigInteger.toByteArray()`,
x = H(pad(salt) | H(poolName | userIdForSrp | ":" | password)), and a 16-byte HKDF key ("Caldera Derived
Key") that signs poolName | userIdForSrp | SECRET_BLOCK | TIMESTAMP with HMAC-SHA256. Not responsible for
Cognito's rules, error names or the user store: `user_pool_api` applies them.
Spec: https://www.rfc-editor.org/rfc/rfc5054 (SRP-6a, the group in appendix A)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: RFC 5054 appendix A, the 3072-bit group; its generator is 5 there, but Cognito uses 2.
N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2
HKDF_INFO = b"Caldera Derived Key"
SALT_BYTES = 16  # as Cognito's SALT
PRIVATE_BYTES = 32  # the server's secret exponent b


def pad(value: int) -> bytes:
    """Cognito's padding of a number before hashing: its big-endian bytes with a leading 00 when the high bit is
    set (Java's `BigInteger.toByteArray()`; Amplify's `getPaddedHex`)."""
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def _hash(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"".join(parts)).digest(), "big")


#: SRP-6a's multiplier, k = H(pad(N) | pad(g)).
K = _hash(pad(N), pad(G))


@dataclass(frozen=True, slots=True)
class PasswordVerifier:
    """What the pool keeps instead of the password for SRP: the salt and v = g^x mod N. Like any SRP verifier it
    lets whoever reads it test password guesses offline, one SHA-256 each."""

    salt: int
    verifier: int


def _x(pool_name: str, user_id: str, password: str, salt: int) -> int:
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).digest()
    return _hash(pad(salt), inner)


def make_verifier(pool_name: str, user_id: str, password: str) -> PasswordVerifier:
    """A new salt and the verifier of `password` for the user whose USER_ID_FOR_SRP is `user_id`."""
    salt = int.from_bytes(secrets.token_bytes(SALT_BYTES), "big")
    return PasswordVerifier(salt, pow(G, _x(pool_name, user_id, password, salt), N))


def session_key(verifier: int, client_public: int) -> tuple[int, bytes]:
    """The server's public value B for a client's A, and the 16-byte key both sides derive if the client knows
    the password: S = (A * v^u)^b mod N, key = HKDF(pad(S), salt = pad(u)). A must not be 0 mod N."""
    if client_public % N == 0:
        raise ValueError("A mod N is 0")
    while True:
        b = int.from_bytes(secrets.token_bytes(PRIVATE_BYTES), "big")
        server_public = (K * verifier + pow(G, b, N)) % N
        u = _hash(pad(client_public), pad(server_public))
        if server_public and u:  # clients refuse either being 0; redraw b (probability ~2^-256)
            break
    shared = pow(client_public * pow(verifier, u, N), b, N)
    key = HKDF(algorithm=hashes.SHA256(), length=16, salt=pad(u), info=HKDF_INFO).derive(pad(shared))
    return server_public, key


def signature_matches(
    key: bytes, pool_name: str, user_id: str, secret_block: bytes, timestamp: str, signature: bytes
) -> bool:
    """PASSWORD_CLAIM_SIGNATURE = HMAC-SHA256(key, poolName | userIdForSrp | SECRET_BLOCK | TIMESTAMP)."""
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(pool_name.encode() + user_id.encode() + secret_block + timestamp.encode())
    try:
        mac.verify(signature)
    except InvalidSignature:
        return False
    return True


def decoy_identity(key: bytes, username: str) -> tuple[str, int]:
    """A made-up USER_ID_FOR_SRP (a UUID, like a real user's) and salt for a user name nobody has: the same
    name gets the same ones every time, as a real user's stay the same."""
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(username.encode())
    made_up = mac.finalize()
    return str(uuid.UUID(bytes=made_up[:SALT_BYTES], version=4)), int.from_bytes(made_up[SALT_BYTES:], "big")


class InvalidSecretBlockError(Exception):
    """The SECRET_BLOCK was not made by this pool, was altered, or has expired."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """What a SECRET_BLOCK carries: whose challenge it is, for which app client, the session key, until when."""

    user_id: str
    client_id: str
    key: bytes
    expires_at: int


class SecretBlocks:
    """SECRET_BLOCKs sealed with AES-GCM under a key only the pool has: the client carries the challenge's state,
    so the pool keeps no table of pending challenges, and cannot read or alter it."""

    NONCE_BYTES = 12

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, challenge: Challenge) -> str:
        plain = json.dumps(
            {"u": challenge.user_id, "c": challenge.client_id, "k": challenge.key.hex(), "e": challenge.expires_at}
        ).encode()
        nonce = secrets.token_bytes(self.NONCE_BYTES)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, plain, None)).decode()

    def open(self, secret_block: str, now: float) -> tuple[Challenge, bytes]:
        """The challenge, and the block's bytes as the client signed them."""
        try:
            sealed = base64.b64decode(secret_block, validate=True)
            nonce, ciphertext = sealed[: self.NONCE_BYTES], sealed[self.NONCE_BYTES :]
            fields = json.loads(self._aead.decrypt(nonce, ciphertext, None))
            challenge = Challenge(fields["u"], fields["c"], bytes.fromhex(fields["k"]), int(fields["e"]))
        except (binascii.Error, ValueError, InvalidTag, KeyError, TypeError) as exc:
            raise InvalidSecretBlockError("not a SECRET_BLOCK of this pool") from exc
        if challenge.expires_at <= now:
            raise InvalidSecretBlockError("expired")
        return challenge, sealed
