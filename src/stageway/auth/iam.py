"""AWS_IAM routes: the request must be signed with SigV4 for `execute-api` by a known key (spec §7.3).

Pure apart from the clock the caller passes. The signature is checked by `core.sigv4` (the admin
listener's verifier) against the request exactly as it arrived: path with the stage prefix, raw query,
headers, body. The credential store is the admin listener's `KEY:SECRET` list; there are no IAM policies,
so every known key may invoke every route (AWS: the caller needs `execute-api:Invoke` on the route ARN).

Refusals: HTTP APIs answer 403 `{"message":"Forbidden"}` for a missing, malformed or wrong signature
[EMU consensus; AWS documents no text]; REST APIs' "Missing Authentication Token" and "The request
signature we calculated does not match ..." texts stay in the log (`detail`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from stageway.auth.result import AuthForbidden, AuthResult
from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.sigv4 import Problem, SignatureError, SignedRequest, verify

SERVICE = "execute-api"
# `$context.error.responseType` of each refusal: REST APIs' gateway-response names [INF for HTTP APIs].
_RESPONSE_TYPES = {
    Problem.MISSING: "MISSING_AUTHENTICATION_TOKEN",
    Problem.INCOMPLETE: "INVALID_SIGNATURE",
    Problem.UNKNOWN_KEY: "ACCESS_DENIED",
    Problem.INVALID: "INVALID_SIGNATURE",
}


def authorize_iam(
    request: IncomingRequest, route: RouteContext, credentials: Mapping[str, str], *, now: datetime
) -> AuthResult:
    """The caller's identity when the request is signed by one of `credentials`; raises 403 otherwise."""
    signed = SignedRequest.of(request.method, request.raw_path, request.raw_query, request.headers, request.body)
    try:
        verified = verify(signed, credentials.get, now=now)
    except SignatureError as error:
        raise AuthForbidden(
            f"IAM: {error.problem.value}: {error.message}", response_type=_RESPONSE_TYPES[error.problem]
        ) from None
    if verified.service != SERVICE:
        # The wording of AWS's REST answer for a credential scoped to another service [OBS].
        raise AuthForbidden(
            f"IAM: Credential should be scoped to correct service: '{SERVICE}'.", response_type="INVALID_SIGNATURE"
        )
    if verified.region != route.region:
        raise AuthForbidden(
            f"IAM: Credential should be scoped to a valid region, not '{verified.region}'.",
            response_type="INVALID_SIGNATURE",
        )
    return iam_result(verified.access_key, route.account_id)


def iam_result(access_key: str, account_id: str) -> AuthResult:
    """Who called. The store knows keys, not users: the key id stands for the user and caller id, and the
    user ARN is built from it [INF]; a real IAM user's ARN would name the user."""
    user_arn = f"arn:aws:iam::{account_id}:user/{access_key}"
    identity: dict[str, Any] = {
        "accessKey": access_key,
        "accountId": account_id,
        "caller": access_key,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
        "user": access_key,
        "userArn": user_arn,
    }
    v2 = {
        # Payload 2.0's names (aws-lambda-go `apigw-v2-request-iam.json`); cognitoIdentity is null unless
        # the credentials came from a Cognito identity pool.
        "iam": {
            "accessKey": access_key,
            "accountId": account_id,
            "callerId": access_key,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": user_arn,
            "userId": access_key,
        }
    }
    return AuthResult(v2=v2, v1=None, context_vars={}, identity=identity)
