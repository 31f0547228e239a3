"""SigV4 verification against botocore's own signer: whatever botocore signs, `verify` accepts, and any
change to what was signed is refused with the answer AWS gives."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stageway.core.sigv4 import (
    MISMATCH_MESSAGE,
    Problem,
    SignatureError,
    SignedRequest,
    canonical_uri,
    verify,
)

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SECRETS = {KEY: SECRET, "AKIDOTHER": "other-secret"}
HOST = "http://127.0.0.1:8081"


def _wire(request: AWSRequest) -> SignedRequest:
    """What the server receives for a request botocore signed: the prepared URL, headers and body."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = [(name, value) for name, value in request.headers.items()]
    if not any(name.lower() == "host" for name, _ in headers):
        headers.append(("Host", url.netloc))
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return SignedRequest.of(prepared.method, url.path, url.query, headers, body)


def _signed(
    method: str = "GET",
    path: str = "/2015-03-31/functions",
    *,
    query: str = "",
    params: dict[str, str] | list[tuple[str, str]] | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    credentials: Credentials | None = None,
    signer: type[SigV4Auth] = SigV4Auth,
    service: str = "lambda",
    url_base: str = HOST,
    context: dict[str, object] | None = None,
) -> SignedRequest:
    url = url_base + path + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, params=params or {})
    for name, value in headers or []:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    request.context.update(context or {})
    signer(credentials or Credentials(KEY, SECRET), service, "us-east-1").add_auth(request)
    return _wire(request)


def _verify(request: SignedRequest, now: datetime | None = None) -> str:
    return verify(request, SECRETS.get, now=now or datetime.now(UTC)).access_key


def _refused(request: SignedRequest, now: datetime | None = None) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        _verify(request, now)
    return caught.value


SHAPES: dict[str, Callable[[], SignedRequest]] = {
    "list functions": lambda: _signed(query="Marker=abc&MaxItems=2"),
    "empty query value": lambda: _signed(query="FunctionVersion=ALL&Marker="),
    "query specials percent-encoded": lambda: _signed(
        query="name=" + quote("a b/c?d=e&f+g~h*é", safe="") + "&" + quote("k é", safe="") + "=v"
    ),
    "query params (form-encoded on the wire)": lambda: _signed(params={"a b": "c/d", "x": "é+&=", "empty": ""}),
    "repeated query keys, unsorted": lambda: _signed(query="k=2&b=1&k=1&a=3"),
    "query key without value": lambda: _signed(query="flag&x=1"),
    "empty body POST": lambda: _signed("POST", "/2015-03-31/functions/f/invocations"),
    "JSON body": lambda: _signed(
        "POST", "/2015-03-31/functions", body=b'{"FunctionName": "f", "Code": {"ZipFile": "UEsDBA=="}}',
        headers=[("Content-Type", "application/json")],
    ),
    "binary body": lambda: _signed("POST", "/2015-03-31/functions/f/invocations", body=bytes(range(256)) * 3),
    "unicode path, encoded as botocore sends it": lambda: _signed(
        "GET", "/2015-03-31/functions/" + quote("café-λ", safe="") + "/configuration"
    ),
    "ARN in the path (colons encoded)": lambda: _signed(
        "GET", "/2015-03-31/functions/" + quote("arn:aws:lambda:us-east-1:123456789012:function:f", safe="")
    ),
    "apigatewayv2 $default route": lambda: _signed(
        "GET", "/v2/apis/abc/routes/" + quote("$default", safe=""), service="apigateway"
    ),
    "dot segments and double slashes": lambda: _signed("GET", "/a/./b/../c//d/"),
    "repeated headers": lambda: _signed(headers=[("X-Custom", "one"), ("X-Custom", "two"), ("x-other", "3")]),
    "header values with runs of spaces": lambda: _signed(headers=[("X-Spaced", "  a   b  c  ")]),
    "session token": lambda: _signed(credentials=Credentials(KEY, SECRET, "session-token/xyz==")),
    "UNSIGNED-PAYLOAD over https": lambda: _signed(
        "POST", "/2015-03-31/functions", body=b"{}", url_base="https://127.0.0.1:8081",
        context={"payload_signing_enabled": False},
    ),
    "x-amz-content-sha256 header (S3 style)": lambda: _signed("PUT", "/bucket/key", body=b"data", signer=S3SigV4Auth),
    "Date header instead of X-Amz-Date": lambda: _signed(headers=[("Date", "Mon, 01 Jan 2024 00:00:00 GMT")]),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_botocore_signed_requests_verify(shape: str) -> None:
    assert _verify(SHAPES[shape]()) == KEY


def test_presigned_url_verifies() -> None:
    request = AWSRequest(method="GET", url=HOST + "/2015-03-31/functions", params={"MaxItems": "5"})
    SigV4QueryAuth(Credentials(KEY, SECRET), "lambda", "us-east-1", expires=60).add_auth(request)
    signed = _wire(request)
    assert "X-Amz-Signature=" in signed.raw_query
    assert _verify(signed) == KEY
    expired = _refused(signed, datetime.now(UTC) + timedelta(seconds=120))
    assert expired.problem is Problem.INVALID and expired.message.startswith("Signature expired:")
    tampered = dataclasses.replace(signed, raw_query=signed.raw_query.replace("MaxItems=5", "MaxItems=6"))
    assert _refused(tampered).message == MISMATCH_MESSAGE


def _replace_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    headers = tuple((key, value if key.lower() == name else old) for key, old in request.headers)
    return dataclasses.replace(request, headers=headers)


TAMPERINGS: dict[str, Callable[[SignedRequest], SignedRequest]] = {
    "method": lambda r: dataclasses.replace(r, method="DELETE"),
    "path": lambda r: dataclasses.replace(r, raw_path=r.raw_path + "x"),
    "path encoding": lambda r: dataclasses.replace(r, raw_path=r.raw_path.replace("f", "%66")),
    "query value": lambda r: dataclasses.replace(r, raw_query="Qualifier=%24LATEST&x=2"),
    "query added": lambda r: dataclasses.replace(r, raw_query=r.raw_query + "&extra=1"),
    "signed header value": lambda r: _replace_header(r, "x-custom", "other"),
    "host": lambda r: _replace_header(r, "host", "evil.example:8081"),
    "body": lambda r: dataclasses.replace(r, body=b'{"a": 2}'),
    "signature": lambda r: _replace_header(
        r, "authorization", r.header("authorization")[:-4] + "0000"  # type: ignore[index]
    ),
    "signed headers list": lambda r: _replace_header(
        r, "authorization", r.header("authorization").replace(";x-custom", "")  # type: ignore[union-attr]
    ),
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_any_change_to_a_signed_request_is_refused(tampering: str) -> None:
    request = _signed(
        "POST", "/2015-03-31/functions/f/invocations", query="Qualifier=%24LATEST&x=1", body=b'{"a": 1}',
        headers=[("X-Custom", "value")],
    )
    assert _verify(request) == KEY
    error = _refused(TAMPERINGS[tampering](request))
    assert (error.problem, error.message) == (Problem.INVALID, MISMATCH_MESSAGE)


def test_body_that_does_not_match_its_signed_hash_is_refused() -> None:
    request = _signed("PUT", "/bucket/key", body=b"data", signer=S3SigV4Auth)
    error = _refused(dataclasses.replace(request, body=b"date"))
    assert error.problem is Problem.INVALID


def test_wrong_secret_is_a_signature_mismatch() -> None:
    error = _refused(_signed(credentials=Credentials(KEY, "not-the-secret")))
    assert (error.problem, error.message) == (Problem.INVALID, MISMATCH_MESSAGE)


def test_unknown_key_is_an_unrecognized_client() -> None:
    error = _refused(_signed(credentials=Credentials("AKIDUNKNOWN", SECRET)))
    assert error.problem is Problem.UNKNOWN_KEY
    assert error.message == "The security token included in the request is invalid."


def test_no_signature_is_a_missing_token() -> None:
    unsigned = SignedRequest.of("GET", "/2015-03-31/functions", "", [("Host", "127.0.0.1:8081")], b"")
    error = _refused(unsigned)
    assert (error.problem, error.message) == (Problem.MISSING, "Missing Authentication Token")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/lambda/aws4_request"],
)
def test_incomplete_authorization_header(authorization: str) -> None:
    request = SignedRequest.of(
        "GET", "/", "", [("Host", "h"), ("X-Amz-Date", "20240101T000000Z"), ("Authorization", authorization)], b""
    )
    assert _refused(request).problem is Problem.INCOMPLETE


def test_signatures_older_or_newer_than_15_minutes_are_refused() -> None:
    request = _signed()
    now = datetime.now(UTC)
    assert _verify(request, now + timedelta(minutes=14)) == KEY
    assert _verify(request, now - timedelta(minutes=14)) == KEY
    old = _refused(request, now + timedelta(minutes=16))
    assert old.problem is Problem.INVALID and old.message.startswith("Signature expired: ")
    assert old.message.endswith(" - 15 min.)")
    future = _refused(request, now - timedelta(minutes=16))
    assert future.problem is Problem.INVALID and future.message.startswith("Signature not yet current: ")


def test_unknown_key_is_reported_before_the_time_window() -> None:
    request = _signed(credentials=Credentials("AKIDUNKNOWN", SECRET))
    assert _refused(request, datetime.now(UTC) + timedelta(hours=1)).problem is Problem.UNKNOWN_KEY


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", "/"),
        ("/", "/"),
        ("/a/./b/../c//d/", "/a/c/d/"),
        ("/functions/arn%3Aaws%3Alambda", "/functions/arn%253Aaws%253Alambda"),
        ("/caf%C3%A9", "/caf%25C3%25A9"),
        ("/a~b/c-d_e.f", "/a~b/c-d_e.f"),
    ],
)
def test_canonical_uri_encodes_the_encoded_path_again(raw: str, canonical: str) -> None:
    assert canonical_uri(raw) == canonical
