"""Lambda proxy request events, payload 2.0 and 1.0, against spec §4.2, §4.3 and §13."""

from __future__ import annotations

import base64
import calendar
import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stageway.core.clock import clf_time
from stageway.core.forwarding import with_forwarding_headers
from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.lambda_events import (
    build_v1_event,
    build_v2_event,
    encode_event,
    is_text_content_type,
    parse_query_string,
)

API_ID = "k3xq9zw1ab"
HOST = f"{API_ID}.execute-api.eu-west-1.amazonaws.com"
REQUEST_ID = "XyZ1aBcDeFgHiJk="
EPOCH_MS = 1767261600123  # 01/Jan/2026:10:00:00.123 UTC, the spec examples' time
TRACE = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$")
MISSING = object()


def make_request(
    method: str = "GET",
    raw_path: str = "/items",
    raw_query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    **fields: Any,
) -> IncomingRequest:
    values: dict[str, Any] = {
        "source_ip": "198.51.100.7",
        "request_id": REQUEST_ID,
        "time_epoch_ms": EPOCH_MS,
        "host": HOST,
        "scheme": "https",
        "server_port": 443,
    }
    values.update(fields)
    if headers is None:
        headers = [("host", HOST), ("user-agent", "curl/8.5.0")]
    return IncomingRequest(method, raw_path, raw_query, headers, body, **values)


def make_route(
    request: IncomingRequest,
    stage: str = "$default",
    route_key: str = "GET /items",
    path_parameters: dict[str, str] | None = None,
    stage_variables: dict[str, str] | None = None,
    **fields: Any,
) -> RouteContext:
    route_raw_path = request.raw_path
    if stage != "$default":
        route_raw_path = request.raw_path[len(stage) + 1 :] or "/"
    return RouteContext(
        api_id=API_ID,
        account_id="111122223333",
        region="eu-west-1",
        stage=stage,
        route_key=route_key,
        path_parameters=path_parameters or {},
        stage_variables=stage_variables or {},
        stage_raw_path=request.raw_path,
        route_raw_path=route_raw_path,
        **fields,
    )


def v2_event(request: IncomingRequest, route: RouteContext | None = None) -> dict[str, Any]:
    return build_v2_event(request, route or make_route(request), with_forwarding_headers(request))


def v1_event(request: IncomingRequest, route: RouteContext | None = None) -> dict[str, Any]:
    return build_v1_event(request, route or make_route(request), with_forwarding_headers(request))


def get(event: dict[str, Any], dotted: str) -> Any:
    """`requestContext.http.path` → the value, or MISSING when a key is absent."""
    value: Any = event
    for key in dotted.split("."):
        if key not in value:
            return MISSING
        value = value[key]
    return value


def leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [pair for key, item in value.items() for pair in leaves(item, f"{prefix}{key}.")]
    return [(prefix[:-1], value)]


# ---------------------------------------------------------------------------------------------------
# Golden: the spec's complete 2.0 example (§4.2), built from the request it describes.

SPEC_V2_EXAMPLE: dict[str, Any] = orjson.loads(
    r"""
{
  "version": "2.0",
  "routeKey": "POST /orders/{orderId}",
  "rawPath": "/prod/orders/o-42",
  "rawQueryString": "expand=items&tag=a%20b&tag=c",
  "cookies": ["session=abc123", "theme=dark"],
  "headers": {
    "accept": "application/json,text/plain",
    "authorization": "Bearer eyJraWQiOi...",
    "content-length": "15",
    "content-type": "application/json",
    "host": "k3xq9zw1ab.execute-api.eu-west-1.amazonaws.com",
    "user-agent": "curl/8.5.0",
    "x-amzn-trace-id": "Root=1-6650f0a1-0a1b2c3d4e5f60718293a4b5",
    "x-forwarded-for": "198.51.100.7",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https"
  },
  "queryStringParameters": { "expand": "items", "tag": "a b,c" },
  "pathParameters": { "orderId": "o-42" },
  "stageVariables": { "backend": "blue" },
  "requestContext": {
    "accountId": "111122223333",
    "apiId": "k3xq9zw1ab",
    "authorizer": {
      "jwt": {
        "claims": {
          "sub": "9f1c2d3e-aaaa-bbbb-cccc-0123456789ab",
          "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
          "client_id": "3n4b5urk1ft4fl3mg5e62d9ado",
          "scope": "orders/write",
          "exp": "1767265200",
          "cognito:groups": "[admins ops]"
        },
        "scopes": ["orders/write"]
      }
    },
    "domainName": "k3xq9zw1ab.execute-api.eu-west-1.amazonaws.com",
    "domainPrefix": "k3xq9zw1ab",
    "http": {
      "method": "POST",
      "path": "/prod/orders/o-42",
      "protocol": "HTTP/1.1",
      "sourceIp": "198.51.100.7",
      "userAgent": "curl/8.5.0"
    },
    "requestId": "XyZ1aBcDeFgHiJk=",
    "routeKey": "POST /orders/{orderId}",
    "stage": "prod",
    "time": "01/Jan/2026:10:00:00 +0000",
    "timeEpoch": 1767261600123
  },
  "body": "{\"quantity\": 3}",
  "isBase64Encoded": false
}
"""
)


def spec_v2_example_event() -> dict[str, Any]:
    request = make_request(
        "POST",
        "/prod/orders/o-42",
        "expand=items&tag=a%20b&tag=c",
        [
            ("host", HOST),
            ("user-agent", "curl/8.5.0"),
            ("accept", "application/json"),
            ("accept", "text/plain"),
            ("authorization", "Bearer eyJraWQiOi..."),
            ("content-type", "application/json"),
            ("content-length", "15"),
            ("cookie", "session=abc123; theme=dark"),
        ],
        b'{"quantity": 3}',
    )
    route = make_route(
        request,
        stage="prod",
        route_key="POST /orders/{orderId}",
        path_parameters={"orderId": "o-42"},
        stage_variables={"backend": "blue"},
        authorizer=SPEC_V2_EXAMPLE["requestContext"]["authorizer"],
    )
    return v2_event(request, route)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param(*pair, id=pair[0])
        for pair in leaves(SPEC_V2_EXAMPLE)
        if pair[0] != "headers.x-amzn-trace-id"
    ],
)
def test_spec_v2_example_field_by_field(field: str, expected: Any) -> None:
    assert get(spec_v2_example_event(), field) == expected


def test_spec_v2_example_has_exactly_the_same_keys() -> None:
    event = spec_v2_example_event()
    assert sorted(path for path, _ in leaves(event)) == sorted(path for path, _ in leaves(SPEC_V2_EXAMPLE))
    # AWS's key order, so that a logged event reads like AWS's (headers keep the request's order).
    assert list(event) == list(SPEC_V2_EXAMPLE)
    assert list(event["requestContext"]) == list(SPEC_V2_EXAMPLE["requestContext"])
    # The gateway made the trace id: same shape as AWS's, not the example's random one.
    assert TRACE.match(event["headers"]["x-amzn-trace-id"])


# ---------------------------------------------------------------------------------------------------
# Golden: the spec's 1.0 example (§4.3). Its header maps are abbreviated (no user-agent although the identity
# has one, no forwarding headers), so those two maps are checked separately.

SPEC_V1_EXAMPLE: dict[str, Any] = orjson.loads(
    r"""
{
  "version": "1.0",
  "resource": "/pets/{id}",
  "path": "/prod/pets/John%20Doe",
  "httpMethod": "GET",
  "queryStringParameters": { "tag": "urgent" },
  "multiValueQueryStringParameters": { "tag": ["important", "urgent"] },
  "requestContext": {
    "accountId": "111122223333",
    "apiId": "k3xq9zw1ab",
    "authorizer": { "claims": null, "scopes": null },
    "domainName": "k3xq9zw1ab.execute-api.eu-west-1.amazonaws.com",
    "domainPrefix": "k3xq9zw1ab",
    "extendedRequestId": "XyZ1aBcDeFgHiJk=",
    "httpMethod": "GET",
    "identity": {
      "accessKey": null, "accountId": null, "caller": null,
      "cognitoAuthenticationProvider": null, "cognitoAuthenticationType": null,
      "cognitoIdentityId": null, "cognitoIdentityPoolId": null, "principalOrgId": null,
      "sourceIp": "198.51.100.7", "user": null, "userAgent": "curl/8.5.0", "userArn": null,
      "clientCert": null
    },
    "path": "/prod/pets/John%20Doe",
    "protocol": "HTTP/1.1",
    "requestId": "XyZ1aBcDeFgHiJk=",
    "requestTime": "01/Jan/2026:10:00:00 +0000",
    "requestTimeEpoch": 1767261600123,
    "resourceId": null,
    "resourcePath": "/pets/{id}",
    "stage": "prod"
  },
  "pathParameters": { "id": "John Doe" },
  "stageVariables": null,
  "body": null,
  "isBase64Encoded": false
}
"""
)
# The spec's identity list names `clientCert` but its example leaves it out; AWS sends it as null.


def spec_v1_example_event() -> dict[str, Any]:
    request = make_request(
        "GET",
        "/prod/pets/John%20Doe",
        "tag=important&tag=urgent",
        [("accept", "*/*"), ("host", HOST), ("user-agent", "curl/8.5.0"), ("x-multi", "1"), ("x-multi", "2")],
    )
    route = make_route(request, stage="prod", route_key="GET /pets/{id}", path_parameters={"id": "John Doe"})
    return v1_event(request, route)


@pytest.mark.parametrize(
    ("field", "expected"), [pytest.param(*pair, id=pair[0]) for pair in leaves(SPEC_V1_EXAMPLE)]
)
def test_spec_v1_example_field_by_field(field: str, expected: Any) -> None:
    assert get(spec_v1_example_event(), field) == expected


def test_spec_v1_example_headers() -> None:
    event = spec_v1_example_event()
    trace = event["headers"]["x-amzn-trace-id"]
    assert TRACE.match(trace)
    assert event["headers"] == {
        "accept": "*/*",
        "host": HOST,
        "user-agent": "curl/8.5.0",
        "x-multi": "2",
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "x-amzn-trace-id": trace,
    }
    assert event["multiValueHeaders"] == {
        "accept": ["*/*"],
        "host": [HOST],
        "user-agent": ["curl/8.5.0"],
        "x-multi": ["1", "2"],
        "x-forwarded-for": ["198.51.100.7"],
        "x-forwarded-port": ["443"],
        "x-forwarded-proto": ["https"],
        "x-amzn-trace-id": [trace],
    }
    assert list(event) == [
        "version", "resource", "path", "httpMethod", "headers", "multiValueHeaders",
        "queryStringParameters", "multiValueQueryStringParameters", "requestContext",
        "pathParameters", "stageVariables", "body", "isBase64Encoded",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Paths and stages (§2.2, §13 items 6 and 8).

# (stage, path sent, route key, 2.0 rawPath and http.path, 1.0 path and requestContext.path)
PATH_CASES = [
    ("$default", "/items", "GET /items", "/items", "/items"),
    ("prod", "/prod/items", "GET /items", "/prod/items", "/prod/items"),
    ("$default", "/users/John%20Doe", "GET /users/{name}", "/users/John Doe", "/users/John%20Doe"),
    ("prod", "/prod/users/John%20Doe", "GET /users/{name}", "/prod/users/John Doe", "/prod/users/John%20Doe"),
    (
        "$default",
        "/products/%E2%98%95%20Coffee",
        "$default",
        "/products/☕ Coffee",
        "/products/%E2%98%95%20Coffee",
    ),
    ("$default", "/items/", "$default", "/items/", "/items/"),
    ("prod", "/prod/a+b", "$default", "/prod/a+b", "/prod/a+b"),
]


@pytest.mark.parametrize(("stage", "sent", "route_key", "v2_path", "v1_path"), PATH_CASES)
def test_path_and_stage(stage: str, sent: str, route_key: str, v2_path: str, v1_path: str) -> None:
    request = make_request(raw_path=sent)
    route = make_route(request, stage=stage, route_key=route_key)

    v2 = v2_event(request, route)
    assert v2["rawPath"] == v2["requestContext"]["http"]["path"] == v2_path
    assert v2["routeKey"] == v2["requestContext"]["routeKey"] == route_key
    assert v2["requestContext"]["stage"] == stage

    v1 = v1_event(request, route)
    assert v1["path"] == v1["requestContext"]["path"] == v1_path
    assert v1["requestContext"]["stage"] == stage


@pytest.mark.parametrize(
    ("route_key", "resource"),
    [("GET /pets/{id}", "/pets/{id}"), ("ANY /{proxy+}", "/{proxy+}"), ("$default", "$default")],
)
def test_v1_resource_is_the_route_path_template(route_key: str, resource: str) -> None:
    event = v1_event(make_request(), make_route(make_request(), route_key=route_key))
    assert event["resource"] == event["requestContext"]["resourcePath"] == resource
    assert event["requestContext"]["resourceId"] is None


# ---------------------------------------------------------------------------------------------------
# Headers and cookies (§4.2, §11.2, §13 item 15).

BASE_HEADERS = [("host", HOST)]


# (request headers after host, 2.0 cookies or MISSING, 2.0 headers subset, 2.0 names that must be absent)
V2_HEADER_CASES = [
    pytest.param([], MISSING, {}, {"cookie"}, id="no cookies: key omitted"),
    pytest.param([("cookie", "a=1; b=2")], ["a=1", "b=2"], {}, {"cookie"}, id="split on ; and trimmed"),
    pytest.param([("cookie", "a=1;b=2;")], ["a=1", "b=2"], {}, {"cookie"}, id="no empty entries"),
    pytest.param(
        [("cookie", "a=1"), ("cookie", "b=2; c=3")], ["a=1", "b=2", "c=3"], {}, {"cookie"}, id="two headers"
    ),
    pytest.param([("cookie", "")], MISSING, {}, {"cookie"}, id="empty cookie header"),
    pytest.param(
        [("accept", "a"), ("accept", "b")], MISSING, {"accept": "a,b"}, set(), id="repeats joined with ,"
    ),
    pytest.param([("x-list", "a, b")], MISSING, {"x-list": "a, b"}, set(), id="a value with commas kept"),
    pytest.param([("user-agent", "ua/1")], MISSING, {"user-agent": "ua/1"}, set(), id="user agent"),
]


@pytest.mark.parametrize(("extra", "cookies", "subset", "absent"), V2_HEADER_CASES)
def test_v2_headers_and_cookies(
    extra: list[tuple[str, str]], cookies: Any, subset: dict[str, str], absent: set[str]
) -> None:
    headers = BASE_HEADERS + extra
    event = v2_event(make_request(headers=headers))
    assert get(event, "cookies") == cookies
    assert event["headers"].items() >= subset.items()
    assert not absent & set(event["headers"])
    assert headers == BASE_HEADERS + extra  # the request is left alone


def test_v2_headers_include_the_gateway_forwarding_headers() -> None:
    request = make_request(headers=[("host", HOST), ("x-forwarded-for", "203.0.113.9")])
    headers = v2_event(request)["headers"]
    assert headers["x-forwarded-for"] == "203.0.113.9, 198.51.100.7"
    assert headers["x-forwarded-port"] == "443"
    assert headers["x-forwarded-proto"] == "https"
    assert TRACE.match(headers["x-amzn-trace-id"])


def test_v1_headers_last_value_and_all_values_cookie_kept() -> None:
    request = make_request(headers=[("host", HOST), ("accept", "a"), ("accept", "b"), ("cookie", "a=1; b=2")])
    event = v1_event(request)
    assert event["headers"]["accept"] == "b"
    assert event["multiValueHeaders"]["accept"] == ["a", "b"]
    # 1.0 has no `cookies` field: the header stays.
    assert event["headers"]["cookie"] == "a=1; b=2"
    assert "cookies" not in event


@pytest.mark.parametrize(
    ("headers", "v2_user_agent", "v1_user_agent"),
    [
        ([("host", HOST), ("user-agent", "curl/8.5.0")], "curl/8.5.0", "curl/8.5.0"),
        ([("host", HOST)], "", None),
    ],
)
def test_user_agent(headers: list[tuple[str, str]], v2_user_agent: str, v1_user_agent: str | None) -> None:
    request = make_request(headers=headers)
    assert v2_event(request)["requestContext"]["http"]["userAgent"] == v2_user_agent
    assert v1_event(request)["requestContext"]["identity"]["userAgent"] == v1_user_agent


# ---------------------------------------------------------------------------------------------------
# Query strings (§4.2, §4.3, §13 item 16).

# (raw query, 2.0 queryStringParameters, 1.0 queryStringParameters, 1.0 multiValueQueryStringParameters)
QUERY_CASES = [
    pytest.param("", MISSING, None, None, id="none"),
    pytest.param("a=1", {"a": "1"}, {"a": "1"}, {"a": ["1"]}, id="one"),
    pytest.param("tag=a&tag=b", {"tag": "a,b"}, {"tag": "b"}, {"tag": ["a", "b"]}, id="repeats"),
    pytest.param("a", {"a": ""}, {"a": ""}, {"a": [""]}, id="bare name"),
    pytest.param("a=", {"a": ""}, {"a": ""}, {"a": [""]}, id="empty value"),
    pytest.param(
        "a=1&&b=2", {"a": "1", "b": "2"}, {"a": "1", "b": "2"}, {"a": ["1"], "b": ["2"]}, id="empty piece"
    ),
    pytest.param("&", MISSING, None, None, id="only separators"),
    pytest.param(
        "q=Hello%20World&tag=C%23%20Programming&tag=.NET%20Core",
        {"q": "Hello World", "tag": "C# Programming,.NET Core"},
        {"q": "Hello World", "tag": ".NET Core"},
        {"q": ["Hello World"], "tag": ["C# Programming", ".NET Core"]},
        id="spec capture",
    ),
    pytest.param(
        "sort=-+createdAt",
        {"sort": "- createdAt"},
        {"sort": "- createdAt"},
        {"sort": ["- createdAt"]},
        id="plus",
    ),
    pytest.param("a%2Bb=c%3Dd", {"a+b": "c=d"}, {"a+b": "c=d"}, {"a+b": ["c=d"]}, id="encoded names"),
    pytest.param("x=a=b", {"x": "a=b"}, {"x": "a=b"}, {"x": ["a=b"]}, id="= in value"),
]


@pytest.mark.parametrize(("raw", "v2_params", "v1_params", "v1_multi"), QUERY_CASES)
def test_query_string(raw: str, v2_params: Any, v1_params: Any, v1_multi: Any) -> None:
    request = make_request(raw_query=raw)
    v2 = v2_event(request)
    assert v2["rawQueryString"] == raw  # still encoded, exactly as sent
    assert get(v2, "queryStringParameters") == v2_params
    v1 = v1_event(request)
    assert v1["queryStringParameters"] == v1_params
    assert v1["multiValueQueryStringParameters"] == v1_multi


@given(st.text(alphabet="ab=&+%2F0 é;", max_size=30))
def test_query_parsing_matches_parse_qsl(raw: str) -> None:
    assert parse_query_string(raw) == parse_qsl(raw, keep_blank_values=True)


# ---------------------------------------------------------------------------------------------------
# Path parameters, stage variables, authorizer: omitted in 2.0, null in 1.0 (§13 item 24).


@pytest.mark.parametrize(
    ("path_parameters", "stage_variables"),
    [({}, {}), ({"proxy": "hello/world"}, {}), ({}, {"backend": "blue"}), ({"id": "John Doe"}, {"a": "1"})],
)
def test_path_parameters_and_stage_variables(
    path_parameters: dict[str, str], stage_variables: dict[str, str]
) -> None:
    request = make_request()
    route = make_route(request, path_parameters=path_parameters, stage_variables=stage_variables)
    v2 = v2_event(request, route)
    assert get(v2, "pathParameters") == (path_parameters or MISSING)
    assert get(v2, "stageVariables") == (stage_variables or MISSING)
    v1 = v1_event(request, route)
    assert v1["pathParameters"] == (path_parameters or None)
    assert v1["stageVariables"] == (stage_variables or None)


JWT_V2 = {"jwt": {"claims": {"sub": "u1"}, "scopes": None}}
JWT_V1 = {"claims": {"sub": "u1"}, "scopes": None}


@pytest.mark.parametrize(
    ("authorizer", "v2_expected", "v1_expected"),
    [
        (None, MISSING, {"claims": None, "scopes": None}),
        (JWT_V2, JWT_V2, JWT_V2),  # put as given: the caller shapes it for the payload version
        (JWT_V1, JWT_V1, JWT_V1),
    ],
)
def test_authorizer(authorizer: dict[str, Any] | None, v2_expected: Any, v1_expected: Any) -> None:
    request = make_request()
    route = make_route(request, authorizer=authorizer)
    assert get(v2_event(request, route), "requestContext.authorizer") == v2_expected
    assert v1_event(request, route)["requestContext"]["authorizer"] == v1_expected


# ---------------------------------------------------------------------------------------------------
# Bodies (§4.2 isBase64Encoded rule, §13 item 7).

BINARY = bytes(range(256))

# (content type or None, body, text expected)
BODY_CASES = [
    pytest.param("text/plain", b"hello", True, id="text/plain"),
    pytest.param("text/html; charset=utf-8", "héllo".encode(), True, id="text/html with charset"),
    pytest.param("text/csv", b"a,b", True, id="any text/*"),
    pytest.param("application/json", b'{"a": 1}', True, id="json"),
    pytest.param("Application/JSON; charset=UTF-8", b"{}", True, id="json, case and parameters ignored"),
    pytest.param("application/xml", b"<a/>", True, id="xml"),
    pytest.param("application/javascript", b"f()", True, id="javascript"),
    pytest.param(None, b"hello", False, id="no content type"),
    pytest.param("", b"hello", False, id="empty content type"),
    pytest.param("application/x-www-form-urlencoded", b"a=1", False, id="form"),
    pytest.param("application/octet-stream", BINARY, False, id="octet-stream"),
    pytest.param("image/png", BINARY, False, id="image"),
    pytest.param("application/vnd.api+json", b"{}", False, id="+json suffix is not in AWS's list"),
    pytest.param("multipart/form-data; boundary=x", b"--x--", False, id="multipart"),
    pytest.param("text/plain", b"\xff\xfe", False, id="text that is not UTF-8 goes base64"),
]


@pytest.mark.parametrize(("content_type", "body", "as_text"), BODY_CASES)
@pytest.mark.parametrize("builder", [v2_event, v1_event], ids=["2.0", "1.0"])
def test_body(builder: Any, content_type: str | None, body: bytes, as_text: bool) -> None:
    headers = [("host", HOST)] + ([("content-type", content_type)] if content_type is not None else [])
    event = builder(make_request("POST", headers=headers, body=body))
    assert event["isBase64Encoded"] is not as_text
    assert event["body"] == (body.decode() if as_text else base64.b64encode(body).decode())


@pytest.mark.parametrize(
    ("content_type", "v2_flag"),
    [(None, True), ("application/json", False), ("application/octet-stream", True)],
)
def test_no_body(content_type: str | None, v2_flag: bool) -> None:
    headers = [("host", HOST)] + ([("content-type", content_type)] if content_type else [])
    request = make_request(headers=headers)
    v2 = v2_event(request)
    assert "body" not in v2
    # AWS's own sample: a body-less GET without Content-Type says isBase64Encoded true.
    assert v2["isBase64Encoded"] is v2_flag
    v1 = v1_event(request)
    assert v1["body"] is None
    assert v1["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [("text/plain", True), (" TEXT/X-Custom ;q=1", True), ("application/jsonx", False), (None, False)],
)
def test_is_text_content_type(content_type: str | None, expected: bool) -> None:
    assert is_text_content_type(content_type) is expected


# ---------------------------------------------------------------------------------------------------
# Request context details.


@pytest.mark.parametrize(
    ("domain_name", "host", "expected_name", "expected_prefix"),
    [
        ("", HOST, HOST, API_ID),
        ("api.example.com", HOST, "api.example.com", "api"),
        ("", "localhost", "localhost", "localhost"),
        ("", "", "", ""),
    ],
)
def test_domain_name_and_prefix(
    domain_name: str, host: str, expected_name: str, expected_prefix: str
) -> None:
    request = make_request(host=host)
    route = make_route(request, domain_name=domain_name)
    for event in (v2_event(request, route), v1_event(request, route)):
        assert event["requestContext"]["domainName"] == expected_name
        assert event["requestContext"]["domainPrefix"] == expected_prefix


def test_request_context_time_ids_and_client() -> None:
    request = make_request(
        "DELETE", source_ip="203.0.113.5", time_epoch_ms=1584039838000, request_id="JCIndgObPHcEJVQ="
    )
    v2 = v2_event(request, make_route(request, route_key="ANY /{proxy+}"))["requestContext"]
    assert v2["time"] == "12/Mar/2020:19:03:58 +0000"
    assert v2["timeEpoch"] == 1584039838000
    assert v2["requestId"] == "JCIndgObPHcEJVQ="
    assert v2["http"]["method"] == "DELETE"  # the client's method, never ANY
    assert v2["http"]["sourceIp"] == "203.0.113.5"
    assert v2["http"]["protocol"] == "HTTP/1.1"

    v1 = v1_event(request, make_route(request, route_key="ANY /{proxy+}"))
    assert v1["httpMethod"] == v1["requestContext"]["httpMethod"] == "DELETE"
    context = v1["requestContext"]
    assert context["requestTime"] == "12/Mar/2020:19:03:58 +0000"
    assert context["requestTimeEpoch"] == 1584039838000
    assert context["requestId"] == context["extendedRequestId"] == "JCIndgObPHcEJVQ="
    assert context["identity"]["sourceIp"] == "203.0.113.5"


@pytest.mark.parametrize(
    ("epoch_ms", "expected"),
    [
        (0, "01/Jan/1970:00:00:00 +0000"),
        (1584039838999, "12/Mar/2020:19:03:58 +0000"),
        (calendar.timegm((2024, 2, 29, 23, 59, 59)) * 1000, "29/Feb/2024:23:59:59 +0000"),
        (calendar.timegm((2025, 12, 31, 8, 5, 9)) * 1000 + 500, "31/Dec/2025:08:05:09 +0000"),
    ],
)
def test_clf_time(epoch_ms: int, expected: str) -> None:
    assert clf_time(epoch_ms) == expected
    assert clf_time(epoch_ms) == expected  # from the one-second cache


@pytest.mark.parametrize("build", [spec_v2_example_event, spec_v1_example_event], ids=["2.0", "1.0"])
def test_encode_event_is_the_json_of_the_event(build: Any) -> None:
    event = build()
    assert orjson.loads(encode_event(event)) == event
