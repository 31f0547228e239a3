"""AWS_PROXY to a Lambda function: build the event, invoke, read the response (spec §4.1–4.4)."""

from __future__ import annotations

import asyncio
from typing import Protocol

import orjson

from stageway.core.errors import GatewayError, IntegrationFailure, IntegrationTimeout, PayloadTooLarge
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext
from stageway.core.lambda_events import build_v1_event, build_v2_event, encode_event
from stageway.core.lambda_responses import parse_v1_response, parse_v2_response
from stageway.core.stage_variables import substitute_stage_variables
from stageway.functions import FunctionNotFound, FunctionThrottled, InvocationResult, RequestTooLarge
from stageway.gateway.plan import LambdaPlan
from stageway.running_loop import running_loop


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
    v1 = plan.payload_format_version == "1.0"
    if v1:
        payload = encode_event(build_v1_event(request, route, headers))
    else:
        payload = encode_event(build_v2_event(request, route, headers))
    name = plan.function_name
    if plan.has_stage_variables:
        name = substitute_stage_variables(name, route.stage_variables)
    # The integration timeout bounds the whole call; the function keeps running (as on AWS), its result is
    # dropped, and the client gets 503.
    deadline = _Deadline(plan.timeout_s)
    try:
        result = await invoker.invoke(name, payload)
    except asyncio.CancelledError:
        if deadline.caused_cancellation():
            raise timed_out(name, plan) from None
        raise
    except TimeoutError:
        raise timed_out(name, plan) from None
    except (FunctionNotFound, FunctionThrottled, RequestTooLarge) as error:
        raise invocation_refused(error, plan) from None
    finally:
        deadline.disarm()
    if result.function_error:
        raise function_failed(result)
    if v1:
        return parse_v1_response(result.payload), result.request_id
    return parse_v2_response(result.payload), result.request_id


def invocation_refused(error: FunctionNotFound | FunctionThrottled | RequestTooLarge, plan: LambdaPlan) -> GatewayError:
    """What the client gets when Lambda refuses the invocation."""
    if isinstance(error, FunctionNotFound):
        return IntegrationFailure(f"Function not found: {plan.function_arn}")
    if isinstance(error, FunctionThrottled):
        # Lambda's 429 reaches API Gateway's client as a 500 (spec §8).
        return IntegrationFailure(f"Lambda throttled the invocation of {plan.function_arn}")
    return PayloadTooLarge(f"the event for {plan.function_arn} is over Lambda's 6 MB limit")


def function_failed(result: InvocationResult) -> IntegrationFailure:
    """What the client gets when the function returned an error (500)."""
    return IntegrationFailure(_function_error_detail(result))


class _Deadline:
    """Cancels the current task `timeout_s` from now unless disarmed first, and tells its cancellation from
    any other: what `asyncio.timeout` does, on one loop timer, without its context manager and its second
    look-up of the running loop (each a getpid() system call on Python 3.11), and in the awaiting
    coroutine's own frame rather than a wrapper's that every resumption would pass through."""

    __slots__ = ("_expired", "_task", "_timer")

    def __init__(self, timeout_s: float) -> None:
        loop = running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        self._task = task
        self._expired = False
        self._timer = loop.call_later(timeout_s, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def caused_cancellation(self) -> bool:
        """Whether the task's cancellation is the deadline's and no one else's; if so it is withdrawn."""
        return self._expired and self._task.uncancel() == 0

    def disarm(self) -> None:
        self._timer.cancel()


def timed_out(name: str, plan: LambdaPlan) -> IntegrationTimeout:
    return IntegrationTimeout(f"Lambda function {name} did not answer within {plan.timeout_s:g} s")


def _function_error_detail(result: InvocationResult) -> str:
    try:
        error = orjson.loads(result.payload)
        return f"The Lambda function returned an error: {error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
    except (orjson.JSONDecodeError, AttributeError):
        return "The Lambda function returned an error"
