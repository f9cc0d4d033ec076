"""Unit tests for `lambdashare.emulator.identity_provider` (the local Cognito-like user pool), the
Cognito path of `lambdashare.emulator.auth.Authenticator`, and `lambdashare token`.

A token is trusted only after PyJWT has checked its RS256 signature with the pool's key, `exp`, `iss`,
`token_use`, and `aud` (ID token) or `client_id` (access token), as AppSync checks a Cognito user pool
token; every other token is refused, whatever its claims say. No network: only `tmp_path`.
Spec: https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import stat
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lambdashare.cli import main
from lambdashare.emulator.auth import COGNITO, Authenticator, RequestUnauthorizedError
from lambdashare.emulator.identity_provider import KEY_FILE, POOL_FILE, InvalidJwtError, UserPool

_DROP = object()


@pytest.fixture(scope="module")
def pool_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pool for the module: making an RSA key takes a while."""
    return tmp_path_factory.mktemp("pool") / "data"


@pytest.fixture(scope="module")
def pool(pool_dir: Path) -> UserPool:
    return UserPool.load_or_create(pool_dir)


def authenticator(pool: UserPool) -> Authenticator:
    return Authenticator(
        api_key="da2-unit",
        access_key_id="AKIAUNIT",
        secret_access_key="secret",
        region="us-east-1",
        user_pool=pool,
        api_key_expires=None,
    )


def cognito_claims(pool: UserPool, token_use: str = "id", **overrides: Any) -> dict[str, Any]:
    """Claims shaped as Cognito's, for the pool's app client; an override of `_DROP` removes a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": pool.sub_for("mallory"),
        "iss": pool.issuer,
        "token_use": token_use,
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }
    if token_use == "id":
        claims.update({"aud": pool.client_id, "cognito:username": "mallory"})
    else:
        claims.update({"client_id": pool.client_id, "username": "mallory"})
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not _DROP}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS assembled by hand, for what PyJWT refuses to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(signature)}"


def public_pem(pool: UserPool) -> bytes:
    return pool.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- tokens the pool issues ---------------------------------------------------------------------


def test_an_id_token_is_shaped_like_cognitos_and_verifies(pool: UserPool) -> None:
    # GIVEN an ID token for alice in the admins group
    token = pool.issue("alice", groups=["admins"])

    # WHEN the pool verifies it
    claims = pool.verify(token)

    # THEN its header and claims are those of a Cognito ID token of this pool's app client
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": pool.kid, "typ": "JWT"}
    assert claims["token_use"] == "id"
    assert claims["aud"] == pool.client_id
    assert claims["cognito:username"] == "alice"
    assert claims["cognito:groups"] == ["admins"]
    assert claims["iss"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool.pool_id}"
    assert pool.pool_id.startswith("us-east-1_")
    assert claims["exp"] - claims["iat"] == 3600
    uuid.UUID(claims["sub"])


def test_an_access_token_names_the_client_and_verifies(pool: UserPool) -> None:
    # GIVEN an access token (what Amplify JS sends), with a 15-minute lifetime
    token = pool.issue("alice", token_use="access", ttl_s=900)

    # WHEN the pool verifies it
    claims = pool.verify(token)

    # THEN it names the app client in client_id, has no audience, and carries `username`
    assert claims["token_use"] == "access"
    assert claims["client_id"] == pool.client_id
    assert "aud" not in claims
    assert claims["username"] == "alice"
    assert claims["exp"] - claims["iat"] == 900


def test_the_same_user_has_the_same_sub_in_every_token_and_after_a_restart(pool: UserPool, pool_dir: Path) -> None:
    # GIVEN two ID tokens and an access token for alice, one from the pool reloaded from disk, and one for bob
    first = pool.verify(pool.issue("alice"))
    second = pool.verify(pool.issue("alice", groups=["admins"]))
    access = pool.verify(pool.issue("alice", token_use="access"))
    reloaded = UserPool.load_or_create(pool_dir)
    again = reloaded.verify(reloaded.issue("alice"))
    bob = pool.verify(pool.issue("bob"))

    # WHEN / THEN alice is one `sub` everywhere, bob another, and each token is a distinct token
    assert first["sub"] == second["sub"] == access["sub"] == again["sub"]
    assert bob["sub"] != first["sub"]
    assert len({first["jti"], second["jti"], access["jti"], again["jti"]}) == 4


def test_the_pool_is_made_once_per_data_dir_with_private_files(tmp_path: Path) -> None:
    # GIVEN a fresh data dir
    data_dir = tmp_path / "data"

    # WHEN the pool is loaded twice
    first = UserPool.load_or_create(data_dir)
    second = UserPool.load_or_create(data_dir)

    # THEN both are the same pool, with the same key, and its files are readable by their owner only
    assert (first.pool_id, first.client_id, first.kid) == (second.pool_id, second.client_id, second.kid)
    assert second.verify(first.issue("alice"))["cognito:username"] == "alice"
    for name in (KEY_FILE, POOL_FILE):
        assert stat.S_IMODE(os.stat(data_dir / name).st_mode) == 0o600, name
    assert sorted(p.name for p in data_dir.iterdir()) == sorted([KEY_FILE, POOL_FILE])


def test_pools_created_at_once_agree(tmp_path: Path) -> None:
    # GIVEN a fresh data dir, as `serve` and `token` may both meet it
    data_dir = tmp_path / "data"

    # WHEN eight loaders race to create the pool
    with ThreadPoolExecutor(8) as workers:
        pools = list(workers.map(lambda _: UserPool.load_or_create(data_dir), range(8)))

    # THEN none fails, they all hold one pool, and a token from any verifies with any other
    assert len({(p.pool_id, p.client_id, p.kid) for p in pools}) == 1
    assert pools[-1].verify(pools[0].issue("alice"))["cognito:username"] == "alice"


# --- the JWKS ---------------------------------------------------------------------------------


def test_the_jwks_verifies_a_token_as_a_pyjwkclient_would(pool: UserPool) -> None:
    # GIVEN an ID token and the pool's published JWKS (as JSON, as a client fetches it)
    token = pool.issue("alice")
    jwks = json.loads(json.dumps(pool.jwks()))

    # WHEN a client picks the key by the token's kid and verifies with it, as PyJWKClient does
    keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys if key.public_key_use == "sig"}
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=pool.client_id, issuer=pool.issuer)

    # THEN the token verifies, and the JWKS holds the public half only
    assert claims["cognito:username"] == "alice"
    [published] = jwks["keys"]
    assert published["kty"] == "RSA"
    assert published["alg"] == "RS256"
    assert published["use"] == "sig"
    assert published["kid"] == pool.kid
    assert not {"d", "p", "q", "dp", "dq", "qi"} & published.keys()
    assert jwt.PyJWK(published).key.public_numbers() == pool.private_key.public_key().public_numbers()


def test_the_jwks_does_not_verify_a_token_of_another_key(pool: UserPool) -> None:
    # GIVEN a token signed by another RSA key under the pool's kid
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(cognito_claims(pool), other, algorithm="RS256", headers={"kid": pool.kid})

    # WHEN / THEN the published key refuses it
    key = jwt.PyJWK(pool.jwks()["keys"][0])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key.key, algorithms=["RS256"], audience=pool.client_id)


# --- tokens the pool refuses ------------------------------------------------------------------


def rs256(pool: UserPool, claims: dict[str, Any], *, algorithm: str = "RS256", **header: Any) -> str:
    """Signed with the pool's own key (and, unless told otherwise, its kid)."""
    return jwt.encode(claims, pool.private_key, algorithm=algorithm, headers={"kid": pool.kid, **header})


def forged(pool: UserPool) -> str:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(cognito_claims(pool), other_key, algorithm="RS256", headers={"kid": pool.kid})


def alg_confusion(pool: UserPool) -> str:
    """HS256, keyed with the pool's public key: what a verifier trusting the header's alg would accept."""
    header, claims = {"alg": "HS256", "kid": pool.kid, "typ": "JWT"}, cognito_claims(pool)
    signing_input = hand_made(header, claims).rsplit(".", 1)[0]
    return hand_made(header, claims, hmac.digest(public_pem(pool), signing_input.encode(), "sha256"))


def tampered(pool: UserPool) -> str:
    head, payload, signature = pool.issue("alice").split(".")
    claims = {**json.loads(base64.urlsafe_b64decode(payload + "==")), "cognito:username": "root"}
    return f"{head}.{b64url(json.dumps(claims).encode())}.{signature}"


def ago(seconds: int) -> int:
    return int(time.time()) - seconds


OTHER_POOL_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"

#: case -> a token this pool must refuse
REFUSED: dict[str, Callable[[UserPool], str]] = {
    "forged signature": forged,
    "alg none": lambda p: hand_made({"alg": "none", "typ": "JWT"}, cognito_claims(p)),
    "alg none with kid": lambda p: hand_made({"alg": "none", "kid": p.kid}, cognito_claims(p)),
    "HS256 keyed with the public key": alg_confusion,
    "RS512 with the right key": lambda p: rs256(p, cognito_claims(p), algorithm="RS512"),
    "tampered claims": tampered,
    "unknown kid": lambda p: rs256(p, cognito_claims(p), kid="another-kid"),
    "no kid": lambda p: jwt.encode(cognito_claims(p), p.private_key, algorithm="RS256"),
    "expired": lambda p: rs256(p, cognito_claims(p, iat=ago(7200), exp=ago(60))),
    "expired ID token from issue()": lambda p: p.issue("alice", ttl_s=-60),
    "not yet valid": lambda p: rs256(p, cognito_claims(p, nbf=ago(-3600))),
    "wrong audience": lambda p: rs256(p, cognito_claims(p, aud="another-app-client")),
    "audience as a list": lambda p: rs256(p, cognito_claims(p, aud=[p.client_id, "another"])),
    "no audience": lambda p: rs256(p, cognito_claims(p, aud=_DROP)),
    "access token for another client": lambda p: rs256(p, cognito_claims(p, "access", client_id="another")),
    "access token without client_id": lambda p: rs256(p, cognito_claims(p, "access", client_id=_DROP, aud=p.client_id)),
    "wrong issuer": lambda p: rs256(p, cognito_claims(p, iss=OTHER_POOL_ISSUER)),
    "issuer of another region": lambda p: rs256(p, cognito_claims(p, iss=p.issuer.replace("us-east-1.", "eu-west-1."))),
    "no issuer": lambda p: rs256(p, cognito_claims(p, iss=_DROP)),
    "token_use refresh": lambda p: rs256(p, cognito_claims(p, token_use="refresh")),
    "no token_use": lambda p: rs256(p, cognito_claims(p, token_use=_DROP)),
    "ID claims but token_use access": lambda p: rs256(p, cognito_claims(p, token_use="access", client_id=_DROP)),
    "no exp": lambda p: rs256(p, cognito_claims(p, exp=_DROP)),
    "no sub": lambda p: rs256(p, cognito_claims(p, sub=_DROP)),
    "garbage": lambda p: "not-a-jwt",
    "three garbage parts": lambda p: "a.b.c",
    "empty": lambda p: "",
    "JSON instead of a JWT": lambda p: json.dumps(cognito_claims(p)),
}
REFUSED_CASES = list(REFUSED)


@pytest.fixture(scope="module")
def refused_tokens(pool: UserPool) -> dict[str, str]:
    return {case: make(pool) for case, make in REFUSED.items()}


@pytest.mark.parametrize("token_use", ["id", "access"])
def test_hand_made_tokens_are_accepted_when_nothing_is_wrong(pool: UserPool, token_use: str) -> None:
    # GIVEN a token crafted by hand with nothing wrong in it (the control for the cases below)
    token = rs256(pool, cognito_claims(pool, token_use))

    # WHEN / THEN the pool accepts it: each refused case differs from it in one way only
    assert pool.verify(token)["token_use"] == token_use


@pytest.mark.parametrize("case", REFUSED_CASES)
def test_the_pool_refuses(pool: UserPool, refused_tokens: dict[str, str], case: str) -> None:
    # GIVEN a token that is not a valid, current token of this pool's app client
    token = refused_tokens[case]

    # WHEN / THEN the pool refuses it
    with pytest.raises(InvalidJwtError):
        pool.verify(token)


@pytest.mark.parametrize("case", REFUSED_CASES)
def test_the_authenticator_answers_unauthorized(pool: UserPool, refused_tokens: dict[str, str], case: str) -> None:
    # GIVEN the same token in an Authorization header, bare and as a Bearer token
    for authorization in (refused_tokens[case], f"Bearer {refused_tokens[case]}"):
        # WHEN / THEN the request is refused with AppSync's UnauthorizedException
        with pytest.raises(RequestUnauthorizedError) as refused:
            authenticate(pool, authorization)
        assert refused.value.error_type == "UnauthorizedException"


def test_a_token_of_another_pool_is_refused(pool: UserPool, tmp_path: Path) -> None:
    # GIVEN a valid token of another data dir's pool
    stranger = UserPool.load_or_create(tmp_path / "elsewhere").issue("alice")

    # WHEN / THEN this pool refuses it
    with pytest.raises(InvalidJwtError):
        pool.verify(stranger)


def test_a_token_just_past_exp_is_refused_and_one_just_before_is_accepted(pool: UserPool) -> None:
    # GIVEN tokens whose exp is 10 s ago, and 10 s ahead (the pool allows 5 s of clock skew)
    now = int(time.time())
    past = jwt.encode(
        cognito_claims(pool, exp=now - 10), pool.private_key, algorithm="RS256", headers={"kid": pool.kid}
    )
    soon = jwt.encode(
        cognito_claims(pool, exp=now + 10), pool.private_key, algorithm="RS256", headers={"kid": pool.kid}
    )

    # WHEN / THEN
    with pytest.raises(InvalidJwtError):
        pool.verify(past)
    assert pool.verify(soon)["exp"] == now + 10


# --- the Authenticator's Cognito caller ---------------------------------------------------------


def authenticate(pool: UserPool, authorization: str, **headers: str) -> Any:
    return authenticator(pool).authenticate(
        {"authorization": authorization, **headers},
        method="POST",
        url="http://127.0.0.1:8000/graphql",
        body=b"{}",
        source_ip="127.0.0.1",
    )


@pytest.mark.parametrize("token_use", ["id", "access"])
@pytest.mark.parametrize("scheme", ["", "Bearer ", "bearer ", "Bearer  "])
def test_a_valid_token_makes_a_cognito_caller(pool: UserPool, token_use: str, scheme: str) -> None:
    # GIVEN a valid token for alice (admins), bare or after a Bearer scheme
    token = pool.issue("alice", groups=["admins"], token_use=token_use)

    # WHEN the request is authenticated
    caller = authenticate(pool, f"{scheme}{token}")

    # THEN the caller is AppSync's AMAZON_COGNITO_USER_POOLS identity for alice
    assert caller.mode == COGNITO
    identity = caller.identity
    assert identity["sub"] == pool.sub_for("alice")
    assert identity["issuer"] == pool.issuer
    assert identity["username"] == "alice"
    assert identity["groups"] == ["admins"]
    assert identity["claims"]["token_use"] == token_use
    assert identity["sourceIp"] == ["127.0.0.1"]
    assert identity["defaultAuthStrategy"] == "ALLOW"


def test_a_token_wins_over_an_api_key_but_a_bad_token_is_not_rescued_by_it(pool: UserPool) -> None:
    # GIVEN requests carrying the right API key and a token, valid or not
    valid = pool.issue("alice")

    # WHEN / THEN the token decides the mode, and a bad token is refused even with the right key
    assert authenticate(pool, valid, **{"x-api-key": "da2-unit"}).mode == COGNITO
    with pytest.raises(RequestUnauthorizedError):
        authenticate(pool, valid + "x", **{"x-api-key": "da2-unit"})


# --- lambdashare token ----------------------------------------------------------------------------


def test_the_token_command_prints_one_verifiable_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a data dir
    data_dir = tmp_path / "data"

    # WHEN `lambdashare token` runs for alice, in two groups, for 15 minutes, as an access token
    status = main(
        [
            "token",
            "--user",
            "alice",
            "--group",
            "admins",
            "--group",
            "ops",
            "--ttl",
            "15m",
            "--token-use",
            "access",
            "--data-dir",
            str(data_dir),
        ]
    )

    # THEN it prints the token alone, on one line, and the data dir's pool accepts it
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    assert out.endswith("\n")
    assert out.count("\n") == 1
    claims = UserPool.load_or_create(data_dir).verify(out.strip())
    assert claims["username"] == "alice"
    assert claims["cognito:groups"] == ["admins", "ops"]
    assert claims["token_use"] == "access"
    assert claims["exp"] - claims["iat"] == 900


@pytest.mark.parametrize(("ttl", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800)])
def test_the_token_command_reads_durations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ttl: str, seconds: int
) -> None:
    # GIVEN / WHEN an ID token is asked for with a lifetime
    assert main(["token", "--user", "alice", "--ttl", ttl, "--data-dir", str(tmp_path)]) == 0

    # THEN its lifetime is that many seconds
    claims = UserPool.load_or_create(tmp_path).verify(capsys.readouterr().out.strip())
    assert claims["exp"] - claims["iat"] == seconds


@pytest.mark.parametrize("ttl", ["0", "0s", "1.5h", "-5m", "abc", "", "5w", " 5", "1_0", "h"])
def test_the_token_command_refuses_a_bad_ttl(tmp_path: Path, capsys: pytest.CaptureFixture[str], ttl: str) -> None:
    # GIVEN / WHEN a token is asked for with a lifetime that is not a positive duration
    with pytest.raises(SystemExit) as exited:
        main(["token", "--user", "alice", f"--ttl={ttl}", "--data-dir", str(tmp_path)])

    # THEN it exits non-zero, says why on stderr, prints nothing on stdout, and made no pool
    out, err = capsys.readouterr()
    assert exited.value.code != 0
    assert out == ""
    assert "--ttl" in err
    assert not (tmp_path / POOL_FILE).exists()


def test_the_token_command_refuses_an_empty_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN / WHEN a token is asked for an empty user name
    with pytest.raises(SystemExit) as exited:
        main(["token", "--user", " ", "--data-dir", str(tmp_path)])

    # THEN it exits non-zero with the reason on stderr
    assert exited.value.code != 0
    assert "--user" in capsys.readouterr().err


def test_the_token_command_reports_an_unusable_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a data dir path that is a file
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")

    # WHEN a token is asked for
    status = main(["token", "--user", "alice", "--data-dir", str(not_a_dir)])

    # THEN it fails with one line on stderr and nothing on stdout
    out, err = capsys.readouterr()
    assert status != 0
    assert out == ""
    assert err.startswith("lambdashare token: ")
