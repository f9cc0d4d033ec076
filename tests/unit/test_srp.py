"""Unit tests for Cognito's SRP numbers (`emulator/srp.py`) against pycognito's `AWSSRP`, a stock client:
the cases a random sign-in only meets by chance (a high bit set or not, an odd number of hex digits)."""

from __future__ import annotations

import base64
import time
import warnings

import pytest
from pycognito import aws_srp

from lambdashare.emulator import srp

POOL_ID = "us-east-1_AbCdEfGhI"
USER_ID = "0b1e3c6a-5d4f-4a8e-9c2b-7f6e5d4c3b2a"
PASSWORD = "Correct-Horse-9-battery"


@pytest.mark.parametrize(
    ("value", "padded"),
    [(0, "00"), (0x14, "14"), (0x7F, "7f"), (0x80, "0080"), (0xEC, "00ec"), (0xABC, "0abc"), (0x1234, "1234")],
)
def test_pad_is_cognitos_hex_padding(value: int, padded: str) -> None:
    # WHEN a number is padded for hashing
    # THEN it is Java's BigInteger.toByteArray(), as pycognito's pad_hex and Amplify's getPaddedHex write it
    assert srp.pad(value).hex() == padded == aws_srp.pad_hex(value)


def test_the_group_and_multiplier_are_cognitos() -> None:
    assert aws_srp.hex_to_long(aws_srp.N_HEX) == srp.N
    assert aws_srp.hex_to_long(aws_srp.G_HEX) == srp.G
    assert aws_srp.hex_to_long(aws_srp.hex_hash("00" + aws_srp.N_HEX + "0" + aws_srp.G_HEX)) == srp.K


@pytest.mark.parametrize("salt_high_bit", [True, False])
@pytest.mark.parametrize("password", [PASSWORD, "Wrong-Horse-9-battery"])
def test_a_stock_client_signs_what_the_server_checks(salt_high_bit: bool, password: str) -> None:
    # GIVEN a verifier whose salt has its high bit set (or not), and a client that knows some password
    verifier = srp.make_verifier(POOL_ID.split("_")[1], USER_ID, PASSWORD)
    while (srp.pad(verifier.salt)[0] == 0) != salt_high_bit:
        verifier = srp.make_verifier(POOL_ID.split("_")[1], USER_ID, PASSWORD)
    client = aws_srp.AWSSRP(USER_ID, password, POOL_ID, "client-id", client=object())
    blocks = srp.SecretBlocks(b"k" * 32)

    # WHEN the server answers the client's A, and the client signs the challenge
    server_public, key = srp.session_key(verifier.verifier, client.large_a_value)
    block = blocks.seal(srp.Challenge(USER_ID, "client-id", key, int(time.time()) + 60))
    parameters = {"USER_ID_FOR_SRP": USER_ID, "SALT": f"{verifier.salt:x}", "SRP_B": f"{server_public:x}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pycognito's datetime.utcnow(), on Python >= 3.12
        answer = client.process_challenge({**parameters, "SECRET_BLOCK": block}, {"USERNAME": USER_ID})
    challenge, signed_block = blocks.open(answer["PASSWORD_CLAIM_SECRET_BLOCK"], time.time())

    # THEN the signature checks out exactly when the client's password is the user's
    matches = srp.signature_matches(
        challenge.key,
        POOL_ID.split("_")[1],
        challenge.user_id,
        signed_block,
        answer["TIMESTAMP"],
        base64.b64decode(answer["PASSWORD_CLAIM_SIGNATURE"]),
    )
    assert matches is (password == PASSWORD)


def test_a_client_a_of_zero_modulo_n_is_refused() -> None:
    # WHEN A is a multiple of N (which would make the session key 0 whatever the password)
    # THEN no session key is made
    for client_public in (0, srp.N, 2 * srp.N):
        with pytest.raises(ValueError):
            srp.session_key(srp.make_verifier("pool", USER_ID, PASSWORD).verifier, client_public)


def test_a_secret_block_from_another_key_or_expired_is_refused() -> None:
    # GIVEN a sealed challenge
    blocks = srp.SecretBlocks(b"k" * 32)
    block = blocks.seal(srp.Challenge(USER_ID, "client-id", b"\x01" * 16, 1000))

    # WHEN it is opened by another pool's key, and after it expires
    # THEN it is refused; before, it opens to what was sealed
    with pytest.raises(srp.InvalidSecretBlockError):
        srp.SecretBlocks(b"o" * 32).open(block, 999)
    with pytest.raises(srp.InvalidSecretBlockError):
        blocks.open(block, 1000)
    assert blocks.open(block, 999)[0] == srp.Challenge(USER_ID, "client-id", b"\x01" * 16, 1000)
