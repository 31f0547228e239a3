"""API, stage and custom-domain selection (spec §2.2, §3.1, §9), on compiled plans, without sockets."""

from __future__ import annotations

import pytest

from stageway.core.route_keys import parse_route_key
from stageway.core.routing import RouteMatcher
from stageway.core.throttle import compile_stage_throttle
from stageway.gateway.plan import ApiMappingPlan, ApiPlan, DomainPlan, GatewayPlan, StagePlan
from stageway.gateway.selection import select


def stage(api_id: str, name: str) -> StagePlan:
    matcher = RouteMatcher.compile([(parse_route_key("$default"), None)])
    return StagePlan(
        api_id=api_id,
        stage_name=name,
        deployment_id="d1",
        matcher=matcher,
        stage_variables={},
        throttle=compile_stage_throttle(api_id, name, ["$default"], None, None),
    )


def api(api_id: str, *named: str, default: bool = True, disabled: bool = False) -> ApiPlan:
    return ApiPlan(
        api_id=api_id,
        name=api_id,
        stages={name: stage(api_id, name) for name in named},
        default_stage=stage(api_id, "$default") if default else None,
        disable_execute_api_endpoint=disabled,
    )


def mapping(key: str, api_id: str, stage_name: str = "$default") -> ApiMappingPlan:
    return ApiMappingPlan(key, tuple(key.split("/")) if key else (), api_id, stage_name)


APIS = {
    "api1": api("api1", "prod"),
    "api2": api("api2"),
    "api3": api("api3", "v2"),
    "api4": api("api4"),
    "nodefault": api("nodefault", "beta", default=False),
    "hidden": api("hidden", disabled=True),
}
DOMAIN = DomainPlan(
    "api.example.com",
    (
        mapping("orders/v2/items/categories", "api4"),
        mapping("orders/v1/items", "api2"),
        mapping("orders/v2/items", "api3", "v2"),
        mapping("", "api1"),
    ),
)
PLAN = GatewayPlan(
    apis=APIS,
    default_api=APIS["api1"],
    domains={"api.example.com": DOMAIN, "*.wild.example.com": DomainPlan("*.wild.example.com", (mapping("", "api2"),))},
)


@pytest.mark.parametrize(
    ("host", "path", "api_id", "stage_name", "route_path"),
    [
        # §2.2: named stage prefix consumed; otherwise $default with the whole path.
        ("127.0.0.1", "/prod/pets", "api1", "prod", "/pets"),
        ("127.0.0.1", "/prod", "api1", "prod", "/"),
        ("127.0.0.1", "/production/pets", "api1", "$default", "/production/pets"),
        ("api3.execute-api.localhost", "/v2/x", "api3", "v2", "/x"),
        ("nodefault.execute-api.us-east-1.amazonaws.com", "/beta/a", "nodefault", "beta", "/a"),
        # §9: AWS's worked example of multi-level API mappings.
        ("api.example.com", "/orders/v1/items", "api2", "$default", "/"),
        ("api.example.com", "/orders/v2/items", "api3", "v2", "/"),
        ("api.example.com", "/orders/v1/items/123", "api2", "$default", "/123"),
        ("api.example.com", "/orders/v2/items/categories/5", "api4", "$default", "/5"),
        ("API.Example.com", "/customers", "api1", "$default", "/customers"),
        # Whole segments only: `orders/v1/itemsX` is not under `orders/v1/items`.
        ("api.example.com", "/orders/v1/itemsX", "api1", "$default", "/orders/v1/itemsX"),
        # Through a mapping the stage is the mapping's: `/prod/...` is not stage prod.
        ("api.example.com", "/prod/pets", "api1", "$default", "/prod/pets"),
        ("a.wild.example.com", "/x", "api2", "$default", "/x"),
        # A wildcard covers the first label only: a deeper host is no custom domain, so the default API.
        ("b.c.wild.example.com", "/x", "api1", "$default", "/x"),
    ],
)
def test_selection(host: str, path: str, api_id: str, stage_name: str, route_path: str) -> None:
    selection = select(PLAN, host, path)
    assert selection is not None
    assert (selection.api.api_id, selection.stage.stage_name, selection.route_raw_path) == (
        api_id,
        stage_name,
        route_path,
    )


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("nodefault.execute-api.localhost", "/other/x"),  # no such stage and no $default stage
        ("unknown000.execute-api.localhost", "/"),  # no such API
        ("hidden.execute-api.localhost", "/"),  # disableExecuteApiEndpoint
    ],
)
def test_nothing_selected_is_not_found(host: str, path: str) -> None:
    assert select(PLAN, host, path) is None


def test_mapping_key_is_reported_for_payloads_and_logs() -> None:
    selection = select(PLAN, "api.example.com", "/orders/v1/items/9")
    assert selection is not None and selection.mapping_key == "orders/v1/items"
    selection = select(PLAN, "api.example.com", "/anything")
    assert selection is not None and selection.mapping_key == ""
    selection = select(PLAN, "127.0.0.1", "/anything")
    assert selection is not None and selection.mapping_key is None
