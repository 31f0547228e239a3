"""What the proxy lane relies on without checking it per request (server/proxy_lane.py)."""

from __future__ import annotations

import httptools
import pytest

from stageway.server.proxy_lane import OUTSIDE_LANE


class _Headers:
    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))


@pytest.mark.parametrize(
    "head",
    [
        b"X: a\r\n b\r\n",  # an obsolete line fold
        b"X: a\rb\r\n",  # a CR inside a value
        b"X: a\nb: c\r\n",  # a bare LF
    ],
)
def test_httptools_refuses_line_breaks_in_header_values(head: bytes) -> None:
    # The lane writes header values into the backend's request and the client's answer as received, without
    # the pipeline's line-break check: a line break in a value would split a message in two.
    for parser_class, start in (
        (httptools.HttpRequestParser, b"GET / HTTP/1.1\r\nHost: a\r\n"),
        (httptools.HttpResponseParser, b"HTTP/1.1 200 OK\r\n"),
    ):
        callbacks = _Headers()
        with pytest.raises(httptools.HttpParserError):
            parser_class(callbacks).feed_data(start + head + b"Content-Length: 0\r\n\r\n")
        assert all(b"\r" not in value and b"\n" not in value for _, value in callbacks.headers)


def test_requests_with_a_body_or_special_headers_stay_outside_the_lane() -> None:
    assert {b"content-length", b"transfer-encoding", b"expect"} <= OUTSIDE_LANE
    assert {b"connection", b"x-forwarded-for", b"x-amzn-trace-id", b"forwarded", b"via", b"upgrade"} <= OUTSIDE_LANE
    assert b"host" not in OUTSIDE_LANE and b"user-agent" not in OUTSIDE_LANE
