"""Identity sources: where an authorizer finds what identifies the caller (spec §7.1, §7.2).

Pure module. An expression (`$request.header.Authorization`, `$request.querystring.token`,
`$context.routeKey`, `$stageVariables.tenant`) is compiled once, when the authorizer is compiled; a
request then only looks the values up.

AWS's rules (http-api-lambda-authorizer, "Identity sources"): header names are case-insensitive, query
string names case-sensitive; if any configured source is missing or empty the Lambda authorizer is not
invoked and the client gets 401.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from stageway.core.context_vars import ContextVariables
from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.lambda_events import parse_query_string

JWT_DEFAULT_IDENTITY_SOURCE = "$request.header.Authorization"
"""What the console proposes for a JWT authorizer, and what a file gets when it names none."""


class SourceKind(Enum):
    HEADER = "$request.header."
    QUERY = "$request.querystring."
    CONTEXT = "$context."
    STAGE_VARIABLE = "$stageVariables."


_EXPRESSION = re.compile(r"^\$(request\.header\.|request\.querystring\.|context\.|stageVariables\.)(\S+)$")


class IdentitySourceError(ValueError):
    """An expression that is not one of the four forms AWS accepts."""


@dataclass(frozen=True, slots=True)
class IdentitySource:
    kind: SourceKind
    name: str
    """Lower-cased for headers (their names are case-insensitive); as written otherwise."""
    expression: str

    def __str__(self) -> str:
        return self.expression


def parse_identity_source(expression: str, *, jwt: bool = False) -> IdentitySource:
    """Compile one expression. A JWT authorizer accepts only a header or a query-string parameter."""
    match = _EXPRESSION.match(expression)
    if match is None:
        raise IdentitySourceError(
            f"Invalid identity source specified: {expression}. Use $request.header.{{name}}, "
            "$request.querystring.{name}, $context.{name} or $stageVariables.{name}"
        )
    kind = SourceKind("$" + match.group(1))
    if jwt and kind not in (SourceKind.HEADER, SourceKind.QUERY):
        raise IdentitySourceError(
            f"Invalid identity source specified: {expression}. A JWT authorizer reads its token from "
            "$request.header.{name} or $request.querystring.{name}"
        )
    name = match.group(2)
    return IdentitySource(kind, name.lower() if kind is SourceKind.HEADER else name, expression)


def identity_value(source: IdentitySource, request: IncomingRequest, route: RouteContext) -> str | None:
    """The source's value in this request, or None when it is absent."""
    if source.kind is SourceKind.HEADER:
        # Repeated headers are joined with "," as in the payload 2.0 event.
        return request.header(source.name)
    if source.kind is SourceKind.QUERY:
        values = [value for name, value in parse_query_string(request.raw_query) if name == source.name]
        return ",".join(values) if values else None
    if source.kind is SourceKind.STAGE_VARIABLE:
        return route.stage_variables.get(source.name)
    return context_variable(source.name, request, route)


def identity_values(
    sources: Sequence[IdentitySource], request: IncomingRequest, route: RouteContext
) -> tuple[str, ...] | None:
    """Every source's value in order, or None when one is missing or empty (AWS then answers 401)."""
    values = []
    for source in sources:
        value = identity_value(source, request, route)
        if not value:
            return None
        values.append(value)
    return tuple(values)


def context_variable(name: str, request: IncomingRequest, route: RouteContext) -> str | None:
    """`$context.{name}` as parameter mappings and access logs see it (`core.context_vars`). Variables that
    only exist once the request is answered (`status`, `integrationLatency`, ...) have no value yet: an
    authorizer that names one gets 401, as for any missing identity source [INF]."""
    return ContextVariables(request, route).lookup(name)
