"""`stageway serve` end to end with authorizers: a real issuer (JWKS over HTTP), real Lambda authorizers in
worker processes, requests signed by botocore, through a real server and a stdlib HTTP client.

Skipped until the pipeline runs authorizers (`RoutePlan.auth`, see `stageway.auth`'s hand-over notes).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stageway.gateway.plan import RoutePlan
from tests.support.jwks_server import JwksServer
from tests.support.stageway_server import StagewayServer, http

pytestmark = pytest.mark.skipif(
    "auth" not in RoutePlan.__dataclass_fields__, reason="the pipeline does not run authorizers yet"
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY, SECRET = "AKIDGATEWAYTEST", "gateway-test-secret"
AUDIENCE = "app-client"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, issuer: JwksServer) -> Iterator[StagewayServer]:
    folder = tmp_path_factory.mktemp("auth")
    shutil.copytree(FIXTURES / "gateway_functions", folder / "code")
    shutil.copytree(FIXTURES / "authorizers", folder / "authorizers")
    (folder / "api.yaml").write_text(
        f"""
accountId: "111122223333"
functions:
  echo: {{runtime: python3.11, handler: handlers.echo_event, code: code}}
  gate: {{runtime: python3.11, handler: handlers.simple, code: authorizers}}
  policy: {{runtime: python3.11, handler: handlers.policy, code: authorizers}}
apis:
  secured:
    id: secured001
    integrations:
      echo: {{integrationType: AWS_PROXY, integrationUri: echo, payloadFormatVersion: "2.0"}}
      echo-v1: {{integrationType: AWS_PROXY, integrationUri: echo, payloadFormatVersion: "1.0"}}
    authorizers:
      issuer:
        authorizerType: JWT
        jwtConfiguration: {{issuer: "{issuer.issuer}", audience: [{AUDIENCE}]}}
      gate:
        authorizerType: REQUEST
        authorizerUri: gate
        authorizerPayloadFormatVersion: "2.0"
        enableSimpleResponses: true
        authorizerResultTtlInSeconds: 300
        identitySource: [$request.header.x-token]
      policy:
        authorizerType: REQUEST
        authorizerUri: policy
        authorizerPayloadFormatVersion: "1.0"
        identitySource: [$request.header.x-token]
    routes:
      GET /open: echo
      GET /jwt: {{integration: echo, authorizer: issuer}}
      GET /jwt-v1: {{integration: echo-v1, authorizer: issuer}}
      GET /scoped: {{integration: echo, authorizer: issuer, authorizationScopes: [pets/write]}}
      GET /gate: {{integration: echo, authorizer: gate}}
      GET /policy/{{id}}: {{integration: echo-v1, authorizer: policy}}
      GET /iam: {{integration: echo, authorizationType: AWS_IAM}}
"""
    )
    args = ("--no-admin", "--iam-credentials", f"{KEY}:{SECRET}")
    with StagewayServer(folder / "api.yaml", args=args) as server:
        yield server


def get(gateway: StagewayServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    status, response_headers, body, _ = http("GET", gateway.url + path, headers=headers)
    return status, response_headers, body


def event(body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def token(issuer: JwksServer, **claims: Any) -> str:
    return issuer.token(issuer.claims(**{"aud": AUDIENCE, **claims}), key=issuer.keys["rsa"])


def test_open_routes_stay_open(gateway: StagewayServer) -> None:
    status, _, body = get(gateway, "/open")
    assert status == 200 and "authorizer" not in event(body)["requestContext"]


def test_jwt(gateway: StagewayServer, issuer: JwksServer) -> None:
    status, headers, body = get(gateway, "/jwt")
    assert (status, body, headers["www-authenticate"]) == (401, b'{"message":"Unauthorized"}', "Bearer")

    status, headers, body = get(gateway, "/jwt", {"Authorization": f"Bearer {token(issuer, aud='other')}"})
    assert status == 401
    assert headers["www-authenticate"] == (
        'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"'
    )

    status, _, body = get(gateway, "/jwt", {"Authorization": f"Bearer {token(issuer, groups=['a', 'b'])}"})
    assert status == 200
    authorizer = event(body)["requestContext"]["authorizer"]
    assert authorizer["jwt"]["claims"]["sub"] == "user-1"
    assert authorizer["jwt"]["claims"]["groups"] == "[a b]"
    assert authorizer["jwt"]["scopes"] is None

    status, _, body = get(gateway, "/jwt-v1", {"Authorization": token(issuer)})
    assert status == 200
    assert event(body)["requestContext"]["authorizer"]["claims"]["aud"] == AUDIENCE


def test_jwt_scopes(gateway: StagewayServer, issuer: JwksServer) -> None:
    status, headers, body = get(gateway, "/scoped", {"Authorization": f"Bearer {token(issuer, scope='pets/read')}"})
    assert (status, body) == (403, b'{"message":"Forbidden"}')
    assert 'error="insufficient_scope"' in headers["www-authenticate"]
    status, _, body = get(gateway, "/scoped", {"Authorization": f"Bearer {token(issuer, scope='pets/write')}"})
    assert status == 200 and event(body)["requestContext"]["authorizer"]["jwt"]["scopes"] == ["pets/write"]


def test_lambda_authorizers(gateway: StagewayServer) -> None:
    assert get(gateway, "/gate")[:1] == (401,)
    assert get(gateway, "/gate", {"X-Token": "mallory"})[0] == 403
    status, _, body = get(gateway, "/gate", {"X-Token": "allow"})
    assert status == 200
    assert event(body)["requestContext"]["authorizer"]["lambda"]["numberKey"] == 1

    status, _, body = get(gateway, "/policy/7", {"X-Token": "allow"})
    assert status == 200
    authorizer = event(body)["requestContext"]["authorizer"]
    assert (authorizer["principalId"], authorizer["stringKey"]) == ("user-42", "value")
    assert get(gateway, "/policy/7", {"X-Token": "deny"})[0] == 403


def test_iam(gateway: StagewayServer) -> None:
    status, _, body = get(gateway, "/iam")
    assert (status, body) == (403, b'{"message":"Forbidden"}')
    request = AWSRequest(method="GET", url=gateway.url + "/iam")
    SigV4Auth(Credentials(KEY, SECRET), "execute-api", "us-east-1").add_auth(request)
    status, _, body = get(gateway, "/iam", dict(request.headers.items()))
    assert status == 200
    assert event(body)["requestContext"]["authorizer"]["iam"]["accessKey"] == KEY
    request.headers["X-Amz-Date"] = "20200101T000000Z"
    assert get(gateway, "/iam", dict(request.headers.items()))[0] == 403
