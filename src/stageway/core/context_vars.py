"""`$context` variables of HTTP APIs and the access-log formats that print them (spec §10).

Pure module. A deployment compiles each access-log format once with `compile_log_format`: the template
is cut into literal text and one resolver function per `$context.x` reference, so rendering a log line is
a walk over a tuple with no parsing. Parameter mapping (`core/mapping.py`) resolves `$context.x` values
through the same `resolver_for`, so both speak one list of variables.

Per request the pipeline builds one `ContextVariables` view from the request, the route it matched (None
for a 404 before any route) and `RequestFacts`, the few things only the pipeline learns while answering.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from stageway.core.clock import clf_time
from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.validation import ValidationError

MAX_LOG_FORMAT_BYTES = 3 * 1024  # quota "Access log template size", not adjustable (spec §11.3)
MISSING = "-"  # what a variable without a value prints, as in every AWS access log


class _NoValues(Mapping[str, Any]):
    """The empty mapping `RequestFacts` starts with. Hashable, so that it can be a plain dataclass default:
    a `default_factory` is a call per field per request."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and not other


_EMPTY: Mapping[str, Any] = _NoValues()


@dataclass(slots=True)
class RequestFacts:
    """What the pipeline learns while answering a request: everything `$context` needs beyond the request
    and its route. Fields left at their defaults print as `-`.

    Not frozen, though nothing changes one once it is shared: a frozen dataclass sets each of its 16 fields
    through `object.__setattr__`, which made building one cost as much as rendering the log line it feeds."""

    status: int | None = None
    """The status code sent to the client (`$context.status`)."""
    response_length: int | None = None
    """Bytes of the response body (`$context.responseLength`)."""
    response_latency_ms: float | None = None
    """Whole request, first byte in to last byte out (`$context.responseLatency`)."""
    integration_status: int | None = None
    """The backend's status: an HTTP backend's response code, a Lambda function's `statusCode`
    (`$context.integration.status`)."""
    integration_invoke_status: int | None = None
    """Lambda integrations only: the Lambda service's answer to Invoke (200 for any invocation that ran,
    even one whose function failed). `$context.integrationStatus` and `$context.integration.integrationStatus`
    print it; for an HTTP backend, which has no such layer, they print `integration_status` (spec §10.1 note)."""
    integration_latency_ms: float | None = None
    integration_error: str = ""
    """Why the integration failed (`$context.integrationErrorMessage`, `$context.integration.error`)."""
    integration_request_id: str = ""
    """The AWS endpoint's request id: Lambda's `x-amzn-RequestId` (`$context.awsEndpointRequestId`,
    `$context.integration.requestId`)."""
    integration_request_id2: str = ""
    """The AWS endpoint's `x-amz-id-2` (`$context.awsEndpointRequestId2`)."""
    error_message: str = ""
    """The message of an error the gateway answered itself: "Not Found", "Unauthorized", ..."""
    error_response_type: str = ""
    """The kind of that error: `UNAUTHORIZED`, `THROTTLED`, `INTEGRATION_FAILURE`, ... (names [INF])."""
    authorizer: Mapping[str, str] = _EMPTY
    """`$context.authorizer.*` values by name without the prefix: `claims.sub`, `principalId`, a Lambda
    authorizer's context keys (what `stageway.auth`'s `AuthResult.context_vars` holds)."""
    authorizer_error: str = ""
    """Why an authorizer refused or failed (`$context.authorizer.error`)."""
    identity: Mapping[str, Any] = _EMPTY
    """`$context.identity.*` fields of an IAM-authorized caller by name: `accountId`, `caller`, `user`,
    `userArn`, `principalOrgId`, `cognito*` (what `AuthResult.identity` holds)."""
    base_path_matched: str = ""
    """The API mapping key a custom-domain request matched (`$context.customDomain.basePathMatched`)."""
    data_processed: int | None = None
    """Bytes processed, request and response together (`$context.dataProcessed`)."""


_NO_FACTS = RequestFacts()


class ContextVariables:
    """The `$context` values of one request; `lookup`, compiled log formats and parameter mappings read it.

    Build it once the request is authorized (parameter mapping needs the authorizer's values), and set
    `facts` again, e.g. with `dataclasses.replace(variables.facts, status=...)`, before the access log
    renders it."""

    __slots__ = ("facts", "request", "route")

    def __init__(
        self, request: IncomingRequest, route: RouteContext | None, facts: RequestFacts | None = None
    ) -> None:
        self.request = request
        self.route = route
        self.facts = facts if facts is not None else _NO_FACTS

    def lookup(self, name: str) -> str | None:
        """The value of `$context.<name>` (`name` without the `$context.` prefix), or None when the
        request has none or the variable does not exist."""
        resolve = resolver_for(name)
        return resolve(self) if resolve is not None else None


Resolver = Callable[[ContextVariables], "str | None"]


def _text(value: object) -> str | None:
    """A value as text; numbers and booleans in their JSON form (`1`, `true`)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


def _number(value: float | None) -> str | None:
    # Latencies, lengths and statuses are whole numbers in AWS's logs; a float latency is rounded (half to
    # even, as round() does).
    if value is None:
        return None
    return str(value) if type(value) is int else f"{value:.0f}"


def _nonempty(value: str) -> str | None:
    return value or None


def _domain_name(v: ContextVariables) -> str | None:
    if v.route is not None and v.route.domain_name:
        return v.route.domain_name
    return v.request.host or None


def _domain_prefix(v: ContextVariables) -> str | None:
    name = _domain_name(v)
    return name.partition(".")[0] if name else None


def _authorizer(name: str) -> Resolver:
    return lambda v: v.facts.authorizer.get(name)


def _identity(name: str) -> Resolver:
    return lambda v: _text(v.facts.identity.get(name))


def _integration_status(v: ContextVariables) -> str | None:
    facts = v.facts
    status = facts.integration_invoke_status
    return _number(status if status is not None else facts.integration_status)


def _error_message_string(v: ContextVariables) -> str | None:
    message = v.facts.error_message
    return f'"{message}"' if message else None


def _no_value(v: ContextVariables) -> str | None:
    return None


# Every variable AWS lists for HTTP APIs (http-api-logging-variables), by name after `$context.`.
_RESOLVERS: dict[str, Resolver] = {
    "accountId": lambda v: v.route.account_id if v.route is not None else None,
    "apiId": lambda v: v.route.api_id if v.route is not None else None,
    "authorizer.error": lambda v: _nonempty(v.facts.authorizer_error),
    "authorizer.principalId": _authorizer("principalId"),
    "awsEndpointRequestId": lambda v: _nonempty(v.facts.integration_request_id),
    "awsEndpointRequestId2": lambda v: _nonempty(v.facts.integration_request_id2),
    "customDomain.basePathMatched": lambda v: _nonempty(v.facts.base_path_matched),
    "dataProcessed": lambda v: _number(v.facts.data_processed),
    "domainName": _domain_name,
    "domainPrefix": _domain_prefix,
    "error.message": lambda v: _nonempty(v.facts.error_message),
    "error.messageString": _error_message_string,
    "error.responseType": lambda v: _nonempty(v.facts.error_response_type),
    "extendedRequestId": lambda v: v.request.request_id,
    "httpMethod": lambda v: v.request.method,
    "identity.accountId": _identity("accountId"),
    "identity.caller": _identity("caller"),
    "identity.cognitoAuthenticationProvider": _identity("cognitoAuthenticationProvider"),
    "identity.cognitoAuthenticationType": _identity("cognitoAuthenticationType"),
    "identity.cognitoIdentityId": _identity("cognitoIdentityId"),
    "identity.cognitoIdentityPoolId": _identity("cognitoIdentityPoolId"),
    "identity.principalOrgId": _identity("principalOrgId"),
    # Mutual TLS is not offered by the listener, so a client certificate is never there.
    "identity.clientCert.clientCertPem": _no_value,
    "identity.clientCert.subjectDN": _no_value,
    "identity.clientCert.issuerDN": _no_value,
    "identity.clientCert.serialNumber": _no_value,
    "identity.clientCert.validity.notBefore": _no_value,
    "identity.clientCert.validity.notAfter": _no_value,
    "identity.sourceIp": lambda v: v.request.source_ip or None,
    "identity.user": _identity("user"),
    "identity.userAgent": lambda v: v.request.header("user-agent"),
    "identity.userArn": _identity("userArn"),
    "integration.error": lambda v: _nonempty(v.facts.integration_error),
    "integration.integrationStatus": _integration_status,
    "integration.latency": lambda v: _number(v.facts.integration_latency_ms),
    "integration.requestId": lambda v: _nonempty(v.facts.integration_request_id),
    "integration.status": lambda v: _number(v.facts.integration_status),
    "integrationErrorMessage": lambda v: _nonempty(v.facts.integration_error),
    "integrationLatency": lambda v: _number(v.facts.integration_latency_ms),
    "integrationStatus": _integration_status,
    # The path as the client sent it, a named stage's prefix included (`/prod/pets/1`).
    "path": lambda v: v.route.stage_raw_path if v.route is not None else v.request.raw_path,
    # AWS logs every request as HTTP/1.1, HTTP/2 clients included (spec §10.1).
    "protocol": lambda v: "HTTP/1.1",
    "requestId": lambda v: v.request.request_id,
    "requestTime": lambda v: clf_time(v.request.time_epoch_ms),
    "requestTimeEpoch": lambda v: str(v.request.time_epoch_ms),
    "responseLatency": lambda v: _number(v.facts.response_latency_ms),
    "responseLength": lambda v: _number(v.facts.response_length),
    "routeKey": lambda v: v.route.route_key if v.route is not None else None,
    "stage": lambda v: v.route.stage if v.route is not None else None,
    "status": lambda v: _number(v.facts.status),
}

_AUTHORIZER_PREFIX = "authorizer."
# AWS: context variable names may contain only `.` and `_` besides letters and digits.
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*$")


def resolver_for(name: str) -> Resolver | None:
    """The function that computes `$context.<name>` for a request, or None when HTTP APIs have no such
    variable. Called at configuration time; the result is kept in the compiled format or mapping."""
    resolve = _RESOLVERS.get(name)
    if resolve is not None:
        return resolve
    if name.startswith(_AUTHORIZER_PREFIX) and _VARIABLE_NAME.match(name):
        # `authorizer.claims.sub` (a JWT claim), `authorizer.key` (a Lambda authorizer's context). AWS:
        # "Calling $context.authorizer.claims returns null": no authorizer gives a value named `claims`.
        return _authorizer(name[len(_AUTHORIZER_PREFIX) :])
    return None


def is_context_variable(name: str) -> bool:
    return resolver_for(name) is not None


# --------------------------------------------------------------------------------------------------
# Access-log formats


# Console presets (spec §10.2), usable as defaults.
CLF_FORMAT = (
    '$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.routeKey '
    '$context.protocol" $context.status $context.responseLength $context.requestId'
)
JSON_FORMAT = (
    '{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", '
    '"requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod",'
    '"routeKey":"$context.routeKey", "status":"$context.status","protocol":"$context.protocol", '
    '"responseLength":"$context.responseLength" }'
)
XML_FORMAT = (
    '<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip> '
    "<requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> "
    "<routeKey>$context.routeKey</routeKey> <status>$context.status</status> "
    "<protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> "
    "</request>"
)
CSV_FORMAT = (
    "$context.identity.sourceIp,$context.requestTime,$context.httpMethod,$context.routeKey,"
    "$context.protocol,$context.status,$context.responseLength,$context.requestId"
)

# `$context.name` (Velocity's shorthand) or `${context.name}` (its formal notation). A shorthand name
# cannot end with a dot: `$context.status.` is the status followed by a full stop.
_LOG_REFERENCE = re.compile(r"\$\{context\.([A-Za-z0-9_.]+)\}|\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")

_FORMAT_FIELD = ("accessLogSettings", "format")


def _json_escape(text: str) -> str:
    if '"' not in text and "\\" not in text and text.isprintable():
        return text  # most values need nothing
    return orjson.dumps(text).decode()[1:-1]


def _line_escape(text: str) -> str:
    # One request, one line: a value cannot start a forged log line.
    return text.replace("\r", "\\r").replace("\n", "\\n")


@dataclass(frozen=True, slots=True)
class _Reference:
    name: str
    resolve: Resolver | None
    """None for a name HTTP APIs do not define: it always prints `-`."""


# Variables whose values stageway makes itself and never contain a quote, a backslash, a control character
# or a line break: no escaping needed, in JSON or in a line.
_PLAIN_VALUES = frozenset(
    {
        "requestId",
        "extendedRequestId",
        # The listener's parser admits only token methods; the source IP is the TCP peer's address.
        "httpMethod",
        "identity.sourceIp",
        "requestTime",
        "requestTimeEpoch",
        "protocol",
        "status",
        "responseLength",
        "responseLatency",
        "integrationLatency",
        "integrationStatus",
        "integration.latency",
        "integration.status",
        "integration.integrationStatus",
        "dataProcessed",
        "accountId",
        "apiId",
    }
)


def whole_number(expression: str) -> str:
    """`_number` of an int-or-None `expression`, written out as source for a generated render function."""
    return f"(None if (_n := {expression}) is None else str(_n))"


def rounded_number(expression: str) -> str:
    """`_number` of a float-or-None `expression` (a latency), written out as source."""
    return f"(None if (_n := {expression}) is None else f'{{_n:.0f}}')"


# The commonest variables of access-log formats as expressions over `v` (a ContextVariables), written into
# the generated render function instead of a resolver call each. Each must give what its resolver gives
# (tests/unit/test_context_vars.py renders every one both ways).
_INLINE: dict[str, str] = {
    "requestId": "v.request.request_id",
    "extendedRequestId": "v.request.request_id",
    "httpMethod": "v.request.method",
    "identity.sourceIp": "v.request.source_ip",
    "protocol": "'HTTP/1.1'",
    "requestTime": "_clf_time(v.request.time_epoch_ms)",
    "requestTimeEpoch": "str(v.request.time_epoch_ms)",
    "routeKey": "(v.route.route_key if v.route is not None else None)",
    "stage": "(v.route.stage if v.route is not None else None)",
    "apiId": "(v.route.api_id if v.route is not None else None)",
    "status": whole_number("v.facts.status"),
    "responseLength": whole_number("v.facts.response_length"),
    "responseLatency": rounded_number("v.facts.response_latency_ms"),
    "integrationLatency": rounded_number("v.facts.integration_latency_ms"),
    "integration.latency": rounded_number("v.facts.integration_latency_ms"),
    "integration.status": whole_number("v.facts.integration_status"),
}


def render_function(
    parts: tuple[str | _Reference, ...],
    json: bool,
    inline: Mapping[str, str],
    arguments: str = "v",
    helpers: Mapping[str, object] | None = None,
) -> Callable[..., str] | None:
    """A function that renders a line of a format cut into `parts` (`json`: a JSON format, see LogFormat):
    `TEMPLATE % (value, value, ...)`.

    Generated as source, as `dataclasses` generates `__init__`: a log line is written for every request of
    a logged stage, and a walk over the parts with a type test, a call and an escape check per part cost
    about as much as the rest of the pipeline's features together. `inline` gives variables as Python
    expressions over `arguments`; with the default `v` (a ContextVariables), any other variable is a call
    of its resolver. With other arguments every variable must be in `inline` (None otherwise: the caller
    falls back to a ContextVariables). `helpers` are more names the expressions may call. The escape call is
    left out for values that never need one."""
    escape = _json_escape if json else _line_escape
    namespace: dict[str, object] = {
        "_MISSING": MISSING,
        "_escape": escape,
        "_quoted": _quoted_json,
        "_clf_time": clf_time,
        **(helpers or {}),
    }
    template: list[str] = []
    values: list[str] = []
    for part in parts:
        if isinstance(part, str):
            template.append(part.replace("%", "%%"))
            continue
        template.append("%s")
        if part.resolve is None:
            values.append("_MISSING")
            continue
        value = inline.get(part.name)
        if value is None:
            if arguments != "v":
                return None
            value = f"_r{len(values)}(v)"
            namespace[f"_r{len(values)}"] = part.resolve
        if part.name in _PLAIN_VALUES:
            values.append(f"({value} or _MISSING)")
        elif part.name == "error.messageString" and json:
            # Already quoted for JSON: escape what is inside the quotes only.
            values.append(f"_quoted({value})")
        else:
            values.append(f"((_x := {value}) and _escape(_x) or _MISSING)")
    namespace["_TEMPLATE"] = "".join(template)
    source = f"def render({arguments}):\n    return _TEMPLATE % ({''.join(value + ', ' for value in values)})\n"
    exec(compile(source, "<access-log format>", "exec"), namespace)  # noqa: S102 - source built above from names
    return namespace["render"]  # type: ignore[return-value]


def _quoted_json(value: str | None) -> str:
    return f'"{_json_escape(value[1:-1])}"' if value else MISSING


@dataclass(frozen=True, slots=True)
class LogFormat:
    """An access-log format cut into literal text and `$context` references, compiled to one function."""

    template: str
    parts: tuple[str | _Reference, ...]
    json: bool
    """True for a format that is a JSON object: values are escaped to stay valid JSON string content."""
    render_line: Callable[[ContextVariables], str] = field(compare=False, repr=False)
    """`render_function` of the parts with `$context` resolvers."""

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(part.name for part in self.parts if isinstance(part, _Reference))

    def render(self, variables: ContextVariables) -> str:
        """One log line. Values are substituted textually, as AWS does (the template quotes them); a
        variable without a value, or with an empty one, prints `-`."""
        return self.render_line(variables)


def compile_log_format(template: str) -> LogFormat:
    """Check an access-log format as AWS does at CreateStage / UpdateStage and compile it.

    AWS requires `$context.requestId` or `$context.extendedRequestId` and at most 3 KB (spec §2.5,
    §11.3); the format is a single line. A `$context.x` that HTTP APIs do not define is accepted and
    prints `-`: AWS documents no check of variable names in access-log formats, and unavailable values
    print `-` (spec §10) [INF].
    """
    if not isinstance(template, str) or not template:
        raise ValidationError("accessLogSettings needs format (a string)", _FORMAT_FIELD)
    if len(template.encode()) > MAX_LOG_FORMAT_BYTES:
        raise ValidationError("Access log format must not exceed 3 KB", _FORMAT_FIELD)
    if "\n" in template or "\r" in template:
        raise ValidationError("Access log format must be a single line", _FORMAT_FIELD)
    parts: list[str | _Reference] = []
    position = 0
    for match in _LOG_REFERENCE.finditer(template):
        if match.start() > position:
            parts.append(template[position : match.start()])
        name = match.group(1) or match.group(2)
        parts.append(_Reference(name, resolver_for(name)))
        position = match.end()
    if position < len(template):
        parts.append(template[position:])
    json = template.lstrip().startswith("{")
    render_line = render_function(tuple(parts), json, _INLINE)
    assert render_line is not None  # with `v`, every variable has an expression or a resolver
    log_format = LogFormat(template, tuple(parts), json, render_line)
    if not {"requestId", "extendedRequestId"} & set(log_format.variables):
        # [DOC] service model AccessLogSettings: "The format must include at least $context.requestId";
        # the HTTP API logging guide accepts $context.extendedRequestId instead.
        raise ValidationError(
            "Access log format must contain $context.requestId or $context.extendedRequestId", _FORMAT_FIELD
        )
    return log_format
