"""Route selection (spec §3.2, §3.3): AWS's worked examples, the refinements, and a naive-model property test."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stageway.core.route_keys import RouteKey, parse_route_key
from stageway.core.routing import RouteMatch, RouteMatcher


def compile_routes(*keys: str) -> RouteMatcher[str]:
    """A matcher whose targets are the route keys themselves."""
    return RouteMatcher.compile((parse_route_key(key), key) for key in keys)


def select(matcher: RouteMatcher[str], request: str) -> tuple[str, dict[str, str]] | None:
    method, path = request.split(" ", 1)
    found = matcher.match(method, path)
    if found is None:
        return None
    assert found.route.target == found.route.key
    return found.route.key, found.path_parameters


# --- spec §3.3 worked examples ---------------------------------------------------------------------------

WORKED_EXAMPLE_ROUTES = (
    "GET /pets/dog/1",
    "GET /pets/dog/{id}",
    "GET /pets/{proxy+}",
    "ANY /{proxy+}",
    "$default",
)


@pytest.mark.parametrize(
    ("request_line", "route_key", "params"),
    [
        ("GET /pets/dog/1", "GET /pets/dog/1", {}),
        ("GET /pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET /pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("POST /test/5", "ANY /{proxy+}", {"proxy": "test/5"}),
        # No POST/ANY on /pets/dog/1 and the GET greedy route doesn't take POST.
        ("POST /pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),
        # A greedy variable needs at least one segment.
        ("GET /", "$default", {}),
        # `GET /pets/{proxy+}` doesn't match its own parent.
        ("GET /pets", "ANY /{proxy+}", {"proxy": "pets"}),
    ],
)
def test_aws_worked_examples(request_line: str, route_key: str, params: dict[str, str]) -> None:
    assert select(compile_routes(*WORKED_EXAMPLE_ROUTES), request_line) == (route_key, params)


def test_worked_example_routes_without_default_give_not_found_for_root() -> None:
    assert select(compile_routes(*WORKED_EXAMPLE_ROUTES[:-1]), "GET /") is None


# --- path specificity ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "request_line", "expected"),
    [
        # A literal beats a variable at the same position...
        (("GET /a/{x}", "GET /a/b"), "GET /a/b", ("GET /a/b", {})),
        (("GET /a/{x}", "GET /a/b"), "GET /a/c", ("GET /a/{x}", {"x": "c"})),
        # ...compared from the left: the first differing position decides.
        (("GET /{x}/b", "GET /a/{y}"), "GET /a/b", ("GET /a/{y}", {"y": "b"})),
        (("GET /{x}/b", "GET /a/{y}"), "GET /z/b", ("GET /{x}/b", {"x": "z"})),
        (("GET /{x}/{y}", "GET /{x}/b"), "GET /a/b", ("GET /{x}/b", {"x": "a"})),
        # Any full match beats any greedy match, however specific the greedy prefix.
        (
            ("GET /a/b/{proxy+}", "GET /{x}/{y}/{z}"),
            "GET /a/b/c",
            ("GET /{x}/{y}/{z}", {"x": "a", "y": "b", "z": "c"}),
        ),
        # The root route matches only "/".
        (("GET /", "GET /{x}"), "GET /", ("GET /", {})),
        (("GET /", "GET /{x}"), "GET /a", ("GET /{x}", {"x": "a"})),
    ],
)
def test_most_specific_path_wins(
    routes: tuple[str, ...], request_line: str, expected: tuple[str, dict[str, str]]
) -> None:
    assert select(compile_routes(*routes), request_line) == expected


@pytest.mark.parametrize(
    ("routes", "request_line", "expected"),
    [
        # Walks into `dog`, fails deeper, falls back to the greedy route.
        (
            ("GET /pets/dog/{id}", "GET /pets/{proxy+}"),
            "GET /pets/dog/x/y",
            ("GET /pets/{proxy+}", {"proxy": "dog/x/y"}),
        ),
        # Walks into literal `b`, fails deeper, finds a full match under `{x}`.
        (("GET /a/b/c", "GET /a/{x}/d"), "GET /a/b/d", ("GET /a/{x}/d", {"x": "b"})),
        # A greedy match in the literal branch loses to a full match in the variable branch.
        (("GET /a/{proxy+}", "GET /{x}/b"), "GET /a/b", ("GET /{x}/b", {"x": "a"})),
        # Backtracks past a path whose methods don't fit.
        (("POST /a/b", "GET /a/{x}"), "GET /a/b", ("GET /a/{x}", {"x": "b"})),
        (
            ("POST /a/b/c", "GET /a/{x}/c", "ANY /{proxy+}"),
            "PUT /a/b/c",
            ("ANY /{proxy+}", {"proxy": "a/b/c"}),
        ),
    ],
)
def test_backtracking(
    routes: tuple[str, ...], request_line: str, expected: tuple[str, dict[str, str]]
) -> None:
    assert select(compile_routes(*routes), request_line) == expected


@pytest.mark.parametrize(
    ("request_line", "expected"),
    [
        ("GET /pets/x/1/2", ("GET /pets/x/{proxy+}", {"proxy": "1/2"})),
        ("GET /pets/y/1", ("GET /pets/{proxy+}", {"proxy": "y/1"})),
        ("GET /cats/x/1", ("GET /{a}/x/{rest+}", {"a": "cats", "rest": "1"})),
        # Method, then ANY, at each greedy candidate; shallower greedy routes when neither fits.
        ("POST /pets/x/1", ("ANY /pets/{proxy+}", {"proxy": "x/1"})),
        ("DELETE /cats/x/1", ("ANY /{proxy+}", {"proxy": "cats/x/1"})),
        ("GET /pets/x", ("GET /pets/{proxy+}", {"proxy": "x"})),
    ],
)
def test_most_specific_greedy_prefix_wins(request_line: str, expected: tuple[str, dict[str, str]]) -> None:
    matcher = compile_routes(
        "GET /pets/x/{proxy+}",
        "GET /pets/{proxy+}",
        "ANY /pets/{proxy+}",
        "GET /{a}/x/{rest+}",
        "ANY /{proxy+}",
    )
    assert select(matcher, request_line) == expected


# --- methods ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "request_line", "expected"),
    [
        (("GET /a", "ANY /a"), "GET /a", "GET /a"),
        (("GET /a", "ANY /a"), "POST /a", "ANY /a"),
        # Path specificity first, then method: ANY on the literal path beats GET on the variable path.
        (("GET /a/{x}", "ANY /a/b"), "GET /a/b", "ANY /a/b"),
        # Methods are compared upper-case.
        (("GET /a",), "get /a", "GET /a"),
        (("OPTIONS /a", "ANY /a"), "OPTIONS /a", "OPTIONS /a"),
        (("ANY /a",), "PROPFIND /a", "ANY /a"),
        # AWS never answers 405: a path with the wrong methods is no match at all.
        (("GET /a",), "POST /a", None),
        (("GET /a", "$default"), "POST /a", "$default"),
        # HEAD is not routed to GET.
        (("GET /a",), "HEAD /a", None),
        (("GET /a", "ANY /a"), "HEAD /a", "ANY /a"),
        (("GET /a", "HEAD /a"), "HEAD /a", "HEAD /a"),
        (("GET /a", "ANY /{proxy+}"), "HEAD /a", "ANY /{proxy+}"),
        (("GET /a", "$default"), "HEAD /a", "$default"),
    ],
)
def test_method_selection(routes: tuple[str, ...], request_line: str, expected: str | None) -> None:
    found = select(compile_routes(*routes), request_line)
    assert (found[0] if found else None) == expected


# --- path edge cases -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "request_line", "expected"),
    [
        # Trailing slash is not stripped (spec §13 item 5).
        (("GET /a",), "GET /a/", None),
        (("GET /a/{x}",), "GET /a/", None),
        (("GET /a", "ANY /{proxy+}"), "GET /a/", ("ANY /{proxy+}", {"proxy": "a/"})),
        (("GET /pets/{proxy+}",), "GET /pets/", None),
        # `{var}` never matches an empty segment.
        (("GET /a/{x}/b",), "GET /a//b", None),
        (("GET /{x}",), "GET //", None),
        (("ANY /{proxy+}",), "GET /a//b", ("ANY /{proxy+}", {"proxy": "a//b"})),
        # A greedy variable doesn't match its parent (spec §13 item 10).
        (("GET /pets/{proxy+}",), "GET /pets", None),
        (("ANY /{proxy+}",), "GET /", None),
        # Paths are case-sensitive.
        (("GET /pets",), "GET /Pets", None),
        (("GET /pets",), "GET /pets", ("GET /pets", {})),
    ],
)
def test_path_edge_cases(
    routes: tuple[str, ...], request_line: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    assert select(compile_routes(*routes), request_line) == expected


@pytest.mark.parametrize(
    ("routes", "request_line", "expected"),
    [
        (("GET /users/{name}",), "GET /users/John%20Doe", ("GET /users/{name}", {"name": "John Doe"})),
        # `%2F` is data inside one segment, both for matching and for the value.
        (("GET /{x}",), "GET /a%2Fb", ("GET /{x}", {"x": "a/b"})),
        (("GET /a/b",), "GET /a%2Fb", None),
        (("GET /a/{x}",), "GET /a%2Fb", None),
        # Literal route segments compare against the decoded segment.
        (("GET /pets",), "GET /p%65ts", ("GET /pets", {})),
        # Greedy values are decoded per segment, then joined.
        (("GET /f/{proxy+}",), "GET /f/a%2Fb/c%20d", ("GET /f/{proxy+}", {"proxy": "a/b/c d"})),
        # Path decoding is not form decoding: `+` stays `+`.
        (("GET /{x}",), "GET /a+b", ("GET /{x}", {"x": "a+b"})),
        (("GET /{x}",), "GET /caf%C3%A9", ("GET /{x}", {"x": "café"})),
        # Malformed escapes are left as they are.
        (("GET /{x}",), "GET /100%25%zz", ("GET /{x}", {"x": "100%%zz"})),
    ],
)
def test_percent_decoding(
    routes: tuple[str, ...], request_line: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    assert select(compile_routes(*routes), request_line) == expected


# --- $default, empty, compile ----------------------------------------------------------------------------


@pytest.mark.parametrize("request_line", ["GET /", "POST /a/b", "HEAD /x/", "OPTIONS /a%2Fb", "DELETE //"])
def test_default_route_only_catches_everything(request_line: str) -> None:
    assert select(compile_routes("$default"), request_line) == ("$default", {})


def test_empty_matcher_matches_nothing() -> None:
    matcher: RouteMatcher[str] = RouteMatcher.compile([])
    assert len(matcher) == 0
    assert matcher.match("GET", "/") is None
    assert matcher.match("GET", "/a") is None


def test_len_counts_routes_including_default() -> None:
    assert len(compile_routes(*WORKED_EXAMPLE_ROUTES)) == 5


def test_match_returns_route_match_with_target() -> None:
    matcher = RouteMatcher.compile([(parse_route_key("GET /pets/{id}"), 42)])
    found = matcher.match("GET", "/pets/7")
    assert isinstance(found, RouteMatch)
    assert (found.route.key, found.route.target, found.path_parameters) == ("GET /pets/{id}", 42, {"id": "7"})


def test_each_match_gets_its_own_parameters() -> None:
    matcher = compile_routes("GET /a")
    first = matcher.match("GET", "/a")
    assert first is not None
    first.path_parameters["x"] = "y"
    assert select(matcher, "GET /a") == ("GET /a", {})


@pytest.mark.parametrize(
    "routes",
    [
        ("GET /a/{x}", "GET /a/{x}"),
        ("GET /a/{x}", "GET /a/{y}"),
        ("ANY /{p+}", "ANY /{q+}"),
        ("$default", "$default"),
    ],
)
def test_compile_refuses_routes_that_would_shadow_each_other(routes: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        compile_routes(*routes)


def test_same_path_shape_with_other_methods_may_name_variables_differently() -> None:
    # The control plane refuses this (spec §1.5); the matcher still reports each route's own names.
    matcher = compile_routes("GET /a/{x}", "POST /a/{y}", "GET /b/{p+}", "POST /b/{q+}")
    assert select(matcher, "GET /a/1") == ("GET /a/{x}", {"x": "1"})
    assert select(matcher, "POST /a/1") == ("POST /a/{y}", {"y": "1"})
    assert select(matcher, "GET /b/1") == ("GET /b/{p+}", {"p": "1"})
    assert select(matcher, "POST /b/1") == ("POST /b/{q+}", {"q": "1"})


# --- cost does not grow with the number of routes ---------------------------------------------------------


def count_shape_lookups(matcher: RouteMatcher[str], request_line: str) -> int:
    """How many shapes (one dict lookup each) matching `request_line` tries."""
    calls = 0
    tables = [*matcher._methods.values(), matcher._any]
    candidates = [item for table in tables for items in table.full.values() for item in items]
    candidates += [item for table in tables if table.greedy for item in table.greedy[-1]]
    shapes = list({id(shape): shape for shape, _ in candidates}.values())
    originals = [shape.key_of for shape in shapes]

    def counting(key_of: Any) -> Any:
        def key(segments: list[str]) -> Any:
            nonlocal calls
            calls += 1
            return key_of(segments)

        return key

    for shape in shapes:
        shape.key_of = counting(shape.key_of)
    try:
        select(matcher, request_line)
    finally:
        for shape, original in zip(shapes, originals):
            shape.key_of = original
    return calls


@pytest.mark.parametrize(
    "request_line", ["GET /svc5/items/7", "POST /svc5/items/7/x", "GET /svc5/nothing/here/at/all", "GET /zzz"]
)
def test_match_makes_as_many_lookups_with_10000_routes_as_with_10(request_line: str) -> None:
    def routes(services: int) -> list[str]:
        keys = ["ANY /{proxy+}"]
        for n in range(services):
            keys += [f"GET /svc{n}/items/{{id}}", f"POST /svc{n}/items", f"GET /svc{n}/{{proxy+}}"]
            keys += [f"PUT /svc{n}/items/{{id}}/x", f"GET /svc{n}/items/{{id}}/{{sub}}"]
        return keys

    small, large = compile_routes(*routes(10)), compile_routes(*routes(2000))
    assert len(large) == 10001
    assert select(small, request_line) == select(large, request_line)
    assert count_shape_lookups(small, request_line) == count_shape_lookups(large, request_line) > 0


# --- property test: the matcher agrees with a deliberately naive matcher ------------------------------------


def naive_match(routes: list[RouteKey], method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
    """Try every route; rank the matching ones by AWS's rules; take the best. Obviously slow, hopefully right."""
    method = method.upper()
    segments = [unquote(part) for part in raw_path[1:].split("/")] if raw_path != "/" else []
    ranked: list[tuple[tuple[object, ...], str, dict[str, str]]] = []
    for route in routes:
        if route.is_default:
            ranked.append(((2,), route.key, {}))
            continue
        if route.method not in (method, "ANY"):
            continue
        pattern = route.segments[:-1] if route.is_greedy else route.segments
        if route.is_greedy:
            rest = "/".join(segments[len(pattern) :])
            if len(segments) <= len(pattern) or not rest:  # greedy takes a non-empty rest
                continue
        elif len(segments) != len(pattern):
            continue
        params: dict[str, str] = {}
        shape: list[int] = []  # per position: 0 literal, 1 variable, 2 greedy; lower is more specific
        for part, value in zip(pattern, segments):
            if part.is_variable:
                if not value:
                    break
                params[part.name] = value
                shape.append(1)
            elif part.text == value:
                shape.append(0)
            else:
                break
        else:
            if route.is_greedy:
                params[route.segments[-1].name] = rest
                shape.append(2)
            category = 1 if route.is_greedy else 0  # full match, then greedy, then $default
            ranked.append(((category, tuple(shape), route.method != method), route.key, params))
    if not ranked:
        return None
    keys = sorted(rank for rank, _, _ in ranked)
    assert len(keys) < 2 or keys[0] != keys[1], "two routes rank equal: the generator made ambiguous routes"
    _, key, params = min(ranked, key=lambda item: item[0])
    return key, params


LITERALS = ("a", "b", "c")
METHODS = ("GET", "POST", "HEAD", "ANY")


@st.composite
def route_keys(draw: st.DrawFn) -> str:
    parts = []
    for index in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("literal", "literal", "variable")))
        parts.append(
            draw(st.sampled_from(LITERALS))
            if kind == "literal"
            else f"{{{draw(st.sampled_from('xy'))}{index}}}"
        )
    if draw(st.booleans()):
        parts.append(f"{{{draw(st.sampled_from(('proxy', 'rest')))}+}}")
    return f"{draw(st.sampled_from(METHODS))} /{'/'.join(parts)}"


def route_shape(key: str) -> tuple[str, ...]:
    """Method and path with variable names erased: two keys with one shape would shadow each other."""
    route = parse_route_key(key)
    return (
        route.method,
        *("{+}" if s.is_greedy else "{}" if s.is_variable else s.text for s in route.segments),
    )


route_sets = st.tuples(st.lists(route_keys(), max_size=12, unique_by=route_shape), st.booleans()).map(
    lambda drawn: drawn[0] + ["$default"] if drawn[1] else drawn[0]
)

SEGMENT_VALUES = ("a", "b", "c", "d", "", "%61", "a%2Fb", "x%20y")
REQUEST_METHODS = ("GET", "POST", "HEAD", "PUT", "get")
random_requests = st.tuples(
    st.sampled_from(REQUEST_METHODS),
    st.lists(st.sampled_from(SEGMENT_VALUES), max_size=5).map(lambda parts: "/" + "/".join(parts)),
)


@st.composite
def requests_near(draw: st.DrawFn, key: str) -> tuple[str, str]:
    """A request built from a route's method and path, so that full and greedy matches are frequent."""
    route = parse_route_key(key)
    parts: list[str] = []
    for segment in route.segments:
        if segment.is_greedy:
            parts += draw(st.lists(st.sampled_from(SEGMENT_VALUES), min_size=1, max_size=3))
        elif segment.is_variable:
            parts.append(draw(st.sampled_from(SEGMENT_VALUES)))
        else:
            parts.append(
                draw(
                    st.sampled_from(
                        (
                            segment.text,
                            segment.text,
                            "".join(f"%{byte:02X}" for byte in segment.text.encode()),
                        )
                    )
                )
            )
    method = draw(st.sampled_from((route.method, *REQUEST_METHODS)))
    return method, "/" + "/".join(parts)


@settings(max_examples=600, deadline=None)
@given(keys=route_sets, data=st.data())
def test_matcher_agrees_with_naive_matcher(keys: list[str], data: st.DataObject) -> None:
    matcher = compile_routes(*keys)
    parsed = [parse_route_key(key) for key in keys]
    requests = st.one_of(random_requests, *(requests_near(key) for key in keys if key != "$default"))
    for method, path in data.draw(st.lists(requests, min_size=1, max_size=10)):
        assert select(matcher, f"{method} {path}") == naive_match(parsed, method, path), (method, path)
