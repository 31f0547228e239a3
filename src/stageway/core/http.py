"""Plain data that flows through the data plane: the request as received, where it was routed, the response.

Pure module: no I/O. Everything that builds Lambda events, maps parameters or renders `$context` variables
reads these objects, so they are the contract between the server and the pure logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

HEADER_LINE = "{0[0]}: {0[1]}\r\n".format
"""`name: value` and its line break, for a (name, value) pair: `"".join(map(HEADER_LINE, headers))` writes a
header block with no Python bytecode per header."""

HEADER_NAMES: dict[bytes, str] = {}
"""Header names as sent (requests' and backends' answers alike) to their lower-case text: the same few
dozen names arrive again and again. Read it first (`HEADER_NAMES.get(raw) or header_name(raw)`, or
`map(HEADER_NAMES.__getitem__, ...)`); `header_name` adds what it lacks."""
_MAX_CACHED_NAMES = 512


def header_name(raw: bytes) -> str:
    """A header name as sent, lower-cased (latin-1 keeps every byte); cached up to a bound, since a client
    may send any number of different names."""
    name = HEADER_NAMES.get(raw)
    if name is None:
        name = raw.decode("latin-1").lower()
        if len(HEADER_NAMES) < _MAX_CACHED_NAMES:
            HEADER_NAMES[raw] = name
    return name


RAW_HEADER_NAMES: dict[bytes, bytes] = {}
"""The same names to their lower-case bytes, for code that keeps headers as bytes (the proxy lane)."""


def raw_header_name(raw: bytes) -> bytes:
    """`header_name(raw)` as latin-1 bytes, cached likewise."""
    name = RAW_HEADER_NAMES.get(raw)
    if name is None:
        name = header_name(raw).encode("latin-1")
        if len(RAW_HEADER_NAMES) < _MAX_CACHED_NAMES:
            RAW_HEADER_NAMES[raw] = name
    return name


def raw_header_names(raw_names: Sequence[bytes]) -> tuple[bytes, ...]:
    """Each name lower-cased, with `map` over the cache: no Python bytecode per header once it is warm."""
    try:
        return tuple(map(RAW_HEADER_NAMES.__getitem__, raw_names))
    except KeyError:  # a name the cache does not hold yet
        return tuple(map(raw_header_name, raw_names))


def joined_header(names: tuple[bytes, ...], raw_headers: list[bytes], name: bytes) -> str | None:
    """A request header's values from the listener's raw headers (name, value, ... as bytes; `names` their
    `raw_header_names`, `name` lower-cased as they are), joined with "," as `IncomingRequest.header` joins
    them for the pipeline; None when the request has none."""
    if name not in names:
        return None
    if names.count(name) == 1:  # the common case: one value, found without a loop in Python
        return raw_headers[2 * names.index(name) + 1].decode("latin-1")
    return ",".join([value.decode("latin-1") for header, value in zip(names, raw_headers[1::2], strict=False) if header == name])


@dataclass(slots=True)
class IncomingRequest:
    """One client request, as the public listener received it."""

    method: str
    raw_path: str
    """Path as sent on the wire: percent-encoding kept, no query string, stage prefix included."""
    raw_query: str
    """Query string without the leading `?`, exactly as sent ("" when there is none)."""
    headers: list[tuple[str, str]]
    """Header names lower-cased; order and repeats kept."""
    body: bytes
    source_ip: str
    request_id: str
    time_epoch_ms: int
    host: str
    """The Host header without port ("" when absent); becomes `requestContext.domainName`."""
    scheme: str = "http"
    server_port: int = 8080
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """All values of a header (name lower-case) joined with "," as AWS joins them, or None."""
        found: str | None = None
        for key, value in self.headers:
            if key == name:
                found = value if found is None else f"{found},{value}"
        return found


@dataclass(slots=True)
class RouteContext:
    """Where the gateway routed a request: API, stage, route and what the route captured."""

    api_id: str
    account_id: str
    region: str
    stage: str
    """`$default` or the stage name."""
    route_key: str
    """The matched route key: "GET /pets/{id}", "ANY /{proxy+}" or "$default"."""
    path_parameters: dict[str, str]
    """Percent-decoded values; a greedy variable's value has no leading slash."""
    stage_variables: dict[str, str]
    stage_raw_path: str
    """The request path as AWS reports it (`rawPath`, 1.0 `path`): encoded, with a named stage's prefix."""
    route_raw_path: str
    """The path routes were matched against: encoded, without the stage prefix."""
    domain_name: str = ""
    authorizer: dict[str, object] | None = None
    mapping_key: str | None = None
    """The custom domain's API mapping key that matched ("" for the `(none)` mapping), or None."""
    identity: dict[str, object] | None = None
    """An IAM-authorized caller's identity fields (`accessKey`, `userArn`, ...) for payload 1.0's
    `requestContext.identity`."""

    @property
    def resource_path(self) -> str:
        return resource_path(self.route_key)


def resource_path(route_key: str) -> str:
    """A route's path template ("/pets/{id}" of "GET /pets/{id}"), or "$default" for the `$default` route."""
    if route_key == "$default":
        return "$default"
    return route_key.split(" ", 1)[1]


@dataclass(slots=True)
class GatewayResponse:
    """What goes back to the client. Header names are lower-case; repeats (set-cookie) are separate entries."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
