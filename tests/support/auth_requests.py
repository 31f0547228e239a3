"""Requests and routes as the pipeline hands them to `Authorizers.authorize`, for the auth tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.lambda_events import parse_query_string

T = TypeVar("T")

API_ID = "k3xq9zw1ab"
ACCOUNT_ID = "111122223333"
REGION = "eu-west-1"
HOST = f"{API_ID}.execute-api.{REGION}.amazonaws.com"


def make_request(
    method: str = "GET",
    path: str = "/prod/pets/7",
    *,
    headers: list[tuple[str, str]] | None = None,
    query: str = "",
    body: bytes = b"",
    host: str = HOST,
) -> IncomingRequest:
    return IncomingRequest(
        method=method,
        raw_path=path,
        raw_query=query,
        headers=[("host", host), ("user-agent", "pytest"), *[(name.lower(), v) for name, v in (headers or [])]],
        body=body,
        source_ip="198.51.100.7",
        request_id="XyZ1aBcDeFgHiJk=",
        time_epoch_ms=int(time.time() * 1000),
        host=host,
    )


def make_route(
    request: IncomingRequest,
    route_key: str = "GET /pets/{id}",
    *,
    stage: str = "prod",
    path_parameters: dict[str, str] | None = None,
    stage_variables: dict[str, str] | None = None,
) -> RouteContext:
    prefix = "" if stage == "$default" else f"/{stage}"
    return RouteContext(
        api_id=API_ID,
        account_id=ACCOUNT_ID,
        region=REGION,
        stage=stage,
        route_key=route_key,
        path_parameters={"id": "7"} if path_parameters is None else path_parameters,
        stage_variables=stage_variables or {},
        stage_raw_path=request.raw_path,
        route_raw_path=request.raw_path.removeprefix(prefix) or "/",
        domain_name=request.host,
    )


def query_of(request: IncomingRequest) -> dict[str, str]:
    return dict(parse_query_string(request.raw_query))


def run(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coroutine)
