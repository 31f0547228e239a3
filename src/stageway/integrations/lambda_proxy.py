"""AWS_PROXY to a Lambda function: build the event, invoke, read the response (spec §4.1–4.4)."""

from __future__ import annotations

import asyncio
from typing import Protocol

import orjson

from stageway.core.errors import IntegrationFailure, IntegrationTimeout, PayloadTooLarge
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext
from stageway.core.lambda_events import build_v1_event, build_v2_event, encode_event
from stageway.core.lambda_responses import parse_v1_response, parse_v2_response
from stageway.core.stage_variables import substitute_stage_variables
from stageway.functions import FunctionNotFound, FunctionThrottled, InvocationResult, RequestTooLarge
from stageway.gateway.plan import LambdaPlan


class FunctionInvoker(Protocol):
    """What runs functions: the local runtime, or a client of a remote Lambda endpoint."""

    async def invoke(
        self, name: str, payload: bytes, *, request_id: str | None = None, client_context: str | None = None
    ) -> InvocationResult: ...


async def call_lambda(
    invoker: FunctionInvoker,
    plan: LambdaPlan,
    request: IncomingRequest,
    route: RouteContext,
    headers: list[tuple[str, str]],
) -> tuple[GatewayResponse, str]:
    """The client's response and the Lambda request id (for `$context.integration.requestId`)."""
    if plan.payload_format_version == "1.0":
        payload = encode_event(build_v1_event(request, route, headers))
    else:
        payload = encode_event(build_v2_event(request, route, headers))
    name = plan.function_name
    if plan.has_stage_variables:
        name = substitute_stage_variables(name, route.stage_variables)
    try:
        # The integration timeout bounds the whole call; the function keeps running (as on AWS), its result
        # is dropped, and the client gets 503.
        result = await _invoke_within(invoker, name, payload, plan.timeout_s)
    except TimeoutError:
        raise IntegrationTimeout(f"Lambda function {name} did not answer within {plan.timeout_s:g} s") from None
    except FunctionNotFound:
        raise IntegrationFailure(f"Function not found: {plan.function_arn}") from None
    except FunctionThrottled:
        # Lambda's 429 reaches API Gateway's client as a 500 (spec §8).
        raise IntegrationFailure(f"Lambda throttled the invocation of {plan.function_arn}") from None
    except RequestTooLarge:
        raise PayloadTooLarge(f"the event for {plan.function_arn} is over Lambda's 6 MB limit") from None
    if result.function_error:
        raise IntegrationFailure(_function_error_detail(result))
    if plan.payload_format_version == "1.0":
        return parse_v1_response(result.payload), result.request_id
    return parse_v2_response(result.payload), result.request_id


class _Expiry:
    """Cancels the awaiting task at the deadline, and remembers that it did."""

    __slots__ = ("expired", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.expired = False

    def __call__(self) -> None:
        self.expired = True
        self.task.cancel()


async def _invoke_within(invoker: FunctionInvoker, name: str, payload: bytes, timeout_s: float) -> InvocationResult:
    """`invoker.invoke` bounded by `timeout_s` (TimeoutError past it): what `asyncio.timeout` does, on one loop
    timer, without its context object and its second look-up of the running loop (each a getpid() system
    call on Python 3.11)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task(loop)
    assert task is not None
    expiry = _Expiry(task)
    timer = loop.call_at(loop.time() + timeout_s, expiry)
    try:
        return await invoker.invoke(name, payload)
    except asyncio.CancelledError:
        # Ours only if the timer fired and no one else cancelled the task as well.
        if expiry.expired and task.uncancel() == 0:
            raise TimeoutError from None
        raise
    finally:
        timer.cancel()


def _function_error_detail(result: InvocationResult) -> str:
    try:
        error = orjson.loads(result.payload)
        return f"The Lambda function returned an error: {error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
    except (orjson.JSONDecodeError, AttributeError):
        return "The Lambda function returned an error"
