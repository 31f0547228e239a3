"""Route selection: which route of a deployed stage serves `METHOD /path` (spec §3.2, §3.3).

Pure module, no I/O. A stage's routes are compiled once, when the stage is deployed, into a trie of path
segments; `RouteMatcher.match` then walks that trie for each request, backtracking where AWS's priority
rules need it. No regexes and no scan of the route list happen per request, so matching costs the same
for 10 routes as for 10,000.

AWS's priority, as implemented here:

1. A full match (static segments and `{var}`s, no greedy variable) beats any greedy match, which beats
   `$default`; with none of these the answer is None (the caller sends 404 `{"message":"Not Found"}`).
2. Paths compare segment by segment from the left: a literal beats `{var}`, which beats a greedy
   `{name+}` ending there. The most specific path is tried first; deeper failures backtrack to the next.
3. On a path, the exact method first, then `ANY`; if neither is defined there, less specific paths are
   tried (down to greedy routes and `$default`). AWS never answers 405, and HEAD is not routed to GET.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from stageway.core.route_keys import RouteKey

T = TypeVar("T")

ANY_METHOD = "ANY"


@dataclass(frozen=True, slots=True)
class RouteMatch(Generic[T]):
    """The route selected for a request."""

    route_key: str  # e.g. "GET /pets/{id}", "ANY /{proxy+}", "$default"
    target: T
    path_parameters: dict[str, str]  # percent-decoded; a greedy value is the rest of the path, no leading "/"


@dataclass(frozen=True, slots=True)
class _Route(Generic[T]):
    """A compiled route: where its variables sit in the request's segment list."""

    key: str
    target: T
    variables: tuple[tuple[int, str], ...]  # (segment index, name) of each `{name}`
    greedy_name: str | None  # name of the trailing `{name+}`, if any
    greedy_index: int  # segment index where the greedy value starts (= number of segments before it)


class _Node(Generic[T]):
    """One position in the segment trie: the routes whose path ends here, and the ways to go deeper."""

    __slots__ = ("greedy", "literals", "routes", "variable")

    def __init__(self) -> None:
        self.literals: dict[str, _Node[T]] = {}  # child per literal segment text
        self.variable: _Node[T] | None = None  # the one child for `{any name}` at this position
        self.routes: dict[str, _Route[T]] = {}  # method (or ANY) -> route whose path ends exactly here
        self.greedy: dict[str, _Route[T]] = {}  # method (or ANY) -> route `<this path>/{name+}`


class RouteMatcher(Generic[T]):
    """A stage's routes compiled for matching. Build with `RouteMatcher.compile(...)`."""

    __slots__ = ("_count", "_default", "_literal", "_root")

    def __init__(
        self, root: _Node[T], default: _Route[T] | None, count: int, literal: dict[str, dict[str, _Route[T]]]
    ) -> None:
        self._root = root
        self._default = default
        self._count = count
        self._literal = literal
        """Routes whose paths have no variables, by path and method: a request path that is one of them
        (and has nothing to decode) is answered by one lookup, as the walk would answer it."""

    @classmethod
    def compile(cls, routes: Iterable[tuple[RouteKey, T]]) -> RouteMatcher[T]:
        """Build the trie. Raises ValueError for two routes with the same method and path shape.

        The control plane refuses those earlier (duplicate key, or variables named differently at the same
        level, spec §1.5); this check only keeps a hand-built route list from silently shadowing a route.
        """
        root: _Node[T] = _Node()
        default: _Route[T] | None = None
        count = 0
        for route_key, target in routes:
            count += 1
            if route_key.is_default:
                if default is not None:
                    raise ValueError(f"Route with key {route_key.key} already exists")
                default = _Route(route_key.key, target, (), None, 0)
                continue
            node = root
            variables: list[tuple[int, str]] = []
            greedy_name: str | None = None
            for index, segment in enumerate(route_key.segments):
                if segment.is_greedy:  # always the last segment (parse_route_key enforces it)
                    greedy_name = segment.name
                elif segment.is_variable:
                    variables.append((index, segment.name))
                    if node.variable is None:
                        node.variable = _Node()
                    node = node.variable
                else:
                    node = node.literals.setdefault(segment.text, _Node())
            greedy_index = len(route_key.segments) - 1 if greedy_name is not None else 0
            route = _Route(route_key.key, target, tuple(variables), greedy_name, greedy_index)
            table = node.greedy if greedy_name is not None else node.routes
            if route_key.method in table:
                raise ValueError(
                    f"Route key {route_key.key} has the same method and path as {table[route_key.method].key}"
                )
            table[route_key.method] = route
        literal: dict[str, dict[str, _Route[T]]] = {}
        _collect_literal_paths(root, "", literal)
        return cls(root, default, count, literal)

    def __len__(self) -> int:
        return self._count

    def match(self, method: str, raw_path: str) -> RouteMatch[T] | None:
        """Select the route for a request, or None (AWS: 404 Not Found).

        `raw_path` is the path as sent: percent-encoded, starting with "/", stage prefix removed, no query.
        """
        # Split first, then decode each segment: `%2F` stays data inside one segment (spec §3.2, decoding).
        # "/" has no segments; a trailing slash leaves an empty last segment, which no `{var}` or literal
        # matches, so `/a/` does not select `GET /a` (HTTP APIs don't strip it, spec §13 item 5).
        method = method.upper()
        routes = self._literal.get(raw_path)
        if routes is not None and "%" not in raw_path:
            # The walk tries the literal branch first and takes a full match there: the same route.
            route = routes.get(method) or routes.get(ANY_METHOD)
            if route is not None:
                return RouteMatch(route.key, route.target, {})
        path = raw_path.removeprefix("/")
        segments = path.split("/") if path else []
        if "%" in path:  # fast path: most paths have nothing to decode
            segments = [unquote(segment) if "%" in segment else segment for segment in segments]
        route = _walk(self._root, segments, 0, method)
        if route is None:
            route = self._default  # priority 3: `$default` catches anything no other route took
            if route is None:
                return None
        parameters = {name: segments[index] for index, name in route.variables}
        if route.greedy_name is not None:
            parameters[route.greedy_name] = "/".join(segments[route.greedy_index :])
        return RouteMatch(route.key, route.target, parameters)


def _collect_literal_paths(node: _Node[T], path: str, into: dict[str, dict[str, _Route[T]]]) -> None:
    """Every route reached through literal segments only, by its path as a request spells it."""
    if node.routes:
        into[path or "/"] = node.routes
    for text, child in node.literals.items():
        _collect_literal_paths(child, f"{path}/{text}", into)


def _walk(node: _Node[T], segments: list[str], depth: int, method: str) -> _Route[T] | None:
    """The best route in `node`'s subtree for `segments[depth:]`: a full match if any, else a greedy one.

    Visits children most specific first (literal, then `{var}`, then greedy routes ending at this node),
    so the first full match found is AWS's choice, and so is the first greedy match when no full match
    exists anywhere. A greedy match found in one branch does not stop the search: a full match in a less
    specific branch still beats it (AWS priority 1: full match before greedy).
    """
    if depth == len(segments):
        # The path ends here: the exact method, then ANY ("ANY matches all methods that you haven't defined
        # for a resource"). Neither -> None, and the caller backtracks to less specific paths: no 405.
        routes = node.routes
        return (routes.get(method) or routes.get(ANY_METHOD)) if routes else None
    segment = segments[depth]
    greedy_found: _Route[T] | None = None
    child = node.literals.get(segment)
    if child is not None:  # a literal beats `{var}` at the same position
        found = _walk(child, segments, depth + 1, method)
        if found is not None:
            if found.greedy_name is None:
                return found
            greedy_found = found  # keep looking for a full match under `{var}`
    child = node.variable
    if child is not None and segment:  # `{var}` never matches an empty segment
        found = _walk(child, segments, depth + 1, method)
        if found is not None:
            if found.greedy_name is None:
                return found
            if greedy_found is None:
                greedy_found = found
    if greedy_found is not None:  # a deeper greedy prefix is more specific than one ending here
        return greedy_found
    greedy = node.greedy
    # `{name+}` takes one or more segments and never the bare parent: `/pets/{proxy+}` doesn't match `/pets`
    # (spec §13 item 10), nor `/pets/` (the rest would be empty).
    if greedy and (segment or depth + 1 < len(segments)):
        return greedy.get(method) or greedy.get(ANY_METHOD)
    return None
