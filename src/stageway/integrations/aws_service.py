"""Calling AWS APIs: SigV4-signed requests for AWS service integrations (spec §4.7) and remote Lambda.

`sign_request` is the signing side of `stageway.core.sigv4` (the same canonical request, string to sign
and key), checked against botocore's `SigV4Auth` in the tests. `AwsClient` signs with the credentials
stageway is configured with and sends over the gateway's pooled HTTP client, so an unreachable endpoint
is `IntegrationFailure` (500) and a slow one `IntegrationTimeout` (503), as for HTTP integrations.

`credentialsArn` is kept on the integration but no role is assumed: stageway signs every call with its
own credentials (`--aws-access-key-id` / `--aws-secret-access-key`, or the standard `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` environment variables).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from stageway.core.aws_service import ServiceRequest, build_service_request
from stageway.core.context_vars import ContextVariables
from stageway.core.errors import IntegrationFailure
from stageway.core.http import GatewayResponse
from stageway.core.sigv4 import (
    ALGORITHM,
    TIMESTAMP_FORMAT,
    SignedRequest,
    canonical_request,
    signing_key,
    string_to_sign,
)

if TYPE_CHECKING:
    from stageway.gateway.plan import AwsServicePlan

# What of the service's answer reaches the client besides status and body [INF]: AWS documents neither;
# the service's content type is what a client needs to read the body.
_PASSED_RESPONSE_HEADERS = frozenset({"content-type"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    @classmethod
    def resolve(
        cls,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> AwsCredentials | None:
        """The given keys, else the standard environment variables, else None."""
        key = access_key_id or environ.get("AWS_ACCESS_KEY_ID")
        secret = secret_access_key or environ.get("AWS_SECRET_ACCESS_KEY")
        if not key or not secret:
            return None
        token = environ.get("AWS_SESSION_TOKEN") if not access_key_id else None
        return cls(key, secret, token or None)


def sign_request(request: ServiceRequest, credentials: AwsCredentials, now: datetime) -> list[tuple[str, str]]:
    """The headers to send: the request's own, `host`, `x-amz-date`, the session token if any, and
    `authorization` (SigV4 over every one of them)."""
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    timestamp = now.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    headers = [("host", host), *request.headers, ("x-amz-date", timestamp)]
    if credentials.session_token:
        headers.append(("x-amz-security-token", credentials.session_token))
    names = sorted({name.lower() for name, _ in headers})
    signed = SignedRequest.of(request.method, parts.path or "/", parts.query, headers, request.body)
    canonical = canonical_request(signed, names, hashlib.sha256(request.body).hexdigest())
    scope = f"{timestamp[:8]}/{request.region}/{request.service}/aws4_request"
    key = signing_key(credentials.secret_access_key, timestamp[:8], request.region, request.service)
    signature = hmac.new(key, string_to_sign(timestamp, scope, canonical).encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    headers.append(("authorization", authorization))
    return headers


class Transport(Protocol):
    """What sends the signed request: the gateway's `HttpProxyClient`."""

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, timeout_s: float
    ) -> GatewayResponse: ...


class AwsClient:
    """Signs AWS API requests with stageway's credentials and sends them."""

    def __init__(self, transport: Transport, credentials: AwsCredentials | None) -> None:
        self.transport = transport
        self.credentials = credentials

    async def send(self, request: ServiceRequest, timeout_s: float) -> GatewayResponse:
        if self.credentials is None:
            raise IntegrationFailure(
                f"no AWS credentials to sign the {request.service} request with: set --aws-access-key-id and "
                "--aws-secret-access-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        headers = sign_request(request, self.credentials, datetime.now(UTC))
        return await self.transport.send(request.method, request.url, headers, request.body, timeout_s)


def aws_request_id(response: GatewayResponse) -> str:
    for name, value in response.headers:
        if name in ("x-amzn-requestid", "x-amz-request-id"):
            return value
    return ""


class AwsServices:
    """AWS service integrations: where their calls go (`--aws-endpoint-url`, else AWS) and who signs them."""

    def __init__(self, client: AwsClient, endpoint_url: str | None = None) -> None:
        self.client = client
        self.endpoint_url = endpoint_url or None


async def call_aws_service(
    services: AwsServices, plan: AwsServicePlan, context: ContextVariables
) -> tuple[GatewayResponse, str]:
    """The client's response and the service's request id (`$context.integration.requestId`).

    The service's status and body reach the client as the service sent them, errors included [INF: spec
    §4.7 "essentially unchanged"]; an unreachable service is 500, no answer within the integration
    timeout 503 (spec §4.6)."""
    values = plan.call.render(context)
    request = build_service_request(
        plan.call.subtype, values, default_region=plan.region, endpoint_url=services.endpoint_url
    )
    response = await services.client.send(request, plan.timeout_s)
    headers = [(name, value) for name, value in response.headers if name in _PASSED_RESPONSE_HEADERS]
    return GatewayResponse(response.status, headers, response.body), aws_request_id(response)
