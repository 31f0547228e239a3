"""CORS for HTTP APIs: the API's `corsConfiguration`, compiled once, answering per request (spec §6).

Pure module. AWS's documented behaviour (http-api-cors): with CORS configured, the gateway answers
preflights itself (OPTIONS with `Origin` and `Access-Control-Request-Method`) even when no OPTIONS route
exists, adds the configured headers to other responses of requests that carry `Origin`, and ignores CORS
headers returned by the integration. What AWS leaves unsaid follows spec §13 item 12 [INF]: a preflight
is answered 204; an origin, method or header that the configuration does not allow gets a 204 without
CORS headers (never 403), so the browser refuses the call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from stageway.core.http import HEADER_LINE, GatewayResponse
from stageway.core.validation import ValidationError, validate_cors_configuration

_MAX_CACHED_ORIGINS: Final = 256

_FIELD = ("corsConfiguration", "allowOrigins")
# scheme://host[:port]; the host may start with `*.` (any subdomain) [INF]. A bare `scheme://*` is AWS's
# "any origin that begins with https://" (http-api-cors).
_ORIGIN = re.compile(
    r"^(?P<scheme>[a-z][a-z0-9+.\-]*)://(?P<host>\*|(?:\*\.)?[a-z0-9\-._~%]+|\[[0-9a-f:.]+\])(?::(?P<port>\d{1,5}))?$"
)

_ALLOW_ORIGIN: Final = "access-control-allow-origin"
_ALLOW_CREDENTIALS: Final = "access-control-allow-credentials"
_ALLOW_METHODS: Final = "access-control-allow-methods"
_ALLOW_HEADERS: Final = "access-control-allow-headers"
_EXPOSE_HEADERS: Final = "access-control-expose-headers"
_MAX_AGE: Final = "access-control-max-age"
_VARY_ORIGIN: Final = ("vary", "Origin")
# Fetch's CORS-safelisted methods: a browser accepts them without Access-Control-Allow-Methods.
_SAFELISTED_METHODS: Final = frozenset({"GET", "HEAD", "POST"})


def origin_error(origin: str) -> ValidationError | None:
    """Why an allowOrigins entry is refused, or None when it is a valid origin or wildcard."""
    if origin == "*":
        return None
    try:
        _origin_rule(origin)
    except ValidationError as error:
        return error
    return None


def _origin_rule(origin: str) -> tuple[str, str | None]:
    """An allowOrigins entry as (exact origin, None) or (scheme://, host suffix) for a wildcard."""
    lowered = origin.lower()
    match = _ORIGIN.match(lowered)
    if match is None:
        # Our rule, in AWS's manner: an origin is scheme://host[:port], nothing after (a path or a trailing
        # slash would never equal a browser's Origin header).
        raise ValidationError(
            f"Invalid origin {origin!r} in allowOrigins: use scheme://host[:port], '*', 'https://*' or "
            "'http://*'",
            _FIELD,
        )
    host = match.group("host")
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise ValidationError(f"Invalid port in allowOrigins entry {origin!r}", _FIELD)
    scheme = match.group("scheme") + "://"
    if host == "*":
        return scheme, ""  # any host, any port, of this scheme
    if host.startswith("*."):
        return scheme, host[1:] + (f":{port}" if port else "")  # ".example.com[:port]"
    return lowered, None


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """A compiled corsConfiguration. Built by `compile_cors`; its methods run per request."""

    any_origin: bool
    """allowOrigins has `*`: `Access-Control-Allow-Origin: *` for every origin."""
    exact_origins: frozenset[str]
    """Lower-cased `scheme://host[:port]` entries."""
    wildcard_origins: tuple[tuple[str, str], ...]
    """(`scheme://`, host suffix) pairs: `https://*` is ("https://", ""), `https://*.example.com` is
    ("https://", ".example.com")."""
    allow_credentials: bool
    any_method: bool
    methods: frozenset[str]
    """Methods a preflight may ask for: the configured ones and the CORS-safelisted GET, HEAD, POST."""
    methods_value: str | None
    any_header: bool
    headers: frozenset[str]
    headers_value: str | None
    actual_tail: tuple[tuple[str, str], ...]
    """Headers after the allow-origin on non-preflight responses: credentials, expose-headers."""
    preflight_tail: tuple[tuple[str, str], ...]
    """Fixed preflight headers after allow-origin/methods/headers: max-age, credentials."""
    _by_origin: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict, compare=False, repr=False)
    """`response_headers` by request Origin: a browser app sends the same one on every call."""
    _lines_by_origin: dict[str, bytes | None] = field(default_factory=dict, compare=False, repr=False)
    """`response_lines` by request Origin."""

    def allowed_origin(self, origin: str) -> str | None:
        """The `Access-Control-Allow-Origin` value for this request Origin, or None when not allowed."""
        if self.any_origin:
            return "*"
        lowered = origin.lower()
        if lowered in self.exact_origins:
            return origin
        for scheme, suffix in self.wildcard_origins:
            if lowered.startswith(scheme) and len(lowered) > len(scheme):
                host = lowered[len(scheme) :]
                if not suffix or (host.endswith(suffix) and len(host) > len(suffix)):
                    return origin
        return None

    def _origin_headers(self, allowed: str) -> list[tuple[str, str]]:
        if allowed == "*":
            return [(_ALLOW_ORIGIN, "*")]
        # The answer depends on the request's Origin: caches must key on it.
        return [(_ALLOW_ORIGIN, allowed), _VARY_ORIGIN]

    def preflight(self, method: str, headers: Sequence[tuple[str, str]]) -> GatewayResponse | None:
        """The gateway's answer to a CORS preflight, or None when the request is not one.

        A preflight is `OPTIONS` with both `Origin` and `Access-Control-Request-Method` (AWS: "For the
        OPTIONS method, your request must contain an origin header and an Access-Control-Request-Method
        header"); `headers` are the request's, names lower-case. The answer is 204 with no body, carrying
        the CORS headers only when origin, method and every requested header are allowed.
        """
        if method != "OPTIONS":
            return None
        origin = requested_method = None
        requested_headers: list[str] = []
        for name, value in headers:
            if name == "origin":
                origin = value
            elif name == "access-control-request-method":
                requested_method = value
            elif name == "access-control-request-headers":
                requested_headers.extend(part.strip() for part in value.split(","))
        if origin is None or requested_method is None:
            return None
        allowed = self.allowed_origin(origin)
        requested_method = requested_method.strip()
        requested_headers = [name for name in requested_headers if name]
        if (
            allowed is None
            or not (self.any_method or requested_method.upper() in self.methods)
            or not (self.any_header or all(name.lower() in self.headers for name in requested_headers))
        ):
            return GatewayResponse(204)
        response = self._origin_headers(allowed)
        if self.any_method:
            # With credentials a browser reads `*` literally, so the requested method is named instead.
            response.append((_ALLOW_METHODS, requested_method if self.allow_credentials else "*"))
        elif self.methods_value is not None:
            response.append((_ALLOW_METHODS, self.methods_value))
        if self.any_header:
            if requested_headers:
                joined = ",".join(requested_headers)
                response.append((_ALLOW_HEADERS, joined if self.allow_credentials else "*"))
        elif self.headers_value is not None:
            response.append((_ALLOW_HEADERS, self.headers_value))
        response.extend(self.preflight_tail)
        return GatewayResponse(204, response)

    def response_headers(self, request_origin: str | None) -> tuple[tuple[str, str], ...]:
        """The CORS headers added to a non-preflight response: none without an allowed `Origin`."""
        if not request_origin:
            return ()
        headers = self._by_origin.get(request_origin)
        if headers is None:
            allowed = self.allowed_origin(request_origin)
            headers = () if allowed is None else (*self._origin_headers(allowed), *self.actual_tail)
            if len(self._by_origin) >= _MAX_CACHED_ORIGINS:
                self._by_origin.clear()
            self._by_origin[request_origin] = headers
        return headers

    def response_lines(self, request_origin: str) -> bytes | None:
        """`response_headers` as the header lines a listener writes (latin-1), for the proxy lane's answers
        on bytes; None when a value is not latin-1 or holds a line break (the listener's encoder handles it)."""
        try:
            return self._lines_by_origin[request_origin]
        except KeyError:
            pass
        headers = self.response_headers(request_origin)
        text = "".join(map(HEADER_LINE, headers))
        lines = None
        if text.count("\n") == len(headers) == text.count("\r"):  # one line break a header, as encoders check
            try:
                lines = text.encode("latin-1")
            except UnicodeEncodeError:
                pass
        if len(self._lines_by_origin) >= _MAX_CACHED_ORIGINS:
            self._lines_by_origin.clear()
        self._lines_by_origin[request_origin] = lines
        return lines

    def answer_headers(self, headers: list[tuple[str, str]], request_origin: str) -> list[tuple[str, str]]:
        """A non-preflight answer's headers for a request that carries `Origin`: the integration's without its
        CORS headers, then the configured ones (spec §6.2)."""
        return [*self.strip_backend_headers(headers), *self.response_headers(request_origin)]

    @staticmethod
    def strip_backend_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The integration's response headers without its CORS headers (AWS: "If you configure CORS for
        an API, API Gateway ignores CORS headers returned from your backend integration"). Names arrive
        lower-case; the list itself is returned when there is nothing to strip, as for most backends."""
        for name, _ in headers:
            # Only a name starting with "a" can be one: the cheap test first, case-insensitively after.
            if name[:1] in "aA" and name.lower().startswith("access-control-"):
                return [header for header in headers if not header[0].lower().startswith("access-control-")]
        return headers


def _strings(config: Mapping[str, Any], name: str) -> list[str]:
    return [value.strip() for value in config.get(name) or [] if value.strip()]


def compile_cors(config: Mapping[str, Any]) -> CorsPolicy:
    """Check a corsConfiguration (the API's, camelCase fields) and compile it.

    Field rules are `validate_cors_configuration`'s (types, maxAge range, credentials with `*`); origins
    must also be `*`, `scheme://*` (AWS's `https://*` / `http://*`), `scheme://*.domain` or an exact
    `scheme://host[:port]`.
    """
    validate_cors_configuration(config)
    origins = _strings(config, "allowOrigins")
    exact: set[str] = set()
    wildcards: list[tuple[str, str]] = []
    any_origin = False
    for origin in origins:
        if origin == "*":
            any_origin = True
            continue
        exact_origin, suffix = _origin_rule(origin)
        if suffix is None:
            exact.add(exact_origin)
        else:
            wildcards.append((exact_origin, suffix))
    credentials = config.get("allowCredentials") is True

    methods = _strings(config, "allowMethods")
    headers = _strings(config, "allowHeaders")
    expose = _strings(config, "exposeHeaders")
    max_age = config.get("maxAge")

    credentials_tail = ((_ALLOW_CREDENTIALS, "true"),) if credentials else ()
    expose_tail = ((_EXPOSE_HEADERS, ",".join(expose)),) if expose else ()
    max_age_tail = ((_MAX_AGE, str(max_age)),) if max_age is not None else ()
    return CorsPolicy(
        any_origin=any_origin,
        exact_origins=frozenset(exact),
        wildcard_origins=tuple(wildcards),
        allow_credentials=credentials,
        any_method="*" in methods,
        methods=frozenset(method.upper() for method in methods) | _SAFELISTED_METHODS,
        methods_value=",".join(methods) if methods else None,
        any_header="*" in headers,
        headers=frozenset(header.lower() for header in headers),
        headers_value=",".join(headers) if headers else None,
        actual_tail=credentials_tail + expose_tail,
        preflight_tail=max_age_tail + credentials_tail,
    )
