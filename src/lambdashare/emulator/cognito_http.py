"""The cognito-idp JSON protocol at `<base>/cognito-idp/`, for boto3 and Amplify JS (`userPoolEndpoint`).

`POST` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>` and an
`application/x-amz-json-1.1` body. An error is HTTP 400 with `{"__type", "message"}` and, as Cognito
sends them, `x-amzn-ErrorType: <type>:` and `x-amzn-ErrorMessage`: botocore reads `__type`, Amplify the
header first (up to the colon). Like Cognito, it answers browsers of any origin (CORS). The operations
these clients call unsigned are served; Admin* operations (SigV4) are not. Wire format only: the rules
are `user_pool_api`'s.
Spec: https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/CommonErrors.html
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from lambdashare.emulator.user_pool_api import CognitoError, UserPoolApi

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
CONTENT_TYPE = "application/x-amz-json-1.1"
#: X-Amz-Target operation -> the method that serves it.
OPERATIONS: dict[str, Callable[[UserPoolApi, Mapping[str, Any]], dict[str, Any]]] = {
    "SignUp": UserPoolApi.sign_up,
    "InitiateAuth": UserPoolApi.initiate_auth,
    "RespondToAuthChallenge": UserPoolApi.respond_to_auth_challenge,
    "GetTokensFromRefreshToken": UserPoolApi.get_tokens_from_refresh_token,
    "GetUser": UserPoolApi.get_user,
    "GlobalSignOut": UserPoolApi.global_sign_out,
}

#: Cognito's CORS answer: any origin, its own headers readable.
CORS = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date",
}

logger = logging.getLogger(__name__)


def _response(status: int, body: Mapping[str, Any], request_id: str, **headers: str) -> Response:
    return Response(
        json.dumps(body),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-requestid": request_id, **CORS, **headers},
    )


def _error(error: CognitoError, request_id: str) -> Response:
    return _response(
        400,
        {"__type": error.error_type, "message": error.message},
        request_id,
        **{"x-amzn-errortype": f"{error.error_type}:", "x-amzn-errormessage": error.message},
    )


async def cognito_idp_preflight(request: Request) -> Response:
    """A browser's CORS preflight: POST with the headers it asks for, from any origin."""
    return Response(
        status_code=200,
        headers={
            **CORS,
            "access-control-allow-methods": "POST",
            "access-control-allow-headers": request.headers.get("access-control-request-headers", "*"),
            "access-control-max-age": "86400",
        },
    )


async def cognito_idp_post(request: Request) -> Response:
    api: UserPoolApi = request.app.state.runtime.user_pool_api
    request_id = str(uuid.uuid4())
    target = request.headers.get("x-amz-target", "")
    operation = OPERATIONS.get(target.removeprefix(TARGET_PREFIX)) if target.startswith(TARGET_PREFIX) else None
    if operation is None:
        logger.info("cognito-idp: unknown operation %r", target[:100])
        return _error(
            CognitoError("UnknownOperationException", f"The local user pool does not serve {target[:100]!r}."),
            request_id,
        )
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _error(CognitoError("SerializationException", "The request body is not a JSON object."), request_id)
    name = target.removeprefix(TARGET_PREFIX)
    try:
        result = await run_in_threadpool(operation, api, body)  # argon2 and SQLite block
    except CognitoError as exc:
        logger.info("cognito-idp %s: %s: %s", name, exc.error_type, exc.message)  # never the body: it has secrets
        return _error(exc, request_id)
    return _response(200, result, request_id)
