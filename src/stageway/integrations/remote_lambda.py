"""Functions that do not run here: Lambda's Invoke API over HTTP, SigV4-signed.

`RemoteLambdaInvoker` calls `POST /2015-03-31/functions/{name}/invocations` (botocore model `lambda`
2015-03-31, `InvocationType: RequestResponse`) on `--lambda-endpoint-url`: AWS Lambda's regional
endpoint, or anything that speaks the same API (another stageway's admin listener). Its answers become
what `LocalRuntime.invoke` gives: an `InvocationResult` (with `X-Amz-Function-Error` as the function
error), or `FunctionNotFound` (404), `FunctionThrottled` (429), `RequestTooLarge` (413).

`LocalThenRemote` is the gateway's invoker: a function defined here runs here; any other name goes to
the remote endpoint when one is configured, so an `AWS_PROXY` integration whose ARN names no local
function still reaches its function.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import quote

import orjson

from stageway.core.aws_service import ServiceRequest
from stageway.core.errors import IntegrationFailure
from stageway.functions import (
    MAX_PAYLOAD_BYTES,
    FunctionNotFound,
    FunctionThrottled,
    InvocationResult,
    RequestTooLarge,
)
from stageway.integrations.aws_service import AwsClient, aws_request_id
from stageway.integrations.lambda_proxy import FunctionInvoker

INVOKE_TIMEOUT_S = 900.0
"""Lambda's longest function timeout; callers bound the call with their own (the integration timeout)."""


class RemoteLambdaInvoker:
    """Invokes functions through Lambda's Invoke API at `endpoint_url`, signed for `region`."""

    def __init__(self, client: AwsClient, endpoint_url: str, region: str) -> None:
        self.client = client
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region

    async def invoke(
        self, name: str, payload: bytes, *, request_id: str | None = None, client_context: str | None = None
    ) -> InvocationResult:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise RequestTooLarge(len(payload))
        headers = [("content-type", "application/json"), ("x-amz-invocation-type", "RequestResponse")]
        if client_context is not None:
            headers.append(("x-amz-client-context", base64.b64encode(client_context.encode()).decode()))
        request = ServiceRequest(
            "POST",
            f"{self.endpoint_url}/2015-03-31/functions/{quote(name, safe='')}/invocations",
            headers,
            payload,
            "lambda",
            self.region,
        )
        started = time.perf_counter()
        response = await self.client.send(request, INVOKE_TIMEOUT_S)
        duration_ms = (time.perf_counter() - started) * 1000
        if response.status == 404:
            raise FunctionNotFound(f"Function not found: {name}")
        if response.status == 429:
            raise FunctionThrottled(name)
        if response.status == 413:
            raise RequestTooLarge(len(payload))
        if response.status != 200:
            raise IntegrationFailure(
                f"Lambda Invoke of {name} at {self.endpoint_url} answered {response.status}: {_error(response.body)}"
            )
        function_error = next((value for key, value in response.headers if key == "x-amz-function-error"), None)
        return InvocationResult(
            request_id=aws_request_id(response),
            payload=response.body,
            function_error=function_error,
            log_tail="",
            duration_ms=duration_ms,
        )


def _error(body: bytes) -> str:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(parsed, dict):
        kind = parsed.get("__type") or parsed.get("Type") or "Error"
        return f"{kind}: {parsed.get('message') or parsed.get('Message') or ''}"
    return body[:200].decode("utf-8", "replace")


class LocalThenRemote:
    """The local runtime first; a function it does not have goes to the remote endpoint, if any."""

    def __init__(self, local: FunctionInvoker, remote: FunctionInvoker | None = None) -> None:
        self.local = local
        self.remote = remote

    async def invoke(
        self, name: str, payload: bytes, *, request_id: str | None = None, client_context: str | None = None
    ) -> InvocationResult:
        try:
            return await self.local.invoke(name, payload, request_id=request_id, client_context=client_context)
        except FunctionNotFound:
            if self.remote is None:
                raise
            return await self.remote.invoke(name, payload, request_id=request_id, client_context=client_context)
