"""Parameter mapping against spec §5 and AWS's http-api-parameter-mapping page (its examples first)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stageway.core import mapping as mapping_module
from stageway.core.context_vars import ContextVariables, RequestFacts
from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.mapping import (
    MAX_JSONPATH_BODY_BYTES,
    MappingResult,
    compile_request_parameters,
    compile_response_parameters,
    compile_value,
    is_reserved_header,
)
from stageway.core.validation import ValidationError

REQUEST_ID = "JCIndgObPHcEJVQ="


def make_context(
    headers: list[tuple[str, str]] | None = None,
    raw_query: str = "",
    body: bytes = b"",
    path_parameters: dict[str, str] | None = None,
    stage_variables: dict[str, str] | None = None,
    authorizer: dict[str, str] | None = None,
) -> ContextVariables:
    request = IncomingRequest(
        method="POST",
        raw_path="/prod/pets/dog/7",
        raw_query=raw_query,
        headers=headers if headers is not None else [],
        body=body,
        source_ip="203.0.113.9",
        request_id=REQUEST_ID,
        time_epoch_ms=1767261600123,
        host="api.example.com",
    )
    route = RouteContext(
        api_id="k3xq9zw1ab",
        account_id="123456789012",
        region="eu-west-1",
        stage="prod",
        route_key="POST /pets/{kind}/{id}",
        path_parameters=path_parameters if path_parameters is not None else {"kind": "dog", "id": "7"},
        stage_variables=stage_variables if stage_variables is not None else {"environmentId": "staging"},
        stage_raw_path="/prod/pets/dog/7",
        route_raw_path="/pets/dog/7",
        domain_name="api.example.com",
    )
    return ContextVariables(request, route, RequestFacts(authorizer=authorizer or {}))


def apply(
    params: dict[str, str], context: ContextVariables, integration_type: str = "HTTP_PROXY"
) -> MappingResult:
    mapping = compile_request_parameters(params, integration_type=integration_type)
    return mapping.apply(context, list(context.request.headers))


# --------------------------------------------------------------------------------------------------
# AWS's examples


def test_add_a_header_with_the_request_id() -> None:
    # `--request-parameters '{ "append:header.header1": "$context.requestId" }'`
    result = apply({"append:header.header1": "$context.requestId"}, make_context([("accept", "*/*")]))
    assert result.headers == [("accept", "*/*"), ("header1", REQUEST_ID)]
    assert result.path is None


def test_rename_a_request_header() -> None:
    # `{ "append:header.header2": "$request.header.header1", "remove:header.header1": "''" }`
    context = make_context([("header1", "value1"), ("accept", "*/*")])
    result = apply(
        {"append:header.header2": "$request.header.header1", "remove:header.header1": "''"}, context
    )
    assert result.headers == [("accept", "*/*"), ("header2", "value1")]


def test_change_the_response_from_an_integration() -> None:
    # `{"500": {"append:header.header1": "$context.requestId", "overwrite:statuscode": "403"},
    #   "404": {"append:header.error": "$stageVariables.environmentId"}}`
    mapping = compile_response_parameters(
        {
            "500": {"append:header.header1": "$context.requestId", "overwrite:statuscode": "403"},
            "404": {"append:header.error": "$stageVariables.environmentId"},
        }
    )
    context = make_context()
    headers = [("content-type", "application/json")]
    assert mapping.apply(500, headers, b"{}", context) == (
        403,
        [("content-type", "application/json"), ("header1", REQUEST_ID)],
    )
    assert mapping.apply(404, headers, b"", context) == (
        404,
        [("content-type", "application/json"), ("error", "staging")],
    )
    assert mapping.apply(200, headers, b"", context) == (200, headers)
    assert mapping.statuses == {404, 500}


# --------------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Header names are case-insensitive; repeated values are joined with commas (AWS's words).
        ("$request.header.X-Multi", "a,b"),
        ("${request.header.x-multi}", "a,b"),
        # Query string names are case-sensitive; repeated values joined with commas.
        ("$request.querystring.tag", "red,blue"),
        ("$request.querystring.Tag", None),
        ("$request.querystring.q", "two words"),
        ("$request.path", "/pets/dog/7"),
        ("$request.path.id", "7"),
        ("${request.path.kind} ${request.path.id}", "dog 7"),
        ("$request.body.name", "Rex"),
        ("$request.body.owner.name", "Ann"),
        ("$request.body.tags[1]", "b"),
        ("$request.body['owner']['name']", "Ann"),
        ('${request.body["owner"].age}', "41"),
        ("$request.body.owner", '{"name":"Ann","age":41}'),
        ("$request.body.vaccinated", "true"),
        ("$request.body.tags", '["a","b"]'),
        ("$request.body.missing", None),
        ("$request.body.tags[5]", None),
        ("$request.body.name.first", None),
        ("$request.body.nothing", None),  # JSON null sends nothing
        ("$context.requestId", REQUEST_ID),
        ("${context.stage}", "prod"),
        ("$context.authorizer.claims.sub", "user-1"),
        ("$stageVariables.environmentId", "staging"),
        ("$stageVariables.missing", None),
        ("static text", "static text"),
        ("price: $5", "price: $5"),
        ("Bearer ${request.header.token}", None),
        ("id=${request.path.id};env=${stageVariables.environmentId}", "id=7;env=staging"),
        ("$request.header.missing", None),
    ],
)
def test_values(value: str, expected: str | None) -> None:
    body = orjson.dumps(
        {
            "name": "Rex",
            "owner": {"name": "Ann", "age": 41},
            "tags": ["a", "b"],
            "vaccinated": True,
            "nothing": None,
        }
    )
    context = make_context(
        headers=[("x-multi", "a"), ("x-multi", "b")],
        raw_query="tag=red&tag=blue&q=two+words",
        body=body,
        authorizer={"claims.sub": "user-1"},
    )
    template = compile_value(value)
    request = context.request
    assert (
        template.render(mapping_module.ValueSources(context, request.headers, request.body, request.raw_query))
        == expected
    )


def test_whole_body() -> None:
    context = make_context(body=b"plain text body")
    result = apply({"overwrite:header.x-body": "$request.body"}, context)
    assert ("x-body", "plain text body") in result.headers


def test_body_larger_than_100_kb_gives_no_json_values() -> None:
    # AWS cuts the body at 100 KB before applying a JSONPath, so a larger JSON document cannot be read.
    big = orjson.dumps({"name": "Rex", "padding": "x" * MAX_JSONPATH_BODY_BYTES})
    result = apply({"overwrite:header.x-name": "$request.body.name"}, make_context(body=big))
    assert not any(name == "x-name" for name, _ in result.headers)
    small = orjson.dumps({"name": "Rex", "padding": "x" * 1000})
    result = apply({"overwrite:header.x-name": "$request.body.name"}, make_context(body=small))
    assert ("x-name", "Rex") in result.headers


def test_body_is_parsed_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    loads = orjson.loads

    def counting_loads(data: bytes) -> object:
        calls.append(len(data))
        return loads(data)

    monkeypatch.setattr(mapping_module.orjson, "loads", counting_loads)
    params = {
        "append:header.a": "$request.body.a",
        "append:header.b": "$request.body.b",
        "append:querystring.c": "${request.body.a}-${request.body.b}",
        "overwrite:path": "/x/${request.body.a}",
    }
    result = apply(params, make_context(body=b'{"a": "1", "b": "2"}'))
    assert result.headers == [("a", "1"), ("b", "2")]
    assert result.raw_query == "c=1-2"
    assert result.path == "/x/1"
    assert calls == [20]


def test_a_body_that_is_not_json_gives_no_values_and_no_error() -> None:
    result = apply({"append:header.a": "$request.body.a"}, make_context(body=b"<xml/>"))
    assert result.headers == []


# --------------------------------------------------------------------------------------------------
# Headers, query strings, path


def test_header_actions() -> None:
    context = make_context([("x-keep", "1"), ("x-over", "old"), ("X-Gone", "bye"), ("x-add", "first")])
    result = apply(
        {
            "overwrite:header.X-Over": "new",
            "remove:header.x-gone": "''",
            "append:header.x-add": "second",
            "append:header.x-new": "fresh",
        },
        context,
    )
    assert result.headers == [
        ("x-keep", "1"),
        ("x-add", "first"),
        ("x-over", "new"),
        ("x-add", "second"),
        ("x-new", "fresh"),
    ]


def test_overwrite_or_append_with_a_missing_source_leaves_the_header_alone() -> None:
    context = make_context([("x-over", "old")])
    result = apply(
        {"overwrite:header.x-over": "$request.header.nope", "append:header.x-new": "$request.header.nope"},
        context,
    )
    assert result.headers == [("x-over", "old")]


def test_sources_are_the_client_request_not_earlier_mappings() -> None:
    context = make_context([("a", "1")])
    result = apply({"remove:header.a": "''", "append:header.b": "$request.header.a"}, context)
    assert result.headers == [("b", "1")]


def test_headers_edit_the_outgoing_list() -> None:
    context = make_context([("accept", "*/*")])
    mapping = compile_request_parameters(
        {"append:header.x-id": "$context.requestId"}, integration_type="HTTP_PROXY"
    )
    outgoing = [("accept", "*/*"), ("x-forwarded-for", "203.0.113.9")]
    assert mapping.apply(context, outgoing).headers == [*outgoing, ("x-id", REQUEST_ID)]


def test_no_header_mapping_returns_the_same_list() -> None:
    context = make_context([("accept", "*/*")])
    outgoing = [("accept", "*/*")]
    mapping = compile_request_parameters({"append:querystring.a": "1"}, integration_type="HTTP_PROXY")
    assert mapping.apply(context, outgoing).headers is outgoing


def test_line_breaks_never_reach_a_header() -> None:
    result = apply({"append:header.x": "$request.body.v"}, make_context(body=b'{"v": "a\\r\\nInjected: 1"}'))
    assert result.headers == [("x", "a  Injected: 1")]


def test_query_string_actions_keep_untouched_parameters_as_sent() -> None:
    context = make_context(raw_query="keep=a%2Fb&over=1&over=2&gone=x&dup=1&sp=a+b")
    result = apply(
        {
            "overwrite:querystring.over": "new value",
            "remove:querystring.gone": "''",
            "append:querystring.dup": "2",
            "append:querystring.fresh": "${request.path.id}",
        },
        context,
    )
    assert result.raw_query == "keep=a%2Fb&dup=1&sp=a+b&over=new%20value&dup=2&fresh=7"


@pytest.mark.parametrize(
    "params",
    [
        {"overwrite:querystring.limit": "10", "remove:querystring.debug": "''", "append:querystring.x": "a b"},
        {"append:header.x-id": "$context.requestId"},
        {"overwrite:header.x-over": "$request.header.x-new", "remove:header.x-gone": "''", "append:header.x": "1"},
        {"overwrite:header.x-over": "static", "append:header.x-body": "$request.body.v"},
    ],
)
def test_the_lanes_views_of_a_mapping_give_what_apply_gives(params: dict[str, str]) -> None:
    # `static_query` and `header_changes` are what the proxy lane reads instead of `apply`'s answer.
    context = make_context(
        [("x-over", "old"), ("X-Gone", "bye"), ("x-new", "fresh")], raw_query="debug=1&limit=3&keep=x%20y",
        body=b'{"v": "a\\r\\nb"}',
    )
    mapping = compile_request_parameters(params, integration_type="HTTP_PROXY")
    applied = mapping.apply(context, list(context.request.headers))
    if mapping.query_is_static:
        assert mapping.static_query(context.request.raw_query) == applied.raw_query
    dropped, added = mapping.header_changes(context)
    edited = [(name, value) for name, value in context.request.headers if name.lower() not in dropped] + added
    assert edited == applied.headers


@pytest.mark.parametrize(
    "params",
    [
        {"append:header.x-id": "$context.requestId"},
        {"overwrite:header.x-id": "req-${context.requestId}-${context.extendedRequestId}.", "remove:header.x-gone": "''"},
        {"overwrite:header.x-over": "static", "append:header.x-line": "a\r\nb $context.requestId"},
        {"overwrite:querystring.a": "1"},  # no header edit at all
    ],
)
def test_header_edits_of_static_text_and_the_request_id_are_known_before_the_request(params: dict[str, str]) -> None:
    context = make_context([("x-over", "old"), ("X-Gone", "bye"), ("x-id", "theirs")])
    mapping = compile_request_parameters(params, integration_type="HTTP_PROXY")
    by_request_id = mapping.header_edits.by_request_id
    assert by_request_id is not None
    dropped, added = by_request_id
    assert (dropped, [(name, REQUEST_ID.join(pieces)) for name, pieces in added]) == mapping.header_changes(context)


def test_header_edits_reading_more_than_the_request_id_are_not_known_before_the_request() -> None:
    for value in ("$request.header.a", "$context.requestId $context.stage", "${stageVariables.environmentId}"):
        mapping = compile_request_parameters({"append:header.x": value}, integration_type="HTTP_PROXY")
        assert mapping.header_edits.by_request_id is None, value


def test_a_mapping_whose_query_needs_the_request_is_not_static() -> None:
    for params in ({"append:querystring.x": "$request.header.a"}, {"overwrite:path": "/x"}):
        assert not compile_request_parameters(params, integration_type="HTTP_PROXY").query_is_static
    assert compile_request_parameters({"append:header.a": "$context.requestId"}, integration_type="HTTP_PROXY").query_is_static


def test_query_names_are_matched_decoded() -> None:
    result = apply({"remove:querystring.a/b": "''"}, make_context(raw_query="a%2Fb=1&a/b=2&c=3"))
    assert result.raw_query == "c=3"


def test_no_query_mapping_keeps_the_query_string() -> None:
    result = apply({"append:header.a": "1"}, make_context(raw_query="x=%41"))
    assert result.raw_query == "x=%41"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$request.path", "/pets/dog/7"),  # the stage-prefix strip AWS users rely on (spec §13 item 9)
        ("/static", "/static"),
        ("v2/${request.path.kind}", "/v2/dog"),
        ("$request.header.missing", None),
    ],
)
def test_overwrite_path(value: str, expected: str | None) -> None:
    assert apply({"overwrite:path": value}, make_context()).path == expected


def test_lambda_integrations_take_request_mappings() -> None:
    result = apply(
        {"overwrite:path": "$request.path", "append:header.x": "1", "append:querystring.q": "1"},
        make_context(),
        integration_type="AWS_PROXY",
    )
    assert (result.path, result.headers, result.raw_query) == ("/pets/dog/7", [("x", "1")], "q=1")


def test_empty_mappings() -> None:
    mapping = compile_request_parameters(None, integration_type="HTTP_PROXY")
    assert mapping.is_empty
    context = make_context(raw_query="a=1")
    result = mapping.apply(context, [("accept", "*/*")])
    assert result == MappingResult([("accept", "*/*")], "a=1", None)
    assert compile_response_parameters({}).is_empty


# --------------------------------------------------------------------------------------------------
# Response mapping


def test_response_values() -> None:
    mapping = compile_response_parameters(
        {
            "200": {
                "overwrite:header.x-total": "$response.body.page.total",
                "append:header.x-echo": "${response.header.X-Upstream} via ${context.stage}",
                "remove:header.server": "''",
            }
        }
    )
    status, headers = mapping.apply(
        200,
        [("X-Upstream", "a"), ("x-upstream", "b"), ("server", "nginx"), ("x-total", "0")],
        b'{"page": {"total": 42}}',
        make_context(),
    )
    assert status == 200
    assert headers == [
        ("X-Upstream", "a"),
        ("x-upstream", "b"),
        ("x-total", "42"),
        ("x-echo", "a,b via prod"),
    ]


@pytest.mark.parametrize(
    ("value", "upstream", "expected"),
    [
        ("$response.header.x-status", "418", 418),
        ("$response.header.x-status", "abc", 200),
        ("301", None, 301),
    ],
)
def test_status_code_overwrite(value: str, upstream: str | None, expected: int) -> None:
    mapping = compile_response_parameters({"200": {"overwrite:statuscode": value}})
    headers = [("x-status", upstream)] if upstream else []
    assert mapping.apply(200, headers, b"", make_context())[0] == expected


# --------------------------------------------------------------------------------------------------
# What CreateIntegration refuses


WRAPPER = "Invalid mapping expression specified: Validation Result: warnings : [], errors : ["


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"append:path": "/x"}, "Invalid Request Actioned Parameter destination specified: append:path"),
        ({"remove:path": "''"}, "Invalid Request Actioned Parameter destination specified: remove:path"),
        (
            {"overwrite.path": "/x"},
            "Invalid Request Actioned Parameter destination specified: overwrite.path",
        ),
        (
            {"replace:header.x": "1"},
            "Invalid Request Actioned Parameter destination specified: replace:header.x",
        ),
        ({"append:body.x": "1"}, "Invalid Request Actioned Parameter destination specified: append:body.x"),
        ({"append:header.": "1"}, "Invalid Request Actioned Parameter destination specified: append:header."),
        ({"append:header.bad name": "1"}, "destination specified: append:header.bad name"),
        ({"overwrite:statuscode": "403"}, "destination specified: overwrite:statuscode"),
        ({"remove:header.x": "value"}, "a remove operation takes ''"),
        ({"append:header.x": ""}, "values are 1 to 512 characters"),
        ({"append:header.x": "x" * 513}, "values are 1 to 512 characters"),
        ({"append:header.x": "$request.nothing"}, "$request.nothing is not a request source"),
        ({"append:header.x": "$response.header.a"}, "is not a value source here"),
        ({"append:header.x": "$context.notAVariable"}, "$context.notAVariable is not a context variable"),
        ({"append:header.x": "${context.requestId"}, "unterminated reference"),
        ({"append:header.x": "$stageVariables.bad-name"}, "invalid stage variable name"),
        ({"append:header.x": "$request.header.a,$request.header.b"}, "invalid header name"),
        ({"append:header.x": "$request.body..name"}, "recursive descent"),
        ({"append:header.x": "$request.body.items[?(@.a)]"}, "filter expressions"),
        ({"append:header.x": "$request.body.items[*]"}, "unsupported JSONPath"),
        ({"append:header.x": "$request.body.items[0:2]"}, "unsupported JSONPath"),
        ({"append:header.x": "$request.body.*"}, "unsupported JSONPath"),
    ],
)
def test_refused_request_parameters(params: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        compile_request_parameters(params, integration_type="HTTP_PROXY")
    assert raised.value.message.startswith(WRAPPER)
    assert message in raised.value.message
    assert raised.value.field == ("requestParameters", next(iter(params)))


RESERVED = [
    "Access-Control-Allow-Origin",
    "apigw-requestid",
    "Authorization",
    "Connection",
    "Content-Encoding",
    "Content-Length",
    "Content-Location",
    "Forwarded",
    "Keep-Alive",
    "Origin",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "TE",
    "Trailers",
    "Transfer-Encoding",
    "Upgrade",
    "x-amz-date",
    "X-Amzn-Trace-Id",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "Via",
]


@pytest.mark.parametrize("name", RESERVED)
def test_reserved_headers_cannot_be_mapped(name: str) -> None:
    assert is_reserved_header(name)
    for action in ("append", "overwrite", "remove"):
        value = "''" if action == "remove" else "x"
        with pytest.raises(ValidationError, match="is reserved"):
            compile_request_parameters({f"{action}:header.{name}": value}, integration_type="HTTP_PROXY")
        with pytest.raises(ValidationError, match="is reserved"):
            compile_response_parameters({"200": {f"{action}:header.{name}": value}})


@pytest.mark.parametrize(
    "name", ["x-api-key", "x-forwarded-port", "host", "cookie", "x-amzfoo", "originator"]
)
def test_headers_that_are_not_reserved(name: str) -> None:
    assert not is_reserved_header(name)
    compile_request_parameters({f"append:header.{name}": "x"}, integration_type="HTTP_PROXY")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"200": {"append:overwrite.static": "x"}},
            "Invalid Response Actioned Parameter destination specified: append:overwrite.static",
        ),
        (
            {"200": {"overwrite:path": "/x"}},
            "Invalid Response Actioned Parameter destination specified: overwrite:path",
        ),
        ({"200": {"append:querystring.a": "x"}}, "destination specified: append:querystring.a"),
        ({"200": {"overwrite:statuscode": "abc"}}, "Invalid status code specified: abc"),
        ({"200": {"overwrite:statuscode": "99"}}, "Invalid status code specified: 99"),
        ({"200": {"append:header.x": "$request.header.a"}}, "is not a value source here"),
        (
            {"200": {"append:header.x": "$response.querystring.a"}},
            "$response.querystring.a is not a response source",
        ),
        ({"199": {"append:header.x": "1"}}, "within the range of 200-599"),
        ({"600": {"append:header.x": "1"}}, "within the range of 200-599"),
        ({"2xx": {"append:header.x": "1"}}, "within the range of 200-599"),
    ],
)
def test_refused_response_parameters(params: dict[str, dict[str, str]], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        compile_response_parameters(params)
    assert message in raised.value.message


def test_integration_types() -> None:
    with pytest.raises(ValidationError, match="not supported for integration type MOCK"):
        compile_request_parameters({"append:header.a": "1"}, integration_type="MOCK")
    with pytest.raises(ValueError, match="AWS service integrations"):
        compile_request_parameters(
            {"QueueUrl": "x"}, integration_type="AWS_PROXY", integration_subtype="SQS-SendMessage"
        )


QUERY_NAMES = st.sampled_from(["a", "b", "é", "x/y", "a+b"])


@given(
    st.lists(st.tuples(QUERY_NAMES, st.text(max_size=5)), max_size=8),
    QUERY_NAMES,
    st.text(min_size=1, max_size=5),
)
def test_query_edits_touch_only_their_parameter(pairs: list[tuple[str, str]], name: str, value: str) -> None:
    raw_query = urlencode(pairs)
    sent = parse_qsl(raw_query, keep_blank_values=True)
    others = [pair for pair in sent if pair[0] != name]
    remove = apply({f"remove:querystring.{name}": "''"}, make_context(raw_query=raw_query))
    assert parse_qsl(remove.raw_query, keep_blank_values=True) == others
    overwrite = apply({f"overwrite:querystring.{name}": value}, make_context(raw_query=raw_query))
    assert parse_qsl(overwrite.raw_query, keep_blank_values=True) == [*others, (name, value)]
    append = apply({f"append:querystring.{name}": value}, make_context(raw_query=raw_query))
    assert parse_qsl(append.raw_query, keep_blank_values=True) == [*sent, (name, value)]
