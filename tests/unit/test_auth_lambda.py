"""Lambda (REQUEST) authorizers run by the real local runtime: worker processes, real handlers
(`tests/fixtures/authorizers/handlers.py`), payload formats 1.0 and 2.0, simple and policy answers,
the result cache. The only helper around the runtime counts invocations."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from stageway.auth import (
    AuthForbidden,
    AuthorizerFailure,
    Authorizers,
    AuthResult,
    AuthUnauthorized,
    LambdaAuthorizerPlan,
    RouteAuth,
    compile_authorizer,
)
from stageway.core.errors import GatewayError
from stageway.functions import FunctionConfig, InvocationResult, LocalRuntime
from tests.support.auth_requests import ACCOUNT_ID, REGION, make_request, make_route, run

CODE = Path(__file__).resolve().parents[1] / "fixtures" / "authorizers"
CONTEXT = {"stringKey": "value", "numberKey": 1, "booleanKey": True, "arrayKey": ["a", "b"], "mapKey": {"k": "v"}}
ARN_PREFIX = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:k3xq9zw1ab/prod"

FUNCTIONS = [
    FunctionConfig(name, f"handlers.{handler}", CODE, timeout_s=timeout_s)
    for name, handler, timeout_s in [
        ("simple", "simple", 3.0),
        ("policy", "policy", 3.0),
        ("policy-for-gets", "policy_for_gets", 3.0),
        ("raises", "raises", 3.0),
        ("sleeps", "sleeps", 0.5),
        ("sleeps-long", "sleeps", 6.0),
        ("garbage", "garbage", 3.0),
        ("wrong-type", "wrong_type", 3.0),
        ("no-document", "policy_without_document", 3.0),
    ]
]


class CountingInvoker:
    """The local runtime, counting the invocations that reach it."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.calls: list[str] = []

    async def invoke(self, name: str, payload: bytes) -> InvocationResult:
        self.calls.append(name)
        return await self.runtime.invoke(name, payload)


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = uvloop.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def runtime(loop: asyncio.AbstractEventLoop) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime()
    run(loop, runtime.start())
    runtime.set_functions(FUNCTIONS)
    yield runtime
    run(loop, runtime.close())


@pytest.fixture()
def invoker(runtime: LocalRuntime) -> CountingInvoker:
    return CountingInvoker(runtime)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def authorizers(invoker: CountingInvoker, clock: Clock) -> Authorizers:
    return Authorizers(invoker=invoker, monotonic=clock)


def plan_for(
    function: str,
    *,
    version: str = "2.0",
    simple: bool = False,
    ttl: int = 0,
    sources: list[str] | None = None,
) -> LambdaAuthorizerPlan:
    doc: dict[str, Any] = {
        "authorizerId": "auth42",
        "authorizerType": "REQUEST",
        "name": f"{function}-authorizer",
        "authorizerUri": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}/invocations",
        "authorizerPayloadFormatVersion": version,
        "authorizerResultTtlInSeconds": ttl,
        "identitySource": ["$request.header.x-token"] if sources is None else sources,
    }
    if simple:
        doc["enableSimpleResponses"] = True
    plan = compile_authorizer(doc, region=REGION, account_id=ACCOUNT_ID)
    assert isinstance(plan, LambdaAuthorizerPlan)
    return plan


def authorize(
    loop: asyncio.AbstractEventLoop,
    authorizers: Authorizers,
    plan: LambdaAuthorizerPlan | None,
    token: str | None = "allow",
    *,
    method: str = "GET",
    path: str = "/prod/pets/7",
    route_key: str = "GET /pets/{id}",
    stage: str = "prod",
    query: str = "",
    body: bytes = b"",
    stage_variables: dict[str, str] | None = None,
) -> AuthResult:
    headers = [("content-type", "application/json")]
    if token is not None:
        headers.append(("X-Token", token))
    request = make_request(method, path, headers=headers, query=query, body=body)
    route = make_route(request, route_key, stage=stage, stage_variables=stage_variables)
    return run(loop, authorizers.authorize(RouteAuth("CUSTOM", plan), request, route))


def refused(loop: asyncio.AbstractEventLoop, authorizers: Authorizers, plan: LambdaAuthorizerPlan | None,
            token: str | None = "allow", **options: Any) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        authorize(loop, authorizers, plan, token, **options)
    return info.value


def event_of(result: AuthResult) -> dict[str, Any]:
    assert result.v2 is not None
    event: dict[str, Any] = json.loads(result.v2["lambda"]["event"])
    return event


# --------------------------------------------------------------------------------- simple responses


def test_simple_allow_hands_the_context_on(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, invoker: CountingInvoker
) -> None:
    result = authorize(loop, authorizers, plan_for("simple", simple=True))
    assert result.v2 is not None
    assert {key: value for key, value in result.v2["lambda"].items() if key != "event"} == CONTEXT
    assert result.v1 is not None and result.v1["numberKey"] == 1 and "principalId" not in result.v1
    assert {key: value for key, value in result.context_vars.items() if key != "event"} == {
        "stringKey": "value",
        "numberKey": "1",
        "booleanKey": "true",
        "arrayKey": '["a","b"]',
        "mapKey": '{"k":"v"}',
    }
    assert invoker.calls == ["simple"]


def test_simple_deny_is_403(loop: asyncio.AbstractEventLoop, authorizers: Authorizers) -> None:
    error = refused(loop, authorizers, plan_for("simple", simple=True), "nope")
    assert isinstance(error, AuthForbidden) and error.response_type == "ACCESS_DENIED"
    assert (error.to_response().status, error.to_response().body) == (403, b'{"message":"Forbidden"}')


def test_the_2_0_event(loop: asyncio.AbstractEventLoop, authorizers: Authorizers) -> None:
    plan = plan_for("simple", simple=True, sources=["$request.header.x-token", "$request.querystring.tenant"])
    result = authorize(
        loop, authorizers, plan, method="POST", path="/prod/pets/7", route_key="POST /pets/{id}",
        query="tenant=t9&tag=a&tag=b", body=b'{"secret": 1}', stage_variables={"color": "blue"},
    )
    event = event_of(result)
    assert list(event)[:4] == ["version", "type", "routeArn", "identitySource"]
    assert (event["version"], event["type"]) == ("2.0", "REQUEST")
    assert event["routeArn"] == f"{ARN_PREFIX}/POST/pets/7"
    assert event["identitySource"] == ["allow", "t9"]
    assert (event["routeKey"], event["rawPath"], event["rawQueryString"]) == (
        "POST /pets/{id}", "/prod/pets/7", "tenant=t9&tag=a&tag=b"
    )
    assert event["queryStringParameters"] == {"tenant": "t9", "tag": "a,b"}
    assert event["pathParameters"] == {"id": "7"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["headers"]["x-token"] == "allow" and "x-forwarded-for" in event["headers"]
    # No body and no authorizer context: the authorizer decides before either matters.
    assert "body" not in event and "isBase64Encoded" not in event
    assert "authorizer" not in event["requestContext"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["routeKey"] == "POST /pets/{id}"


# --------------------------------------------------------------------------------- policy responses


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_policy_allow_and_deny(loop: asyncio.AbstractEventLoop, authorizers: Authorizers, version: str) -> None:
    plan = plan_for("policy", version=version)
    result = authorize(loop, authorizers, plan)
    assert result.v2 is not None and result.v2["lambda"]["stringKey"] == "value"
    assert result.v1 is not None and result.v1["principalId"] == "user-42"
    assert result.context_vars["principalId"] == "user-42"
    assert isinstance(refused(loop, authorizers, plan, "deny"), AuthForbidden)


def test_the_1_0_event(loop: asyncio.AbstractEventLoop, authorizers: Authorizers) -> None:
    plan = plan_for("policy", version="1.0", sources=["$request.header.x-token", "$context.routeKey"])
    event = event_of(authorize(loop, authorizers, plan, query="a=1&a=2"))
    assert (event["version"], event["type"]) == ("1.0", "REQUEST")
    assert event["methodArn"] == f"{ARN_PREFIX}/GET/pets/7"
    # Both fields hold the identity values joined with a comma (AWS's example: "user1,123").
    assert event["identitySource"] == event["authorizationToken"] == "allow,GET /pets/{id}"
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/pets/{id}", "/prod/pets/7", "GET")
    assert event["headers"]["x-token"] == "allow"
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["pathParameters"] == {"id": "7"}
    context = event["requestContext"]
    assert (context["path"], context["stage"], context["resourcePath"], context["apiId"]) == (
        "/prod/pets/7", "prod", "/pets/{id}", "k3xq9zw1ab"
    )
    assert context["identity"]["apiKey"] is None and context["identity"]["sourceIp"] == "198.51.100.7"
    assert "authorizer" not in context and "body" not in event


def test_a_cached_policy_is_evaluated_for_each_route(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, invoker: CountingInvoker
) -> None:
    plan = plan_for("policy-for-gets", ttl=300)
    assert authorize(loop, authorizers, plan, "reader", path="/prod/pets/1").v1 == {"principalId": "reader"}
    assert authorize(loop, authorizers, plan, "reader", path="/prod/owners/2", route_key="GET /owners/{id}").v2
    # The same cached policy denies DELETE explicitly, and POST for want of an Allow.
    assert isinstance(refused(loop, authorizers, plan, "reader", method="DELETE", route_key="DELETE /pets/{id}"), AuthForbidden)
    assert isinstance(refused(loop, authorizers, plan, "reader", method="POST", route_key="POST /pets/{id}"), AuthForbidden)
    assert invoker.calls == ["policy-for-gets"]


# ------------------------------------------------------------------------------------------ caching


def test_results_are_cached_by_identity_values_for_the_ttl(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, invoker: CountingInvoker, clock: Clock
) -> None:
    plan = plan_for("simple", simple=True, ttl=60)
    authorize(loop, authorizers, plan, "allow")
    authorize(loop, authorizers, plan, "allow")
    assert len(invoker.calls) == 1
    # Another identity is another cache entry; a denial is cached as well.
    assert isinstance(refused(loop, authorizers, plan, "mallory"), AuthForbidden)
    assert isinstance(refused(loop, authorizers, plan, "mallory"), AuthForbidden)
    assert len(invoker.calls) == 2
    # Another stage has a cache of its own.
    authorize(loop, authorizers, plan, "allow", stage="beta", path="/beta/pets/7")
    assert len(invoker.calls) == 3
    # After the TTL the function is asked again.
    clock.now += 60
    authorize(loop, authorizers, plan, "allow")
    assert len(invoker.calls) == 4
    # ResetAuthorizersCache flushes one stage.
    authorizers.reset_cache("k3xq9zw1ab", "beta")
    authorize(loop, authorizers, plan, "allow")
    assert len(invoker.calls) == 4
    authorize(loop, authorizers, plan, "allow", stage="beta", path="/beta/pets/7")
    assert len(invoker.calls) == 5
    authorizers.reset_cache("k3xq9zw1ab")
    authorize(loop, authorizers, plan, "allow")
    assert len(invoker.calls) == 6


def test_a_new_configuration_does_not_reuse_old_answers(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, invoker: CountingInvoker
) -> None:
    authorize(loop, authorizers, plan_for("simple", simple=True, ttl=60))
    authorize(loop, authorizers, plan_for("policy", ttl=60))  # same authorizer id, redeployed
    assert invoker.calls == ["simple", "policy"]


def test_no_cache_without_ttl(loop: asyncio.AbstractEventLoop, authorizers: Authorizers, invoker: CountingInvoker) -> None:
    plan = plan_for("simple", simple=True, ttl=0)
    for _ in range(3):
        authorize(loop, authorizers, plan)
    assert len(invoker.calls) == 3


def test_no_identity_sources_means_always_invoked(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, invoker: CountingInvoker
) -> None:
    plan = plan_for("simple", simple=True, sources=[])
    assert event_of(authorize(loop, authorizers, plan))["identitySource"] == []
    assert isinstance(refused(loop, authorizers, plan, None), AuthForbidden)  # the function saw no token
    assert len(invoker.calls) == 2


@pytest.mark.parametrize("token", [None, ""])
def test_missing_identity_is_401_without_invoking(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, invoker: CountingInvoker, token: str | None
) -> None:
    error = refused(loop, authorizers, plan_for("simple", simple=True, ttl=60), token)
    assert isinstance(error, AuthUnauthorized)
    response = error.to_response()
    assert (response.status, response.body) == (401, b'{"message":"Unauthorized"}')
    assert ("www-authenticate", "Bearer") not in response.headers
    assert invoker.calls == []


# ------------------------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("function", "simple", "reason"),
    [
        ("raises", True, "RuntimeError: authorizer exploded"),
        ("garbage", True, "not a JSON object"),
        ("wrong-type", True, "isAuthorized must be true or false"),
        ("no-document", False, "no policyDocument"),
        ("policy", True, "isAuthorized must be true or false"),  # a policy where a simple answer is due
        ("sleeps", True, "Task timed out"),  # the function's own timeout
        ("nowhere", True, "Authorizer function not found"),
    ],
)
def test_authorizer_failures_are_500(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, function: str, simple: bool, reason: str
) -> None:
    error = refused(loop, authorizers, plan_for(function, simple=simple, ttl=60))
    assert isinstance(error, AuthorizerFailure)
    assert (error.to_response().status, error.to_response().body) == (500, b'{"message":"Internal Server Error"}')
    assert reason in error.authorizer_error
    assert error.response_type == (
        "AUTHORIZER_CONFIGURATION_ERROR" if function == "nowhere" else "AUTHORIZER_FAILURE"
    )
    # Failures are not cached: the next request asks again (and fails again).
    assert isinstance(refused(loop, authorizers, plan_for(function, simple=simple, ttl=60)), AuthorizerFailure)


def test_the_gateway_stops_waiting_after_the_authorizer_timeout(
    loop: asyncio.AbstractEventLoop, invoker: CountingInvoker
) -> None:
    authorizers = Authorizers(invoker=invoker, authorizer_timeout_s=0.3)  # AWS waits 10 s
    error = refused(loop, authorizers, plan_for("sleeps-long", simple=True))
    assert isinstance(error, AuthorizerFailure) and "did not answer within 0.3 s" in error.authorizer_error


def test_a_route_without_a_usable_authorizer_is_closed(loop: asyncio.AbstractEventLoop, authorizers: Authorizers) -> None:
    assert isinstance(refused(loop, authorizers, None), AuthorizerFailure)


def test_the_function_name_may_come_from_a_stage_variable(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, invoker: CountingInvoker
) -> None:
    plan = plan_for("${stageVariables.authorizer}", simple=True)
    assert authorize(loop, authorizers, plan, stage_variables={"authorizer": "simple"}).v2 is not None
    assert invoker.calls == ["simple"]
