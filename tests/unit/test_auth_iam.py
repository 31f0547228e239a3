"""AWS_IAM routes: requests signed by botocore's own SigV4 signer (service `execute-api`) pass; anything
unsigned, tampered with, expired or signed for another service or region gets 403 `{"message":"Forbidden"}`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import uvloop
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stageway.auth import AuthForbidden, Authorizers, AuthResult, RouteAuth
from stageway.core.http import IncomingRequest
from stageway.functions import InvocationResult
from tests.support.auth_requests import ACCOUNT_ID, HOST, REGION, make_route, run

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
IAM = RouteAuth("AWS_IAM", None)


class NoFunctions:
    async def invoke(self, name: str, payload: bytes) -> InvocationResult:
        raise AssertionError("no function should run")


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = uvloop.new_event_loop()
    yield loop
    loop.close()


def signed(
    method: str = "GET",
    path: str = "/prod/pets/7",
    *,
    query: str = "",
    body: bytes = b"",
    service: str = "execute-api",
    region: str = REGION,
    secret: str = SECRET,
    key: str = KEY,
    presign: bool = False,
) -> IncomingRequest:
    """What the gateway receives for a request botocore signed: the prepared URL, headers and body."""
    url = f"https://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers={"content-type": "application/json"})
    credentials = Credentials(key, secret)
    signer = SigV4QueryAuth(credentials, service, region, expires=300) if presign else SigV4Auth(credentials, service, region)
    signer.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = [(name.lower(), value) for name, value in prepared.headers.items()]
    if not any(name == "host" for name, _ in headers):
        headers.append(("host", parts.netloc))
    data = prepared.body or b""
    return IncomingRequest(
        method=method,
        raw_path=parts.path,
        raw_query=parts.query,
        headers=headers,
        body=data.encode() if isinstance(data, str) else data,
        source_ip="198.51.100.7",
        request_id="XyZ1aBcDeFgHiJk=",
        time_epoch_ms=int(time.time() * 1000),
        host=HOST,
    )


def authorize(loop: asyncio.AbstractEventLoop, request: IncomingRequest, *,
              credentials: dict[str, str] | None = None, wall_clock: Callable[[], float] = time.time) -> AuthResult:
    authorizers = Authorizers(
        invoker=NoFunctions(), credentials={KEY: SECRET} if credentials is None else credentials, wall_clock=wall_clock
    )
    return run(loop, authorizers.authorize(IAM, request, make_route(request)))


def forbidden(loop: asyncio.AbstractEventLoop, request: IncomingRequest, **options: object) -> AuthForbidden:
    with pytest.raises(AuthForbidden) as info:
        authorize(loop, request, **options)  # type: ignore[arg-type]
    response = info.value.to_response()
    assert (response.status, response.body) == (403, b'{"message":"Forbidden"}')
    return info.value


def test_a_signed_request_passes_with_the_callers_identity(loop: asyncio.AbstractEventLoop) -> None:
    result = authorize(loop, signed(query="a=1&b=two%20words"))
    assert result.v2 == {
        "iam": {
            "accessKey": KEY,
            "accountId": ACCOUNT_ID,
            "callerId": KEY,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{KEY}",
            "userId": KEY,
        }
    }
    assert result.v1 is None
    assert result.identity["accessKey"] == KEY and result.identity["user"] == KEY
    assert result.identity["userArn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{KEY}"


def test_a_signed_body_and_a_presigned_url_pass(loop: asyncio.AbstractEventLoop) -> None:
    assert authorize(loop, signed("POST", body=b'{"name": "Rex"}')).v2
    assert authorize(loop, signed(presign=True)).v2


def test_unsigned_is_forbidden(loop: asyncio.AbstractEventLoop) -> None:
    request = signed()
    request.headers = [(name, value) for name, value in request.headers if name not in ("authorization", "x-amz-date")]
    error = forbidden(loop, request)
    assert "Missing Authentication Token" in error.detail
    assert error.response_type == "MISSING_AUTHENTICATION_TOKEN"


def test_tampering_is_forbidden(loop: asyncio.AbstractEventLoop) -> None:
    body = signed("POST", body=b'{"amount": 1}')
    body.body = b'{"amount": 1000}'
    error = forbidden(loop, body)
    assert "signature we calculated does not match" in error.detail and error.response_type == "INVALID_SIGNATURE"
    path = signed()
    path.raw_path = "/prod/pets/8"
    forbidden(loop, path)
    query = signed(query="amount=1")
    query.raw_query = "amount=1000"
    forbidden(loop, query)
    header = signed()
    header.headers = [(name, "evil.example" if name == "host" else value) for name, value in header.headers]
    forbidden(loop, header)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"secret": "not-the-secret"}, "signature we calculated does not match"),
        ({"key": "AKIDUNKNOWN"}, "security token included in the request is invalid"),
        ({"service": "lambda"}, "scoped to correct service: 'execute-api'"),
        ({"region": "us-west-2"}, "scoped to a valid region, not 'us-west-2'"),
    ],
)
def test_wrong_credentials_or_scope(loop: asyncio.AbstractEventLoop, options: dict[str, str], reason: str) -> None:
    assert reason in forbidden(loop, signed(**options)).detail  # type: ignore[arg-type]


def test_an_old_signature_is_forbidden(loop: asyncio.AbstractEventLoop) -> None:
    later = time.time() + 16 * 60  # AWS allows 15 minutes of skew
    assert "Signature expired" in forbidden(loop, signed(), wall_clock=lambda: later).detail


def test_without_credentials_every_iam_route_is_forbidden(loop: asyncio.AbstractEventLoop) -> None:
    forbidden(loop, signed(), credentials={})
