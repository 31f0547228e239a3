"""The floor proxy plus the per-request work a gateway must do, on bytes: how fast stageway's route could be.

    python bench/lean_proxy.py --port 8000 --backend-port 8090 --api proxy.yaml

`bench/floor_proxy.py` forwards requests and does nothing a gateway must. This one serves the same API file
as `stageway serve` and, per request, does what stageway does for a plain HTTP_PROXY route, calling
stageway's own code where it is the same work: API and stage selection and route matching (`select`,
`RouteMatcher.match` on the compiled plan), the account and route throttle check (`admit_now`), a request id
and a trace id (`stageway.core.ids`), the backend URL of the route's integration, the forwarding headers
(`x-forwarded-for`, `x-forwarded-port`, `x-forwarded-proto`, `x-amzn-trace-id`, `forwarded`, `via`), the
client headers less those the gateway drops or sets, the backend's answer less hop-by-hop and
server-owned headers, and AWS's `date`, `content-length` and `apigw-requestid`, and a latency histogram.
What it does not do: parameter mapping, CORS, authorizers, access logs, errors (a failing backend gets the
client connection closed), pipelining, quotas. Headers stay bytes from end to end, and a request creates
no objects beyond the strings it sends.

So `stageway / lean` in `make bench` says how much of stageway's CPU per request is the gateway's necessary
work and how much is the way stageway does it (text headers, request and exchange objects, the pipeline's
layers). Not a server to use.
"""

from __future__ import annotations

import argparse
from bisect import bisect_left
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from time import monotonic, perf_counter, time_ns

import uvloop
from floor_proxy import _Backend, _Client, serve  # type: ignore[import-not-found]

from stageway.core.http_proxy import BackendUrl, parse_backend_url
from stageway.core.ids import new_request_id, trace_digits
from stageway.gateway.selection import select
from stageway.server.serve import Node, ServeOptions

# What `direct_backend_headers` drops from the client's headers, and the names it sets itself.
_REQUEST_DROPPED = frozenset(
    {
        b"host", b"content-length", b"expect", b"connection", b"keep-alive", b"transfer-encoding", b"te",
        b"trailer", b"upgrade", b"proxy-connection", b"proxy-authorization", b"x-forwarded-for",
        b"x-forwarded-port", b"x-forwarded-proto", b"x-amzn-trace-id", b"forwarded", b"via",
    }
)
# What `backend_response_headers` and the listener drop from the backend's answer.
_RESPONSE_DROPPED = frozenset(
    {
        b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date", b"apigw-requestid",
        b"te", b"trailer", b"upgrade", b"proxy-authenticate", b"proxy-connection",
    }
)
_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus}
_LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)

node: Node
latency_by_bucket = [0] * (len(_LATENCY_BUCKETS_MS) + 1)
backends: dict[str, BackendUrl] = {}
_date: tuple[int, bytes] = (-1, b"")


def _date_line() -> bytes:
    global _date
    second = time_ns() // 1_000_000_000
    if _date[0] != second:
        _date = (second, f"date: {formatdate(second, usegmt=True)}\r\n".encode())
    return _date[1]


class _LeanBackend(_Backend):
    client: _LeanClient

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() not in _RESPONSE_DROPPED:
            self.headers += (name, b": ", value, b"\r\n")

    def on_message_complete(self) -> None:
        client = self.client
        body = b"".join(self.body)
        head = b"%s%s%scontent-length: %d\r\napigw-requestid: %s\r\n\r\n" % (
            _STATUS_LINES.get(self.parser.get_status_code(), b"HTTP/1.1 500 \r\n"),
            _date_line(),
            b"".join(self.headers),
            len(body),
            client.request_id,
        )
        client.send(head + body)
        self.headers = []
        self.body = []
        latency_by_bucket[bisect_left(_LATENCY_BUCKETS_MS, (perf_counter() - client.started) * 1000)] += 1


class _LeanClient(_Client):
    backend_class = _LeanBackend

    def __init__(self, backend_port: int) -> None:
        super().__init__(backend_port)
        self.host = b""
        self.request_id = b""
        self.started = 0.0
        self.peer = b""
        self.local_port = b""

    def connection_made(self, transport: object) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.peer = transport.get_extra_info("peername")[0].encode()  # type: ignore[attr-defined]
        self.local_port = str(transport.get_extra_info("sockname")[1]).encode()  # type: ignore[attr-defined]

    def on_message_begin(self) -> None:
        self.started = perf_counter()

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"host":
            self.host = value
        elif lower not in _REQUEST_DROPPED:
            self.headers += (lower, b": ", value, b"\r\n")  # names lower-cased, as stageway sends them

    def backend_request(self) -> bytes | None:
        gateway = node.gateway
        method = self.parser.get_method().decode()
        path, _, query = self.url.decode("latin-1").partition("?")
        host = self.host.decode("latin-1").rsplit(":", 1)[0]  # (no IPv6 literals here)
        selection = select(gateway.plan, host, path)
        match = selection.stage.matcher.match(method, selection.route_raw_path) if selection else None
        if match is None or not gateway.throttler.admit_now(match.route.target.throttle_limits, monotonic()):
            return None  # stageway would answer 404 or 429: not what this proxy measures
        integration = match.route.target.integration
        url = integration.uri.render(match.path_parameters, selection.stage.stage_variables, raw_query=query)
        backend = backends.get(url)
        if backend is None:
            backend = backends[url] = parse_backend_url(url)
        self.request_id = new_request_id().encode()
        body = b"".join(self.body)
        return (
            b"%s %s HTTP/1.1\r\nhost: %s\r\n%sx-forwarded-for: %s\r\nx-forwarded-port: %s\r\n"
            b"x-forwarded-proto: http\r\nx-amzn-trace-id: Root=1-%08x-%s\r\nforwarded: for=%s;host=%s;proto=http\r\n"
            b"via: HTTP/1.1 AmazonAPIGateway\r\n%s\r\n"
            % (
                (integration.method or method).encode(),
                backend.target.encode(),
                backend.authority.encode(),
                b"".join(self.headers),
                self.peer,
                self.local_port,
                time_ns() // 1_000_000_000,
                trace_digits().encode(),
                self.peer,
                host.encode("latin-1"),
                b"content-length: %d\r\n" % len(body) if body else b"",
            )
        ) + body


def main() -> None:
    global node
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--backend-port", type=int, required=True)
    parser.add_argument("--api", type=Path, required=True, help="the API file `stageway serve` is given")
    args = parser.parse_args()
    # As the bench runs stageway: account quota raised (still checked per request), nothing logged.
    node = Node(
        ServeOptions(
            files=[args.api], store_url="memory://", admin_port=None, access_log=False,
            account_rate=1_000_000, account_burst=1_000_000,
        )
    )
    node.apply_files(deploy_all_stages=True)
    node.refresh()
    uvloop.run(serve(args.host, args.port, args.backend_port, _LeanClient))


if __name__ == "__main__":
    main()
