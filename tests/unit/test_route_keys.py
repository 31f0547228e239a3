"""Route key grammar (spec §1.5) and AWS's refusal messages (spec §1.3)."""

from __future__ import annotations

import pytest

from stageway.core.route_keys import (
    BAD_PATH_PART_MESSAGE,
    RouteKey,
    RouteKeyError,
    Segment,
    conflict_message,
    find_variable_conflict,
    parse_route_key,
)


def test_default_route_key() -> None:
    route = parse_route_key("$default")
    assert route == RouteKey("$default", "", ())
    assert route.is_default
    assert not route.is_greedy


def test_literal_and_variable_segments() -> None:
    route = parse_route_key("GET /pets/{petId}/toys")
    assert route.method == "GET"
    assert route.path == "/pets/{petId}/toys"
    assert route.segments == (Segment("pets"), Segment("{petId}", is_variable=True), Segment("toys"))
    assert [segment.name for segment in route.segments] == ["pets", "petId", "toys"]
    assert not route.is_default
    assert not route.is_greedy


def test_greedy_segment() -> None:
    route = parse_route_key("ANY /{proxy+}")
    assert route.method == "ANY"
    assert route.segments == (Segment("{proxy+}", is_variable=True, is_greedy=True),)
    assert route.segments[0].name == "proxy"
    assert route.is_greedy


def test_root_route_has_no_segments() -> None:
    route = parse_route_key("GET /")
    assert route.segments == ()
    assert route.path == "/"


@pytest.mark.parametrize("method", ["ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_every_aws_method_is_accepted(method: str) -> None:
    assert parse_route_key(f"{method} /a").method == method


@pytest.mark.parametrize(
    "key",
    [
        "GET /pets/{proxy+}",
        "GET /a.b/c-d/e_f/V1",
        "GET /v1:batchGet",  # newer AWS versions admit ':'
        "GET /{org.id}/{name-x}/{a:b}/{under_score}",
        "GET /{1}",
        "POST /users/{userId}/{rest+}",  # any greedy name, not only `proxy`
    ],
)
def test_accepted_keys(key: str) -> None:
    assert parse_route_key(key).key == key


@pytest.mark.parametrize("key", [None, "", "   ", 42])
def test_missing_route_key(key: object) -> None:
    with pytest.raises(RouteKeyError, match="^Route key is required$"):
        parse_route_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "GET",  # no path
        "get /a",  # methods are upper-case
        "FETCH /a",
        "/a",
        "GET\t/a",
    ],
)
def test_unparsable_keys(key: str) -> None:
    with pytest.raises(RouteKeyError, match="^Unable to parse route key"):
        parse_route_key(key)


@pytest.mark.parametrize("key", ["GET a", "GET  /a"])  # path must start with "/", exactly one space
def test_path_must_start_with_slash(key: str) -> None:
    with pytest.raises(RouteKeyError, match="the path must start with '/'"):
        parse_route_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "GET /a/",  # trailing slash (only "/" itself may end with "/")
        "GET //a",
        "GET /a//b",
        "GET /e{id}",  # no partial variables
        "GET /{id}.json",
        "GET /{}",
        "GET /{+}",
        "GET /{a b}",
        "GET /a b",
        "GET /a%20b",
        "GET /pets?x=1",
        "GET /{proxy++}",
        "GET /caf\u00e9",
        "GET /{caf\u00e9}",  # `\w` is ASCII in AWS's (Java) expression
        "GET /{\u0663}",
        "GET /a\n",  # Python's `$` would match before a trailing newline
        "GET /{x}\n",
    ],
)
def test_bad_path_parts(key: str) -> None:
    with pytest.raises(RouteKeyError) as raised:
        parse_route_key(key)
    assert str(raised.value) == BAD_PATH_PART_MESSAGE


def test_bad_path_part_message_is_aws_text() -> None:
    assert BAD_PATH_PART_MESSAGE == (
        "One or more path parts appear to be invalid. Parts are validated against this regular expression: "
        "^(\\{[\\w.:-]+\\+?\\}|[a-zA-Z0-9.:_-]+)$"
    )


@pytest.mark.parametrize("key", ["GET /{proxy+}/a", "ANY /a/{rest+}/{id}"])
def test_greedy_variable_must_be_last(key: str) -> None:
    with pytest.raises(RouteKeyError, match="must be the last part of the path"):
        parse_route_key(key)


@pytest.mark.parametrize("key", ["GET /{id}/{id}", "GET /{id}/a/{id+}"])
def test_variable_names_are_unique_in_a_key(key: str) -> None:
    with pytest.raises(RouteKeyError, match="used more than once"):
        parse_route_key(key)


# --- sibling variable names (spec §1.3, §1.5, §13 item 21) ----------------------------------------------


def conflict(new: str, *existing: str) -> str | None:
    found = find_variable_conflict(parse_route_key(new), [parse_route_key(key) for key in existing])
    return found.key if found else None


def test_aws_conflict_example_and_message() -> None:
    new, other = "GET /a/{orgId}/s/{stageId}/q", "GET /a/{orgId}/s/{stage_id}/q"
    assert conflict(new, other) == other
    assert conflict_message(parse_route_key(new), parse_route_key(other)) == (
        'The provided route key "GET /a/{orgId}/s/{stageId}/q" has a conflicting variable on the same '
        'hierarchical level as "GET /a/{orgId}/s/{stage_id}/q"'
    )


@pytest.mark.parametrize(
    ("new", "existing", "expected"),
    [
        # Different names at the same level under the same static prefix.
        ("GET /{a}", ("GET /{b}/c",), "GET /{b}/c"),
        ("GET /pets/{id}", ("GET /pets/{petId}/toys",), "GET /pets/{petId}/toys"),
        # The method doesn't matter: the path tree is shared by all methods.
        ("POST /pets/{id}", ("GET /pets/{petId}",), "GET /pets/{petId}"),
        # Greedy variables at the same level must agree too.
        ("ANY /{proxy+}", ("GET /{rest+}",), "GET /{rest+}"),
        # The first conflicting route is reported.
        ("GET /a/{x}", ("GET /b/{y}", "GET /a/{z}", "GET /a/{w}"), "GET /a/{z}"),
        # Same names: no conflict.
        ("GET /pets/{id}", ("GET /pets/{id}/toys", "POST /pets/{id}"), None),
        ("GET /a/{orgId}/s/{stageId}/q", ("GET /a/{orgId}/s/{stageId}",), None),
        # Different static prefixes are different levels.
        ("GET /a/{x}", ("GET /b/{y}",), None),
        ("GET /a/b/{x}", ("GET /a/{y}/{z}",), None),
        ("GET /pets/dog/{id}", ("GET /pets/{proxy+}",), None),
        # A variable and a greedy variable at the same level are not compared.
        ("GET /pets/{id}", ("GET /pets/{proxy+}",), None),
        # `$default` and the root have no levels.
        ("$default", ("GET /{x}",), None),
        ("GET /", ("GET /{x}",), None),
        ("GET /{x}", (), None),
    ],
)
def test_find_variable_conflict(new: str, existing: tuple[str, ...], expected: str | None) -> None:
    assert conflict(new, *existing) == expected


def test_a_key_is_parsed_once_and_a_bad_key_fails_every_time() -> None:
    assert parse_route_key("GET /cached/{id}") is parse_route_key("GET /cached/{id}")
    for _ in range(2):
        with pytest.raises(RouteKeyError):
            parse_route_key("GET /a/{x+}/b")
    with pytest.raises(RouteKeyError, match="required"):
        parse_route_key(["GET /unhashable"])
