"""HTTP_PROXY integrations: the backend URL and the headers that cross the gateway (spec §2.3, §4.5, §11).

Pure module: strings in, strings out. A deployment compiles each (route, integration URI) pair once with
`compile_uri_template`; a request renders the template with its path parameters and the stage's variables,
then filters headers both ways with `backend_request_headers` / `backend_response_headers`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress
from operator import itemgetter, not_
from urllib.parse import quote

from stageway.core.forwarding import GATEWAY_ADDED, trace_id, with_forwarding_headers
from stageway.core.http import IncomingRequest

# Hop-by-hop headers (RFC 9110 §7.6.1): meaningful for one connection only, never forwarded either way
# (spec §11.2). Any header named in `Connection` is hop-by-hop too.
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

# `host` is rewritten, `content-length` is recomputed by the client from the body it sends, and `expect` is
# dropped because the gateway has already read the whole body (a backend must not wait for 100-continue).
# `forwarded` and `via` are extended below, never passed twice.
_REQUEST_REPLACED = frozenset({"host", "content-length", "expect", "forwarded", "via"})

# AWS sets `date` and `content-length` on every response itself (spec §11.1) and `apigw-requestid` is the
# gateway's, so the backend's copies are dropped rather than duplicated.
_RESPONSE_REPLACED = frozenset({"content-length", "date", "apigw-requestid"})
RESPONSE_DROPPED_HEADERS = HOP_BY_HOP_HEADERS | _RESPONSE_REPLACED

# Seen on requests API Gateway HTTP APIs send to HTTP backends (expressjs/session#886 capture).
VIA_VALUE = "HTTP/1.1 AmazonAPIGateway"

_PLACEHOLDER = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}|\{([\w.:-]+?)(\+?)\}")
_FORWARDED_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True, slots=True)
class _Part:
    """One piece of a URI template: literal text, a route path variable, or a stage variable."""

    literal: str = ""
    path_parameter: str | None = None
    stage_variable: str | None = None
    safe: str = ""
    """Characters left unencoded when a path parameter's (decoded) value is put back into the URL."""


@dataclass(frozen=True, slots=True)
class UriTemplate:
    """An integration URI split once into literal text and placeholders; `render` runs per request."""

    uri: str
    parts: tuple[_Part, ...]
    static: str | None
    """The URI itself when it has no placeholders (most non-greedy routes): nothing to substitute."""
    static_without_query: bool = False
    """`static` has no query and no fragment: a query string is appended as `?query`."""

    def render(
        self,
        path_parameters: Mapping[str, str],
        stage_variables: Mapping[str, str],
        *,
        append_path: str | None = None,
        raw_query: str = "",
    ) -> str:
        """The backend URL for one request.

        `append_path` is the encoded request path to add to the URI's path: for the `$default` route AWS
        "sends the full request path to the integration", a named stage's prefix included (spec §2.2, §4.5).
        `raw_query` is the client's query string, passed on unchanged after the URI's own query, if any.
        """
        if self.static is not None:
            url = self.static
        else:
            pieces: list[str] = []
            for part in self.parts:
                if part.path_parameter is not None:
                    value = quote(path_parameters.get(part.path_parameter, ""), safe=part.safe)
                    pieces.append(_escape_dot_segments(value) if "." in value else value)
                elif part.stage_variable is not None:
                    # Stage variable values are spliced in verbatim: AWS's own examples put a whole host
                    # (`http://${stageVariables.url}`) or a host label in one (spec §2.3).
                    pieces.append(stage_variables.get(part.stage_variable, ""))
                else:
                    pieces.append(part.literal)
            url = "".join(pieces)
        if append_path is None:
            if not raw_query:
                return url
            if url is self.static and self.static_without_query:
                return f"{url}?{raw_query}"  # the common mapped-query case, without taking the URL apart
        return _extend_url(url, append_path, raw_query)


def compile_uri_template(integration_uri: str, *, greedy_parameters: Collection[str] = ()) -> UriTemplate:
    """Split an integration URI into literal text, `{param}` placeholders and `${stageVariables.x}`.

    `greedy_parameters` names the route's greedy variable (`proxy` for `ANY /{proxy+}`): its value keeps
    its slashes when re-encoded, so `/parent/{proxy+}` + `https://backend/petstore/{proxy}` forwards the
    remaining segments (spec §4.5). A URI may also spell a greedy placeholder `{proxy+}`. Any other path
    variable is one segment: every reserved character in its decoded value is percent-encoded, a decoded
    `/` included. In the URI's query part every placeholder value is fully encoded. `.`/`..` segments in
    a value (or in a `$default` route's appended path) are sent as `%2E`/`%2E%2E`.

    Call it where the route is known (once per route and integration in a deployment): without
    `greedy_parameters`, `ANY /{proxy+}` + `.../{proxy}` would send `a%2Fb` for the value `a/b`.
    """
    parts: list[_Part] = []
    position = 0
    in_query = False
    for match in _PLACEHOLDER.finditer(integration_uri):
        literal = integration_uri[position : match.start()]
        if literal:
            parts.append(_Part(literal=literal))
        in_query = in_query or "?" in literal
        position = match.end()
        stage_variable, name, plus = match.groups()
        if stage_variable is not None:
            parts.append(_Part(stage_variable=stage_variable))
            continue
        greedy = (plus == "+" or name in greedy_parameters) and not in_query
        parts.append(_Part(path_parameter=name, safe="/" if greedy else ""))
    if position < len(integration_uri) or not parts:
        parts.append(_Part(literal=integration_uri[position:]))
    static = integration_uri if position == 0 else None
    return UriTemplate(
        integration_uri, tuple(parts), static, static is not None and "?" not in static and "#" not in static
    )


def _escape_dot_segments(path: str) -> str:
    """`.` and `..` segments percent-encoded, so a client's value cannot climb out of the URI's path when the
    backend normalises it (`/petstore/{proxy}` with `a/../../admin` must not reach `/admin`)."""
    return "/".join(
        "%2E" * len(segment) if segment in (".", "..") else segment for segment in path.split("/")
    )


def _extend_url(url: str, append_path: str | None, raw_query: str) -> str:
    """Append a path to the URL's path and a raw query string to its query; a fragment is never sent."""
    scheme_end = url.find("://")
    authority_start = scheme_end + 3 if scheme_end >= 0 else 0
    fragment_at = url.find("#", authority_start)
    if fragment_at >= 0:
        url = url[:fragment_at]
    query_at = url.find("?", authority_start)
    query = ""
    if query_at >= 0:
        url, query = url[:query_at], url[query_at + 1 :]
    if append_path:
        if "/." in append_path:
            append_path = _escape_dot_segments(append_path)
        # `https://backend/base/` + `/x` is `/base/x`, not `/base//x`.
        url = url.rstrip("/") + (append_path if append_path.startswith("/") else "/" + append_path)
    if raw_query:
        query = f"{query}&{raw_query}" if query else raw_query
    return f"{url}?{query}" if query else url


@dataclass(frozen=True, slots=True)
class BackendUrl:
    """A backend URL taken apart for the HTTP client."""

    scheme: str
    """`http` or `https`."""
    host: str
    """Host name or IP address to connect to (IPv6 without brackets)."""
    port: int
    authority: str
    """Host and port as written in the URL (the port left out when it is the scheme's default): the Host header."""
    target: str
    """Path and query, the request-target sent on the request line; never empty."""
    origin: tuple[str, str, int] = field(init=False, repr=False, compare=False)
    """(scheme, host, port): where a connection to this URL goes, as the HTTP client pools them."""

    def __post_init__(self) -> None:
        # Frozen: set once, here (URLs are parsed once and cached).
        object.__setattr__(self, "origin", (self.scheme, self.host, self.port))


class BadBackendUrl(ValueError):
    """The rendered integration URI is not an absolute http(s) URL the gateway can call."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


# The URLs a deployment sends to repeat (a route's URI, often with the same query): remembered, up to a point.
_PARSED_URLS: dict[str, BackendUrl] = {}
_MAX_PARSED_URLS = 4096


def parse_backend_url(url: str) -> BackendUrl:
    """Split an absolute `http://` / `https://` URL; raises BadBackendUrl for anything else."""
    parsed = _PARSED_URLS.get(url)
    if parsed is None:
        parsed = _parse_backend_url(url)
        if len(_PARSED_URLS) >= _MAX_PARSED_URLS:
            _PARSED_URLS.clear()
        _PARSED_URLS[url] = parsed
    return parsed


def _parse_backend_url(url: str) -> BackendUrl:
    scheme_end = url.find("://")
    if scheme_end < 0:
        raise BadBackendUrl(f"integration URI is not an http(s) URL: {url!r}")
    cut = len(url)
    for delimiter in "/?#":
        at = url.find(delimiter, scheme_end + 3)
        if 0 <= at < cut:
            cut = at
    scheme, host, port, authority = _parse_origin(url[:cut])
    target = url[cut:].split("#", 1)[0]
    if not target.startswith("/"):
        target = "/" + target
    if not target.isascii() or not target.isprintable() or " " in target:
        # A request line cannot carry spaces, controls or raw non-ASCII (a stage variable may bring them).
        target = quote(target, safe="/?&=%:@!$'()*+,;~-._")
    return BackendUrl(scheme, host, port, authority, target)


@lru_cache(maxsize=1024)
def _parse_origin(origin: str) -> tuple[str, str, int, str]:
    """`scheme://authority` as (scheme, host, port, authority); few distinct origins, so cached."""
    scheme, _, authority = origin.partition("://")
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise BadBackendUrl(f"integration URI is not an http(s) URL: {origin!r}")
    if "@" in authority:
        raise BadBackendUrl(f"integration URI must not carry credentials: {origin!r}")
    default_port = _DEFAULT_PORTS[scheme]
    host, port_text = authority, ""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise BadBackendUrl(f"integration URI has a malformed IPv6 host: {origin!r}")
        host, port_text = authority[1:close], authority[close + 1 :].removeprefix(":")
    elif ":" in authority:
        host, port_text = authority.rsplit(":", 1)
    if not host or not authority.isascii() or not authority.isprintable() or " " in authority:
        raise BadBackendUrl(f"integration URI has no valid host: {origin!r}")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise BadBackendUrl(f"integration URI has a bad port: {origin!r}")
        port = int(port_text)
    else:
        port = default_port
    if port == default_port and port_text:
        authority = authority[: -len(port_text) - 1]
    return scheme, host.lower(), port, authority.lower()


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Header names listed in `Connection` (beyond the fixed hop-by-hop set)."""
    tokens: set[str] = set()
    for name, value in headers:
        if name == "connection":
            tokens.update(token.strip().lower() for token in value.split(","))
    tokens.discard("")
    return frozenset(tokens)


def _forwarded_value(value: str) -> str:
    """A Forwarded parameter value: a token as is, anything else (IPv6, host:port) quoted (RFC 7239 §4)."""
    if _FORWARDED_TOKEN.match(value):
        return value
    if ":" in value and value.count(":") > 1 and not value.startswith("["):
        value = f"[{value}]"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def backend_request_headers(
    headers_with_forwarding: Iterable[tuple[str, str]],
    *,
    backend_host: str,
    original_host: str,
    client_ip: str,
    scheme: str,
    by: str | None = None,
) -> list[tuple[str, str]]:
    """The headers an HTTP backend receives, from the client's (plus `with_forwarding_headers`).

    Client headers pass except hop-by-hop ones; `Host` becomes the backend's authority; AWS adds
    `Forwarded: by=<gateway ip>;for=<client ip>;host=<original host>;proto=<scheme>` (`by=` only when the
    caller knows its address; captures show both forms) and `Via: HTTP/1.1 AmazonAPIGateway`, each appended
    to a client-sent value as RFC 7239 / RFC 9110 say a proxy does. `original_host` is the client's Host
    header as sent. No `content-length`: the client writes it for the body it sends.
    """
    forwarded: list[str] = []
    via: list[str] = []
    out: list[tuple[str, str]] = [("host", backend_host)]
    connection: list[str] = []
    for header in headers_with_forwarding:
        name = header[0]
        if name in HOP_BY_HOP_HEADERS:
            if name == "connection":
                connection.append(header[1])
        elif name in _REQUEST_REPLACED:
            if name == "forwarded":
                forwarded.append(header[1])
            elif name == "via":
                via.append(header[1])
        else:
            out.append(header)
    if connection:
        # Headers the client named in `Connection` are hop-by-hop too (`host` is ours, so it stays).
        dropped = _connection_tokens(("connection", value) for value in connection) - HOP_BY_HOP_HEADERS
        if dropped:
            out = [out[0], *(header for header in out[1:] if header[0] not in dropped)]
            forwarded = [] if "forwarded" in dropped else forwarded
            via = [] if "via" in dropped else via
    element = forwarded_element(by, client_ip, original_host, scheme)
    out.append(("forwarded", ", ".join([*forwarded, element]) if forwarded else element))
    out.append(("via", ", ".join([*via, VIA_VALUE]) if via else VIA_VALUE))
    return out


HeaderEdit = Callable[[list[tuple[str, str]]], list[tuple[str, str]]]

# What the backend request's headers are made of by the gateway alone: whatever a client or a mapping puts
# under these names is dropped, replaced or interpreted (hop-by-hop) on the way.
BACKEND_SET_HEADERS = HOP_BY_HOP_HEADERS | _REQUEST_REPLACED

# Client headers that `direct_backend_headers` simply drops (the backend's own are set by the gateway or the
# client); any other name in TWO_STEP_HEADERS sends the request the long way.
_DROPPED = frozenset({"host", "content-length", "expect"})
TWO_STEP_HEADERS = (HOP_BY_HOP_HEADERS | _REQUEST_REPLACED | GATEWAY_ADDED) - _DROPPED


def direct_backend_headers(
    request: IncomingRequest, *, backend_host: str, edit: HeaderEdit | None = None
) -> list[tuple[str, str]]:
    """`backend_request_headers(with_forwarding_headers(request), ...)` in one pass over the client's headers,
    for a request no parameter mapping touched: what nearly every proxied request is. A client that sends
    a header either step treats specially (`x-forwarded-for`, `forwarded`, `via`, a hop-by-hop header, a
    trace id) takes the two steps instead, so both ways give the same list (a property test checks it).

    `edit` is a parameter mapping's header edit, applied where the two steps apply it: to the client's
    headers and the forwarding headers. It must not touch a name in BACKEND_SET_HEADERS (such a mapping
    takes the two steps: `RequestMapping.edits_backend_set_headers`)."""
    headers = request.headers
    names = list(map(_first, headers))
    if not TWO_STEP_HEADERS.isdisjoint(names):
        forwarded = with_forwarding_headers(request)
        return backend_request_headers(
            edit(forwarded) if edit is not None else forwarded,
            backend_host=backend_host,
            original_host=request.host,
            client_ip=request.source_ip,
            scheme=request.scheme,
        )
    # `compress` rather than a loop: no Python bytecode per header.
    out = [
        ("host", backend_host),
        *compress(headers, map(not_, map(_DROPPED.__contains__, names))),
        ("x-forwarded-for", request.source_ip),
        ("x-forwarded-port", str(request.server_port)),
        ("x-forwarded-proto", request.scheme),
        ("x-amzn-trace-id", trace_id(request.time_epoch_ms)),
    ]
    if edit is not None:
        out = edit(out)  # `host` first stays first: the edit cannot name it
    out += (
        ("forwarded", forwarded_element(None, request.source_ip, request.host, request.scheme)),
        ("via", VIA_VALUE),
    )
    return out


@lru_cache(maxsize=1024)
def forwarded_element(by: str | None, client_ip: str, host: str, scheme: str) -> str:
    return ";".join(
        f"{key}={_forwarded_value(value)}"
        for key, value in (("by", by), ("for", client_ip), ("host", host), ("proto", scheme))
        if value
    )


def backend_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The backend's response headers as the client gets them: names lower-cased, order and repeats kept.

    Hop-by-hop headers are dropped (spec §4.5); `date`, `content-length` and `apigw-requestid` are the
    gateway's to set (spec §11.1). Everything else passes, `server`, `content-encoding` and each
    `set-cookie` included.
    """
    headers = list(headers)
    names = list(map(str.lower, map(_first, headers)))
    if "connection" not in names:
        # Every response: filtered with `compress` rather than a loop, no Python bytecode per header.
        kept = map(not_, map(RESPONSE_DROPPED_HEADERS.__contains__, names))
        return list(compress(zip(names, map(_second, headers)), kept))
    out: list[tuple[str, str]] = []
    connection: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name in HOP_BY_HOP_HEADERS:
            if name == "connection":
                connection.append(value)
        elif name not in _RESPONSE_REPLACED:
            out.append((name, value))
    if connection:
        dropped = _connection_tokens(("connection", value) for value in connection)
        out = [header for header in out if header[0] not in dropped]
    return out


_first = itemgetter(0)
_second = itemgetter(1)
