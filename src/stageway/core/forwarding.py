"""Headers the gateway adds before an integration sees a request (spec §4.2, §4.5, §11.2).

AWS adds `x-forwarded-for` (extended with the client address), `x-forwarded-port`, `x-forwarded-proto` and
`x-amzn-trace-id`; Lambda events show them, and HTTP backends receive them too.
"""

from __future__ import annotations

from stageway.core.http import IncomingRequest
from stageway.core.ids import trace_digits

GATEWAY_ADDED = frozenset({"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"})


_trace_prefix: tuple[int, str] = (-1, "")


def trace_id(time_epoch_ms: int) -> str:
    """An X-Ray style trace id: `Root=1-<8 hex epoch seconds>-<24 hex random>`. (The part before the random
    digits is the same for a whole second: made once a second.)"""
    global _trace_prefix
    second = time_epoch_ms // 1000
    cached = _trace_prefix
    if cached[0] != second:
        cached = _trace_prefix = (second, f"Root=1-{second:08x}-")
    return cached[1] + trace_digits()


def with_forwarding_headers(request: IncomingRequest) -> list[tuple[str, str]]:
    """The request's headers with the gateway's forwarding headers set, as an integration sees them."""
    headers = []
    forwarded_for: list[str] = []
    client_trace: list[str] = []
    for header in request.headers:
        name = header[0]
        if name not in GATEWAY_ADDED:
            headers.append(header)
        elif name == "x-forwarded-for":
            forwarded_for.append(header[1])
        elif name == "x-amzn-trace-id":
            client_trace.append(header[1])
    # Repeated headers count as one, joined with "," as AWS joins them.
    headers += forwarding_headers(
        request.source_ip,
        request.server_port,
        request.scheme,
        request.time_epoch_ms,
        client_for=",".join(forwarded_for),
        client_trace=",".join(client_trace),
    )
    return headers


def forwarding_headers(
    source_ip: str, server_port: int, scheme: str, time_epoch_ms: int, *, client_for: str = "", client_trace: str = ""
) -> tuple[tuple[str, str], ...]:
    """The four headers the gateway adds, in order, given what the client sent of `x-forwarded-for` and
    `x-amzn-trace-id` ("" for none). (Also the listener's Lambda lane's, for requests that send neither.)"""
    return (
        ("x-forwarded-for", f"{client_for}, {source_ip}" if client_for else source_ip),
        ("x-forwarded-port", str(server_port)),
        ("x-forwarded-proto", scheme),
        # A client-supplied trace id is kept, as X-Ray propagates it.
        ("x-amzn-trace-id", client_trace or trace_id(time_epoch_ms)),
    )
