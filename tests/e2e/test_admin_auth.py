"""`stageway serve --admin-credentials`: the admin listener accepts only SigV4-signed requests, and refuses
the rest with the answers AWS gives (real sockets, real boto3, a real server)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.stageway_server import StagewayServer, free_port, http

KEY, SECRET = "AKIDSTAGEWAYADMIN", "s3cr3t/with+special=chars"
KEY2, SECRET2 = "AKIDSECOND", "another-secret"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


class Admin:
    def __init__(self, server: StagewayServer, port: int) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{port}"

    def client(self, service: str, key: str = KEY, secret: str = SECRET, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 1}, **config),
        )


@pytest.fixture(scope="module")
def admin() -> Iterator[Admin]:
    port = free_port()
    server = StagewayServer(args=("--admin-port", str(port), "--admin-credentials", f"{KEY}:{SECRET},{KEY2}:{SECRET2}"))
    with server:
        yield Admin(server, port)


def _error(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def _signed(url: str, *, method: str = "GET", body: bytes = b"", secret: str = SECRET, service: str = "lambda") -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(KEY, secret), service, "us-east-1").add_auth(request)
    return request


def _send(request: AWSRequest, *, body: bytes | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers = {name: value for name, value in request.headers.items()}
    status, response_headers, answer, _ = http(
        request.method, request.url, body=request.body if body is None else body, headers=headers
    )
    return status, response_headers, json.loads(answer) if answer else {}


def test_signed_with_either_configured_key_works(admin: Admin) -> None:
    assert "Functions" in admin.client("lambda").list_functions()
    assert "Functions" in admin.client("lambda", KEY2, SECRET2).list_functions()
    assert "Items" in admin.client("apigatewayv2").get_apis()
    api = admin.client("apigatewayv2", KEY2, SECRET2).create_api(Name="signed", ProtocolType="HTTP")
    assert admin.client("apigatewayv2").get_api(ApiId=api["ApiId"])["Name"] == "signed"


def test_wrong_secret_is_an_invalid_signature(admin: Admin) -> None:
    assert _error(lambda: admin.client("lambda", KEY, "wrong").list_functions()) == (
        "InvalidSignatureException", MISMATCH, 403
    )
    assert _error(lambda: admin.client("apigatewayv2", KEY2, SECRET).get_apis())[0] == "InvalidSignatureException"


def test_unknown_key_is_an_unrecognized_client(admin: Admin) -> None:
    assert _error(lambda: admin.client("lambda", "AKIDUNKNOWN", SECRET).list_functions()) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.", 403
    )


def test_unsigned_requests_are_refused(admin: Admin) -> None:
    unsigned = admin.client("lambda", signature_version=UNSIGNED)
    assert _error(unsigned.list_functions) == (
        "MissingAuthenticationTokenException", "Missing Authentication Token", 403
    )
    status, headers, _body, _ = http("GET", admin.url + "/v2/apis")
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    garbage = http("GET", admin.url + "/v2/apis", headers={"Authorization": "Bearer nope"})
    assert (garbage[0], garbage[1]["x-amzn-errortype"]) == (400, "IncompleteSignatureException")


def test_a_signature_older_than_15_minutes_is_expired(admin: Admin, monkeypatch: pytest.MonkeyPatch) -> None:
    then = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: then)
    status, headers, body = _send(_signed(admin.url + "/2015-03-31/functions"))
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    assert body["message"].startswith("Signature expired: ")


def test_a_body_changed_after_signing_is_refused(admin: Admin) -> None:
    body = json.dumps({"name": "signed-body", "protocolType": "HTTP"}).encode()
    request = _signed(admin.url + "/v2/apis", method="POST", body=body, service="apigateway")
    status, headers, answer = _send(request, body=body.replace(b"signed-body", b"other-body!"))
    assert (status, headers["x-amzn-errortype"], answer["message"]) == (403, "InvalidSignatureException", MISMATCH)
    status, _, answer = _send(request)
    assert status == 201 and answer["name"] == "signed-body"


def test_presigned_urls_work(admin: Admin) -> None:
    url = admin.client("lambda").generate_presigned_url("list_functions", ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    status, _, body, _ = http("GET", url)
    assert status == 200 and "Functions" in json.loads(body)


def test_secrets_never_reach_the_log(admin: Admin) -> None:
    _error(lambda: admin.client("lambda", KEY, "wrong").list_functions())
    log = admin.server.log()
    assert SECRET not in log and SECRET2 not in log


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGEWAY_ADMIN_CREDENTIALS", f"{KEY2}:{SECRET2}")
    port = free_port()
    with StagewayServer(args=("--admin-port", str(port))) as server:
        admin = Admin(server, port)
        assert "Functions" in admin.client("lambda", KEY2, SECRET2).list_functions()
        assert _error(lambda: admin.client("lambda").list_functions())[0] == "UnrecognizedClientException"
