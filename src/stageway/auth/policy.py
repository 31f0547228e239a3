"""IAM policies returned by Lambda authorizers, evaluated against a request's route ARN (spec §7.2).

Pure module. A Lambda authorizer without simple responses answers with a policy document
(`{"Version": ..., "Statement": [{"Effect": "Allow|Deny", "Action": "execute-api:Invoke",
"Resource": "arn:aws:execute-api:..."}]}`); the gateway allows the request when a statement allows
`execute-api:Invoke` on the request's ARN and none denies it: IAM's rule that an explicit Deny wins and
that no matching Allow means deny. `*` matches any run of characters (slashes and colons included) and
`?` exactly one, as in IAM resource and action patterns.

A cached policy is evaluated again for each request, against that request's ARN (AWS: "a cached IAM
policy is re-evaluated against each request's route ARN").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stageway.core.http import IncomingRequest, RouteContext

INVOKE_ACTION = "execute-api:Invoke"


def route_arn(request: IncomingRequest, route: RouteContext) -> str:
    """`arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`: the resource an authorizer
    decides about (`routeArn` in 2.0 events, `methodArn` in 1.0). The method is the client's (never `ANY`);
    the path is the request path without the stage prefix and without its leading slash [DOC example]."""
    return (
        f"arn:aws:execute-api:{route.region}:{route.account_id}:{route.api_id}/"
        f"{route.stage}/{request.method}/{route.route_raw_path.removeprefix('/')}"
    )


class PolicyError(ValueError):
    """The document is not a policy the gateway can evaluate: the authorizer's answer is invalid (500)."""


@dataclass(frozen=True, slots=True)
class Statement:
    allow: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditional: bool
    """A `Condition` block: the gateway has no request keys to test it with, so a conditional Allow never
    matches and a conditional Deny always does (fail closed) [INF]."""

    def matches(self, arn: str) -> bool:
        action_hit = any(_pattern(action, ignore_case=True).fullmatch(INVOKE_ACTION) for action in self.actions)
        resource_hit = any(_pattern(resource).fullmatch(arn) for resource in self.resources)
        return action_hit != self.not_action and resource_hit != self.not_resource


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]

    def allows(self, arn: str) -> bool:
        """IAM's evaluation: an explicit Deny wins, then an Allow, and nothing matching means deny."""
        allowed = False
        for statement in self.statements:
            if statement.allow:
                if not statement.conditional and statement.matches(arn):
                    allowed = True
            elif statement.conditional or statement.matches(arn):
                return False
        return allowed


def parse_policy(document: object) -> Policy:
    """Read a `policyDocument`; raises PolicyError when it is not one."""
    if not isinstance(document, Mapping):
        raise PolicyError("policyDocument must be an object")
    raw_statements = _get(document, "Statement")
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise PolicyError("policyDocument.Statement must be a statement or a non-empty list of statements")
    return Policy(tuple(_statement(raw) for raw in raw_statements))


def _statement(raw: object) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError("each Statement must be an object")
    effect = _get(raw, "Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"Statement Effect must be Allow or Deny, got {effect!r}")
    actions, not_action = _either(raw, "Action", "NotAction")
    resources, not_resource = _either(raw, "Resource", "NotResource")
    return Statement(
        allow=effect == "Allow",
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditional=_get(raw, "Condition") is not None,
    )


def _either(raw: Mapping[str, Any], key: str, not_key: str) -> tuple[tuple[str, ...], bool]:
    value, negated = _get(raw, key), False
    if value is None:
        value, negated = _get(raw, not_key), True
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise PolicyError(f"Statement {key} must be a string or a non-empty list of strings")
    return tuple(value), negated


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    # Policy element names are case-insensitive in IAM ("statement", "effect" are accepted).
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for name, value in mapping.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    # Compiled once per distinct pattern: authorizers return the same few policies over and over.
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))
