"""Lambda proxy responses, payload 2.0 and 1.0, against spec §4.4 and §13 items 1, 2, 25."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stageway.core.errors import IntegrationFailure
from stageway.core.http import GatewayResponse
from stageway.core.lambda_responses import MALFORMED, parse_v1_response, parse_v2_response

TEXT = ("content-type", "text/plain; charset=utf-8")
JSON = ("content-type", "application/json")


def payload(value: Any) -> bytes:
    return orjson.dumps(value)


def expect(status: int, headers: list[tuple[str, str]], body: bytes) -> GatewayResponse:
    return GatewayResponse(status, headers, body)


# ---------------------------------------------------------------------------------------------------
# Payload 2.0, rule 2: an object with statusCode is a response.

V2_RESPONSE_CASES = [
    pytest.param(
        {"statusCode": 200}, expect(200, [TEXT], b""), id="statusCode only: text/plain default, no body"
    ),
    pytest.param({"statusCode": 201, "body": "hi"}, expect(201, [TEXT], b"hi"), id="body"),
    pytest.param(
        {"statusCode": 200, "body": "é☕"}, expect(200, [TEXT], "é☕".encode()), id="body sent as UTF-8"
    ),
    pytest.param({"statusCode": 404, "body": None}, expect(404, [TEXT], b""), id="null body"),
    pytest.param(
        {"statusCode": 200, "headers": {"Content-Type": "text/html"}, "body": "<p/>"},
        expect(200, [("content-type", "text/html")], b"<p/>"),
        id="content-type given: no default, name lower-cased",
    ),
    pytest.param(
        {"statusCode": 200, "headers": {"x-list": "a, b,c"}},
        expect(200, [("x-list", "a, b,c"), TEXT], b""),
        id="a value with commas stays one header",
    ),
    pytest.param(
        {"statusCode": 200, "headers": {"x-int": 3, "x-float": 1.5, "x-true": True, "x-false": False}},
        expect(
            200, [("x-int", "3"), ("x-float", "1.5"), ("x-true", "true"), ("x-false", "false"), TEXT], b""
        ),
        id="numbers and booleans as text",
    ),
    pytest.param(
        {"statusCode": 200, "headers": {"x-null": None, "x-a": "1"}},
        expect(200, [("x-a", "1"), TEXT], b""),
        id="null header value sends nothing",
    ),
    pytest.param({"statusCode": 200, "headers": None}, expect(200, [TEXT], b""), id="null headers"),
    pytest.param(
        {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"]},
        expect(200, [("set-cookie", "a=1; Path=/"), ("set-cookie", "b=2"), TEXT], b""),
        id="one set-cookie per cookie",
    ),
    pytest.param(
        {"statusCode": 200, "headers": {"Set-Cookie": "c=3", "x-a": "1"}, "cookies": ["a=1", "b=2"]},
        expect(
            200,
            [("set-cookie", "a=1"), ("set-cookie", "b=2"), ("set-cookie", "c=3"), ("x-a", "1"), TEXT],
            b"",
        ),
        id="cookies first, then the headers' set-cookie",
    ),
    pytest.param({"statusCode": 200, "cookies": []}, expect(200, [TEXT], b""), id="no cookies"),
    pytest.param(
        {"statusCode": 200, "body": "aGVsbG8=", "isBase64Encoded": True},
        expect(200, [TEXT], b"hello"),
        id="base64 body decoded",
    ),
    pytest.param(
        {
            "statusCode": 200,
            "body": "AAEC/w==",
            "isBase64Encoded": True,
            "headers": {"content-type": "image/png"},
        },
        expect(200, [("content-type", "image/png")], b"\x00\x01\x02\xff"),
        id="binary body",
    ),
    pytest.param(
        {"statusCode": 200, "body": "aGVsbG8=", "isBase64Encoded": False},
        expect(200, [TEXT], b"aGVsbG8="),
        id="isBase64Encoded false: body as is",
    ),
    pytest.param(
        {"statusCode": 200, "body": "x", "isBase64Encoded": None},
        expect(200, [TEXT], b"x"),
        id="null isBase64Encoded",
    ),
    pytest.param(
        {"statusCode": 200, "multiValueHeaders": {"x-m": ["1", "2"]}, "extra": 1},
        expect(200, [TEXT], b""),
        id="multiValueHeaders and unknown keys ignored",
    ),
    pytest.param({"statusCode": 100}, expect(100, [TEXT], b""), id="lowest status"),
    pytest.param({"statusCode": 599}, expect(599, [TEXT], b""), id="highest status"),
]


@pytest.mark.parametrize(("response", "expected"), V2_RESPONSE_CASES)
def test_v2_response_object(response: dict[str, Any], expected: GatewayResponse) -> None:
    assert parse_v2_response(payload(response)) == expected


# ---------------------------------------------------------------------------------------------------
# Payload 2.0, rule 3: any other JSON is a 200 application/json body.

V2_INFERRED_CASES = [
    pytest.param(b'{"message": "hi"}', b'{"message": "hi"}', id="object without statusCode, text verbatim"),
    pytest.param(
        b'{"headers": {"x-a": "1"}, "cookies": ["a=1"]}',
        b'{"headers": {"x-a": "1"}, "cookies": ["a=1"]}',
        id="its headers and cookies are just body",
    ),
    pytest.param(b"[1, 2]", b"[1, 2]", id="array"),
    pytest.param(b"42", b"42", id="number"),
    pytest.param(b"true", b"true", id="boolean"),
    pytest.param(b"null", b"null", id="null (a handler that returns nothing)"),
    pytest.param(b'"Hello"', b"Hello", id="string unescaped"),
    pytest.param(b'"say \\"hi\\"\\n"', b'say "hi"\n', id="string escapes undone"),
    pytest.param(b'"\\u2615"', "☕".encode(), id="unicode escape"),
    pytest.param(b'"{\\"a\\": 1}"', b'{"a": 1}', id="string holding a valid JSON object"),
    pytest.param(b'  {"a": 1}\n', b'  {"a": 1}\n', id="whitespace kept"),
]


@pytest.mark.parametrize(("raw", "body"), V2_INFERRED_CASES)
def test_v2_inferred_response(raw: bytes, body: bytes) -> None:
    assert parse_v2_response(raw) == expect(200, [JSON], body)


# ---------------------------------------------------------------------------------------------------
# Payload 2.0 failures: 500 Internal Server Error, with the reason for $context.integrationErrorMessage.

STATUS_FAILURES = [
    pytest.param(200.5, "statusCode must be an integer", id="float"),
    pytest.param(200.0, "statusCode must be an integer", id="integral float"),
    pytest.param("200", "statusCode must be an integer", id="string"),
    pytest.param(True, "statusCode must be an integer", id="boolean"),
    pytest.param(None, "statusCode must be an integer", id="null"),
    pytest.param([200], "statusCode must be an integer", id="array"),
    pytest.param(0, "statusCode must be between 100 and 599", id="zero"),
    pytest.param(99, "statusCode must be between 100 and 599", id="99"),
    pytest.param(600, "statusCode must be between 100 and 599", id="600"),
    pytest.param(-200, "statusCode must be between 100 and 599", id="negative"),
]

V2_FAILURES = [
    pytest.param(b"", "not valid JSON", id="empty payload"),
    pytest.param(b"{", "not valid JSON", id="truncated"),
    pytest.param(b"Hello", "not valid JSON", id="bare text"),
    pytest.param(b"{'a': 1}", "not valid JSON", id="single quotes"),
    pytest.param(b'"{\\"key\\"}"', "looks like a JSON object", id="string that looks like an invalid object"),
    pytest.param(
        payload({"statusCode": 200, "headers": []}), "headers must be an object", id="headers array"
    ),
    pytest.param(
        payload({"statusCode": 200, "headers": "x: 1"}), "headers must be an object", id="headers string"
    ),
    pytest.param(
        payload({"statusCode": 200, "headers": {"x": ["1"]}}), "must have a string value", id="array value"
    ),
    pytest.param(
        payload({"statusCode": 200, "headers": {"x": {"a": 1}}}),
        "must have a string value",
        id="object value",
    ),
    pytest.param(
        payload({"statusCode": 200, "headers": {"x": "a\r\nb: c"}}), "CR, LF or NUL", id="CRLF injection"
    ),
    pytest.param(
        payload({"statusCode": 200, "headers": {"bad name": "1"}}), "invalid header name", id="space in name"
    ),
    pytest.param(payload({"statusCode": 200, "headers": {"": "1"}}), "invalid header name", id="empty name"),
    pytest.param(
        payload({"statusCode": 200, "cookies": "a=1"}), "cookies must be an array", id="cookies string"
    ),
    pytest.param(
        payload({"statusCode": 200, "cookies": [1]}), "cookies must hold strings", id="cookie number"
    ),
    pytest.param(payload({"statusCode": 200, "cookies": ["a=1\nb"]}), "CR, LF or NUL", id="cookie with LF"),
    pytest.param(payload({"statusCode": 200, "body": {"a": 1}}), "body must be a string", id="body object"),
    pytest.param(payload({"statusCode": 200, "body": 5}), "body must be a string", id="body number"),
    pytest.param(
        payload({"statusCode": 200, "body": "x", "isBase64Encoded": "true"}),
        "isBase64Encoded must be a boolean",
        id="isBase64Encoded string",
    ),
    pytest.param(
        payload({"statusCode": 200, "body": "abc", "isBase64Encoded": True}),
        "not valid base64",
        id="bad padding",
    ),
    pytest.param(
        payload({"statusCode": 200, "body": "é", "isBase64Encoded": True}),
        "not valid base64",
        id="non-ASCII base64",
    ),
]


@pytest.mark.parametrize(("status", "reason"), STATUS_FAILURES)
@pytest.mark.parametrize("parse", [parse_v2_response, parse_v1_response], ids=["2.0", "1.0"])
def test_bad_status_code(parse: Any, status: Any, reason: str) -> None:
    with pytest.raises(IntegrationFailure) as failure:
        parse(payload({"statusCode": status, "body": "x"}))
    assert failure.value.detail.startswith(f"{MALFORMED}: {reason}")


@pytest.mark.parametrize(("raw", "reason"), V2_FAILURES)
def test_v2_failure(raw: bytes, reason: str) -> None:
    with pytest.raises(IntegrationFailure) as failure:
        parse_v2_response(raw)
    assert failure.value.detail.startswith(f"{MALFORMED}: ")
    assert reason in failure.value.detail


def test_failure_answers_500_internal_server_error() -> None:
    with pytest.raises(IntegrationFailure) as failure:
        parse_v2_response(b"{")
    response = failure.value.to_response()
    assert (response.status, response.body) == (500, b'{"message":"Internal Server Error"}')


# ---------------------------------------------------------------------------------------------------
# Payload 1.0: the object with statusCode is required; headers and multiValueHeaders merge.

V1_RESPONSE_CASES = [
    pytest.param({"statusCode": 200}, expect(200, [TEXT], b""), id="statusCode only: text/plain default"),
    pytest.param({"statusCode": 200, "body": "hi"}, expect(200, [TEXT], b"hi"), id="body"),
    pytest.param(
        {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"},
        expect(200, [JSON], b"{}"),
        id="content-type given",
    ),
    pytest.param(
        {"statusCode": 200, "multiValueHeaders": {"content-type": ["text/html"]}},
        expect(200, [("content-type", "text/html")], b""),
        id="content-type from multiValueHeaders",
    ),
    pytest.param(
        {"statusCode": 200, "headers": {"x-a": "1"}, "multiValueHeaders": {"x-a": ["2", "3"]}},
        expect(200, [("x-a", "2"), ("x-a", "3"), ("x-a", "1"), TEXT], b""),
        id="all multi-values plus the single value",
    ),
    pytest.param(
        {"statusCode": 200, "headers": {"X-A": "2"}, "multiValueHeaders": {"x-a": ["1", "2"]}},
        expect(200, [("x-a", "1"), ("x-a", "2"), TEXT], b""),
        id="an identical pair is sent once (names compared lower-cased)",
    ),
    pytest.param(
        {"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "headers": {"x-b": True}},
        expect(200, [("set-cookie", "a=1"), ("set-cookie", "b=2"), ("x-b", "true"), TEXT], b""),
        id="several set-cookie",
    ),
    pytest.param(
        {"statusCode": 200, "multiValueHeaders": {"x-a": None, "x-b": [None, "1"]}, "headers": None},
        expect(200, [("x-b", "1"), TEXT], b""),
        id="nulls send nothing",
    ),
    pytest.param(
        {"statusCode": 200, "cookies": ["a=1"]},
        expect(200, [TEXT], b""),
        id="cookies is not a 1.0 key",
    ),
    pytest.param(
        {"statusCode": 302, "headers": {"location": "/x"}, "body": "", "isBase64Encoded": False},
        expect(302, [("location", "/x"), TEXT], b""),
        id="redirect",
    ),
    pytest.param(
        {"statusCode": 200, "body": "AAEC", "isBase64Encoded": True},
        expect(200, [TEXT], b"\x00\x01\x02"),
        id="base64 body decoded",
    ),
]


@pytest.mark.parametrize(("response", "expected"), V1_RESPONSE_CASES)
def test_v1_response(response: dict[str, Any], expected: GatewayResponse) -> None:
    assert parse_v1_response(payload(response)) == expected


V1_FAILURES = [
    pytest.param(b"", "not valid JSON", id="empty payload"),
    pytest.param(b"{", "not valid JSON", id="invalid JSON"),
    pytest.param(b'{"body": "hi"}', "statusCode is missing", id="no statusCode"),
    pytest.param(b'"Hello"', "must be a JSON object, got str", id="string"),
    pytest.param(b"[1]", "must be a JSON object, got list", id="array"),
    pytest.param(b"42", "must be a JSON object, got int", id="number"),
    pytest.param(b"null", "must be a JSON object, got NoneType", id="null"),
    pytest.param(
        payload({"statusCode": 200, "multiValueHeaders": {"x": "1"}}), "must be an array", id="multi string"
    ),
    pytest.param(
        payload({"statusCode": 200, "multiValueHeaders": []}), "must be an object", id="multi array"
    ),
    pytest.param(
        payload({"statusCode": 200, "multiValueHeaders": {"x": [{}]}}), "string value", id="multi object"
    ),
    pytest.param(payload({"statusCode": 200, "headers": {"x": [1]}}), "string value", id="header array"),
    pytest.param(payload({"statusCode": 200, "body": ["a"]}), "body must be a string", id="body array"),
    pytest.param(
        payload({"statusCode": 200, "body": "a", "isBase64Encoded": True}), "not valid base64", id="base64"
    ),
]


@pytest.mark.parametrize(("raw", "reason"), V1_FAILURES)
def test_v1_failure(raw: bytes, reason: str) -> None:
    with pytest.raises(IntegrationFailure) as failure:
        parse_v1_response(raw)
    assert failure.value.detail.startswith(f"{MALFORMED}: ")
    assert reason in failure.value.detail
