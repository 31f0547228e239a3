"""Route keys (`GET /pets/{id}`, `ANY /{proxy+}`, `$default`): parsing and AWS's validation rules.

Pure module. Used by the config loader, the control plane and the route compiler, so a key that one accepts
the others accept too.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

DEFAULT_ROUTE_KEY = "$default"
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})

# AWS's own message and expression for a bad path part (spec §1.3; newer AWS versions also admit ':').
# Used with fullmatch (Python's `$` also matches before a trailing newline) and ASCII `\w`, as in Java.
PATH_PART_PATTERN = re.compile(r"^(\{[\w.:-]+\+?\}|[a-zA-Z0-9.:_-]+)$", re.ASCII)
BAD_PATH_PART_MESSAGE = (
    "One or more path parts appear to be invalid. Parts are validated against this regular expression: "
    r"^(\{[\w.:-]+\+?\}|[a-zA-Z0-9.:_-]+)$"
)


class RouteKeyError(ValueError):
    """A route key AWS would refuse with BadRequestException; the message is AWS's."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One path part of a route: a literal, a `{name}` variable or the greedy `{name+}`."""

    text: str
    is_variable: bool = False
    is_greedy: bool = False

    @property
    def name(self) -> str:
        """The variable's name (without braces and `+`), or the literal itself."""
        if not self.is_variable:
            return self.text
        return self.text[1:-2] if self.is_greedy else self.text[1:-1]


@dataclass(frozen=True, slots=True)
class RouteKey:
    """A parsed route key. `$default` has method "" and no segments."""

    key: str
    method: str
    segments: tuple[Segment, ...]

    @property
    def is_default(self) -> bool:
        return self.key == DEFAULT_ROUTE_KEY

    @property
    def is_greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].is_greedy

    @property
    def path(self) -> str:
        return "/" + "/".join(segment.text for segment in self.segments)


def parse_route_key(key: object) -> RouteKey:
    """Parse and validate a route key the way AWS's CreateRoute does; raises RouteKeyError."""
    if not isinstance(key, str) or not key.strip():
        raise RouteKeyError("Route key is required")
    return _parse_text(key)


@functools.lru_cache(maxsize=16384)
def _parse_text(key: str) -> RouteKey:
    """Once per distinct key (RouteKey is immutable): a write to an API with thousands of routes checks the new
    key against all of them, and its deployment compiles them all again, on every write. (A key that fails
    raises each time: errors are not cached.)"""
    if key == DEFAULT_ROUTE_KEY:
        return RouteKey(key, "", ())
    method, sep, path = key.partition(" ")
    if not sep or method not in HTTP_METHODS:
        raise RouteKeyError(
            f"Unable to parse route key {key!r}: expected '$default' or 'METHOD /path' with METHOD one of "
            f"{', '.join(sorted(HTTP_METHODS))}"
        )
    if not path.startswith("/"):
        raise RouteKeyError(f"Unable to parse route key {key!r}: the path must start with '/'")
    if path == "/":
        return RouteKey(key, method, ())
    parts = path[1:].split("/")
    segments: list[Segment] = []
    for index, part in enumerate(parts):
        if not PATH_PART_PATTERN.fullmatch(part):
            raise RouteKeyError(BAD_PATH_PART_MESSAGE)
        is_variable = part.startswith("{")
        is_greedy = is_variable and part.endswith("+}")
        if is_greedy and index != len(parts) - 1:
            raise RouteKeyError(
                f"Invalid route key {key!r}: a greedy path variable {part} must be the last part of the path"
            )
        segments.append(Segment(part, is_variable, is_greedy))
    names = [segment.name for segment in segments if segment.is_variable]
    if len(names) != len(set(names)):
        raise RouteKeyError(f"Invalid route key {key!r}: a path variable name is used more than once")
    return RouteKey(key, method, tuple(segments))


def find_variable_conflict(new: RouteKey, existing: list[RouteKey]) -> RouteKey | None:
    """The existing route that names a variable differently at the same level as `new`, if any.

    AWS refuses such siblings with 409 (spec §1.3, gotcha 21): `GET /a/{orgId}/q` beside `GET /a/{org}/q`.
    Two keys conflict when their paths agree on every part before a position where both have a
    (non-greedy or greedy) variable with different names.
    """
    for other in existing:
        for mine, theirs in zip(new.segments, other.segments):
            if mine.is_variable and theirs.is_variable:
                if mine.name != theirs.name and mine.is_greedy == theirs.is_greedy:
                    return other
                continue
            if mine.is_variable or theirs.is_variable or mine.text != theirs.text:
                break
    return None


def conflict_message(new: RouteKey, other: RouteKey) -> str:
    return (
        f'The provided route key "{new.key}" has a conflicting variable on the same hierarchical level as '
        f'"{other.key}"'
    )
