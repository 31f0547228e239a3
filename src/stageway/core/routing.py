"""Route selection: which route of a deployed stage serves `METHOD /path` (spec §3.2, §3.3).

Pure module, no I/O. A stage's routes are compiled once, when the stage is deployed, into *shapes*: routes
with the same number of segments and literals at the same positions share a shape, and a shape is one
dict from those literals (joined) to the routes. Matching a request splits its path, then looks it up in
the shapes of its length, most specific shape first: one dict lookup per shape, whatever the number of
routes. A real API has a few shapes per length and thousands of routes; the lookups touch one dict entry
and one route, not a chain of tree nodes, which is what kept a 10,000-route table close to a 10-route
one in time (the `routing` row of `make bench`).

AWS's priority, as implemented here:

1. A full match (static segments and `{var}`s, no greedy variable) beats any greedy match, which beats
   `$default`; with none of these the answer is None (the caller sends 404 `{"message":"Not Found"}`).
2. Paths compare segment by segment from the left: a literal beats `{var}`, which beats a greedy
   `{name+}` ending there. So shapes are tried in that order: position by position, literal (0) before
   variable (1) before the end of a greedy route's prefix (2).
3. On a path, the exact method first, then `ANY`; if neither is defined there, less specific paths are
   tried (down to greedy routes and `$default`). AWS never answers 405, and HEAD is not routed to GET.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Generic, TypeVar
from urllib.parse import unquote

from stageway.core.route_keys import RouteKey, parse_route_key

T = TypeVar("T")

ANY_METHOD = "ANY"
_HASHES_IN_ENTRIES = object()
"""A key no request path equals (see `_MethodTable.build`)."""
_LITERAL, _VARIABLE, _GREEDY_END = 0, 1, 2
"""Rank of what a route has at a position: lower is more specific (AWS priority 2)."""


class Route(Generic[T]):
    """A compiled route: its key and target, and where its variables sit in the request's segment list."""

    # Four slots: with the object header and the garbage collector's, 64 bytes, the block size of Python's
    # allocator whose blocks each sit in one cache line. A match reads a route's header and its names (the
    # rest of what it needs is its shape's): one cache miss per route in a table too big for the caches.
    __slots__ = ("greedy_name", "key", "names", "target")

    def __init__(self, key: str, target: T, names: tuple[str, ...], greedy_name: str | None) -> None:
        self.key = key
        self.target = target
        self.names = names  # of the `{name}` variables, in path order
        self.greedy_name = greedy_name  # name of the trailing `{name+}`, if any


@dataclass(slots=True)
class RouteMatch(Generic[T]):
    """The route selected for a request: `route.key` (e.g. "GET /pets/{id}", "ANY /{proxy+}", "$default"),
    `route.target`, and the request's values of its variables.

    It holds the route rather than copies of its key and target: with thousands of routes, each one read
    is a cache miss, and most requests never need the key (a proxied request reads its route plan's own).
    Not frozen: one is built per request, and a frozen dataclass assigns each field through
    `object.__setattr__`."""

    route: Route[T]
    path_parameters: dict[str, str]  # percent-decoded; a greedy value is the rest of the path, no leading "/"


class _Shape:
    """Routes with one shape: as many segments (before the greedy variable, for greedy routes), and literals
    at the same positions. `key_of` reads those literals from a request's segments, as the dict key of
    the shape's routes (one text, or a tuple of them; "" when the shape has none)."""

    __slots__ = ("key_of", "order", "size", "values_of", "variable_positions")

    def __init__(self, kinds: tuple[int, ...]) -> None:
        self.order = kinds  # for greedy shapes, ends with _GREEDY_END
        literals = [index for index, kind in enumerate(kinds) if kind == _LITERAL]
        self.key_of: Callable[[list[str]], Any] = itemgetter(*literals) if literals else _no_literals
        self.variable_positions = tuple(index for index, kind in enumerate(kinds) if kind == _VARIABLE)
        # Every route of the shape has its variables here: one getter for all (one value for one index).
        self.values_of = itemgetter(*self.variable_positions) if self.variable_positions else None
        self.size = sum(1 for kind in kinds if kind != _GREEDY_END)

    @property
    def is_greedy(self) -> bool:
        return self.order[-1:] == (_GREEDY_END,)

    def fills(self, segments: list[str]) -> bool:
        """No `{var}` of this shape falls on an empty segment (a variable never matches one)."""
        return all(segments[index] for index in self.variable_positions)


def _no_literals(segments: list[str]) -> str:
    return ""


@functools.lru_cache(maxsize=16384)
def _layout(key: str) -> tuple[tuple[int, ...], list[str], tuple[str, ...], str | None]:
    """A route key's shape kinds, its segment texts before any greedy variable, its `{name}`s and its greedy
    variable's name. Once per distinct key: a write to a large API compiles all its routes again, and
    most of them did not change. Texts and names are interned (one object for each, whatever the routes).
    (The list is only read: by `_Shape.key_of`, which takes the request's segments as a list.)"""
    route_key = parse_route_key(key)
    segments = route_key.segments
    greedy_name = sys.intern(segments[-1].name) if route_key.is_greedy else None
    prefix = segments[:-1] if greedy_name is not None else segments
    kinds = tuple(_VARIABLE if segment.is_variable else _LITERAL for segment in prefix)
    if greedy_name is not None:
        kinds += (_GREEDY_END,)
    names = tuple(sys.intern(segment.name) for segment in prefix if segment.is_variable)
    return kinds, [sys.intern(segment.text) for segment in prefix], names, greedy_name


def _literal_path(key: Any) -> str:
    """The path of an all-literal shape's routes, from their key: its texts (a tuple of two or more, one
    text, or "" for `/`)."""
    return "/" + ("/".join(key) if isinstance(key, tuple) else key)


_Candidates = list[tuple[_Shape, dict[Any, "Route[T]"]]]


class _MethodTable(Generic[T]):
    """What a request with one method can match: each shape with the routes for that method (or, where a
    path has no route for it, the path's ANY route), so that one lookup per shape answers priority 3."""

    __slots__ = ("full", "greedy", "literal")

    def __init__(
        self, literal: dict[str, Route[T]], full: dict[int, _Candidates[T]], greedy: list[_Candidates[T]]
    ) -> None:
        self.literal = literal
        """Routes whose paths have no variables, by path: a request path that is one of them (and has
        nothing to decode) is answered by one lookup, before splitting it."""
        self.full = full
        """Shapes without a greedy variable by segment count, most specific first."""
        self.greedy = greedy
        """`greedy[n]`: the greedy shapes a path of n segments can match (fewer segments before the greedy
        variable than n), most specific first; the last entry serves every longer path."""

    @classmethod
    def build(
        cls,
        shapes: list[_Shape],
        routes: dict[_Shape, dict[Any, dict[str, Route[T]]]],
        method: str,
        paths: dict[Any, str],
    ) -> _MethodTable[T]:
        """The table for `method` (ANY_METHOD: for a method no route names) from each shape's routes.
        `paths`: literal paths by shape key, shared by the tables (`GET /a` and `POST /a`: one "/a")."""
        literal: dict[str, Route[T]] = {}
        full: dict[int, _Candidates[T]] = {}
        greedy_shapes: _Candidates[T] = []
        for shape in shapes:  # most specific first
            chosen: dict[Any, Route[T]] = {}
            for key, by_method in routes[shape].items():
                route = by_method.get(method) or by_method.get(ANY_METHOD)
                if route is not None:
                    chosen[key] = route
            if not chosen:
                continue
            if shape.is_greedy:
                greedy_shapes.append((shape, chosen))
                continue
            full.setdefault(shape.size, []).append((shape, chosen))
            if not shape.variable_positions:
                # The key of an all-literal shape is its texts: the path a request spells it with.
                for key, route in chosen.items():
                    path = paths.get(key)
                    if path is None:  # (made once for all the tables)
                        path = paths[key] = _literal_path(key)
                    literal[path] = route
        longest = max((shape.size for shape, _ in greedy_shapes), default=-1)
        greedy = [[item for item in greedy_shapes if item[0].size < length] for length in range(longest + 2)]
        # A key that is not a text: a dict whose keys are all texts keeps no hashes in its entries, and a
        # lookup that finds no route (most: paths with variables) reads the hash of each text it probes from
        # that text, a cache miss each in a big table. With one other key the dict keeps them in its entries.
        literal[_HASHES_IN_ENTRIES] = None  # type: ignore[index,assignment]
        return cls(literal, full, greedy)


class RouteMatcher(Generic[T]):
    """A stage's routes compiled for matching. Build with `RouteMatcher.compile(...)`."""

    __slots__ = ("_any", "_count", "_default", "_methods")

    def __init__(
        self,
        methods: dict[str, _MethodTable[T]],
        any_method: _MethodTable[T],
        default: Route[T] | None,
        count: int,
    ) -> None:
        self._methods = methods
        self._any = any_method
        self._default = default
        self._count = count

    @classmethod
    def compile(cls, routes: Iterable[tuple[RouteKey, T]]) -> RouteMatcher[T]:
        """Group the routes by shape, then by method. Raises ValueError for two routes with the same method
        and path shape. Each RouteKey is read through its text (`parse_route_key`'s, cached per text).

        The control plane refuses those earlier (duplicate key, or variables named differently at the same
        level, spec §1.5); this check only keeps a hand-built route list from silently shadowing a route.
        """
        shapes: dict[tuple[int, ...], _Shape] = {}
        by_shape: dict[_Shape, dict[Any, dict[str, Route[T]]]] = {}
        # One object for each name tuple, literal key and method however many routes repeat it (the eight
        # routes of a REST resource have three literal keys; texts are interned by `_layout`): a lookup then
        # reads objects that the resource's other routes keep in the CPU's caches, and only the dict entry
        # and the route itself are particular to the route matched.
        pool: dict[Any, Any] = {}

        def shared(value: Any) -> Any:
            return pool.setdefault(value, value)

        default: Route[T] | None = None
        count = 0
        for route_key, target in routes:
            count += 1
            if route_key.is_default:
                if default is not None:
                    raise ValueError(f"Route with key {route_key.key} already exists")
                default = Route(route_key.key, target, (), None)
                continue
            kinds, texts, names, greedy_name = _layout(route_key.key)
            shape = shapes.get(kinds)
            if shape is None:
                shape = shapes[kinds] = _Shape(kinds)
                by_shape[shape] = {}
            route = Route(route_key.key, target, shared(names), greedy_name)
            # The route's literals read the way a request's are: by the shape's own `key_of`.
            by_method = by_shape[shape].setdefault(shared(shape.key_of(texts)), {})
            method = shared(route_key.method)
            if method in by_method:
                raise ValueError(
                    f"Route key {route_key.key} has the same method and path as {by_method[method].key}"
                )
            by_method[method] = route
        ordered = sorted(shapes.values(), key=lambda shape: shape.order)
        methods = {
            method for by_key in by_shape.values() for by_method in by_key.values() for method in by_method
        }
        methods.discard(ANY_METHOD)
        paths: dict[Any, str] = {}
        tables = {method: _MethodTable.build(ordered, by_shape, method, paths) for method in sorted(methods)}
        return cls(tables, _MethodTable.build(ordered, by_shape, ANY_METHOD, paths), default, count)

    def __len__(self) -> int:
        return self._count

    def match(self, method: str, raw_path: str) -> RouteMatch[T] | None:
        """Select the route for a request, or None (AWS: 404 Not Found).

        `raw_path` is the path as sent: percent-encoded, starting with "/", stage prefix removed, no query.
        """
        table = self._methods.get(method.upper()) or self._any
        found = table.literal.get(raw_path)
        if found is not None and "%" not in raw_path:
            # The most specific shape of this length is all literals, and this is its entry: the same route.
            return RouteMatch(found, {})
        # Split first, then decode each segment: `%2F` stays data inside one segment (spec §3.2, decoding).
        # "/" has no segments; a trailing slash leaves an empty last segment, which no `{var}` or literal
        # matches, so `/a/` does not select `GET /a` (HTTP APIs don't strip it, spec §13 item 5).
        path = raw_path[1:]
        segments = path.split("/") if path else []
        if "%" in path:  # most paths have nothing to decode
            segments = [unquote(segment) if "%" in segment else segment for segment in segments]
        holes = "" in segments  # only then can a `{var}` fall on an empty segment
        found = None
        for shape, routes in table.full.get(len(segments), ()):
            # The exact method's route, else the path's ANY route; neither -> the next, less specific shape:
            # AWS never answers 405.
            route = routes.get(shape.key_of(segments))
            if route is not None and not (holes and not shape.fills(segments)):
                found = route
                break
        else:
            greedy = table.greedy
            if greedy:
                for shape, routes in greedy[min(len(segments), len(greedy) - 1)]:
                    route = routes.get(shape.key_of(segments))
                    # `{name+}` takes one or more segments, never an empty rest: `/pets/{proxy+}` doesn't
                    # match `/pets` (spec §13 item 10), nor `/pets/`.
                    if (
                        route is not None
                        and (segments[shape.size] or len(segments) > shape.size + 1)
                        and not (holes and not shape.fills(segments))
                    ):
                        found = route
                        break
        if found is None:
            found = self._default  # priority 3: `$default` catches anything no other route took
            return None if found is None else RouteMatch(found, {})
        # `shape` is the one `found` is in. Where the values sit is the shape's: the route only names them.
        values = shape.values_of
        if values is None:
            parameters = {}
        elif len(found.names) == 1:
            parameters = {found.names[0]: values(segments)}
        else:
            parameters = dict(zip(found.names, values(segments)))
        if found.greedy_name is not None:
            parameters[found.greedy_name] = "/".join(segments[shape.size :])
        return RouteMatch(found, parameters)
