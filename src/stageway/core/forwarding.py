"""Headers the gateway adds before an integration sees a request (spec §4.2, §4.5, §11.2).

AWS adds `x-forwarded-for` (extended with the client address), `x-forwarded-port`, `x-forwarded-proto` and
`x-amzn-trace-id`; Lambda events show them, and HTTP backends receive them too.
"""

from __future__ import annotations

import os

from stageway.core.http import IncomingRequest

GATEWAY_ADDED = frozenset({"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"})


def trace_id(time_epoch_ms: int) -> str:
    """An X-Ray style trace id: `Root=1-<8 hex epoch seconds>-<24 hex random>`."""
    return f"Root=1-{time_epoch_ms // 1000:08x}-{os.urandom(12).hex()}"


def with_forwarding_headers(request: IncomingRequest) -> list[tuple[str, str]]:
    """The request's headers with the gateway's forwarding headers set, as an integration sees them."""
    forwarded_for = request.header("x-forwarded-for")
    client_trace = request.header("x-amzn-trace-id")
    headers = [(name, value) for name, value in request.headers if name not in GATEWAY_ADDED]
    headers.append(
        ("x-forwarded-for", f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip)
    )
    headers.append(("x-forwarded-port", str(request.server_port)))
    headers.append(("x-forwarded-proto", request.scheme))
    # A client-supplied trace id is kept, as X-Ray propagates it.
    headers.append(("x-amzn-trace-id", client_trace or trace_id(request.time_epoch_ms)))
    return headers
