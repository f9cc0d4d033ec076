"""The local user pool through boto3's cognito-idp client, as an app would use Cognito.

boto3 reaches the emulator at `<base>/cognito-idp/` (from GET /config.json) with no credentials: the
operations an app calls are unsigned on Cognito too. Its tokens are then used on the GraphQL API.
`USER_SRP_AUTH` is driven by pycognito's `AWSSRP`, a stock Cognito SRP client, over the same boto3 client.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa
from pycognito.aws_srp import AWSSRP, N_HEX

from tests.e2e.clients import REQUEST_UPLOAD
from tests.e2e.conftest import Emulator

PASSWORD = "Correct-Horse-9-battery"
WRONG_CREDENTIALS = "Incorrect username or password."

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def config(emulator: Emulator) -> dict[str, Any]:
    response = httpx.get(f"{emulator.url}/config.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


@pytest.fixture(scope="module")
def cognito(config: dict[str, Any]) -> Iterator[Any]:
    """boto3's client, with no credentials anywhere (no env, no files): Cognito's user operations are unsigned."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", "/dev/null")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield boto3.session.Session().client(
            "cognito-idp", endpoint_url=config["userPoolEndpoint"], region_name="us-east-1"
        )


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def sign_up(cognito: Any, config: dict[str, Any], email: str, password: str = PASSWORD) -> dict[str, Any]:
    result: dict[str, Any] = cognito.sign_up(ClientId=config["userPoolClientId"], Username=email, Password=password)
    return result


def sign_in(cognito: Any, config: dict[str, Any], email: str, password: str = PASSWORD) -> dict[str, Any]:
    result: dict[str, Any] = cognito.initiate_auth(
        ClientId=config["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    return result


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def as_user(emulator: Emulator, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(
        emulator.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers={"authorization": token},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def test_config_names_the_local_user_pool(emulator: Emulator, config: dict[str, Any]) -> None:
    # GIVEN the web app's configuration
    # THEN it names the pool, its client and where Amplify's userPoolEndpoint should point
    assert config["userPoolId"].startswith("us-east-1_")
    assert config["userPoolClientId"]
    assert config["userPoolEndpoint"] == f"{emulator.url}/cognito-idp/"


def test_sign_up_sign_in_refresh_and_use_the_api(emulator: Emulator, config: dict[str, Any], cognito: Any) -> None:
    # GIVEN a new user signed up with boto3 (confirmed at once, locally)
    email = new_email()
    signed_up = sign_up(cognito, config, email)
    assert signed_up["UserConfirmed"] is True
    sub = signed_up["UserSub"]

    # WHEN they sign in with their password
    tokens = sign_in(cognito, config, email.upper())["AuthenticationResult"]  # user names are case-insensitive

    # THEN they get Cognito's three tokens, with Cognito's claims
    assert tokens["TokenType"] == "Bearer"
    assert tokens["ExpiresIn"] == 3600
    assert tokens["RefreshToken"]
    id_claims = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    access_claims = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    assert id_claims["sub"] == access_claims["sub"] == sub
    assert id_claims["email"] == email
    assert id_claims["token_use"] == "id"
    assert id_claims["aud"] == config["userPoolClientId"]
    assert id_claims["cognito:username"] == sub
    assert access_claims["token_use"] == "access"
    assert access_claims["client_id"] == config["userPoolClientId"]
    assert access_claims["scope"] == "aws.cognito.signin.user.admin"
    assert id_claims["origin_jti"] == access_claims["origin_jti"]

    # AND GetUser knows them by their access token
    user = cognito.get_user(AccessToken=tokens["AccessToken"])
    assert user["Username"] == sub
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["email"] == email

    # AND refreshing gives new ID and access tokens of the same sign-in, without a new refresh token
    refreshed = cognito.initiate_auth(
        ClientId=config["userPoolClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    refreshed_claims = jwt.decode(refreshed["IdToken"], options={"verify_signature": False})
    assert refreshed_claims["sub"] == sub
    assert refreshed_claims["origin_jti"] == id_claims["origin_jti"]
    assert refreshed_claims["jti"] != id_claims["jti"]

    # AND the refreshed ID token works on the API: the user's upload is theirs, and listed for them
    ticket = as_user(
        emulator,
        refreshed["IdToken"],
        REQUEST_UPLOAD,
        {"input": {"name": "mine.txt", "size": 4, "contentType": "text/plain"}},
    )["data"]["requestUpload"]
    mine = as_user(emulator, refreshed["AccessToken"], "{ files { items { id owner } } }")["data"]["files"]["items"]
    assert {"id": ticket["file"]["id"], "owner": sub} in mine


def test_another_user_does_not_see_the_first_users_files(
    emulator: Emulator, config: dict[str, Any], cognito: Any
) -> None:
    # GIVEN two signed-up users, the first with an upload
    first, second = new_email(), new_email()
    for email in (first, second):
        sign_up(cognito, config, email)
    first_token = sign_in(cognito, config, first)["AuthenticationResult"]["IdToken"]
    second_token = sign_in(cognito, config, second)["AuthenticationResult"]["IdToken"]
    ticket = as_user(
        emulator, first_token, REQUEST_UPLOAD, {"input": {"name": "a.txt", "size": 1, "contentType": "text/plain"}}
    )["data"]["requestUpload"]

    # WHEN the second lists their files and asks for the first's by id
    listed = as_user(emulator, second_token, "{ files { items { id } } }")["data"]["files"]["items"]
    found = as_user(emulator, second_token, "query F($id: ID!) { file(id: $id) { id } }", {"id": ticket["file"]["id"]})

    # THEN the first user's file is in neither answer
    assert ticket["file"]["id"] not in {item["id"] for item in listed}
    assert found["data"]["file"] is None


def test_wrong_password_and_unknown_user_get_the_same_answer(config: dict[str, Any], cognito: Any) -> None:
    # GIVEN a signed-up user
    email = new_email()
    sign_up(cognito, config, email)

    # WHEN they sign in with a wrong password, and someone signs in as a user that does not exist
    with pytest.raises(ClientError) as wrong_password:
        sign_in(cognito, config, email, "Wrong-Horse-9-battery")
    with pytest.raises(ClientError) as unknown_user:
        sign_in(cognito, config, new_email())

    # THEN both get NotAuthorizedException with one message: no user-existence leak
    assert error_of(wrong_password) == ("NotAuthorizedException", WRONG_CREDENTIALS, 400)
    assert error_of(unknown_user) == error_of(wrong_password)


def test_errors_have_cognitos_wire_shape(config: dict[str, Any]) -> None:
    # GIVEN a raw request with a wrong password, as Amplify sends it
    # WHEN it is posted
    response = httpx.post(
        config["userPoolEndpoint"],
        headers={
            "x-amz-target": "AWSCognitoIdentityProviderService.InitiateAuth",
            "content-type": "application/x-amz-json-1.1",
        },
        json={
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": config["userPoolClientId"],
            "AuthParameters": {"USERNAME": new_email(), "PASSWORD": "Nope-nope-123"},
        },
    )

    # THEN it is Cognito's error: 400, __type and message in the body, the type in x-amzn-ErrorType
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-errortype"] == "NotAuthorizedException:"  # Cognito's, colon and all
    assert response.headers["x-amzn-errormessage"] == WRONG_CREDENTIALS
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {"__type": "NotAuthorizedException", "message": WRONG_CREDENTIALS}


def test_a_browser_of_another_origin_may_call_the_pool(config: dict[str, Any]) -> None:
    # WHEN a browser on another origin asks before posting, as Amplify in a web app does
    response = httpx.options(
        config["userPoolEndpoint"],
        headers={
            "origin": "http://localhost:5173",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-amz-target,x-amz-user-agent",
        },
    )

    # THEN it may, as on Cognito
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "x-amz-target" in response.headers["access-control-allow-headers"]


def test_an_unknown_operation_is_refused(config: dict[str, Any]) -> None:
    # WHEN an operation the local pool does not serve is asked for
    response = httpx.post(
        config["userPoolEndpoint"],
        headers={"x-amz-target": "AWSCognitoIdentityProviderService.DeleteUserPool"},
        content=b"{}",
    )

    # THEN it is refused with the JSON protocol's UnknownOperationException
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert "DeleteUserPool" in response.json()["message"]


def test_a_body_that_is_not_json_is_refused(config: dict[str, Any]) -> None:
    # WHEN a SignUp's body is not a JSON object
    response = httpx.post(
        config["userPoolEndpoint"],
        headers={"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"},
        content=b"Username=a@example.com",
    )

    # THEN it is the JSON protocol's SerializationException
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"


def test_a_duplicate_sign_up_is_refused(config: dict[str, Any], cognito: Any) -> None:
    # GIVEN a signed-up user
    email = new_email()
    sign_up(cognito, config, email)

    # WHEN the same email signs up again, in other case
    with pytest.raises(ClientError) as excinfo:
        sign_up(cognito, config, email.upper())

    # THEN it is UsernameExistsException
    assert error_of(excinfo) == ("UsernameExistsException", "An account with the given email already exists.", 400)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Sh0rt", "Password not long enough"),
        ("no-upper-case-9", "Password must have uppercase characters"),
        ("NO-LOWER-CASE-9", "Password must have lowercase characters"),
        ("No-numbers-at-all", "Password must have numeric characters"),
    ],
)
def test_a_weak_password_is_refused(config: dict[str, Any], cognito: Any, password: str, why: str) -> None:
    # WHEN someone signs up with a password the template's policy refuses
    with pytest.raises(ClientError) as excinfo:
        sign_up(cognito, config, new_email(), password)

    # THEN it is InvalidPasswordException, saying which rule
    assert error_of(excinfo) == ("InvalidPasswordException", f"Password did not conform with policy: {why}", 400)


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            {"Username": "not-an-email", "Password": PASSWORD},
            "InvalidParameterException",
            "Username should be an email.",
        ),
        ({"Username": "a@example.com"}, "InvalidParameterException", "Value null at 'password'"),
        (
            {"Username": "b@example.com", "Password": PASSWORD, "UserAttributes": [{"Name": "sub", "Value": "x"}]},
            "InvalidParameterException",
            "does not exist in the schema",
        ),
        (
            {"ClientId": "no-such-client", "Username": "c@example.com", "Password": PASSWORD},
            "ResourceNotFoundException",
            "User pool client no-such-client does not exist.",
        ),
    ],
)
def test_bad_sign_up_parameters_are_refused(
    config: dict[str, Any], request_: dict[str, Any], code: str, message: str
) -> None:
    # GIVEN a sign-up request with a bad or missing member (raw: boto3 would refuse some before sending)
    body = {"ClientId": config["userPoolClientId"], **request_}

    # WHEN it is posted
    response = httpx.post(
        config["userPoolEndpoint"],
        headers={"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"},
        json=body,
    )

    # THEN Cognito's error says what is wrong
    assert response.status_code == 400
    assert response.json()["__type"] == code
    assert message in response.json()["message"]


def test_sign_in_needs_both_parameters_and_an_enabled_flow(config: dict[str, Any], cognito: Any) -> None:
    # WHEN a password sign-in has no password, and a flow the client does not allow is asked for
    with pytest.raises(ClientError) as no_password:
        cognito.initiate_auth(
            ClientId=config["userPoolClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "x@y.z"}
        )
    with pytest.raises(ClientError) as disabled_flow:
        cognito.initiate_auth(
            ClientId=config["userPoolClientId"], AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": "x@y.z"}
        )

    # THEN both are InvalidParameterException, as Cognito words them
    assert error_of(no_password) == ("InvalidParameterException", "Missing required parameter PASSWORD", 400)
    assert error_of(disabled_flow) == ("InvalidParameterException", "CUSTOM_AUTH flow not enabled for this client", 400)


def test_global_sign_out_ends_every_sign_in(config: dict[str, Any], cognito: Any) -> None:
    # GIVEN a user signed in twice (two devices)
    email = new_email()
    sign_up(cognito, config, email)
    phone = sign_in(cognito, config, email)["AuthenticationResult"]
    laptop = sign_in(cognito, config, email)["AuthenticationResult"]

    # WHEN they sign out everywhere from the phone
    cognito.global_sign_out(AccessToken=phone["AccessToken"])

    # THEN neither refresh token works any more, and the laptop's access token is revoked for the pool's API
    for device in (phone, laptop):
        with pytest.raises(ClientError) as refused:
            cognito.initiate_auth(
                ClientId=config["userPoolClientId"],
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": device["RefreshToken"]},
            )
        assert error_of(refused) == ("NotAuthorizedException", "Refresh Token has been revoked", 400)
    with pytest.raises(ClientError) as revoked:
        cognito.get_user(AccessToken=laptop["AccessToken"])
    assert error_of(revoked) == ("NotAuthorizedException", "Access Token has been revoked", 400)

    # AND signing in again works
    assert sign_in(cognito, config, email)["AuthenticationResult"]["AccessToken"]


def test_get_user_refuses_an_id_token_and_a_forged_token(config: dict[str, Any], cognito: Any) -> None:
    # GIVEN a signed-in user's ID token, and a token signed by another key
    email = new_email()
    sign_up(cognito, config, email)
    tokens = sign_in(cognito, config, email)["AuthenticationResult"]
    claims = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    header = jwt.get_unverified_header(tokens["AccessToken"])
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": header["kid"]})

    # WHEN GetUser is called with them
    # THEN both are NotAuthorizedException
    for token in (tokens["IdToken"], forged):
        with pytest.raises(ClientError) as excinfo:
            cognito.get_user(AccessToken=token)
        assert error_of(excinfo) == ("NotAuthorizedException", "Invalid Access Token", 400)


def test_an_operator_puts_a_user_into_admins(emulator: Emulator, config: dict[str, Any], cognito: Any) -> None:
    # GIVEN two users, the first with an upload
    owner, admin = new_email(), new_email()
    for email in (owner, admin):
        sign_up(cognito, config, email)
    owner_token = sign_in(cognito, config, owner)["AuthenticationResult"]["IdToken"]
    ticket = as_user(
        emulator, owner_token, REQUEST_UPLOAD, {"input": {"name": "o.txt", "size": 1, "contentType": "text/plain"}}
    )["data"]["requestUpload"]
    before = sign_in(cognito, config, admin)["AuthenticationResult"]

    # WHEN the operator puts the second into `admins` and they refresh their tokens
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambdashare.cli",
            "add-to-group",
            admin,
            "admins",
            "--data-dir",
            str(emulator.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    after = cognito.initiate_auth(
        ClientId=config["userPoolClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": before["RefreshToken"]},
    )["AuthenticationResult"]

    # THEN the new tokens carry the group, and the admin reads the owner's file
    assert "cognito:groups" not in jwt.decode(before["IdToken"], options={"verify_signature": False})
    assert jwt.decode(after["IdToken"], options={"verify_signature": False})["cognito:groups"] == ["admins"]
    found = as_user(
        emulator, after["IdToken"], "query F($id: ID!) { file(id: $id) { id } }", {"id": ticket["file"]["id"]}
    )
    assert found["data"]["file"] == {"id": ticket["file"]["id"]}


def test_adding_to_an_undeclared_group_or_an_unknown_user_fails(emulator: Emulator) -> None:
    # WHEN the operator names a group the template does not declare, or a user nobody signed up as
    cases = [("someone@example.com", "admins"), (new_email(), "superusers")]
    results = [
        subprocess.run(
            [
                sys.executable,
                "-m",
                "lambdashare.cli",
                "add-to-group",
                user,
                group,
                "--data-dir",
                str(emulator.data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        for user, group in cases
    ]

    # THEN the command fails, saying why
    assert [r.returncode for r in results] == [1, 1]
    assert "UserNotFoundException" in results[0].stderr
    assert "ResourceNotFoundException: Group not found." in results[1].stderr


# ---------------------------------------------------------------- USER_SRP_AUTH, with a stock SRP client


def srp_client(cognito: Any, config: dict[str, Any], email: str, password: str = PASSWORD) -> AWSSRP:
    return AWSSRP(
        username=email,
        password=password,
        pool_id=config["userPoolId"],
        client_id=config["userPoolClientId"],
        client=cognito,
    )


def srp_challenge(cognito: Any, config: dict[str, Any], client: AWSSRP) -> dict[str, Any]:
    """InitiateAuth USER_SRP_AUTH with the client's USERNAME and SRP_A."""
    result: dict[str, Any] = cognito.initiate_auth(
        ClientId=config["userPoolClientId"], AuthFlow="USER_SRP_AUTH", AuthParameters=client.get_auth_params()
    )
    return result


def srp_answer(client: AWSSRP, challenge: dict[str, Any], **changed: str) -> dict[str, str]:
    """The client's ChallengeResponses to the PASSWORD_VERIFIER challenge, with some ChallengeParameters changed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pycognito's datetime.utcnow(), on Python >= 3.12
        answer: dict[str, str] = client.process_challenge(
            {**challenge["ChallengeParameters"], **changed}, client.get_auth_params()
        )
    return answer


def respond(cognito: Any, config: dict[str, Any], answer: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = cognito.respond_to_auth_challenge(
        ClientId=config["userPoolClientId"], ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer
    )
    return result


def test_srp_sign_in_with_a_stock_client_and_use_the_api(
    emulator: Emulator, config: dict[str, Any], cognito: Any
) -> None:
    # GIVEN a signed-up user
    email = new_email()
    sub = sign_up(cognito, config, email)["UserSub"]

    # WHEN pycognito signs them in with USER_SRP_AUTH, the password never sent
    client = srp_client(cognito, config, email)
    challenge = srp_challenge(cognito, config, client)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pycognito's datetime.utcnow(), on Python >= 3.12
        tokens = client.authenticate_user()["AuthenticationResult"]

    # THEN the challenge is Cognito's PASSWORD_VERIFIER, naming the user by their internal name (their sub)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    parameters = challenge["ChallengeParameters"]
    assert set(parameters) == {"SALT", "SECRET_BLOCK", "SRP_B", "USERNAME", "USER_ID_FOR_SRP"}
    assert parameters["USERNAME"] == parameters["USER_ID_FOR_SRP"] == sub
    assert "Session" not in challenge

    # AND the tokens are the ones a password sign-in gets
    assert tokens["TokenType"] == "Bearer"
    assert tokens["RefreshToken"]
    id_claims = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    assert (id_claims["sub"], id_claims["cognito:username"], id_claims["email"]) == (sub, sub, email)

    # AND the ID token works on the API, and the refresh token refreshes
    ticket = as_user(
        emulator,
        tokens["IdToken"],
        REQUEST_UPLOAD,
        {"input": {"name": "srp.txt", "size": 3, "contentType": "text/plain"}},
    )["data"]["requestUpload"]
    assert ticket["file"]["id"] in {
        item["id"]
        for item in as_user(emulator, tokens["IdToken"], "{ files { items { id } } }")["data"]["files"]["items"]
    }
    refreshed = cognito.initiate_auth(
        ClientId=config["userPoolClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    assert jwt.decode(refreshed["IdToken"], options={"verify_signature": False})["sub"] == sub


def test_srp_wrong_password_and_unknown_user_get_the_same_answer(config: dict[str, Any], cognito: Any) -> None:
    # GIVEN a signed-up user, and an email nobody signed up with
    email, nobody = new_email(), new_email()
    sign_up(cognito, config, email)

    # WHEN the user answers the challenge with a wrong password, and the stranger answers theirs
    wrong = srp_client(cognito, config, email, "Wrong-Horse-9-battery")
    stranger = srp_client(cognito, config, nobody)
    wrong_challenge, stranger_challenge = (srp_challenge(cognito, config, c) for c in (wrong, stranger))
    with pytest.raises(ClientError) as wrong_password:
        respond(cognito, config, srp_answer(wrong, wrong_challenge))
    with pytest.raises(ClientError) as unknown_user:
        respond(cognito, config, srp_answer(stranger, stranger_challenge))

    # THEN the stranger's challenge looks like a real one: the same members, a made-up internal name (not the
    # email), and the same salt and name when asked again
    assert stranger_challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    made_up = stranger_challenge["ChallengeParameters"]
    assert set(made_up) == set(wrong_challenge["ChallengeParameters"])
    assert str(uuid.UUID(made_up["USER_ID_FOR_SRP"])) == made_up["USER_ID_FOR_SRP"] == made_up["USERNAME"]
    again = srp_challenge(cognito, config, srp_client(cognito, config, nobody))["ChallengeParameters"]
    assert (again["SALT"], again["USER_ID_FOR_SRP"]) == (made_up["SALT"], made_up["USER_ID_FOR_SRP"])

    # AND both answers are refused alike
    assert error_of(wrong_password) == ("NotAuthorizedException", WRONG_CREDENTIALS, 400)
    assert error_of(unknown_user) == error_of(wrong_password)


def flip_a_byte(secret_block: str) -> str:
    raw = bytearray(base64.b64decode(secret_block))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_a_tampered_secret_block_signature_or_user_is_refused(config: dict[str, Any], cognito: Any) -> None:
    # GIVEN two signed-up users, and the first one's challenges
    email, other = new_email(), new_email()
    for user in (email, other):
        sign_up(cognito, config, user)
    client = srp_client(cognito, config, email)

    # WHEN the first answers with a changed SECRET_BLOCK (signed as changed), with a changed signature, and
    # with the other user's name
    challenge = srp_challenge(cognito, config, client)
    changed_block = flip_a_byte(challenge["ChallengeParameters"]["SECRET_BLOCK"])
    tampered_block = srp_answer(client, challenge, SECRET_BLOCK=changed_block)
    tampered_signature = srp_answer(client, srp_challenge(cognito, config, client))
    tampered_signature["PASSWORD_CLAIM_SIGNATURE"] = base64.b64encode(b"\x00" * 32).decode()
    other_user = {**srp_answer(client, srp_challenge(cognito, config, client)), "USERNAME": other}
    refused = []
    for answer in (tampered_block, tampered_signature, other_user):
        with pytest.raises(ClientError) as excinfo:
            respond(cognito, config, answer)
        refused.append(error_of(excinfo))

    # THEN each is NotAuthorizedException, while an untouched answer signs the user in
    assert refused == [("NotAuthorizedException", WRONG_CREDENTIALS, 400)] * 3
    assert respond(cognito, config, srp_answer(client, srp_challenge(cognito, config, client)))["AuthenticationResult"]


def test_an_accepted_srp_answer_cannot_be_sent_again(config: dict[str, Any], cognito: Any) -> None:
    # GIVEN a user signed in with an SRP answer, then signed out everywhere
    email = new_email()
    sign_up(cognito, config, email)
    client = srp_client(cognito, config, email)
    answer = srp_answer(client, srp_challenge(cognito, config, client))
    signed_in = respond(cognito, config, answer)["AuthenticationResult"]
    cognito.global_sign_out(AccessToken=signed_in["AccessToken"])

    # WHEN someone who captured the answer sends it again
    with pytest.raises(ClientError) as replayed:
        respond(cognito, config, answer)

    # THEN it starts no new sign-in: the challenge was used up by the first answer
    assert error_of(replayed) == ("NotAuthorizedException", WRONG_CREDENTIALS, 400)


@pytest.mark.parametrize("srp_a", ["0", N_HEX, "2" + "0" * 10 + "x"], ids=["zero", "N", "not-hex"])
def test_an_srp_a_that_is_zero_modulo_n_or_not_hex_is_refused(config: dict[str, Any], cognito: Any, srp_a: str) -> None:
    # GIVEN a signed-up user
    email = new_email()
    sign_up(cognito, config, email)

    # WHEN a client starts SRP with an A the server must not accept (A = 0 mod N would fix the session key)
    with pytest.raises(ClientError) as excinfo:
        cognito.initiate_auth(
            ClientId=config["userPoolClientId"],
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": email, "SRP_A": srp_a},
        )

    # THEN it is refused before any challenge is made
    code, message, status = error_of(excinfo)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "SRP_A" in message
