"""What the proxy lane relies on without checking it per request (server/proxy_lane.py)."""

from __future__ import annotations

import httptools
import pytest

from stageway.server.proxy_lane import OUTSIDE_LANE, header_block


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


def test_chunked_bodies_expect_and_special_headers_stay_outside_the_lane() -> None:
    assert {b"transfer-encoding", b"expect"} <= OUTSIDE_LANE
    assert b"content-length" not in OUTSIDE_LANE  # a body within the quota takes the lane
    assert {b"connection", b"x-forwarded-for", b"x-amzn-trace-id", b"forwarded", b"via", b"upgrade"} <= OUTSIDE_LANE
    assert b"host" not in OUTSIDE_LANE and b"user-agent" not in OUTSIDE_LANE


def _filtered(names: tuple[bytes, ...], values: list[bytes], dropped: frozenset[bytes]) -> bytes:
    return b"".join(b"%s: %s\r\n" % (name, value) for name, value in zip(names, values, strict=True) if name not in dropped)


@pytest.mark.parametrize(
    "names",
    [
        (),
        (b"host",),
        (b"content-type",),
        (b"host", b"user-agent"),
        (b"content-type", b"content-length", b"date", b"x-a", b"x-a", b"set-cookie", b"set-cookie"),
        (b"x-100%", b"x-%s", b"host", b"x-%d%%"),  # `%` is a token character
    ],
)
def test_header_blocks_keep_what_a_filter_keeps(names: tuple[bytes, ...]) -> None:
    dropped = frozenset({b"host", b"content-length", b"date"})
    blocks: dict[tuple[bytes, ...], object] = {}
    for round_ in range(2):  # learned, then from the remembered shape
        values = [b"v%d-%d %%s" % (index, round_) for index in range(len(names))]
        assert header_block(blocks, dropped, names, values) == _filtered(names, values, dropped)  # type: ignore[arg-type]
    assert names in blocks


def test_header_blocks_match_a_filter_on_random_shapes() -> None:
    import random

    generator = random.Random(7)
    vocabulary = [b"host", b"accept", b"x-a", b"content-length", b"date", b"cookie", b"x-%"]
    dropped = frozenset({b"host", b"content-length", b"date"})
    blocks: dict[tuple[bytes, ...], object] = {}
    for _ in range(300):
        names = tuple(generator.choice(vocabulary) for _ in range(generator.randrange(6)))
        values = [bytes(generator.choice(b"ab%:; ") for _ in range(generator.randrange(4))) for _ in names]
        assert header_block(blocks, dropped, names, values) == _filtered(names, values, dropped)  # type: ignore[arg-type]
