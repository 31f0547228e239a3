"""CORS against spec §6, §13 item 12 and AWS's http-api-cors page."""

from __future__ import annotations

from typing import Any

import pytest

from stageway.core.cors import CorsPolicy, compile_cors
from stageway.core.validation import ValidationError

# The configuration the AWS page's table describes, one example value per property.
DOCS_EXAMPLE: dict[str, Any] = {
    "allowOrigins": ["https://www.example.com"],
    "allowCredentials": True,
    "exposeHeaders": ["date", "x-api-id"],
    "maxAge": 300,
    "allowMethods": ["GET", "POST", "DELETE"],
    "allowHeaders": ["authorization", "content-type"],
}


def preflight_headers(
    origin: str | None = "https://www.example.com", method: str | None = "POST", headers: str | None = None
) -> list[tuple[str, str]]:
    out = [("host", "api.example.com")]
    if origin is not None:
        out.append(("origin", origin))
    if method is not None:
        out.append(("access-control-request-method", method))
    if headers is not None:
        out.append(("access-control-request-headers", headers))
    return out


def test_preflight_of_the_docs_example() -> None:
    response = compile_cors(DOCS_EXAMPLE).preflight("OPTIONS", preflight_headers(headers="Authorization"))
    assert response is not None
    assert response.status == 204
    assert response.body == b""
    assert response.headers == [
        ("access-control-allow-origin", "https://www.example.com"),
        ("vary", "Origin"),
        ("access-control-allow-methods", "GET,POST,DELETE"),
        ("access-control-allow-headers", "authorization,content-type"),
        ("access-control-max-age", "300"),
        ("access-control-allow-credentials", "true"),
    ]


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", preflight_headers()),
        ("POST", preflight_headers()),
        # AWS: "For the OPTIONS method, your request must contain an origin header and an
        # Access-Control-Request-Method header." Otherwise it is an ordinary request for the routes.
        ("OPTIONS", preflight_headers(origin=None)),
        ("OPTIONS", preflight_headers(method=None)),
        ("OPTIONS", [("host", "api.example.com")]),
    ],
)
def test_requests_that_are_not_preflights(method: str, headers: list[tuple[str, str]]) -> None:
    assert compile_cors(DOCS_EXAMPLE).preflight(method, headers) is None


@pytest.mark.parametrize(
    "headers",
    [
        preflight_headers(origin="https://evil.example.net"),
        preflight_headers(origin="http://www.example.com"),  # another scheme is another origin
        preflight_headers(origin="https://www.example.com:8443"),
        preflight_headers(method="PATCH"),
        preflight_headers(headers="authorization, x-custom"),
    ],
)
def test_preflights_that_are_not_allowed_get_204_without_cors_headers(headers: list[tuple[str, str]]) -> None:
    # Spec §13 item 12: 204, no CORS headers, never 403: the browser refuses the call itself.
    response = compile_cors(DOCS_EXAMPLE).preflight("OPTIONS", headers)
    assert response is not None
    assert (response.status, response.headers, response.body) == (204, [], b"")


def test_origin_and_method_compare_like_browsers_send_them() -> None:
    policy = compile_cors({"allowOrigins": ["HTTPS://WWW.Example.com"], "allowMethods": ["post"]})
    response = policy.preflight("OPTIONS", preflight_headers(origin="https://www.example.com", method="POST"))
    assert response is not None
    assert ("access-control-allow-origin", "https://www.example.com") in response.headers


def test_wildcards_without_credentials() -> None:
    policy = compile_cors({"allowOrigins": ["*"], "allowMethods": ["*"], "allowHeaders": ["*"]})
    response = policy.preflight(
        "OPTIONS", preflight_headers(origin="https://anything.test", method="PUT", headers="x-a, x-b")
    )
    assert response is not None
    # A shared answer for every origin: no Vary needed.
    assert response.headers == [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "*"),
        ("access-control-allow-headers", "*"),
    ]


def test_wildcard_methods_and_headers_with_credentials_name_what_was_asked() -> None:
    # With credentials a browser takes `*` literally, so the requested method and headers are named.
    policy = compile_cors(
        {
            "allowOrigins": ["https://*"],
            "allowMethods": ["*"],
            "allowHeaders": ["*"],
            "allowCredentials": True,
        }
    )
    response = policy.preflight(
        "OPTIONS", preflight_headers(origin="https://app.test", method="PUT", headers="X-A, x-b")
    )
    assert response is not None
    assert response.headers == [
        ("access-control-allow-origin", "https://app.test"),
        ("vary", "Origin"),
        ("access-control-allow-methods", "PUT"),
        ("access-control-allow-headers", "X-A,x-b"),
        ("access-control-allow-credentials", "true"),
    ]


@pytest.mark.parametrize(
    ("method", "headers", "allowed"),
    [
        ("POST", "content-type", True),  # GET, HEAD and POST need no Access-Control-Allow-Methods
        ("GET", None, True),
        ("PUT", "content-type", False),
        ("POST", "x-custom", False),
    ],
)
def test_preflight_with_few_settings(method: str, headers: str | None, allowed: bool) -> None:
    policy = compile_cors({"allowOrigins": ["https://app.test"], "allowHeaders": ["Content-Type"]})
    response = policy.preflight("OPTIONS", preflight_headers("https://app.test", method, headers))
    assert response is not None
    expected = [
        ("access-control-allow-origin", "https://app.test"),
        ("vary", "Origin"),
        ("access-control-allow-headers", "Content-Type"),
    ]
    assert response.headers == (expected if allowed else [])


@pytest.mark.parametrize(
    ("origins", "origin", "allowed"),
    [
        (["*"], "https://any.test", "*"),
        (["*"], "null", "*"),
        (["https://www.example.com"], "https://www.example.com", "https://www.example.com"),
        (["https://www.example.com"], "https://www.example.com.evil.test", None),
        (["http://localhost:3000"], "http://localhost:3000", "http://localhost:3000"),
        (["http://localhost:3000"], "http://localhost:3001", None),
        # AWS: "https://* (allow any origin that begins with https://)".
        (["https://*"], "https://a.test", "https://a.test"),
        (["https://*"], "https://a.test:8443", "https://a.test:8443"),
        (["https://*"], "http://a.test", None),
        (["http://*"], "http://localhost:5173", "http://localhost:5173"),
        # Subdomain wildcards [INF]: any subdomain, not the domain itself.
        (["https://*.example.com"], "https://app.example.com", "https://app.example.com"),
        (["https://*.example.com"], "https://a.b.example.com", "https://a.b.example.com"),
        (["https://*.example.com"], "https://example.com", None),
        (["https://*.example.com"], "https://evilexample.com", None),
        (["https://*.example.com"], "https://app.example.com:444", None),
        (["https://*.example.com:444"], "https://app.example.com:444", "https://app.example.com:444"),
        (["capacitor://localhost"], "capacitor://localhost", "capacitor://localhost"),
        (["https://a.test", "https://b.test"], "https://b.test", "https://b.test"),
    ],
)
def test_origin_matching(origins: list[str], origin: str, allowed: str | None) -> None:
    assert compile_cors({"allowOrigins": origins}).allowed_origin(origin) == allowed


def test_actual_response_headers() -> None:
    policy = compile_cors(DOCS_EXAMPLE)
    expected = (
        ("access-control-allow-origin", "https://www.example.com"),
        ("vary", "Origin"),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "date,x-api-id"),
    )
    assert policy.response_headers("https://www.example.com") == expected
    assert policy.response_headers("https://www.example.com") == expected  # from the per-origin cache
    # AWS: "To return CORS headers, your request must contain an origin header."
    assert policy.response_headers(None) == ()
    assert policy.response_headers("") == ()
    assert policy.response_headers("https://evil.test") == ()


def test_actual_response_headers_as_lines() -> None:
    policy = compile_cors(DOCS_EXAMPLE)
    expected = (
        b"access-control-allow-origin: https://www.example.com\r\nvary: Origin\r\n"
        b"access-control-allow-credentials: true\r\naccess-control-expose-headers: date,x-api-id\r\n"
    )
    assert policy.response_lines("https://www.example.com") == expected
    assert policy.response_lines("https://www.example.com") == expected  # from the per-origin cache
    assert policy.response_lines("https://evil.test") == b""
    assert policy.response_lines("") == b""
    # An allowed origin that latin-1 cannot carry: left to the listener's encoder.
    assert compile_cors({"allowOrigins": ["https://*"]}).response_lines("https://\u4f8b.jp") is None


def test_actual_response_headers_for_any_origin() -> None:
    # A live capture of an HTTP API with allowOrigins ["*"]: `Access-Control-Allow-Origin: *`, no Vary.
    policy = compile_cors({"allowOrigins": ["*"]})
    assert policy.response_headers("https://example.com") == (("access-control-allow-origin", "*"),)


def test_backend_cors_headers_are_dropped() -> None:
    headers = [
        ("content-type", "application/json"),
        ("Access-Control-Allow-Origin", "*"),
        ("access-control-expose-headers", "x"),
        ("vary", "accept-encoding"),
    ]
    assert CorsPolicy.strip_backend_headers(headers) == [
        ("content-type", "application/json"),
        ("vary", "accept-encoding"),
    ]


def test_max_age_minus_one_is_sent_as_configured() -> None:
    policy = compile_cors({"allowOrigins": ["*"], "allowMethods": ["GET"], "maxAge": -1})
    response = policy.preflight("OPTIONS", preflight_headers(origin="https://a.test", method="GET"))
    assert response is not None
    assert ("access-control-max-age", "-1") in response.headers


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"allowOrigins": ["*"], "allowCredentials": True},
            "allow-credentials is not supported if 'allow-origin' is *",
        ),
        ({"allowOrigins": ["https://www.example.com/"]}, "Invalid origin"),
        ({"allowOrigins": ["https://www.example.com/app"]}, "Invalid origin"),
        ({"allowOrigins": ["www.example.com"]}, "Invalid origin"),
        ({"allowOrigins": ["https://www.example.com?x=1"]}, "Invalid origin"),
        ({"allowOrigins": ["https://user@www.example.com"]}, "Invalid origin"),
        ({"allowOrigins": ["https://www.*.com"]}, "Invalid origin"),
        ({"allowOrigins": ["https://www.example.com:99999"]}, "Invalid port"),
        ({"allowOrigins": ["*"], "maxAge": 86401}, "maxAge must be a whole number"),
        ({"allowOrigins": "*"}, "allowOrigins must be a list of strings"),
        ({"allowOrigins": ["*"], "allowMethods": ["G" * 65]}, "1 to 64 characters"),
    ],
)
def test_configurations_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("*", r"\*").replace("?", r"\?")) as raised:
        compile_cors(config)
    assert raised.value.field[0] == "corsConfiguration"
