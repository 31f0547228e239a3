"""Parameter mapping: `requestParameters` / `responseParameters` of HTTP_PROXY and Lambda integrations
(spec §5).

Pure module. A deployment compiles each integration's maps once: `compile_request_parameters` and
`compile_response_parameters` check every key and value as AWS does at CreateIntegration and turn each
value into a `ValueTemplate`, literal text and one getter per `$request...` / `$response...` /
`$context...` / `$stageVariables...` reference. Per request `RequestMapping.apply` edits the outgoing
header list, query string and path; `ResponseMapping.apply` edits the integration's status and headers.

Semantics (AWS documents the keys and values, not every edge; [INF] where noted):
- A value's sources are read from what the client sent (request mapping) or what the integration
  answered (response mapping), never from what earlier mappings produced, so the documented "rename a
  header" (`append:header.b = $request.header.a`, `remove:header.a = ''`) works whatever the key order.
- `remove:` drops every value of the parameter; `overwrite:` drops them and sets one; `append:` adds one
  more value (another header line, another `name=value` pair), creating the parameter if absent.
  Operations on one name run in that order: remove, overwrite, append.
- When a value refers to something the request does not have (a missing header, query parameter, body
  field, path parameter, stage variable or context value), the parameter is not sent: an `append:` or
  `overwrite:` whose value is missing does nothing [INF: "AWS omits the parameter"].
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote, unquote

import orjson

from stageway.core.context_vars import ContextVariables, resolver_for
from stageway.core.http_proxy import BACKEND_SET_HEADERS, HeaderEdit
from stageway.core.lambda_events import parse_query_string
from stageway.core.validation import Field, ValidationError

# AWS truncates a body at 100 KB before evaluating a JSONPath on it (spec §5.2): a larger JSON body
# no longer parses, and only `$request.body` passes it whole.
MAX_JSONPATH_BODY_BYTES: Final = 100 * 1024
MAX_VALUE_LENGTH: Final = 512  # service model: StringWithLengthBetween1And512

# "You can't configure request or response mappings for these headers" (http-api-parameter-mapping,
# "Reserved headers"). The prefixes stand for the `*` entries of AWS's list.
RESERVED_HEADERS: Final = frozenset(
    {
        "authorization",
        "connection",
        "content-encoding",
        "content-length",
        "content-location",
        "forwarded",
        "keep-alive",
        "origin",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "via",
    }
)
RESERVED_HEADER_PREFIXES: Final = ("access-control-", "apigw-", "x-amz-", "x-amzn-")

# Integrations whose requestParameters are HTTP edits. With an integrationSubtype (AWS service
# integrations) the same field names the AWS action's parameters instead (spec §4.7).
REQUEST_MAPPING_INTEGRATION_TYPES: Final = ("HTTP_PROXY", "AWS_PROXY")


def is_reserved_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_HEADER_PREFIXES)


def _invalid(inner: str, field: Field) -> ValidationError:
    # [OBS] AWS's wrapper for every parameter-mapping problem, e.g. "Invalid mapping expression specified:
    # Validation Result: warnings : [], errors : [Invalid Response Actioned Parameter destination
    # specified: append:overwrite.static]" (hashicorp/terraform-provider-aws#17997 review).
    return ValidationError(
        f"Invalid mapping expression specified: Validation Result: warnings : [], errors : [{inner}]", field
    )


# --------------------------------------------------------------------------------------------------
# Values


_UNSET: Any = object()
_NOT_JSON: Any = object()


class ValueSources:
    """The sources of one evaluation, each parsed at most once, and only when a value asks for it."""

    __slots__ = ("_json", "_query", "body", "context", "headers", "raw_query")

    def __init__(
        self,
        context: ContextVariables,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        raw_query: str = "",
    ) -> None:
        self.context = context
        self.headers = headers
        self.body = body
        self.raw_query = raw_query
        self._json: Any = _UNSET
        self._query: dict[str, list[str]] | None = None

    def header(self, name: str) -> str | None:
        """Every value of a header, matched case-insensitively, joined with "," (AWS's words)."""
        values = [value for key, value in self.headers if key == name or key.lower() == name]
        return ",".join(values) if values else None

    def query(self, name: str) -> str | None:
        """Every value of a query parameter (case-sensitive name) joined with ","."""
        if self._query is None:
            self._query = {}
            for key, value in parse_query_string(self.raw_query):
                self._query.setdefault(key, []).append(value)
        values = self._query.get(name)
        return ",".join(values) if values is not None else None

    def json(self) -> Any:
        """The body as JSON (cut at 100 KB first), or `_NOT_JSON`."""
        if self._json is _UNSET:
            try:
                self._json = orjson.loads(self.body[:MAX_JSONPATH_BODY_BYTES])
            except orjson.JSONDecodeError:
                self._json = _NOT_JSON
        return self._json


Getter = Callable[[ValueSources], "str | None"]


@dataclass(frozen=True, slots=True)
class ValueTemplate:
    """A mapping value: literal text and references, rendered per request."""

    source: str
    parts: tuple[str | Getter, ...]

    @property
    def is_static(self) -> bool:
        return all(isinstance(part, str) for part in self.parts)

    def render(self, env: ValueSources) -> str | None:
        """The value, or None when any reference in it has nothing to give (the parameter is omitted)."""
        parts = self.parts
        if len(parts) == 1:
            only = parts[0]
            return only if only.__class__ is str else only(env)  # type: ignore[operator]
        pieces: list[str] = []
        for part in parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = part(env)
            if value is None:
                return None
            pieces.append(value)
        return "".join(pieces)


class _BadValue(ValueError):
    """A value that is not a mapping expression AWS accepts; the message says why."""


# RFC 9110 token characters: what a header name is made of.
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")
_STAGE_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_QUERY_NAME = re.compile(r"^[^\s]+$")
_PATH_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_.:\-]+$")
# `$request...` written without braces runs to the next blank; several references need `${...}`.
_SHORTHAND_ROOTS = ("request.", "response.", "context.", "stageVariables.")
_SHORTHAND = re.compile(r"\S+")


def _json_text(node: Any) -> str | None:
    if node is None:
        return None  # a JSON null sends nothing [INF]
    if isinstance(node, str):
        return node
    return orjson.dumps(node).decode()


# One JSONPath step: `.name`, `['name']` / `["name"]`, or `[index]`.
_JSONPATH_STEP = re.compile(r"""\.([^.\[\]'"*?]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")


def _compile_jsonpath(path: str) -> tuple[str | int, ...]:
    """The steps of a `$request.body` / `$response.body` JSONPath, in the subset AWS evaluates: child
    names and array indexes, no recursive descent (`..`) and no filters (`?()`) (spec §5.2); wildcards,
    slices and unions, which select several values, are refused too [INF]."""
    if ".." in path:
        raise _BadValue("recursive descent (..) is not supported in a JSONPath")
    if "?(" in path:
        raise _BadValue("filter expressions (?()) are not supported in a JSONPath")
    steps: list[str | int] = []
    position = 0
    while position < len(path):
        match = _JSONPATH_STEP.match(path, position)
        if match is None:
            raise _BadValue(f"unsupported JSONPath {path!r}: use .name, ['name'] or [index] steps")
        name, index, single, double = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(name if name is not None else single if single is not None else double)
        position = match.end()
    return tuple(steps)


def _body_getter(path: str) -> Getter:
    if not path:
        # The whole body, not cut: "To send payloads larger than 100 KB, specify $request.body".
        return lambda env: env.body.decode("utf-8", "replace")
    steps = _compile_jsonpath(path)

    def select(env: ValueSources) -> str | None:
        node = env.json()
        if node is _NOT_JSON:
            return None
        for step in steps:
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    return None
            elif not isinstance(node, dict) or step not in node:
                return None
            node = node[step]
        return _json_text(node)

    return select


def _context_getter(name: str) -> Getter:
    if name in _REQUEST_ID_VARIABLES:
        return _request_id
    resolve = resolver_for(name)
    if resolve is None:
        raise _BadValue(f"$context.{name} is not a context variable of HTTP APIs")
    return lambda env: resolve(env.context)


_REQUEST_ID_VARIABLES = frozenset({"requestId", "extendedRequestId"})


def _request_id(env: ValueSources) -> str:
    """`$context.requestId` (and `extendedRequestId`, the same on HTTP APIs): one getter for both, so a
    value made of the request id alone is known as such (`_Edits.by_request_id`)."""
    return env.context.request.request_id


def _stage_variable_getter(name: str) -> Getter:
    if not _STAGE_VARIABLE_NAME.match(name):
        raise _BadValue(f"invalid stage variable name {name!r}")

    def get(env: ValueSources) -> str | None:
        route = env.context.route
        return route.stage_variables.get(name) if route is not None else None

    return get


def _header_getter(name: str) -> Getter:
    if not _HEADER_NAME.match(name):
        raise _BadValue(f"invalid header name {name!r}")
    lowered = name.lower()
    return lambda env: env.header(lowered)


def _request_getter(rest: str) -> Getter:
    if rest.startswith("header."):
        return _header_getter(rest[len("header.") :])
    if rest.startswith("querystring."):
        name = rest[len("querystring.") :]
        if not _QUERY_NAME.match(name):
            raise _BadValue(f"invalid query string name {name!r}")
        return lambda env: env.query(name)
    if rest == "body" or rest.startswith(("body.", "body[")):
        return _body_getter(rest[len("body") :])
    if rest == "path":
        # The path without the stage name (AWS's words), still percent-encoded: it becomes a URL path.
        return lambda env: env.context.route.route_raw_path if env.context.route is not None else None
    if rest.startswith("path."):
        name = rest[len("path.") :]
        if not _PATH_PARAMETER_NAME.match(name):
            raise _BadValue(f"invalid path parameter name {name!r}")

        def path_parameter(env: ValueSources) -> str | None:
            route = env.context.route
            return route.path_parameters.get(name) if route is not None else None

        return path_parameter
    raise _BadValue(f"$request.{rest} is not a request source")


def _response_getter(rest: str) -> Getter:
    if rest.startswith("header."):
        return _header_getter(rest[len("header.") :])
    if rest == "body" or rest.startswith(("body.", "body[")):
        return _body_getter(rest[len("body") :])
    raise _BadValue(f"$response.{rest} is not a response source")


def _reference(expression: str, *, response: bool) -> Getter:
    """The getter for one reference, written without `$` and braces: `request.header.x`."""
    root, _, rest = expression.partition(".")
    if root == "context" and rest:
        return _context_getter(rest)
    if root == "stageVariables" and rest:
        return _stage_variable_getter(rest)
    if root == "request" and not response:
        return _request_getter(rest)
    if root == "response" and response:
        return _response_getter(rest)
    raise _BadValue(f"${expression} is not a value source here")


def compile_value(value: str, *, response: bool = False) -> ValueTemplate:
    """Split a mapping value into literal text and references.

    References are `$source...` (running to the next blank or the end of the value) or `${source...}`
    (needed to put several in one value, AWS: "${request.path.name} ${request.path.id}"). A `$` that
    does not start a reference is literal text. `response` picks the sources of response mapping
    (`$response.header.x`, `$response.body.x`) instead of the request's. Raises `ValueError` naming the
    problem; the compile functions below turn it into AWS's `ValidationError`.
    """
    parts: list[str | Getter] = []
    literal: list[str] = []
    position = 0
    while True:
        start = value.find("$", position)
        if start < 0:
            literal.append(value[position:])
            break
        literal.append(value[position:start])
        if value.startswith("${", start):
            end = value.find("}", start + 2)
            if end < 0:
                raise _BadValue(f"unterminated reference in {value!r}: missing '}}'")
            expression = value[start + 2 : end]
            position = end + 1
        elif value.startswith(_SHORTHAND_ROOTS, start + 1):
            match = _SHORTHAND.match(value, start + 1)
            assert match is not None
            expression = match.group(0)
            position = match.end()
        else:
            literal.append("$")
            position = start + 1
            continue
        text = "".join(literal)
        if text:
            parts.append(text)
        literal = []
        parts.append(_reference(expression, response=response))
    text = "".join(literal)
    if text or not parts:
        parts.append(text)
    return ValueTemplate(value, tuple(parts))


# --------------------------------------------------------------------------------------------------
# Request mapping


@dataclass(frozen=True, slots=True)
class _Operation:
    action: str
    """`remove`, `overwrite` or `append`."""
    name: str
    """Header name lower-cased, or query parameter name as written (query names are case-sensitive)."""
    value: ValueTemplate | None
    """None for `remove`."""


_ACTION_ORDER = {"remove": 0, "overwrite": 1, "append": 2}


@dataclass(slots=True)
class MappingResult:
    """The integration request after mapping."""

    headers: list[tuple[str, str]] | None
    """The outgoing header list (the list passed in, unchanged, when no header is mapped; None when none
    was passed in)."""
    raw_query: str
    """The query string to send, encoded, without `?`."""
    path: str | None
    """`overwrite:path`: the whole path sent to the integration (HTTP_PROXY: it replaces the path of
    the integration URI and any appended request path; Lambda: the event's path). None: unchanged."""
    edit_headers: HeaderEdit | None = None
    """When `apply` was given no header list: the header edit, for the list the caller builds."""


def _clean(value: str) -> str:
    # A header value cannot carry a line break (a body field could): it would split the message.
    return value.replace("\r", " ").replace("\n", " ") if "\n" in value or "\r" in value else value


@dataclass(frozen=True, slots=True)
class _Edits:
    """The operations on one kind of parameter (headers, or query string parameters), prepared per
    deployment: what the request loses whatever it holds, and what each `overwrite:`/`append:` adds once
    its value renders. Every request runs through this, so the per-request work is one render per value
    and one pass over the request's parameters, none when nothing is dropped."""

    removed: frozenset[str]
    """Names every request loses: `remove:`, and `overwrite:` with a static value (which always renders)."""
    setters: tuple[tuple[str, ValueTemplate, bool, Getter | None], ...]
    """(name, value, drops, getter) in the order they apply, overwrites before appends. `drops`: an
    `overwrite:` whose value may be missing, which drops the name only when its value renders. `getter`:
    the value is one reference alone (`$context.requestId`), called directly."""
    fixed: list[tuple[str, str]] | None = None
    """Every value is static text: the (name, value) pairs every request gets, made once (header values
    already cleaned of line breaks)."""
    fixed_query: str = ""
    """`fixed` as an encoded query string (query string edits)."""
    by_request_id: tuple[frozenset[str], tuple[tuple[str, tuple[str, ...]], ...]] | None = None
    """Header edits whose every value is static text or holds only the request id as a reference: what
    `render` gives for any request, as (the names dropped; (name, the value's text pieces, cleaned of line
    breaks, that the request id goes between) added, in order). The request id is always there, so every
    such value renders. None for other edits."""
    active: bool = dataclasses.field(init=False)
    """Anything to do; an attribute rather than `__bool__`, read for every request."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "active", bool(self.removed or self.setters))  # frozen: set once, here

    @classmethod
    def of(cls, operations: Sequence[_Operation], *, headers: bool) -> _Edits:
        ordered = sorted(operations, key=lambda op: _ACTION_ORDER[op.action])
        removed = frozenset(
            op.name
            for op in ordered
            if op.action == "remove" or (op.action == "overwrite" and op.value is not None and op.value.is_static)
        )
        setters = tuple(
            (op.name, op.value, op.action == "overwrite" and not op.value.is_static, _only_getter(op.value))
            for op in ordered
            if op.action != "remove" and op.value is not None
        )
        fixed: list[tuple[str, str]] | None = None
        if all(template.is_static for _, template, _, _ in setters):
            texts = [(name, "".join(template.parts)) for name, template, _, _ in setters]  # type: ignore[arg-type]
            fixed = [(name, _clean(text)) for name, text in texts] if headers else texts
        return cls(
            removed,
            setters,
            fixed,
            "" if headers else "&".join(f"{_encoded(name)}={_encoded(value)}" for name, value in fixed or ()),
            _by_request_id(removed, setters) if headers else None,
        )

    def render(self, env: ValueSources) -> tuple[set[str] | frozenset[str], list[tuple[str, str]]]:
        """The names to drop from the request and the (name, value) pairs to add after what is kept (the
        caller must not change the list)."""
        if self.fixed is not None:
            return self.removed, self.fixed
        dropped: set[str] | frozenset[str] = self.removed
        added: list[tuple[str, str]] = []
        for name, template, drops, getter in self.setters:
            value = getter(env) if getter is not None else template.render(env)
            if value is None:
                continue  # a missing source: the parameter is not sent (and an overwrite keeps the old)
            if drops:
                dropped = {*dropped, name}
            added.append((name, value))
        return dropped, added


NO_EDITS: Final = _Edits(frozenset(), (), by_request_id=(frozenset(), ()))


def _by_request_id(
    removed: frozenset[str], setters: tuple[tuple[str, ValueTemplate, bool, Getter | None], ...]
) -> tuple[frozenset[str], tuple[tuple[str, tuple[str, ...]], ...]] | None:
    """`_Edits.by_request_id` of header edits."""
    dropped = set(removed)
    added: list[tuple[str, tuple[str, ...]]] = []
    for name, template, drops, _ in setters:
        pieces = [""]
        for part in template.parts:
            if isinstance(part, str):
                pieces[-1] += part
            elif part is _request_id:
                pieces.append("")
            else:
                return None
        if drops:  # an overwrite whose value renders: always, here
            dropped.add(name)
        added.append((name, tuple(map(_clean, pieces))))
    return frozenset(dropped), tuple(added)


def _only_getter(template: ValueTemplate) -> Getter | None:
    only = template.parts[0] if len(template.parts) == 1 else None
    return None if only is None or isinstance(only, str) else only


def _header_changes(edits: _Edits, env: ValueSources) -> tuple[AbstractSet[str], list[tuple[str, str]]]:
    """Header edits' `render`, with the values added cleaned of line breaks (static ones were when made)."""
    dropped, added = edits.render(env)
    if added is not edits.fixed:
        added = [(name, _clean(value)) for name, value in added]
    return dropped, added


def _edit_headers(
    headers: list[tuple[str, str]], edits: _Edits, env: ValueSources
) -> list[tuple[str, str]]:
    dropped, added = _header_changes(edits, env)
    edited = [(name, value) for name, value in headers if name.lower() not in dropped] if dropped else headers[:]
    edited += added
    return edited


def _query_name(piece: str) -> str:
    name = piece.partition("=")[0]
    return unquote(name.replace("+", " ")) if "%" in name or "+" in name else name


def _encoded(text: str) -> str:
    return quote(text, safe="")


def _edit_query(
    raw_query: str, edits: _Edits, dropped: AbstractSet[str], added: list[tuple[str, str]]
) -> str:
    """`raw_query` less the `dropped` names, with the `added` parameters (`edits.render`'s answer)."""
    if raw_query and (dropped or "&&" in raw_query or raw_query[0] == "&" or raw_query[-1] == "&"):
        raw_query = "&".join(piece for piece in raw_query.split("&") if piece and _query_name(piece) not in dropped)
    if not added:
        return raw_query
    if added is edits.fixed:
        appended = edits.fixed_query
    else:
        appended = "&".join(f"{_encoded(name)}={_encoded(value)}" for name, value in added)
    return f"{raw_query}&{appended}" if raw_query else appended


@dataclass(frozen=True, slots=True)
class RequestMapping:
    """An integration's compiled `requestParameters`."""

    header_edits: _Edits = NO_EDITS
    query_edits: _Edits = NO_EDITS
    path: ValueTemplate | None = None
    is_empty: bool = dataclasses.field(init=False)
    """Nothing to map: the pipeline skips building the request's `$context` view (checked per request)."""
    edits_backend_set_headers: bool = dataclasses.field(init=False)
    """A header edit names a header the gateway sets or drops on the way to an HTTP backend (`host`, a
    hop-by-hop header, `forwarded`, `via`): the backend's header list is then made in two steps."""
    query_is_static: bool = dataclasses.field(init=False)
    """No `overwrite:path`, and every query string edit is static text: the query string sent depends on the
    client's alone (`static_query`)."""

    def __post_init__(self) -> None:
        # Frozen: set once, here.
        empty = not (self.header_edits.active or self.query_edits.active or self.path is not None)
        object.__setattr__(self, "is_empty", empty)
        names = self.header_edits.removed | {name for name, _, _, _ in self.header_edits.setters}
        object.__setattr__(self, "edits_backend_set_headers", not names.isdisjoint(BACKEND_SET_HEADERS))
        query_is_static = self.path is None and (not self.query_edits.active or self.query_edits.fixed is not None)
        object.__setattr__(self, "query_is_static", query_is_static)

    def apply(self, context: ContextVariables, headers: list[tuple[str, str]] | None) -> MappingResult:
        """Map one request. `context` is the request's `$context` view (its request and route are the
        sources of `$request...`); `headers` is the header list the integration would receive (client
        headers plus the gateway's forwarding headers, names lower-case), or None to get the header edit as
        `MappingResult.edit_headers`, for the caller to apply to a list it builds itself. The query string
        edited is the client's (`context.request.raw_query`)."""
        request = context.request
        env = ValueSources(context, request.headers, request.body, request.raw_query)
        header_edits = self.header_edits
        edit_headers: HeaderEdit | None = None
        out_headers = headers
        if header_edits.active:
            if headers is None:
                edit_headers = functools.partial(_edit_headers, edits=header_edits, env=env)
            else:
                out_headers = _edit_headers(headers, header_edits, env)
        raw_query = request.raw_query
        query_edits = self.query_edits
        if query_edits.active:
            if query_edits.fixed is not None:
                raw_query = self.static_query(raw_query)
            else:
                raw_query = _edit_query(raw_query, query_edits, *query_edits.render(env))
        path = None
        if self.path is not None:
            path = self.path.render(env)
            if path is not None and not path.startswith("/"):
                path = "/" + path
        return MappingResult(out_headers, raw_query, path, edit_headers)

    def static_query(self, raw_query: str) -> str:
        """The query string `apply` sends for a client's `raw_query` when `query_is_static`: with nothing
        else to read, the proxy lane makes it once per request shape."""
        query_edits = self.query_edits
        if not query_edits.active:
            return raw_query
        assert query_edits.fixed is not None
        if not raw_query:
            return query_edits.fixed_query  # nothing to drop from, nothing to render
        return _edit_query(raw_query, query_edits, query_edits.removed, query_edits.fixed)

    def header_changes(self, context: ContextVariables) -> tuple[AbstractSet[str], list[tuple[str, str]]]:
        """The header edit `apply` makes for one request, as (the names it drops, lower-case; the (name, value)
        pairs it adds after what is kept, values cleaned of line breaks), for a caller that writes the
        headers itself (the proxy lane, on bytes). The caller must not change them."""
        request = context.request
        return _header_changes(self.header_edits, ValueSources(context, request.headers, request.body, request.raw_query))


NO_REQUEST_MAPPING: Final = RequestMapping()

_REQUEST_KEY = re.compile(r"^(append|overwrite|remove):(header|querystring)\.(.+)$")
_REMOVE_VALUES = ("", "''")  # AWS's examples give remove operations the value '' (an empty quoted string)


def _check_value(key: str, value: object, field: Field, *, response: bool) -> ValueTemplate | None:
    """The compiled value of one mapping, or None for a `remove:` (whose value must be empty)."""
    if not isinstance(value, str):
        raise _invalid(f"Invalid mapping expression specified: {value!r}", field)
    if key.startswith("remove:"):
        if value not in _REMOVE_VALUES:
            raise _invalid(
                f"Invalid mapping expression specified: {value}: a remove operation takes ''", field
            )
        return None
    if not 1 <= len(value) <= MAX_VALUE_LENGTH:
        raise _invalid(
            f"Invalid mapping expression specified: {value!r}: values are 1 to {MAX_VALUE_LENGTH} characters",
            field,
        )
    try:
        return compile_value(value, response=response)
    except ValueError as error:
        raise _invalid(f"Invalid mapping expression specified: {value}: {error}", field) from None


def _check_header_target(key: str, name: str, field: Field, side: str) -> None:
    if not _HEADER_NAME.match(name):
        raise _invalid(f"Invalid {side} Actioned Parameter destination specified: {key}", field)
    if is_reserved_header(name):
        raise _invalid(f"Header {name} is reserved and cannot be used in a parameter mapping: {key}", field)


def compile_request_parameters(
    params: Mapping[str, str] | None, *, integration_type: str, integration_subtype: str | None = None
) -> RequestMapping:
    """Check an integration's `requestParameters` as CreateIntegration does and compile them.

    Keys: `append|overwrite|remove:header.NAME`, `append|overwrite|remove:querystring.NAME`,
    `overwrite:path`. Both HTTP_PROXY and Lambda proxy (AWS_PROXY) integrations take every key: AWS's
    console and CDK's `HttpLambdaIntegration` offer parameter mapping for Lambda, and users report
    `overwrite:path` reaching payload 2.0 events (spec §5) [OBS]. AWS service integrations
    (`integrationSubtype`) use requestParameters for the action's own parameters and are not compiled
    here.
    """
    if integration_subtype:
        raise ValueError("requestParameters of AWS service integrations name the action's parameters")
    if integration_type not in REQUEST_MAPPING_INTEGRATION_TYPES:
        raise ValidationError(
            f"Parameter mapping is not supported for integration type {integration_type}",
            ("requestParameters",),
        )
    headers: list[_Operation] = []
    queries: list[_Operation] = []
    path: ValueTemplate | None = None
    for key, value in (params or {}).items():
        field: Field = ("requestParameters", key)
        if key == "overwrite:path":
            path = _check_value(key, value, field, response=False)
            continue
        match = _REQUEST_KEY.match(key)
        if match is None:
            # [OBS] "Invalid Request Actioned Parameter" (a project's notes of AWS's answer).
            raise _invalid(f"Invalid Request Actioned Parameter destination specified: {key}", field)
        action, target, name = match.groups()
        if target == "header":
            _check_header_target(key, name, field, "Request")
            name = name.lower()
        elif not _QUERY_NAME.match(name):
            raise _invalid(f"Invalid Request Actioned Parameter destination specified: {key}", field)
        operation = _Operation(action, name, _check_value(key, value, field, response=False))
        (headers if target == "header" else queries).append(operation)
    return RequestMapping(_Edits.of(headers, headers=True), _Edits.of(queries, headers=False), path)


# --------------------------------------------------------------------------------------------------
# Response mapping


@dataclass(frozen=True, slots=True)
class _ResponseRules:
    header_edits: _Edits
    status: ValueTemplate | None


def _status_code(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) == 3 and text.isdigit() and 100 <= int(text) <= 599:
        return int(text)
    return None


@dataclass(frozen=True, slots=True)
class ResponseMapping:
    """An integration's compiled `responseParameters`, by the integration status they apply to."""

    rules: Mapping[int, _ResponseRules] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    is_empty: bool = dataclasses.field(init=False)
    """No rules: the pipeline passes the response on as it is (checked per request)."""

    def __post_init__(self) -> None:
        # Frozen: set once, here.
        object.__setattr__(self, "is_empty", not self.rules)

    @property
    def statuses(self) -> frozenset[int]:
        return frozenset(self.rules)

    def apply(
        self, status: int, headers: list[tuple[str, str]], body: bytes, context: ContextVariables
    ) -> tuple[int, list[tuple[str, str]]]:
        """The status and headers sent to the client for an integration response with this status.
        Sources (`$response.header.x`, `$response.body.x`) are the integration's response as received.
        A mapped status that is not a status code (a header that was not a number) leaves it unchanged."""
        rules = self.rules.get(status)
        if rules is None:
            return status, headers
        env = ValueSources(context, headers, body)
        if rules.header_edits.active:
            headers = _edit_headers(headers, rules.header_edits, env)
        if rules.status is not None:
            mapped = _status_code(rules.status.render(env))
            if mapped is not None:
                status = mapped
        return status, headers


NO_RESPONSE_MAPPING: Final = ResponseMapping()

_RESPONSE_HEADER_KEY = re.compile(r"^(append|overwrite|remove):header\.(.+)$")


def compile_response_parameters(params: Mapping[str, Mapping[str, str]] | None) -> ResponseMapping:
    """Check an integration's `responseParameters` as CreateIntegration does and compile them.

    Selection keys are integration status codes from 200 to 599 (service model); each maps
    `append|overwrite|remove:header.NAME` and `overwrite:statuscode` to values drawn from
    `$response.header.x`, `$response.body.x`, `$context.x`, `$stageVariables.x` or static text.
    """
    rules: dict[int, _ResponseRules] = {}
    for selection, mappings in (params or {}).items():
        code = _status_code(selection) if isinstance(selection, str) else None
        if code is None or code < 200:
            # [DOC] service model: "The selection key must be a valid HTTP status code within the range
            # of 200-599."
            raise ValidationError(
                f"Invalid response parameters selection key {selection}: the selection key must be a valid "
                "HTTP status code within the range of 200-599",
                ("responseParameters", str(selection)),
            )
        if not isinstance(mappings, Mapping):
            raise ValidationError(
                f"Response parameters for {selection} must be a map", ("responseParameters", selection)
            )
        operations: list[_Operation] = []
        status: ValueTemplate | None = None
        for key, value in mappings.items():
            field: Field = ("responseParameters", selection, key)
            if key == "overwrite:statuscode":
                status = _check_value(key, value, field, response=True)
                assert status is not None
                if status.is_static and _status_code(value) is None:
                    raise _invalid(f"Invalid status code specified: {value}", field)
                continue
            match = _RESPONSE_HEADER_KEY.match(key)
            if match is None:
                # [OBS] hashicorp/terraform-provider-aws#17997: AWS's answer to `append:overwrite.static`.
                raise _invalid(f"Invalid Response Actioned Parameter destination specified: {key}", field)
            action, name = match.groups()
            _check_header_target(key, name, field, "Response")
            operations.append(
                _Operation(action, name.lower(), _check_value(key, value, field, response=True))
            )
        rules[code] = _ResponseRules(_Edits.of(operations, headers=True), status)
    return ResponseMapping(MappingProxyType(rules))
