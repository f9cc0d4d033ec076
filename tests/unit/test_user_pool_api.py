"""Unit tests for the local user pool's rules (`emulator/user_pool_api.py`) with the settings of
template.yaml (`emulator/pool_settings.py`) and its SQLite store: what the e2e tests cannot reach
cheaply (other template settings, a clock past a token's or an SRP challenge's expiry, what is stored on disk)."""

from __future__ import annotations

import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from pycognito.aws_srp import AWSSRP

from lambdashare.adapters.local._sqlite import DB_FILE
from lambdashare.adapters.local.sqlite_user_store import SqliteUserStore
from lambdashare.emulator.identity_provider import UserPool
from lambdashare.emulator.pool_settings import load_pool_settings
from lambdashare.emulator.template import TemplateError
from lambdashare.emulator.user_pool_api import (
    CHALLENGE_TTL_S,
    REFRESH_TOKEN_TTL_S,
    TIMESTAMP_SKEW_S,
    CognitoError,
    UserPoolApi,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
PASSWORD = "Correct-Horse-9-battery"
WRONG_CREDENTIALS = "Incorrect username or password."
#: Cheap argon2 parameters: these tests are about the rules, not the hash's cost.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def api_for(tmp_path: Path, template: Path = TEMPLATE, clock: FakeClock | None = None) -> UserPoolApi:
    data_dir = tmp_path / "data"
    return UserPoolApi(
        UserPool.load_or_create(data_dir),
        load_pool_settings(template),
        SqliteUserStore(data_dir),
        hasher=FAST_HASHER,
        clock=clock or FakeClock(),
    )


def client_id(tmp_path: Path) -> str:
    """The app client id of the pool in `tmp_path`'s data dir (made by api_for)."""
    return UserPool.load_or_create(tmp_path / "data").client_id


def template_with(tmp_path: Path, old: str, new: str) -> Path:
    """template.yaml with one passage changed."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    changed = tmp_path / "template.yaml"
    changed.write_text(text.replace(old, new), encoding="utf-8")
    return changed


def sign_up(api: UserPoolApi, tmp_path: Path, email: str = "alice@example.com") -> dict[str, Any]:
    return api.sign_up({"ClientId": client_id(tmp_path), "Username": email, "Password": PASSWORD})


def sign_in(api: UserPoolApi, tmp_path: Path, email: str = "alice@example.com") -> dict[str, Any]:
    result: dict[str, Any] = api.initiate_auth(
        {
            "ClientId": client_id(tmp_path),
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": email, "PASSWORD": PASSWORD},
        }
    )["AuthenticationResult"]
    return result


def test_settings_are_the_templates() -> None:
    # GIVEN template.yaml, read as CloudFormation does (short tags and all)
    from samtranslator.yaml_helper import yaml_parse

    resources = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))["Resources"]
    policy = resources["UserPool"]["Properties"]["Policies"]["PasswordPolicy"]

    # WHEN the local pool reads it
    settings = load_pool_settings(TEMPLATE)

    # THEN it has the template's policy, sign-in name, flows, groups and self sign-up default
    assert settings.password_policy.minimum_length == policy["MinimumLength"]
    assert settings.password_policy.require_symbols == policy["RequireSymbols"]
    assert settings.username_attributes == ("email",)
    assert settings.explicit_auth_flows == set(resources["UserPoolClient"]["Properties"]["ExplicitAuthFlows"])
    assert settings.prevent_user_existence_errors is True
    assert settings.groups == {"admins"}
    assert settings.admin_create_user_only is False


def test_sign_up_is_refused_when_only_administrators_create_users(tmp_path: Path) -> None:
    # GIVEN the template with self sign-up switched off by its parameter's default
    template = template_with(
        tmp_path,
        'AdminCreateUserOnly:\n    Type: String\n    Default: "false"',
        'AdminCreateUserOnly:\n    Type: String\n    Default: "true"',
    )
    api = api_for(tmp_path, template)

    # WHEN someone signs up
    with pytest.raises(CognitoError) as excinfo:
        sign_up(api, tmp_path)

    # THEN Cognito's refusal
    assert (excinfo.value.error_type, excinfo.value.message) == (
        "NotAuthorizedException",
        "SignUp is not permitted for this user pool",
    )


def test_a_longer_minimum_length_in_the_template_is_enforced(tmp_path: Path) -> None:
    # GIVEN a template whose policy asks for more than PASSWORD has
    minimum = len(PASSWORD) + 1
    api = api_for(tmp_path, template_with(tmp_path, "MinimumLength: 12", f"MinimumLength: {minimum}"))

    # WHEN someone signs up with PASSWORD
    with pytest.raises(CognitoError) as excinfo:
        sign_up(api, tmp_path)

    # THEN it is too short
    assert excinfo.value.error_type == "InvalidPasswordException"
    assert excinfo.value.message == "Password did not conform with policy: Password not long enough"


def test_without_prevent_user_existence_errors_an_unknown_user_is_named(tmp_path: Path) -> None:
    # GIVEN a client with PreventUserExistenceErrors LEGACY
    api = api_for(
        tmp_path, template_with(tmp_path, "PreventUserExistenceErrors: ENABLED", "PreventUserExistenceErrors: LEGACY")
    )

    # WHEN an unknown user signs in
    with pytest.raises(CognitoError) as excinfo:
        sign_in(api, tmp_path, "nobody@example.com")

    # THEN Cognito's legacy answer says the user does not exist
    assert excinfo.value.error_type == "UserNotFoundException"


def srp_challenge(api: UserPoolApi, tmp_path: Path, client: AWSSRP) -> dict[str, Any]:
    result: dict[str, Any] = api.initiate_auth(
        {"ClientId": client_id(tmp_path), "AuthFlow": "USER_SRP_AUTH", "AuthParameters": client.get_auth_params()}
    )
    return result


def srp_answer(client: AWSSRP, challenge: dict[str, Any]) -> dict[str, str]:
    """pycognito's answer to the challenge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pycognito's datetime.utcnow(), on Python >= 3.12
        answer: dict[str, str] = client.process_challenge(challenge["ChallengeParameters"], client.get_auth_params())
    return answer


def send_srp_answer(api: UserPoolApi, tmp_path: Path, answer: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = api.respond_to_auth_challenge(
        {"ClientId": client_id(tmp_path), "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": answer}
    )
    return result


def srp_respond(api: UserPoolApi, tmp_path: Path, client: AWSSRP, challenge: dict[str, Any]) -> dict[str, Any]:
    """pycognito's answer to the challenge, sent as RespondToAuthChallenge."""
    return send_srp_answer(api, tmp_path, srp_answer(client, challenge))


def srp_client(tmp_path: Path, email: str = "alice@example.com", password: str = PASSWORD) -> AWSSRP:
    pool = UserPool.load_or_create(tmp_path / "data")
    return AWSSRP(username=email, password=password, pool_id=pool.pool_id, client_id=pool.client_id, client=object())


def test_an_srp_challenge_expires_after_cognitos_three_minutes(tmp_path: Path) -> None:
    # GIVEN a user's SRP challenge
    clock = FakeClock()
    api = api_for(tmp_path, clock=clock)
    sign_up(api, tmp_path)
    client = srp_client(tmp_path)
    challenge = srp_challenge(api, tmp_path, client)

    # WHEN it is answered, correctly, once its three minutes have passed
    clock.now += CHALLENGE_TTL_S
    with pytest.raises(CognitoError) as excinfo:
        srp_respond(api, tmp_path, client, challenge)

    # THEN it is refused; a fresh challenge, answered at once, is not
    assert (excinfo.value.error_type, excinfo.value.message) == ("NotAuthorizedException", WRONG_CREDENTIALS)
    assert srp_respond(api, tmp_path, client, srp_challenge(api, tmp_path, client))["AuthenticationResult"]


def test_a_wrong_answer_uses_up_the_challenge(tmp_path: Path) -> None:
    # GIVEN a user's challenge, answered once with a wrong signature
    api = api_for(tmp_path)
    sign_up(api, tmp_path)
    client = srp_client(tmp_path)
    answer = srp_answer(client, srp_challenge(api, tmp_path, client))
    with pytest.raises(CognitoError):
        send_srp_answer(api, tmp_path, {**answer, "PASSWORD_CLAIM_SIGNATURE": "AAAA"})

    # WHEN the right answer to the same challenge follows
    with pytest.raises(CognitoError) as excinfo:
        send_srp_answer(api, tmp_path, answer)

    # THEN it is refused as a used challenge is; a fresh challenge is answered
    assert (excinfo.value.error_type, excinfo.value.message) == ("NotAuthorizedException", WRONG_CREDENTIALS)
    assert srp_respond(api, tmp_path, client, srp_challenge(api, tmp_path, client))["AuthenticationResult"]


def test_an_srp_answer_timestamped_far_from_the_pools_clock_is_refused(tmp_path: Path) -> None:
    # GIVEN a pool whose clock is ahead of the client's by more than the allowed skew, and one within it
    far, near = FakeClock(), FakeClock()
    far.now += TIMESTAMP_SKEW_S + 60
    near.now += TIMESTAMP_SKEW_S - 60
    far_api, near_api = api_for(tmp_path / "far", clock=far), api_for(tmp_path / "near", clock=near)
    for api, path in ((far_api, tmp_path / "far"), (near_api, tmp_path / "near")):
        sign_up(api, path)

    # WHEN the user answers each pool's fresh challenge at once, with the client's TIMESTAMP
    far_client, near_client = srp_client(tmp_path / "far"), srp_client(tmp_path / "near")
    with pytest.raises(CognitoError) as excinfo:
        srp_respond(far_api, tmp_path / "far", far_client, srp_challenge(far_api, tmp_path / "far", far_client))

    # THEN the far one is refused and the near one is not
    assert (excinfo.value.error_type, excinfo.value.message) == ("NotAuthorizedException", WRONG_CREDENTIALS)
    near_challenge = srp_challenge(near_api, tmp_path / "near", near_client)
    assert srp_respond(near_api, tmp_path / "near", near_client, near_challenge)["AuthenticationResult"]


def test_the_store_takes_an_answer_to_a_challenge_once_and_forgets_it_once_expired(tmp_path: Path) -> None:
    # GIVEN a store, and a challenge block's hash that expires at 1000
    store = SqliteUserStore(tmp_path)
    block = "ab" * 32

    # WHEN the challenge is answered, again before it expires, then after, and another is answered later
    first, again = store.use_challenge(block, 1000, 900), store.use_challenge(block, 1000, 999)
    store.use_challenge("cd" * 32, 2000, 1000)
    with sqlite3.connect(tmp_path / DB_FILE) as db:
        kept = db.execute("SELECT block_sha256 FROM used_challenges").fetchall()

    # THEN only the first answer is taken, and the expired row was dropped on the way
    assert (first, again) == (True, False)
    assert kept == [("cd" * 32,)]


def test_a_user_without_a_verifier_gets_one_at_their_next_password_sign_in(tmp_path: Path) -> None:
    # GIVEN a user stored before USER_SRP_AUTH was served: no SRP salt or verifier
    api = api_for(tmp_path)
    sign_up(api, tmp_path)
    with sqlite3.connect(tmp_path / "data" / DB_FILE) as db:
        db.execute("UPDATE users SET srp_salt = NULL, srp_verifier = NULL")
    client = srp_client(tmp_path)

    # WHEN they sign in with SRP, then with USER_PASSWORD_AUTH, then with SRP again
    with pytest.raises(CognitoError) as before:
        srp_respond(api, tmp_path, client, srp_challenge(api, tmp_path, client))
    sign_in(api, tmp_path)
    after = srp_respond(api, tmp_path, client, srp_challenge(api, tmp_path, client))

    # THEN SRP fails as a wrong password would until the password sign-in has made their verifier
    assert (before.value.error_type, before.value.message) == ("NotAuthorizedException", WRONG_CREDENTIALS)
    assert after["AuthenticationResult"]["IdToken"]


def test_a_users_table_from_before_srp_gains_the_verifier_columns(tmp_path: Path) -> None:
    # GIVEN a database whose users table has no SRP columns
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / DB_FILE) as db:
        db.execute(
            "CREATE TABLE users (sub TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, attributes TEXT NOT NULL,"
            " password_hash TEXT NOT NULL, created_at INTEGER NOT NULL)"
        )
        db.execute("INSERT INTO users VALUES ('s-1', 'old@example.com', '{}', '$argon2id$x', 1)")

    # WHEN the store opens it
    user = SqliteUserStore(data_dir).find_user("old@example.com")

    # THEN the user is still there, without a verifier
    assert user is not None
    assert (user.sub, user.srp_salt, user.srp_verifier) == ("s-1", None, None)


def test_without_prevent_user_existence_errors_srp_names_an_unknown_user(tmp_path: Path) -> None:
    # GIVEN a client with PreventUserExistenceErrors LEGACY
    api = api_for(
        tmp_path, template_with(tmp_path, "PreventUserExistenceErrors: ENABLED", "PreventUserExistenceErrors: LEGACY")
    )

    # WHEN an unknown user starts SRP
    with pytest.raises(CognitoError) as excinfo:
        srp_challenge(api, tmp_path, srp_client(tmp_path, "nobody@example.com"))

    # THEN Cognito's legacy answer says the user does not exist
    assert excinfo.value.error_type == "UserNotFoundException"


@pytest.mark.parametrize(
    ("changed", "error_type", "message"),
    [
        ({"TIMESTAMP": "2026-11-25T21:00:00Z"}, "InvalidParameterException", "TIMESTAMP format should be"),
        ({"TIMESTAMP": None}, "InvalidParameterException", "Missing required parameter TIMESTAMP"),
        ({"TIMESTAMP": "Mon Feb 30 21:00:00 UTC 2026"}, "InvalidParameterException", "TIMESTAMP format should be"),
        ({"PASSWORD_CLAIM_SIGNATURE": "not base64!"}, "NotAuthorizedException", WRONG_CREDENTIALS),
        ({"PASSWORD_CLAIM_SECRET_BLOCK": "AAAA"}, "NotAuthorizedException", WRONG_CREDENTIALS),
    ],
)
def test_a_malformed_srp_answer_is_refused(
    tmp_path: Path, changed: dict[str, str | None], error_type: str, message: str
) -> None:
    # GIVEN a user's correct answer to their challenge, with one member changed or left out
    api = api_for(tmp_path)
    sign_up(api, tmp_path)
    client = srp_client(tmp_path)
    challenge = srp_challenge(api, tmp_path, client)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pycognito's datetime.utcnow(), on Python >= 3.12
        answer = client.process_challenge(challenge["ChallengeParameters"], client.get_auth_params())
    answer = {name: value for name, value in {**answer, **changed}.items() if value is not None}

    # WHEN it is sent
    with pytest.raises(CognitoError) as excinfo:
        api.respond_to_auth_challenge(
            {"ClientId": client_id(tmp_path), "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": answer}
        )

    # THEN Cognito's error says what is wrong
    assert excinfo.value.error_type == error_type
    assert message in excinfo.value.message


def test_a_refresh_token_expires_after_thirty_days(tmp_path: Path) -> None:
    # GIVEN a signed-in user
    clock = FakeClock()
    api = api_for(tmp_path, clock=clock)
    sign_up(api, tmp_path)
    refresh_token = sign_in(api, tmp_path)["RefreshToken"]
    refresh = {"ClientId": client_id(tmp_path), "RefreshToken": refresh_token}
    assert api.get_tokens_from_refresh_token(refresh)["AuthenticationResult"]["IdToken"]

    # WHEN the refresh token's thirty days have passed
    clock.now += REFRESH_TOKEN_TTL_S

    # THEN it no longer works
    with pytest.raises(CognitoError) as excinfo:
        api.get_tokens_from_refresh_token(refresh)
    assert (excinfo.value.error_type, excinfo.value.message) == ("NotAuthorizedException", "Invalid Refresh Token")


def test_no_password_or_refresh_token_is_stored_in_clear(tmp_path: Path) -> None:
    # GIVEN a user who signed up and in
    api = api_for(tmp_path)
    sign_up(api, tmp_path)
    refresh_token = sign_in(api, tmp_path)["RefreshToken"]

    # WHEN the database is read
    with sqlite3.connect(tmp_path / "data" / DB_FILE) as db:
        stored = yaml.safe_dump([db.execute(f"SELECT * FROM {t}").fetchall() for t in ("users", "user_sessions")])
        (password_hash,) = db.execute("SELECT password_hash FROM users").fetchone()

    # THEN neither secret is in it, and the password is an argon2id hash
    assert PASSWORD not in stored
    assert refresh_token not in stored
    assert password_hash.startswith("$argon2id$")


def test_a_template_without_a_user_pool_is_a_clear_error(tmp_path: Path) -> None:
    # GIVEN a template whose user pool is renamed away from its type
    template = template_with(tmp_path, "Type: AWS::Cognito::UserPool\n", "Type: AWS::Cognito::NotAUserPool\n")

    # WHEN the local pool reads it
    # THEN it says what is missing
    with pytest.raises(TemplateError, match="exactly one AWS::Cognito::UserPool "):
        load_pool_settings(template)
