"""Lambda (REQUEST) authorizers: the event the function receives and how its answer is read (spec §7.2).

Pure module; invoking the function and caching its answers is `Authorizers`' job.

Events (http-api-lambda-authorizer, "Payload format version"):
- 2.0: the integration's 2.0 event without `body`, `isBase64Encoded` and authorizer context, plus
  `type: "REQUEST"`, `routeArn` and `identitySource` (the values, in the configured order);
- 1.0: the REST API shape: `type`, `methodArn`, `identitySource` and `authorizationToken` (both the values
  joined with ","), `resource`, `path`, `httpMethod`, headers, query, path parameters, stage variables and
  a `requestContext`.

Answers ("Lambda authorizer response format"): with simple responses (2.0 only)
`{"isAuthorized": bool, "context": {...}}`; otherwise an IAM policy
`{"principalId": ..., "policyDocument": {...}, "context": {...}}`. Anything else is an invalid response,
which AWS answers with 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stageway.auth.plan import LambdaAuthorizerPlan
from stageway.auth.policy import Policy, PolicyError, parse_policy
from stageway.auth.result import AuthResult
from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.lambda_events import build_v1_event, build_v2_event

MAX_AUTHORIZER_WAIT_S = 10.0
"""AWS stops waiting for a Lambda authorizer after 10 seconds and answers 500 (spec §7.2)."""


class InvalidAuthorizerResponse(ValueError):
    """The function answered something that is not an authorizer response."""


@dataclass(frozen=True, slots=True)
class AuthorizerAnswer:
    """A valid answer, as cached: a simple decision, or a policy evaluated again for every request."""

    is_authorized: bool | None
    """Simple responses only; None for policy answers."""
    policy: Policy | None
    principal_id: str | None
    context: dict[str, Any] | None

    def allows(self, arn: str) -> bool:
        if self.policy is None:
            return bool(self.is_authorized)
        return self.policy.allows(arn)


def build_authorizer_event(
    plan: LambdaAuthorizerPlan,
    request: IncomingRequest,
    route: RouteContext,
    headers: list[tuple[str, str]],
    *,
    arn: str,
    identity: Sequence[str],
) -> dict[str, Any]:
    """The event for `plan`'s payload format version."""
    if plan.payload_format_version == "1.0":
        return build_v1_authorizer_event(request, route, headers, method_arn=arn, identity=identity)
    return build_v2_authorizer_event(request, route, headers, route_arn=arn, identity=identity)


def build_v2_authorizer_event(
    request: IncomingRequest,
    route: RouteContext,
    headers: list[tuple[str, str]],
    *,
    route_arn: str,
    identity: Sequence[str],
) -> dict[str, Any]:
    base = build_v2_event(request, route, headers)
    base.pop("body", None)
    base.pop("isBase64Encoded", None)
    base["requestContext"].pop("authorizer", None)
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn,
        "identitySource": list(identity),
    }
    event.update((key, value) for key, value in base.items() if key != "version")
    return event


def build_v1_authorizer_event(
    request: IncomingRequest,
    route: RouteContext,
    headers: list[tuple[str, str]],
    *,
    method_arn: str,
    identity: Sequence[str],
) -> dict[str, Any]:
    base = build_v1_event(request, route, headers)
    context = base["requestContext"]
    context.pop("authorizer", None)
    # REST's authorizer events name the API key the caller sent; HTTP APIs have none.
    context["identity"] = {"apiKey": None, **context["identity"]}
    joined = ",".join(identity)
    return {
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": method_arn,
        "identitySource": joined,
        "authorizationToken": joined,
        "resource": base["resource"],
        "path": base["path"],
        "httpMethod": base["httpMethod"],
        "headers": base["headers"],
        "multiValueHeaders": base["multiValueHeaders"],
        "queryStringParameters": base["queryStringParameters"],
        "multiValueQueryStringParameters": base["multiValueQueryStringParameters"],
        # AWS's 1.0 example shows `{}` for a route without path parameters.
        "pathParameters": base["pathParameters"] or {},
        "stageVariables": base["stageVariables"],
        "requestContext": context,
    }


def parse_authorizer_response(plan: LambdaAuthorizerPlan, payload: bytes) -> AuthorizerAnswer:
    """Read the function's answer; raises InvalidAuthorizerResponse (AWS: 500) when it is not valid."""
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidAuthorizerResponse("the authorizer's response is not JSON") from None
    if not isinstance(answer, dict):
        raise InvalidAuthorizerResponse("the authorizer's response is not a JSON object")
    context = answer.get("context")
    if context is not None and not isinstance(context, dict):
        raise InvalidAuthorizerResponse("context must be an object")
    if context is not None and plan.payload_format_version == "1.0" and "claims" in context:
        # "claims" is where 1.0 events put JWT claims; a Lambda authorizer may not use the key (spec §7.2).
        raise InvalidAuthorizerResponse("context may not contain the reserved key 'claims'")
    if plan.simple_responses:
        is_authorized = answer.get("isAuthorized")
        if not isinstance(is_authorized, bool):
            raise InvalidAuthorizerResponse("isAuthorized must be true or false")
        return AuthorizerAnswer(is_authorized, None, None, context)
    principal_id = answer.get("principalId")
    if principal_id is not None and not isinstance(principal_id, (str, int, float)):
        raise InvalidAuthorizerResponse("principalId must be a string")
    if "policyDocument" not in answer:
        raise InvalidAuthorizerResponse("the response has no policyDocument")
    try:
        policy = parse_policy(answer["policyDocument"])
    except PolicyError as error:
        raise InvalidAuthorizerResponse(str(error)) from None
    return AuthorizerAnswer(None, policy, None if principal_id is None else str(principal_id), context)


def lambda_result(answer: AuthorizerAnswer) -> AuthResult:
    """An allowed request's authorizer context: `{"lambda": context}` for 2.0 integrations [OBS: AWS's
    aws-lambda-go fixture], the context keys and `principalId` directly under `authorizer` for 1.0 (the
    REST shape) [INF]."""
    context = dict(answer.context or {})
    v1: dict[str, Any] = dict(context)
    context_vars = {key: render_context_value(value) for key, value in context.items()}
    if answer.principal_id is not None:
        v1["principalId"] = answer.principal_id
        context_vars["principalId"] = answer.principal_id
    return AuthResult(v2={"lambda": context}, v1=v1, context_vars=context_vars)


def render_context_value(value: Any) -> str:
    """`$context.authorizer.{key}` as text: strings as they are, other values as JSON (`1`, `true`)."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def function_error_detail(payload: bytes) -> str:
    """The reason an authorizer function failed, for logs and `$context.authorizer.error`."""
    try:
        error = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "The authorizer function returned an error"
    if isinstance(error, Mapping):
        return (
            f"The authorizer function returned an error: {error.get('errorType', 'Error')}: "
            f"{error.get('errorMessage', '')}"
        )
    return "The authorizer function returned an error"
