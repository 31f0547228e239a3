"""Compiling a deployment's snapshot into a stage plan: what routes that share an integration share."""

from __future__ import annotations

from typing import Any

from stageway.core.mapping import NO_REQUEST_MAPPING, NO_RESPONSE_MAPPING
from stageway.gateway.compiler import Compiler
from stageway.gateway.plan import HttpProxyPlan, RoutePlan

STAGE = {"stageName": "$default", "deploymentId": "d1"}


def snapshot(*, request_parameters: dict[str, str] | None) -> dict[str, Any]:
    mapped: dict[str, Any] = {
        "integrationId": "mapped",
        "integrationType": "HTTP_PROXY",
        "integrationUri": "http://127.0.0.1:9/pets",
        "payloadFormatVersion": "1.0",
    }
    if request_parameters is not None:
        mapped["requestParameters"] = request_parameters
        if request_parameters:
            mapped["responseParameters"] = {"200": {"append:header.x-mapped": "yes"}}
    plain = {
        "integrationId": "plain",
        "integrationType": "HTTP_PROXY",
        "integrationUri": "http://127.0.0.1:9/other",
        "payloadFormatVersion": "1.0",
    }
    routes = [
        {"routeId": "r1", "routeKey": "GET /a", "target": "integrations/mapped"},
        {"routeId": "r2", "routeKey": "GET /b/{id}", "target": "integrations/mapped"},
        {"routeId": "r3", "routeKey": "GET /c", "target": "integrations/plain"},
    ]
    return {"api": {"apiId": "api1"}, "routes": routes, "integrations": [mapped, plain], "authorizers": []}


def route(plan_routes: Any, method: str, path: str) -> RoutePlan:
    match = plan_routes.matcher.match(method, path)
    assert match is not None
    target: RoutePlan = match.route.target
    return target


def test_routes_sharing_an_integration_share_its_compiled_mappings() -> None:
    stage = Compiler().compile_stage(
        "api1", STAGE, snapshot(request_parameters={"overwrite:header.x-stage": "$context.stage"})
    )
    first, second = route(stage, "GET", "/a"), route(stage, "GET", "/b/7")
    assert not first.request_mapping.is_empty and not first.response_mapping.is_empty
    assert first.request_mapping is second.request_mapping
    assert first.response_mapping is second.response_mapping
    plain = route(stage, "GET", "/c")
    assert plain.request_mapping is NO_REQUEST_MAPPING and plain.response_mapping is NO_RESPONSE_MAPPING


def test_an_integration_without_parameters_maps_nothing() -> None:
    for parameters in (None, {}):
        stage = Compiler().compile_stage("api1", STAGE, snapshot(request_parameters=parameters))
        compiled = route(stage, "GET", "/a")
        assert compiled.request_mapping.is_empty
        assert compiled.response_mapping.is_empty


def test_routes_of_one_shape_share_an_integration_plan_and_other_shapes_get_their_own() -> None:
    snap = snapshot(request_parameters=None)
    snap["routes"] += [
        {"routeId": "r4", "routeKey": "GET /d/{rest+}", "target": "integrations/mapped"},
        {"routeId": "r5", "routeKey": "$default", "target": "integrations/mapped"},
    ]
    stage = Compiler().compile_stage("api1", STAGE, snap)
    plain_a, plain_b = route(stage, "GET", "/a").integration, route(stage, "GET", "/b/7").integration
    greedy = route(stage, "GET", "/d/x/y").integration
    default = route(stage, "POST", "/anything").integration
    assert isinstance(plain_a, HttpProxyPlan) and isinstance(greedy, HttpProxyPlan)
    assert isinstance(default, HttpProxyPlan)
    assert plain_a is plain_b
    assert greedy is not plain_a and default is not plain_a and default is not greedy
    assert default.append_request_path and not plain_a.append_request_path
    assert route(stage, "GET", "/c").integration is not plain_a  # another integration


def test_which_http_proxy_routes_may_take_the_proxy_lane() -> None:
    def proxy(name: str, **extra: Any) -> dict[str, Any]:
        return {"integrationId": name, "integrationType": "HTTP_PROXY", "integrationUri": "http://127.0.0.1:9/x", **extra}

    integrations = [
        proxy("plain"),
        proxy("mapped", requestParameters={"append:header.x-id": "$context.requestId", "overwrite:path": "/y"}),
        proxy("host-edit", requestParameters={"overwrite:header.host": "example.com"}),  # a header the gateway sets
        proxy("answer-mapped", responseParameters={"200": {"append:header.x-mapped": "yes"}}),
    ]
    jwt = {"jwtConfiguration": {"issuer": "https://issuer.example.com", "audience": ["a"]}, "authorizerType": "JWT"}
    authorizers = [
        {"authorizerId": "by-header", "name": "h", "identitySource": ["$request.header.Authorization"], **jwt},
        {"authorizerId": "by-query", "name": "q", "identitySource": ["$request.querystring.token"], **jwt},
    ]
    routes = [
        {"routeId": "r1", "routeKey": "GET /plain", "target": "integrations/plain"},
        {"routeId": "r2", "routeKey": "GET /mapped", "target": "integrations/mapped"},
        {"routeId": "r3", "routeKey": "GET /host-edit", "target": "integrations/host-edit"},
        {"routeId": "r4", "routeKey": "GET /answer-mapped", "target": "integrations/answer-mapped"},
        {"routeId": "r5", "routeKey": "GET /iam", "target": "integrations/plain", "authorizationType": "AWS_IAM"},
        {"routeId": "r6", "routeKey": "GET /jwt", "target": "integrations/mapped", "authorizationType": "JWT",
         "authorizerId": "by-header"},
        {"routeId": "r7", "routeKey": "GET /jwt-query", "target": "integrations/plain", "authorizationType": "JWT",
         "authorizerId": "by-query"},
    ]
    document = {"api": {"apiId": "api1"}, "routes": routes, "integrations": integrations, "authorizers": authorizers}
    stage = Compiler().compile_stage("api1", STAGE, document)
    plain, mapped, jwt_route = route(stage, "GET", "/plain"), route(stage, "GET", "/mapped"), route(stage, "GET", "/jwt")
    assert isinstance(plain.lane_proxy, HttpProxyPlan) and plain.lane_proxy is plain.integration
    assert plain.lane_mapping is None and plain.lane_jwt is None and plain.lane_lambda is None
    # A request mapping the lane applies itself, and a header JWT authorizer, with or without one.
    assert mapped.lane_proxy is mapped.integration and mapped.lane_mapping is mapped.request_mapping
    assert jwt_route.lane_proxy is not None and jwt_route.lane_mapping is not None and jwt_route.lane_jwt is not None
    for path in ("/host-edit", "/answer-mapped", "/iam", "/jwt-query"):
        outside = route(stage, "GET", path)
        assert outside.lane_proxy is None and outside.lane_jwt is None and outside.lane_mapping is None, path


def test_only_plain_lambda_routes_may_take_the_lambda_lane() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:{}"
    integrations = [
        {"integrationId": name, "integrationType": "AWS_PROXY", "integrationUri": arn.format(name),
         "payloadFormatVersion": version, **extra}
        for name, version, extra in (
            ("plain", "2.0", {}),
            ("v1", "1.0", {}),
            ("mapped", "2.0", {"requestParameters": {"overwrite:querystring.x": "1"}}),
        )
    ]
    routes = [
        {"routeId": "r1", "routeKey": "GET /plain", "target": "integrations/plain"},
        {"routeId": "r2", "routeKey": "GET /v1", "target": "integrations/v1"},
        {"routeId": "r3", "routeKey": "GET /mapped", "target": "integrations/mapped"},
        {"routeId": "r4", "routeKey": "GET /guarded", "target": "integrations/plain", "authorizationType": "AWS_IAM"},
    ]
    document = {"api": {"apiId": "api1"}, "routes": routes, "integrations": integrations, "authorizers": []}
    stage = Compiler().compile_stage("api1", STAGE, document)
    for path in ("/plain", "/v1"):  # either payload format
        plain = route(stage, "GET", path)
        assert plain.lane_lambda is not None and plain.lane_lambda is plain.integration
        assert plain.lane_proxy is None
    for path in ("/mapped", "/guarded"):  # a parameter mapping, an authorizer
        assert route(stage, "GET", path).lane_lambda is None
