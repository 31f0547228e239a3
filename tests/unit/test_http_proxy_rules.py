"""HTTP_PROXY URL and header rules (spec §2.2, §2.3, §4.5, §11), with AWS's own examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stageway.core.context_vars import ContextVariables
from stageway.core.forwarding import with_forwarding_headers
from stageway.core.http import IncomingRequest
from stageway.core.http_proxy import (
    BackendUrl,
    BadBackendUrl,
    backend_request_headers,
    backend_response_headers,
    compile_uri_template,
    direct_backend_headers,
    parse_backend_url,
)
from stageway.core.mapping import compile_request_parameters

# fmt: off
# (integration URI, greedy parameters, path parameters, stage variables, append_path, raw query, backend URL)
URL_CASES = [
    pytest.param(
        "https://backend/pets/extendedpath/{petID}", (), {"petID": "42"}, {}, None, "",
        "https://backend/pets/extendedpath/42",
        id="aws-example-path-variable",
    ),
    pytest.param(
        "https://petstore-demo-endpoint.execute-api.com/petstore/{proxy}", ("proxy",), {"proxy": "pets/1/toys"},
        {}, None, "",
        "https://petstore-demo-endpoint.execute-api.com/petstore/pets/1/toys",
        id="aws-example-greedy-keeps-slashes",
    ),
    pytest.param(
        "https://backend/petstore/{proxy+}", (), {"proxy": "a/b"}, {}, None, "",
        "https://backend/petstore/a/b",
        id="greedy-spelled-in-uri",
    ),
    pytest.param(
        "https://backend/files/{proxy}", ("proxy",), {"proxy": "my docs/ä/100%"}, {}, None, "",
        "https://backend/files/my%20docs/%C3%A4/100%25",
        id="greedy-value-re-encoded",
    ),
    pytest.param(
        "https://backend/users/{name}", (), {"name": "John Doe/x?y#z"}, {}, None, "",
        "https://backend/users/John%20Doe%2Fx%3Fy%23z",
        id="single-segment-value-fully-encoded",
    ),
    pytest.param(
        "https://backend/users/{name}/{missing}", (), {"name": "a"}, {}, None, "",
        "https://backend/users/a/",
        id="unknown-variable-renders-empty",
    ),
    pytest.param(
        "https://petstore-demo-endpoint.execute-api.com", (), {}, {}, "/store/checkout", "",
        "https://petstore-demo-endpoint.execute-api.com/store/checkout",
        id="aws-example-default-route-full-path",
    ),
    pytest.param(
        "https://backend", (), {}, {}, "/staging/this-route", "",
        "https://backend/staging/this-route",
        id="default-route-named-stage-prefix-kept",
    ),
    pytest.param(
        "https://backend/base/", (), {}, {}, "/a%20b/c", "x=1",
        "https://backend/base/a%20b/c?x=1",
        id="default-route-appends-encoded-path-to-uri-path",
    ),
    pytest.param(
        "https://backend/base?fixed=1", (), {}, {}, "/items", "q=a%2Cb&q=c",
        "https://backend/base/items?fixed=1&q=a%2Cb&q=c",
        id="default-route-uri-query-kept-client-query-appended",
    ),
    pytest.param(
        "https://backend/", (), {}, {}, "/", "",
        "https://backend/",
        id="default-route-root",
    ),
    pytest.param(
        "http://backend:8080/fixed/path", (), {"id": "7"}, {}, None, "",
        "http://backend:8080/fixed/path",
        id="no-placeholders-used-as-is",
    ),
    pytest.param(
        "http://backend/fixed", (), {}, {}, None, "a=1&b=%20&c",
        "http://backend/fixed?a=1&b=%20&c",
        id="query-passed-unchanged",
    ),
    pytest.param(
        "http://backend/fixed?x=1", (), {}, {}, None, "a=1",
        "http://backend/fixed?x=1&a=1",
        id="query-joined-with-ampersand",
    ),
    pytest.param(
        "http://${stageVariables.url}", (), {}, {"url": "example.com:9000/api"}, "/pets", "",
        "http://example.com:9000/api/pets",
        id="stage-variable-whole-host-then-default-path",
    ),
    pytest.param(
        "http://${stageVariables.sub}.example.com/x", (), {}, {"sub": "beta"}, None, "",
        "http://beta.example.com/x",
        id="stage-variable-in-host",
    ),
    pytest.param(
        "http://example.com/${stageVariables.p}/bar/{id}", (), {"id": "9"}, {"p": "v2"}, None, "",
        "http://example.com/v2/bar/9",
        id="stage-variable-in-path",
    ),
    pytest.param(
        "http://example.com/foo?q=${stageVariables.q}", (), {}, {"q": "blue"}, None, "page=2",
        "http://example.com/foo?q=blue&page=2",
        id="stage-variable-in-query",
    ),
    pytest.param(
        "http://example.com/foo?id={proxy}", ("proxy",), {"proxy": "a/b&c"}, {}, None, "",
        "http://example.com/foo?id=a%2Fb%26c",
        id="variable-in-uri-query-fully-encoded",
    ),
    pytest.param(
        "https://backend/petstore/{proxy}", ("proxy",), {"proxy": "a/../../admin/./x.txt"}, {}, None, "",
        "https://backend/petstore/a/%2E%2E/%2E%2E/admin/%2E/x.txt",
        id="greedy-dot-segments-escaped",
    ),
    pytest.param(
        "https://backend/users/{name}/x", (), {"name": ".."}, {}, None, "",
        "https://backend/users/%2E%2E/x",
        id="single-segment-dot-segment-escaped",
    ),
    pytest.param(
        "https://backend/base", (), {}, {}, "/a/../../admin/.hidden", "",
        "https://backend/base/a/%2E%2E/%2E%2E/admin/.hidden",
        id="default-route-dot-segments-escaped",
    ),
    pytest.param(
        "http://example.com/${stageVariables.missing}x", (), {}, {}, None, "",
        "http://example.com/x",
        id="missing-stage-variable-renders-empty",
    ),
]
# fmt: on


@pytest.mark.parametrize(
    ("uri", "greedy", "path_parameters", "stage_variables", "append_path", "raw_query", "expected"), URL_CASES
)
def test_backend_url(
    uri: str,
    greedy: tuple[str, ...],
    path_parameters: dict[str, str],
    stage_variables: dict[str, str],
    append_path: str | None,
    raw_query: str,
    expected: str,
) -> None:
    template = compile_uri_template(uri, greedy_parameters=greedy)
    rendered = template.render(path_parameters, stage_variables, append_path=append_path, raw_query=raw_query)
    assert rendered == expected


def test_template_without_placeholders_is_static() -> None:
    template = compile_uri_template("http://backend/fixed")
    assert template.static == "http://backend/fixed"
    assert compile_uri_template("http://backend/{id}").static is None


def test_fragment_is_never_sent() -> None:
    template = compile_uri_template("http://backend/base#frag")
    assert template.render({}, {}, append_path="/x", raw_query="a=1") == "http://backend/base/x?a=1"
    assert parse_backend_url("http://backend/base#frag").target == "/base"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://backend", BackendUrl("http", "backend", 80, "backend", "/")),
        ("http://Backend:80/a?b=1", BackendUrl("http", "backend", 80, "backend", "/a?b=1")),
        ("https://api.example.com/x", BackendUrl("https", "api.example.com", 443, "api.example.com", "/x")),
        ("https://h:8443?q", BackendUrl("https", "h", 8443, "h:8443", "/?q")),
        ("http://[::1]:9000/p", BackendUrl("http", "::1", 9000, "[::1]:9000", "/p")),
        ("http://h/a b/ä", BackendUrl("http", "h", 80, "h", "/a%20b/%C3%A4")),
    ],
)
def test_parse_backend_url(url: str, expected: BackendUrl) -> None:
    assert parse_backend_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["ftp://h/x", "backend/x", "http:///x", "http://h:99999/", "http://h:x/", "http://u:p@h/", "http://"],
)
def test_bad_backend_urls(url: str) -> None:
    with pytest.raises(BadBackendUrl):
        parse_backend_url(url)


CLIENT_HEADERS = [
    ("host", "api.example.com"),
    ("user-agent", "curl/8"),
    ("connection", "keep-alive, x-hop"),
    ("keep-alive", "timeout=5"),
    ("x-hop", "drop me"),
    ("te", "trailers"),
    ("trailer", "x"),
    ("transfer-encoding", "chunked"),
    ("upgrade", "websocket"),
    ("proxy-authorization", "Basic eA=="),
    ("proxy-connection", "keep-alive"),
    ("content-length", "5"),
    ("expect", "100-continue"),
    ("cookie", "a=1"),
    ("cookie", "b=2"),
    ("x-forwarded-for", "10.0.0.1"),
    ("x-forwarded-port", "443"),
    ("x-forwarded-proto", "https"),
    ("x-amzn-trace-id", "Root=1-abc"),
]


def test_request_headers_drop_hop_by_hop_and_rewrite_host() -> None:
    headers = backend_request_headers(
        CLIENT_HEADERS,
        backend_host="backend.internal:8080",
        original_host="api.example.com",
        client_ip="203.0.113.9",
        scheme="https",
    )
    assert headers == [
        ("host", "backend.internal:8080"),
        ("user-agent", "curl/8"),
        ("cookie", "a=1"),
        ("cookie", "b=2"),
        ("x-forwarded-for", "10.0.0.1"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
        ("x-amzn-trace-id", "Root=1-abc"),
        ("forwarded", "for=203.0.113.9;host=api.example.com;proto=https"),
        ("via", "HTTP/1.1 AmazonAPIGateway"),
    ]


def test_forwarded_with_by_and_quoted_values() -> None:
    headers = dict(
        backend_request_headers(
            [],
            backend_host="b",
            original_host="api.example.com:8080",
            client_ip="2001:db8::1",
            scheme="http",
            by="10.1.2.3",
        )
    )
    assert headers["forwarded"] == 'by=10.1.2.3;for="[2001:db8::1]";host="api.example.com:8080";proto=http'


def test_client_forwarded_and_via_are_extended() -> None:
    headers = dict(
        backend_request_headers(
            [("forwarded", "for=198.51.100.1"), ("via", "1.1 cdn")],
            backend_host="b",
            original_host="h",
            client_ip="203.0.113.9",
            scheme="https",
        )
    )
    assert headers["forwarded"] == "for=198.51.100.1, for=203.0.113.9;host=h;proto=https"
    assert headers["via"] == "1.1 cdn, HTTP/1.1 AmazonAPIGateway"


def test_response_headers_pass_through_except_hop_by_hop_and_gateway_owned() -> None:
    headers = backend_response_headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", "12"),
            ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"),
            ("Server", "nginx"),
            ("Connection", "keep-alive, X-Internal"),
            ("X-Internal", "secret"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Set-Cookie", "a=1; Path=/"),
            ("Set-Cookie", "b=2"),
            ("Content-Encoding", "gzip"),
            ("apigw-requestid", "from-backend"),
            ("X-Custom", "1"),
        ]
    )
    assert headers == [
        ("content-type", "application/json"),
        ("server", "nginx"),
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2"),
        ("content-encoding", "gzip"),
        ("x-custom", "1"),
    ]


_HEADER_NAMES = [
    "host", "accept", "user-agent", "origin", "content-type", "content-length", "expect", "x-forwarded-for",
    "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id", "forwarded", "via", "connection", "keep-alive",
    "te", "upgrade", "x-custom", "cookie",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), st.sampled_from(["a", "b, c", "x-custom", "1.2.3.4"])),
             max_size=8),
    st.sampled_from(["http", "https"]),
)
def test_the_one_pass_headers_are_the_two_steps_headers(headers: list[tuple[str, str]], scheme: str) -> None:
    request = IncomingRequest("GET", "/p", "", headers, b"", "198.51.100.7", "rid", 1767261600123,
                              "api.example.com", scheme=scheme, server_port=8443)
    direct = direct_backend_headers(request, backend_host="backend:8080")
    two_steps = backend_request_headers(
        with_forwarding_headers(request), backend_host="backend:8080", original_host=request.host,
        client_ip=request.source_ip, scheme=scheme,
    )

    def without_new_trace_ids(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        # A trace id the gateway makes is random; one the client sent is passed on and must match.
        sent = any(name == "x-amzn-trace-id" for name, _ in headers)
        return [(n, "T" if n == "x-amzn-trace-id" and not sent else v) for n, v in pairs]

    assert without_new_trace_ids(direct) == without_new_trace_ids(two_steps)


_EDITABLE = ["accept", "x-custom", "x-forwarded-port", "user-agent", "x-request-id"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), st.sampled_from(["a", "b, c", "1.2.3.4"])), max_size=6),
    st.dictionaries(
        st.tuples(st.sampled_from(["append", "overwrite", "remove"]), st.sampled_from(_EDITABLE)).map(
            lambda key: f"{key[0]}:header.{key[1]}"
        ),
        st.sampled_from(["static", "$request.header.accept", "$context.requestId", "x-${request.header.via}"]),
        max_size=4,
    ),
)
def test_a_mapped_request_gets_the_same_headers_either_way(
    headers: list[tuple[str, str]], parameters: dict[str, str]
) -> None:
    parameters = {key: "''" if key.startswith("remove:") else value for key, value in parameters.items()}
    mapping = compile_request_parameters(parameters, integration_type="HTTP_PROXY")
    assert not mapping.edits_backend_set_headers
    request = IncomingRequest("GET", "/p", "", headers, b"", "198.51.100.7", "rid", 1767261600123,
                              "api.example.com", server_port=8443)
    context = ContextVariables(request, None)
    edit = mapping.apply(context, None).edit_headers
    direct = direct_backend_headers(request, backend_host="backend:8080", edit=edit)
    mapped = mapping.apply(context, with_forwarding_headers(request)).headers
    assert mapped is not None
    two_steps = backend_request_headers(
        mapped, backend_host="backend:8080", original_host=request.host, client_ip=request.source_ip, scheme="http"
    )
    sent_trace = any(name == "x-amzn-trace-id" for name, _ in headers)
    assert [(n, "T" if n == "x-amzn-trace-id" and not sent_trace else v) for n, v in direct] == [
        (n, "T" if n == "x-amzn-trace-id" and not sent_trace else v) for n, v in two_steps
    ]


def test_a_mapping_of_a_header_the_gateway_sets_is_flagged() -> None:
    for key in ("append:header.proxy-connection", "overwrite:header.host", "remove:header.expect"):
        value = "''" if key.startswith("remove:") else "x"
        mapping = compile_request_parameters({key: value}, integration_type="HTTP_PROXY")
        assert mapping.edits_backend_set_headers, key
